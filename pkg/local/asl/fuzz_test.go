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
	f.Add([]byte(`{"QueryLanguage":"JSONata","StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Condition":"{% $states.input.x > 1 %}","Assign":{"v":"{% $x %}"},"Output":{"o":"{% $states.input %}"},"Next":"M"}],"Default":"M"},
		"M":{"Type":"Map","Items":"{% $states.input.xs %}","ItemSelector":{"i":"{% $states.context.Map.Item.Index %}"},"MaxConcurrency":"{% 1 %}","ItemProcessor":{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":"{% 0 %}","End":true}}},"Next":"F"},
		"F":{"Type":"Fail","Error":"{% 'E' %}","Cause":"c"}}}`))
	f.Add([]byte(`{"StartAt":"P","States":{"P":{"Type":"Pass","Assign":{"a.$":"$.x","b":1},"Next":"T"},"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName.$":"$a"},"Catch":[{"ErrorEquals":["States.ALL"],"Assign":{"e.$":"$.Error"},"Next":"P"}],"End":true}}}`))
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
