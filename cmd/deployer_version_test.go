package cmd

import "testing"

func TestVersionsDiffer(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"v1.2.3", "v1.2.9", false},
		{"v1.2.3", "v1.3.0", true},
		{"1.2.3", "v2.2.3", true},
		{"dev", "v1.2.3", false},
		{"v1.2.3", "3f2a9c1", false},
		{"v1.2.0-rc.1", "v1.2.0", false},
		{"v1.10.0", "v1.9.0", true},
	} {
		if got := versionsDiffer(tc.a, tc.b); got != tc.want {
			t.Errorf("versionsDiffer(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
