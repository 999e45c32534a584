package localprovider

import (
	"runtime"
	"strconv"
	"strings"

	"github.com/odin-deploy/odin/pkg/deployer"
)

// passedThrough are the variables of the backend's own environment that an
// instance gets (with every LC_* locale variable): what programs need to
// find commands, a home, a temporary directory and their locale. Nothing
// else crosses over: the backend's environment may hold real AWS
// credentials, tokens and settings that are not the release's.
var passedThrough = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TZ", "LANG", "LANGUAGE",
	// What Windows programs cannot start without.
	"SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT", "TEMP", "TMP", "USERPROFILE",
}

// instanceEnv is an instance's whole environment: the allow-listed part of
// host (os.Environ's form), then what odin sets (PORT and ODIN_*), then the
// release's env, whose names cannot be PORT or start with ODIN_ (the schema
// refuses them).
func instanceEnv(host []string, d *deployer.Deployment, service, id string, port int, s deployer.Service) []string {
	env := make([]string, 0, len(passedThrough)+8+len(s.Env))
	for _, kv := range host {
		name, _, ok := strings.Cut(kv, "=")
		if ok && passes(name) {
			env = append(env, kv)
		}
	}
	env = append(env,
		"PORT="+strconv.Itoa(port),
		"ODIN_RELEASE_ID="+d.ReleaseID,
		"ODIN_SERVICE="+service,
		"ODIN_PROJECT="+d.Project,
		"ODIN_CONFIG="+d.Config,
		"ODIN_INSTANCE="+id,
	)
	for _, k := range sortedKeys(s.Env) {
		env = append(env, k+"="+s.Env[k])
	}
	return env
}

func passes(name string) bool {
	if runtime.GOOS == "windows" {
		name = strings.ToUpper(name) // Windows names are case-insensitive
	}
	if strings.HasPrefix(name, "LC_") {
		return true
	}
	for _, p := range passedThrough {
		if name == p {
			return true
		}
	}
	return false
}
