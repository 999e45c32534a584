package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deployer/localbackend"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/server"
	"github.com/odin-deploy/odin/pkg/local/sfnapi"
)

// crossAccountDenied is the local backend's Step Functions API, except that
// DescribeExecution of another account's execution is answered as AWS
// answers a caller with no rights there: AccessDeniedException. The local
// backend alone would say ExecutionDoesNotExist, which means the holder is
// gone.
type crossAccountDenied struct {
	server.StatesAPI
	account string
}

func (d crossAccountDenied) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") == "AWSStepFunctions.DescribeExecution" {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in struct {
			ExecutionArn string `json:"executionArn"`
		}
		_ = json.Unmarshal(body, &in)
		if p := strings.Split(in.ExecutionArn, ":"); len(p) > 4 && p[4] != d.account {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"com.amazon.coral.service#AccessDeniedException","message":"User: arn:aws:iam::%s:user/tester is not authorized to perform: states:DescribeExecution on resource: %s"}`,
				d.account, in.ExecutionArn)
			return
		}
	}
	d.StatesAPI.ServeHTTP(w, r)
}

// TestUnlockUndescribableHolderOnLocalBackend: a lock whose execution cannot
// be described (no permission, not an execution ARN) may still belong to a
// running deploy, so unlock refuses it unless --force; a lock whose
// execution Step Functions does not know is cleared as a dead one.
func TestUnlockUndescribableHolderOnLocalBackend(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	b, err := localbackend.Start(ctx, server.Options{
		DataDir: dir,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		States: func(ctx context.Context, ep access.Endpoint, fns *engine.Functions) (server.StatesAPI, error) {
			api, err := sfnapi.New(ctx, sfnapi.Options{DataDir: dir, Functions: fns, Region: ep.Region, Account: ep.Account})
			if err != nil {
				return nil, err
			}
			return crossAccountDenied{StatesAPI: api, account: ep.Account}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close local backend: %v", err)
		}
	})
	o := &localOdin{t: t, backend: b, dataDir: dir}
	ep := b.Endpoint()
	execution := func(account, name string) string {
		return "arn:aws:states:" + ep.Region + ":" + account + ":execution:odin-deployer:" + name
	}

	tests := []struct {
		name      string
		execution string
		wantShown string   // in the lock's summary
		wantError []string // in the refusal; none: deleted without --force
	}{
		{"another account", execution("111122223333", "deploy-elsewhere"), "(unknown)",
			[]string{"AccessDeniedException", "not authorized to perform: states:DescribeExecution"}},
		{"not an execution ARN", "deploy-hello_unlock_r-0123456789abcdef", "(unknown)",
			[]string{"InvalidArn"}},
		{"no such execution", execution(ep.Account, "deploy-gone"), "(does not exist)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := strings.ReplaceAll(tt.name, " ", "-")
			key := o.lockKey("hello", config)
			o.putLock(ctx, "hello", config, contract.Lock{ReleaseID: "r-0123456789abcdef", Owner: "arn:aws:iam::000000000000:user/gone",
				Execution: tt.execution, AcquiredAt: time.Now().UTC().Format(time.RFC3339)})

			code, out, errOut := o.run(ctx, "unlock", "--project", "hello", "--config-name", config, "--yes")
			if want := "execution " + tt.execution + " " + tt.wantShown; !strings.Contains(out, want) {
				t.Errorf("the summary lacks %q:\n%s", want, out)
			}
			if tt.wantError == nil {
				if code != 0 || !strings.Contains(out, "lock deleted") || o.objectExists(ctx, key) {
					t.Fatalf("unlock --yes: exit %d, want 0 and the lock gone\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
				}
				return
			}
			if code != 1 || !o.objectExists(ctx, key) {
				t.Fatalf("unlock --yes: exit %d, want 1 and the lock kept\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for _, want := range append([]string{"cannot tell whether the lock's execution " + tt.execution + " is still running", "--force deletes the lock anyway"}, tt.wantError...) {
				if !strings.Contains(errOut, want) {
					t.Errorf("the refusal lacks %q:\n%s", want, errOut)
				}
			}

			code, out, errOut = o.run(ctx, "unlock", "--project", "hello", "--config-name", config, "--yes", "--force")
			if code != 0 || !strings.Contains(out, "lock deleted") || o.objectExists(ctx, key) {
				t.Errorf("unlock --yes --force: exit %d, want 0 and the lock gone\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
		})
	}
}
