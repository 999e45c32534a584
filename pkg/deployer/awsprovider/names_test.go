package awsprovider

import (
	"regexp"
	"strings"
	"testing"
)

var stsName = regexp.MustCompile(`^[\w+=,.@-]*$`)

// Names built from input never break AWS's limits, and never panic.
func FuzzNames(f *testing.F) {
	f.Add("shop", "prod", "web", "r-0123456789abcdef", "arn:aws:states:us-east-1:1:execution:odin-deployer:deploy-shop_prod_r-1", "arn:aws:sts::1:assumed-role/dev/alice@example.com")
	f.Add(strings.Repeat("p", 40), strings.Repeat("c", 40), strings.Repeat("s", 40), "r-0123456789abcdef", "", "")
	f.Add("", "", "", "", ":", "/")
	f.Fuzz(func(t *testing.T, project, config, service, release, execution, caller string) {
		name := GroupName(project, config, service, release)
		if len(project+config+service+release) <= 100 && len(name) > maxTemplateName {
			t.Errorf("GroupName is %d bytes, more than %d", len(name), maxTemplateName)
		}
		if s := SessionName(execution); len(s) < 2 || len(s) > 64 || !stsName.MatchString(s) {
			t.Errorf("SessionName(%q) = %q", execution, s)
		}
		if s := SourceIdentity(caller); s != "" && (len(s) < 2 || len(s) > 64 || !stsName.MatchString(s)) {
			t.Errorf("SourceIdentity(%q) = %q", caller, s)
		}
		_ = targetGroupName(execution)
	})
}

func TestGroupNameLong(t *testing.T) {
	long := GroupName(strings.Repeat("p", 40), strings.Repeat("c", 40), strings.Repeat("s", 40), "r-0123456789abcdef")
	if len(long) != maxTemplateName || !strings.HasSuffix(long, "-"+strings.Repeat("s", 40)+"-r-0123456789abcdef") || !strings.HasPrefix(long, "odin-ppp") {
		t.Errorf("long name %q (%d)", long, len(long))
	}
	other := GroupName(strings.Repeat("p", 40), strings.Repeat("c", 39)+"d", strings.Repeat("s", 40), "r-0123456789abcdef")
	if other == long {
		t.Error("two long names that differ only in their middle are the same")
	}
}
