package cmd

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/odin-deploy/odin/pkg/backend"
)

// VersionTag is the state machine tag that says which odin the installed
// deployer is (odin deployer install sets it).
const VersionTag = "odin:version"

// checkDeployerVersion asks which odin the installed deployer is, in the
// background (one round trip fewer before a deploy starts), and returns the
// function that waits for the answer and says once, on stderr, when it is of
// another major or minor version than this odin: their execution input or
// task names may differ. It never fails the command: a deployer that cannot
// be asked (no tag, no permission, no answer within 3 s) is not warned about.
func checkDeployerVersion(ctx context.Context, f *Factory, b *backend.Backend) (warn func()) {
	if b.Kind != backend.AWS {
		return func() {} // the local backend's deployer is this binary's
	}
	installed := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		out, err := b.SFN.ListTagsForResource(ctx, &sfn.ListTagsForResourceInput{ResourceArn: aws.String(b.StateMachineArn)})
		if err != nil {
			installed <- ""
			return
		}
		for _, t := range out.Tags {
			if aws.ToString(t.Key) == VersionTag {
				installed <- aws.ToString(t.Value)
				return
			}
		}
		installed <- ""
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			if v := <-installed; v != "" && versionsDiffer(version, v) {
				newStatusLine(f).Printf("warning: the deployer is odin %s and this odin is %s: upgrade it with odin --backend aws deployer upgrade, or use odin %s\n",
					v, version, v)
			}
		})
	}
}

// versionsDiffer says two odin versions differ in a way that matters: their
// major or minor numbers. Builds without a release version ("dev", a commit)
// are not compared.
func versionsDiffer(a, b string) bool {
	ma, na, okA := majorMinor(a)
	mb, nb, okB := majorMinor(b)
	return okA && okB && (ma != mb || na != nb)
}

func majorMinor(v string) (int, int, bool) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.SplitN(parts[1], "-", 2)[0])
	return major, minor, err1 == nil && err2 == nil
}
