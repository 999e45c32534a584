package cmd

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "fc6ae5a0123456789"}, {Key: "vcs.time", Value: "2026-12-06T02:00:00Z"}}
	for _, tt := range []struct {
		name    string
		bi      debug.BuildInfo
		v, c, d string // stamped by the linker
		want    string
	}{
		{"go install @version", debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "dev", "none", "unknown", "1.4.0 none unknown"},
		{"go build in a clone", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "dev", "none", "unknown", "dev fc6ae5a 2026-12-06T02:00:00Z"},
		{"modified clone", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: append(vcs, debug.BuildSetting{Key: "vcs.modified", Value: "true"})},
			"dev", "none", "unknown", "dev fc6ae5a-dirty 2026-12-06T02:00:00Z"},
		{"release build wins", debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs}, "1.5.0", "abcdef1", "2026-12-01T00:00:00Z", "1.5.0 abcdef1 2026-12-01T00:00:00Z"},
	} {
		v, c, d := fromBuildInfo(&tt.bi, tt.v, tt.c, tt.d)
		if got := v + " " + c + " " + d; got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
