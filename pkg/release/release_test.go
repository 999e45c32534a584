package release

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/odin-deploy/odin/schema"
)

func TestDigestIsOfTheExactBytes(t *testing.T) {
	data := []byte(local + "# a trailing comment changes the bytes, so the digest\n")
	f, err := Parse("r.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if f.SHA256 != hex.EncodeToString(sum[:]) || string(f.Bytes) != string(data) || f.Path != "r.yml" {
		t.Fatalf("File = %q %s %s, want the input bytes and their SHA-256", f.Bytes, f.SHA256, f.Path)
	}
	other, _ := Parse("r.yml", []byte(local))
	if other.SHA256 == f.SHA256 {
		t.Fatal("different bytes, same digest")
	}
}

func TestReleaseID(t *testing.T) {
	sum := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if got := ReleaseID(sum); got != "r-0123456789abcdef" {
		t.Fatalf("ReleaseID = %q", got)
	}
	if again := ReleaseID(sum); again != ReleaseID(sum) {
		t.Fatal("ReleaseID is not deterministic")
	}
}

var sfnName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func TestExecutionName(t *testing.T) {
	id := ReleaseID(strings.Repeat("ab", 32))
	long := strings.Repeat("p", MaxNameLength)
	tests := []struct {
		project, config, want string
	}{
		{"hello", "development", "deploy-hello_development_r-abababababababab"},
		{"a-b", "c", "deploy-a-b_c_r-abababababababab"},
		{"a", "b-c", "deploy-a_b-c_r-abababababababab"},
		{long, strings.Repeat("c", MaxNameLength), ""},
		{long, strings.Repeat("c", MaxNameLength-1), ""},
		{strings.Repeat("x", 26), strings.Repeat("y", 22), ""}, // 80 at attempt 9999, uncut
	}
	seen := map[string]string{}
	for _, tt := range tests {
		r := &Release{ProjectName: tt.project, ConfigName: tt.config}
		got := r.ExecutionName(id, 1)
		for _, attempt := range []int{1, 2, 10, MaxAttempts} {
			name := r.ExecutionName(id, attempt)
			if !sfnName.MatchString(name) {
				t.Errorf("attempt %d of %s/%s: %q (%d chars) is not a valid execution name", attempt, tt.project, tt.config, name, len(name))
			}
			if n := Attempt(name, tt.project, tt.config, id); n != attempt {
				t.Errorf("Attempt(%q) = %d, want %d", name, n, attempt)
			}
		}
		if tt.want != "" && got != tt.want {
			t.Errorf("ExecutionName(%s, %s) = %q, want %q", tt.project, tt.config, got, tt.want)
		}
		if !sfnName.MatchString(got) {
			t.Errorf("ExecutionName(%s, %s) = %q (%d chars): not a valid execution name", tt.project, tt.config, got, len(got))
		}
		if !strings.HasPrefix(got, ExecutionPrefix(tt.project, tt.config)) || !strings.HasSuffix(got, id) {
			t.Errorf("%q does not start with its prefix and end with the release id", got)
		}
		if !strings.HasPrefix(got, ExecutionPrefix(tt.project, "")) {
			t.Errorf("%q does not start with the project's prefix %q", got, ExecutionPrefix(tt.project, ""))
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("%s/%s and %s have the same execution name %q", tt.project, tt.config, prev, got)
		}
		seen[got] = tt.project + "/" + tt.config
	}
	// The two longest pairs differ only after the cut: the hash tells them apart.
	a := (&Release{ProjectName: long, ConfigName: strings.Repeat("c", 40)}).ExecutionName(id, MaxAttempts)
	b := (&Release{ProjectName: long, ConfigName: strings.Repeat("c", 39) + "d"}).ExecutionName(id, MaxAttempts)
	if a == b || len(a) != 80 {
		t.Fatalf("long names: %q and %q", a, b)
	}
	if got := (&Release{ProjectName: "hello", ConfigName: "dev"}).Root("123456789012"); got != "123456789012/hello/dev" {
		t.Fatalf("Root = %q", got)
	}
}

