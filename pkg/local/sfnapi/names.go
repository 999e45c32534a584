package sfnapi

import (
	"crypto/rand"
	"fmt"
	"strings"
	"unicode/utf8"
)

// validName applies AWS's rules for state machine and execution names:
// no whitespace, none of  < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /  and no
// control or non-character code points.
func validName(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r <= 0x20, r >= 0x7f && r <= 0x9f,
			r == 0xfffe, r == 0xffff, r == 0x10ffff:
			return false
		case strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r):
			return false
		case r == 0x85 || r == 0xa0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200a) ||
			r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000:
			return false // Unicode whitespace
		}
	}
	return true
}

// arn is a parsed Step Functions ARN: arn:aws:states:REGION:ACCOUNT:TYPE:REST.
type arn struct {
	region, account, typ string
	rest                 []string
}

// parseArn checks the prefix and splits s; want is the resource type the
// operation takes.
func parseArn(s, want string) (arn, *apiError) {
	p := strings.Split(s, ":")
	if len(p) < 6 || p[0] != "arn" || !strings.HasPrefix(p[1], "aws") || p[2] != "states" {
		return arn{}, invalidArn("Invalid ARN prefix: " + s)
	}
	a := arn{region: p[3], account: p[4], typ: p[5], rest: p[6:]}
	if a.typ != want {
		return arn{}, invalidArn("Resource type not valid in this context: " + a.typ)
	}
	for _, r := range a.rest {
		if r == "" {
			return arn{}, invalidArn("Invalid Arn format: " + s)
		}
	}
	return a, nil
}

func stateMachineArn(region, account, name string) string {
	return "arn:aws:states:" + region + ":" + account + ":stateMachine:" + name
}

func executionArn(region, account, smName, name string) string {
	return "arn:aws:states:" + region + ":" + account + ":execution:" + smName + ":" + name
}

// newUUID returns a random (version 4) UUID: the name of an execution
// started without one, and revision ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
