package cmd

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/awsprovider/awstest"
	"github.com/odin-deploy/odin/pkg/deployer/localbackend"
	"github.com/odin-deploy/odin/pkg/iostreams"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/release"
	"github.com/odin-deploy/odin/pkg/testpeer/moto"
)

// rehearsalAccount is the target account of the rehearsal tests.
const rehearsalAccount = "210987654321"

// startAWSRehearsal starts moto with project shop's fixtures in
// rehearsalAccount, and a local backend that rehearses target aws releases
// against it. The engine's clock skips the deployer's waits (30 s before the
// first check, 15 s between checks) unless the test holds it.
func startAWSRehearsal(t *testing.T) (*localOdin, *moto.Server, *awstest.Account, awstest.Shop, *engine.FakeClock, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs moto and deploys")
	}
	mt := moto.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	admin := awstest.Admin(mt.Config(), mt.URL, rehearsalAccount)
	fx, err := admin.CreateShop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock := engine.NewAutoClock(time.Now())
	dir := t.TempDir()
	cfg := mt.Config()
	b, err := localbackend.StartWith(ctx, server.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock},
		localbackend.AWS{Endpoint: mt.URL, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close local backend: %v", err)
		}
	})
	return &localOdin{t: t, backend: b, dataDir: dir}, mt, admin, fx, clock, ctx
}

// An aws release rehearsed end to end: odin deploy on the local backend,
// whose deployer runs the real AWS provider against moto (--aws-endpoint).
// v1 deploys; v2 replaces it; v3 is unhealthy and rolls back, leaving v2
// serving; odin fail explains v3 with its instances' reasons.
func TestDeployAWSRehearsal(t *testing.T) {
	t.Parallel() // waits on servers and health checks, not the CPU
	o, mt, admin, fx, clock, ctx := startAWSRehearsal(t)
	write := func(version, extra string) (string, string) { return writeShopRelease(t, version, extra) }
	groups := func(releaseID string) []asgtypes.AutoScalingGroup {
		t.Helper()
		out, err := admin.ASG.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{Filters: []asgtypes.Filter{
			{Name: aws.String("tag:ReleaseID"), Values: []string{releaseID}}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.AutoScalingGroups
	}
	templates := func(releaseID string) int {
		t.Helper()
		out, err := admin.EC2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, lt := range out.LaunchTemplates {
			if strings.HasSuffix(aws.ToString(lt.LaunchTemplateName), releaseID) {
				n++
			}
		}
		return n
	}
	instances := func(gs []asgtypes.AutoScalingGroup, service string) []string {
		var ids []string
		for _, g := range gs {
			if strings.Contains(aws.ToString(g.AutoScalingGroupName), "-"+service+"-") {
				for _, in := range g.Instances {
					ids = append(ids, aws.ToString(in.InstanceId))
				}
			}
		}
		sort.Strings(ids)
		return ids
	}
	registered := func() []string {
		t.Helper()
		out, err := admin.ELBv2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(fx.TargetGroup)})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, th := range out.TargetHealthDescriptions {
			if th.TargetHealth != nil && th.TargetHealth.State == elbv2types.TargetHealthStateEnumHealthy {
				ids = append(ids, aws.ToString(th.Target.Id))
			}
		}
		sort.Strings(ids)
		return ids
	}
	deploy := func(file string, want int) string {
		t.Helper()
		code, out, errOut := o.run(ctx, "deploy", file, "--output", "plain")
		if code != want {
			t.Fatalf("odin deploy %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", file, code, want, out, errOut)
		}
		return out + errOut
	}

	// v1: its groups, template, tags and target group registration.
	v1, id1 := write("v1", "")
	out := deploy(v1, 0)
	if !strings.Contains(out, "target aws rehearsed against "+mt.URL) {
		t.Errorf("odin deploy does not say where target aws goes:\n%s", out)
	}
	g1 := groups(id1)
	if len(g1) != 2 || templates(id1) != 2 {
		t.Fatalf("v1: %d groups and %d launch templates, want 2 and 2", len(g1), templates(id1))
	}
	for _, g := range g1 {
		for _, k := range []string{"DeployWith", "ProjectName", "ConfigName", "ServiceName", "ReleaseID", "Name"} {
			if !slices.ContainsFunc(g.Tags, func(tg asgtypes.TagDescription) bool { return aws.ToString(tg.Key) == k }) {
				t.Errorf("group %s lacks tag %s", aws.ToString(g.AutoScalingGroupName), k)
			}
		}
	}
	if web := instances(g1, "web"); len(web) != 2 || !slices.Equal(registered(), web) {
		t.Errorf("v1's web instances %v, registered healthy in the target group %v", web, registered())
	}

	// v2 replaces v1: v1's groups and templates are gone.
	v2, id2 := write("v2", "")
	deploy(v2, 0)
	g2 := groups(id2)
	if len(groups(id1)) != 0 || templates(id1) != 0 || len(g2) != 2 {
		t.Fatalf("after v2: v1 has %d groups and %d templates (want 0, 0); v2 %d groups (want 2)", len(groups(id1)), templates(id1), len(g2))
	}
	v2web := instances(g2, "web")

	// v3 is unhealthy: its web instances are stopped before the first
	// health check (the test holds the engine's clock until then).
	v3, id3 := write("v3", "")
	release := clock.Hold()
	done := make(chan string, 1)
	go func() {
		code, out, errOut := o.run(ctx, "deploy", v3, "--output", "plain")
		done <- strings.Join([]string{string(rune('0' + code)), out, errOut}, "\n")
	}()
	var v3web []string
	for ctx.Err() == nil {
		if v3web = instances(groups(id3), "web"); len(v3web) == 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := admin.EC2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: v3web}); err != nil {
		t.Fatal(err)
	}
	release()
	res := <-done
	if !strings.HasPrefix(res, "3\n") {
		t.Fatalf("odin deploy of the unhealthy v3: want exit 3 (timed out)\n%s", res)
	}
	if len(groups(id3)) != 0 || templates(id3) != 0 {
		t.Errorf("v3 was not rolled back: %d groups, %d templates", len(groups(id3)), templates(id3))
	}
	if g := groups(id2); len(g) != 2 || !slices.Equal(instances(g, "web"), v2web) {
		t.Errorf("v2 was touched by v3's rollback: %d groups, web instances %v (were %v)", len(g), instances(g, "web"), v2web)
	}

	// odin fail explains v3, with the instances' reasons.
	code, failOut, failErr := o.run(ctx, "fail", v3)
	t.Logf("odin fail:\n%s\n%s", failOut, failErr)
	if code != 3 {
		t.Errorf("odin fail v3: exit %d, want 3", code)
	}
	for _, want := range []string{"TimeoutError", v3web[0], "EC2: instance stopped", "each reason names who judged the instance"} {
		if !strings.Contains(failOut, want) {
			t.Errorf("odin fail does not say %q", want)
		}
	}
}