func TestAttempt(t *testing.T) {
	id := ReleaseID(strings.Repeat("ab", 32))
	other := ReleaseID(strings.Repeat("cd", 32))
	base := ExecutionName("hello", "dev", id, 1)
	tests := []struct {
		name string
		want int
	}{
		{base, 1},
		{base + "-2", 2},
		{base + "-9999", 9999},
		{base + "-1", 0},     // attempt 1 has no suffix
		{base + "-02", 0},    // not how we write numbers
		{base + "-10000", 0}, // past MaxAttempts
		{base + "-", 0},
		{base + "x", 0},
		{base + "-2x", 0},
		{ExecutionName("hello", "dev", other, 3), 0},
		{ExecutionName("hello", "dev2", id, 1), 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := Attempt(tt.name, "hello", "dev", id); got != tt.want {
			t.Errorf("Attempt(%q) = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestDefaultsLocal(t *testing.T) {
	f, err := Parse("r.yml", []byte(local))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Release
	s := r.Services["web"]
	grace := DefaultLocalGracePeriod
	want := &Service{
		Name: "web", Command: []string{"go", "run", "."}, WorkingDir: ".", Instances: 1, Listen: 8080,
		HealthCheck: &HealthCheck{Type: "http", Path: "/healthz", ExpectedStatus: 200, Interval: 1, Timeout: 2,
			HealthyThreshold: 2, UnhealthyThreshold: 3, GracePeriod: &grace},
	}
	if r.Timeout != 600 || r.Target != TargetLocal || !equalJSON(s, want) || s.Name != "web" {
		t.Fatalf("release %+v\nservice %s\nwant %s", r, mustJSON(s), mustJSON(want))
	}
	if got := s.Dir("/srv/rel"); got != "/srv/rel" {
		t.Errorf("Dir = %q", got)
	}
}

func TestDefaultsAWS(t *testing.T) {
	f, err := Parse("r.yml", []byte(aws+"    autoscaling:\n      min_size: 3\n    ebs:\n      volume_size: 8\n    placement:\n      group_name: g\n      strategy: cluster\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Release.Services["api"]
	if a := s.Autoscaling; a.MinSize != 3 || a.MaxSize != 3 || a.Strategy != "AllAtOnce" || a.Spread != 0 {
		t.Errorf("autoscaling = %+v", a)
	}
	if s.EBS.VolumeType != "gp3" || s.EBS.DeviceName != "/dev/xvda" || s.Placement.Tenancy != "default" {
		t.Errorf("ebs %+v placement %+v", s.EBS, s.Placement)
	}
	if s.HealthCheck.Grace() != DefaultAWSGracePeriod || s.HealthCheck.Type != "" {
		t.Errorf("health check %+v", s.HealthCheck)
	}
}

// TestSchemaDefaultsMatchCode keeps the schema's "default" annotations, which
// editors show, equal to what applyDefaults does.
func TestSchemaDefaultsMatchCode(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(schema.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	defs := doc["$defs"].(map[string]any)
	def := func(obj map[string]any, key string) any {
		return obj["properties"].(map[string]any)[key].(map[string]any)["default"]
	}
	d := func(name string) map[string]any { return defs[name].(map[string]any) }
	tests := []struct {
		got  any
		want any
	}{
		{def(doc, "timeout"), float64(DefaultTimeout)},
		{def(d("service"), "instances"), float64(DefaultInstances)},
		{def(d("service"), "working_dir"), DefaultWorkingDir},
		{def(d("service"), "associate_public_ip_address"), false},
		{def(d("healthCheck"), "type"), DefaultHealthType},
		{def(d("healthCheck"), "path"), DefaultHealthPath},
		{def(d("healthCheck"), "expected_status"), float64(DefaultExpectedStatus)},
		{def(d("healthCheck"), "interval"), float64(DefaultHealthInterval)},
		{def(d("healthCheck"), "timeout"), float64(DefaultHealthTimeout)},
		{def(d("healthCheck"), "healthy_threshold"), float64(DefaultHealthyThreshold)},
		{def(d("healthCheck"), "unhealthy_threshold"), float64(DefaultUnhealthyThreshold)},
		{def(d("autoscaling"), "min_size"), float64(1)},
		{def(d("autoscaling"), "strategy"), DefaultStrategy},
		{def(d("ebs"), "volume_type"), DefaultEBSVolumeType},
		{def(d("ebs"), "device_name"), DefaultEBSDeviceName},
		{def(d("placement"), "tenancy"), DefaultTenancy},
		{def(d("lifecycleHook"), "heartbeat_timeout"), float64(DefaultHookHeartbeatTimeout)},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: schema default %v, code default %v", i, tt.got, tt.want)
		}
	}
}

// TestSchemaDescribesEveryField: the issue asks for every field documented.
func TestSchemaDescribesEveryField(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(schema.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	objects := []map[string]any{doc}
	for name, v := range doc["$defs"].(map[string]any) {
		if name != "localService" && name != "awsService" {
			objects = append(objects, v.(map[string]any))
		}
	}
	for _, obj := range objects {
		props, _ := obj["properties"].(map[string]any)
		for key, v := range props {
			p := v.(map[string]any)
			if _, ok := p["description"]; ok {
				continue
			}
			ref, _ := p["$ref"].(string)
			target := doc["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")]
			if m, ok := target.(map[string]any); ok && m["description"] != nil {
				continue
			}
			t.Errorf("property %q has no description", key)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want a not-exist error", err)
	}
	big := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(big, []byte(strings.Repeat("#", 2*MaxSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(big)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].String() != big+":1:1: file is larger than 1 MiB, the limit for release files" {
		t.Errorf("Load(2 MiB) = %v", err)
	}
	ok := filepath.Join(dir, "ok.yml")
	if err := os.WriteFile(ok, []byte(local), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(ok)
	if err != nil || f.Path != ok || f.Dir() != dir {
		t.Errorf("Load(ok) = %+v, %v", f, err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func equalJSON(a, b any) bool { return mustJSON(a) == mustJSON(b) }

// TestNameRulesMatchSchema: names are checked in Go (the validator cannot
// place propertyNames errors) and in the schema (for editors); they must agree.
func TestNameRulesMatchSchema(t *testing.T) {
	var doc struct {
		Defs struct {
			Name struct {
				Pattern   string `json:"pattern"`
				MaxLength int    `json:"maxLength"`
			} `json:"name"`
			Service struct {
				Properties struct {
					Env struct {
						PropertyNames struct {
							Pattern string `json:"pattern"`
						} `json:"propertyNames"`
					} `json:"env"`
				} `json:"properties"`
			} `json:"service"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schema.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Defs.Name.Pattern != nameRE().String() || doc.Defs.Name.MaxLength != MaxNameLength {
		t.Errorf("schema name rule %q/%d, code %q/%d", doc.Defs.Name.Pattern, doc.Defs.Name.MaxLength, nameRE(), MaxNameLength)
	}
	if p := doc.Defs.Service.Properties.Env.PropertyNames.Pattern; p != envNameRE().String() {
		t.Errorf("schema env name rule %q, code %q", p, envNameRE())
	}
}

// TestParseConcurrently: the deployer validates releases from many goroutines
// against the one compiled schema (run with -race).
func TestParseConcurrently(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples/aws/release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			in := data
			if i%2 == 1 {
				in = []byte(local + "timeout: 5\n")
			}
			_, err := Parse("r.yml", in)
			if i%2 == 1 && err == nil {
				err = errors.New("invalid release accepted")
			} else if i%2 == 1 {
				err = nil
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
