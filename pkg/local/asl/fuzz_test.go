package asl

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(everyStateType))
	f.Add([]byte(`{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`))
	f.Add([]byte(`{"StartAt":"M","States":{"M":{"Type":"Map","Iterator":{"StartAt":"X","States":{"X":{"Type":"Fail","CausePath":"States.Format('{}',$.a)"}}},"End":true}}}`))
	f.Add([]byte(`{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"And":[{"Not":{"Variable":"$$.Execution.Id","IsPresent":true}}],"Next":"C"}]}}}`))
	f.Add([]byte(`{"StartAt":"W","States":{"W":{"Type":"Wait","Timestamp":"2020-01-01T00:00:00Z","End":true}}}`))
	f.Add([]byte(`[1,{"a":null}]`))
	if seeds, _ := filepath.Glob("testdata/*.json"); len(seeds) > 0 {
		for _, s := range seeds {
			if b, err := os.ReadFile(s); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, def []byte) {
		diags := Validate(def)
		sm, err := Parse(def)
		if (err != nil) != HasErrors(diags) {
			t.Fatalf("Parse error %v, diagnostics %v", err, diags)
		}
		if err == nil && sm == nil {
			t.Fatal("nil machine without error")
		}
		for _, d := range diags {
			// Only AWS's "not a JSON object" diagnostic has no location, as on AWS.
			if d.Code == "" || d.Message == "" || (d.Location == "" && d.Message != notAnObject) {
				t.Fatalf("incomplete diagnostic %+v", d)
			}
		}
	})
}
