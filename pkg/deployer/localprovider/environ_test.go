package localprovider

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deployer"
)

// An instance gets the release's env, PORT and odin's ODIN_* variables, and
// from the backend's environment only the documented allow-list (PATH,
// HOME, TMPDIR, locale, ...): never its AWS credentials, its own ODIN_*
// settings or anything else. Its log is 0600 even when a log from before
// was 0644.
func TestInstanceEnvironmentIsClean(t *testing.T) {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIAREALREALREALREAL", "AWS_SECRET_ACCESS_KEY": "real-secret", "AWS_SESSION_TOKEN": "real-token",
		"AWS_PROFILE": "prod", "GITHUB_TOKEN": "ghp_secret", "ODIN_BACKEND": "aws", "SOMETHING_ELSE": "x",
		"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TMPDIR": t.TempDir(), "TZ": "UTC",
	} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	p := New(Options{DataDir: dir, StopGrace: 2 * time.Second})
	t.Cleanup(func() { p.Close() })
	d := deployment(t, "r-env", "env", 1, 0)
	logPath := filepath.Join(dir, "logs", "hello", "test", "r-env", "web-1.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, []byte("an older start\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.Deploy(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, d, func(h *contract.Health, err error) bool { return err == nil && h.Healthy })
	fi, err := os.Stat(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the instance log is %04o, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	got := map[string]string{}
	for line := range strings.Lines(string(b)) {
		if kv, ok := strings.CutPrefix(strings.TrimSpace(line), "env: "); ok {
			k, v, _ := strings.Cut(kv, "=")
			names = append(names, k)
			got[k] = v
		}
	}
	slices.Sort(names)
	want := []string{"LANG", "LC_ALL", "ODIN_CONFIG", "ODIN_INSTANCE", "ODIN_PROJECT", "ODIN_RELEASE_ID", "ODIN_SERVICE",
		"ODIN_TEST_SERVICE", "PATH", "PORT", "TMPDIR", "TZ", "VERSION"}
	for _, optional := range []string{"HOME", "USER", "LOGNAME", "SHELL", "LANGUAGE"} {
		if _, ok := os.LookupEnv(optional); ok {
			want = append(want, optional)
		}
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("instance environment:\n got %v\nwant %v", names, want)
	}
	if got["VERSION"] != "r-env" || got["ODIN_RELEASE_ID"] != "r-env" || got["ODIN_INSTANCE"] != "web-1" || got["PATH"] != os.Getenv("PATH") {
		t.Errorf("values: %v", got)
	}
	if strings.Contains(string(b), "real-secret") || strings.Contains(string(b), "AKIAREAL") {
		t.Error("the backend's AWS credentials reached the instance")
	}
}

func TestInstanceEnvOrder(t *testing.T) {
	// The release's env comes last, so it wins over an allow-listed name.
	env := instanceEnv([]string{"PATH=/usr/bin", "HOME=/h", "AWS_REGION=x", "LC_CTYPE=C", "noequals"},
		&deployer.Deployment{ReleaseID: "r-1", Project: "p", Config: "c"}, "web", "web-1", 8000,
		deployer.Service{Env: map[string]string{"PATH": "/opt/bin", "A": "1"}})
	want := []string{"PATH=/usr/bin", "HOME=/h", "LC_CTYPE=C", "PORT=8000", "ODIN_RELEASE_ID=r-1", "ODIN_SERVICE=web",
		"ODIN_PROJECT=p", "ODIN_CONFIG=c", "ODIN_INSTANCE=web-1", "A=1", "PATH=/opt/bin"}
	if !slices.Equal(env, want) {
		t.Errorf("instanceEnv =\n%v\nwant\n%v", env, want)
	}
}
