package cmd

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/odin-deploy/odin/pkg/deployer"
)

// TestUnknownExecution names an execution that does not exist: every
// command that reads one says where it looked and exits 2 (a bad
// argument), not a raw API error.
func TestUnknownExecution(t *testing.T) {
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	ep := o.backend.Endpoint()
	want := "no execution deploy-nope_dev_r-0000000000000000 in state machine odin-deployer (account " + ep.Account + ", region " + ep.Region + ")"
	for _, args := range [][]string{
		{"status", "deploy-nope_dev_r-0000000000000000"},
		{"status", "deploy-nope_dev_r-0000000000000000", "--no-follow"},
		{"fail", "deploy-nope_dev_r-0000000000000000"},
		{"halt", "deploy-nope_dev_r-0000000000000000", "--yes"},
	} {
		code, out, errOut := o.run(ctx, args...)
		if code != 2 || !strings.Contains(errOut, want) || strings.Contains(errOut, "StatusCode") || out != "" {
			t.Errorf("odin %s: exit %d, want 2 and %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
		}
	}
}

// A local release whose listen port another program holds is refused
// before anything is uploaded, exit 2, naming the service and the port.
func TestBusyListenPortRefusedBeforeUpload(t *testing.T) {
	o := startLocalOdin(t)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	file, _ := hello{Project: "busy", Config: "e2e", Version: "v1", Port: port}.write(t)
	code, out, errOut := o.run(ctx, "deploy", file)
	want := fmt.Sprintf("services.web.listen: port %d is in use by another program (or another project's load balancer on this backend), and no deploy of busy/e2e has run on this backend to hold it", port)
	if code != 2 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "nothing was uploaded") {
		t.Errorf("deploy: exit %d, want 2 and %q\nstdout:\n%s\nstderr:\n%s", code, want, out, errOut)
	}
	objs, err := o.s3Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(deployer.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objs.Contents {
		if strings.Contains(aws.ToString(obj.Key), "/busy/") {
			t.Errorf("uploaded %s", aws.ToString(obj.Key))
		}
	}
}