// writeShopRelease writes a shop release of version to a file of its own and
// returns its path and release id; v3 gets a 30-second timeout.
func writeShopRelease(t *testing.T, version, extra string) (string, string) {
	t.Helper()
	body := awstest.ShopRelease(rehearsalAccount, version, extra)
	if version == "v3" {
		body = strings.Replace(body, "timeout: 600", "timeout: 30", 1)
	}
	path := filepath.Join(t.TempDir(), "release.yml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := release.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, release.ReleaseID(f.SHA256)
}

// A halt during an aws deploy rolls it back and releases the lock, as with
// the local provider: its groups go, and the next deploy goes ahead.
func TestHaltAWSRehearsal(t *testing.T) {
	t.Parallel() // waits on servers and health checks, not the CPU
	o, _, admin, _, clock, ctx := startAWSRehearsal(t)
	count := func(releaseID string) int {
		t.Helper()
		out, err := admin.ASG.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{Filters: []asgtypes.Filter{
			{Name: aws.String("tag:ReleaseID"), Values: []string{releaseID}}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.AutoScalingGroups)
	}
	v1, id1 := writeShopRelease(t, "v1", "")
	release := clock.Hold()
	done := make(chan int, 1)
	go func() {
		code, _, _ := o.run(ctx, "deploy", v1, "--output", "plain")
		done <- code
	}()
	for ctx.Err() == nil && count(id1) < 2 {
		time.Sleep(50 * time.Millisecond)
	}
	code, out, errOut := o.run(ctx, "halt", v1, "--no-follow", "--reason", "test")
	if code != 0 {
		t.Fatalf("odin halt: exit %d\n%s\n%s", code, out, errOut)
	}
	release()
	if code := <-done; code != 4 {
		t.Fatalf("odin deploy of the halted release: exit %d, want 4", code)
	}
	if n := count(id1); n != 0 {
		t.Errorf("the halted release keeps %d groups", n)
	}
	// The lock is free: the next release deploys.
	v2, id2 := writeShopRelease(t, "v2", "")
	if code, out, errOut := o.run(ctx, "deploy", v2, "--output", "plain"); code != 0 {
		t.Fatalf("deploy after the halt: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := count(id2); n != 2 {
		t.Errorf("v2 has %d groups, want 2", n)
	}
}

// Without --aws-endpoint the local backend refuses a target aws release,
// and odin deploy says so before anything is uploaded or started.
func TestAWSReleaseRefusedWithoutRehearsal(t *testing.T) {
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	file, _ := writeShopRelease(t, "v1", "")
	code, out, errOut := o.run(ctx, "deploy", file, "--output", "plain")
	if code != 2 || !strings.Contains(errOut, "odin local start --aws-endpoint URL") {
		t.Fatalf("exit %d, want 2 and how to rehearse\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, _ = o.run(ctx, "history", "--all", "--output", "json")
	if code != 0 || strings.Contains(out, "deploy-shop_prod") {
		t.Errorf("a refused deploy started an execution (exit %d):\n%s", code, out)
	}
	objs, err := o.backend.Endpoint().S3Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: aws.String(deployer.Bucket), Prefix: aws.String(rehearsalAccount + "/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Contents) != 0 {
		t.Errorf("a refused deploy uploaded %d objects, the first %s", len(objs.Contents), aws.ToString(objs.Contents[0].Key))
	}
}

// A malformed --aws-endpoint is a usage error before any server starts.
func TestAWSEndpointFlag(t *testing.T) {
	for _, bad := range []string{"127.0.0.1:5000", "ftp://127.0.0.1:5000", "http://", "http://user:pw@127.0.0.1:5000"} {
		io, _, _, errOut := iostreams.Test()
		dir := t.TempDir()
		f := &Factory{IO: io, Env: configEnv(dir), Now: time.Now}
		code := Run(context.Background(), f, []string{"local", "start", "--data-dir", dir, "--aws-endpoint", bad})
		if code != 2 || !strings.Contains(errOut.String(), "--aws-endpoint") {
			t.Errorf("--aws-endpoint %s: exit %d, %s", bad, code, errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, "endpoint.json")); err == nil {
			t.Errorf("--aws-endpoint %s started a server", bad)
		}
	}
}
