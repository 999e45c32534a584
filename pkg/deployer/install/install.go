package install

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/odin-deploy/odin/pkg/awserr"
	"github.com/odin-deploy/odin/pkg/deployer/awsprovider"
)

// Storage is the part of S3 the installer uses to upload the function's code.
type Storage interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, opts ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Code is the deployer function's package: a zip whose bootstrap is odin.
type Code struct {
	Zip []byte
	// From says where the binary came from, for the report.
	From string
}

// Key is where the code is kept in the releases bucket: under its SHA-256,
// so the same binary is one object and a new one is a new key, which is
// what tells CloudFormation to update the function.
func (c Code) Key() string { return "odin-deployer/lambda/" + c.SHA256() + ".zip" }

// SHA256 is the zip's digest, in hex.
func (c Code) SHA256() string {
	sum := sha256.Sum256(c.Zip)
	return hex.EncodeToString(sum[:])
}

// Deployer says how to install the deployer in its own account.
type Deployer struct {
	Version string
	// Account and Region are where it is installed (for the bucket's
	// default name).
	Account, Region string
	// Bucket is the releases bucket's name; "" is odin-<account>-<region>.
	Bucket string
	// TargetRoleName is the role the deployer assumes in target accounts.
	TargetRoleName string
	// LogRetentionDays keeps the function's logs this long (90 when 0).
	LogRetentionDays int
	// AlarmTopicArn, when set, gets an alarm on failed executions.
	AlarmTopicArn string
	// Code builds the function's package (it may cross-compile).
	Code func(ctx context.Context) (Code, error)
	// Explicit names the settings given on this command line (Bucket
	// "BucketName", LogRetentionDays, AlarmTopicArn, TargetRoleName). The
	// others keep what the installed stacks have, so an upgrade never moves
	// the bucket, drops the alarm or renames the target role by omission.
	Explicit map[string]bool
}

// Report is what an install, upgrade or uninstall did.
type Report struct {
	Stacks []*Result `json:"stacks"`
	// Bucket is the releases bucket, CodeKey and CodeSHA256 the function's
	// code in it, Uploaded whether this run uploaded it.
	Bucket     string `json:"bucket,omitempty"`
	CodeKey    string `json:"code_key,omitempty"`
	CodeSHA256 string `json:"code_sha256,omitempty"`
	CodeFrom   string `json:"code_from,omitempty"`
	Uploaded   bool   `json:"uploaded,omitempty"`
	// Kept names what an uninstall left in place on purpose.
	Kept []string `json:"kept,omitempty"`
}

// Changed says whether anything changed (or would, in a dry run).
func (r *Report) Changed() bool {
	if r.Uploaded {
		return true
	}
	for _, s := range r.Stacks {
		if s.Changed {
			return true
		}
	}
	return false
}

// Tags put on the stacks (and so on their resources).
func stackTags(version string) map[string]string {
	return map[string]string{"odin:version": version, "DeployWith": "odin"}
}

// InstallDeployer creates or updates the bucket stack, uploads the
// function's code under its SHA-256 when the bucket lacks it, then creates
// or updates the deployer stack. dryRun shows the change sets and changes
// nothing (no upload either).
func InstallDeployer(ctx context.Context, st *Stacks, store Storage, d Deployer, dryRun bool, onEvent func(Event)) (*Report, error) {
	rep := &Report{}
	// Package first: a binary that cannot be the function changes nothing.
	code, err := d.Code(ctx)
	if err != nil {
		return rep, fmt.Errorf("package the deployer function: %w", err)
	}
	cur, err := st.Describe(ctx, DeployerStack)
	if err != nil {
		return rep, err
	}
	keep := func(name, given string) string {
		if d.Explicit[name] || cur == nil {
			return given
		}
		if v, ok := cur.Params[name]; ok {
			return v
		}
		return given
	}
	d.AlarmTopicArn = keep("AlarmTopicArn", d.AlarmTopicArn)
	d.TargetRoleName = keep("TargetRoleName", d.TargetRoleName)
	if v, err := strconv.Atoi(keep("LogRetentionDays", strconv.Itoa(d.LogRetentionDays))); err == nil {
		d.LogRetentionDays = v
	}
	res, bucket, err := applyBucket(ctx, st, store, d, dryRun, onEvent)
	if err != nil {
		return rep, err
	}
	rep.Stacks = append(rep.Stacks, res)
	// The stack's output, or the name the template gives it (moto's
	// change sets leave outputs empty; a dry run of a first install has
	// none yet).
	rep.Bucket = res.Outputs["BucketName"]
	if rep.Bucket == "" {
		rep.Bucket = bucket
	}
	rep.CodeKey, rep.CodeSHA256, rep.CodeFrom = code.Key(), code.SHA256(), code.From
	if !dryRun {
		up, err := upload(ctx, store, rep.Bucket, code)
		if err != nil {
			return rep, err
		}
		rep.Uploaded = up
	}
	retention := d.LogRetentionDays
	if retention == 0 {
		retention = 90
	}
	params := map[string]string{
		"BucketName":       rep.Bucket,
		"CodeKey":          code.Key(),
		"Version":          d.Version,
		"LogRetentionDays": strconv.Itoa(retention),
		"AlarmTopicArn":    d.AlarmTopicArn,
	}
	// The template's default is left to the template, so that a stack
	// installed without the flag sees the same parameters again.
	if d.TargetRoleName != "" && d.TargetRoleName != awsprovider.DefaultRoleName {
		params["TargetRoleName"] = d.TargetRoleName
	}
	res, err = st.Apply(ctx, Stack{Name: DeployerStack, Template: DeployerTemplate(), Params: params, Tags: stackTags(d.Version)}, dryRun, onEvent)
	if err != nil {
		return rep, err
	}
	rep.Stacks = append(rep.Stacks, res)
	return rep, nil
}

// Retained is the status of a bucket stack that is gone while its bucket,
// kept by an uninstall, is still there.
const Retained = "RETAINED"

// applyBucket creates or updates the bucket stack, unless its stack is gone
// and its bucket is not: an uninstall keeps the bucket (every release and
// lock), and CloudFormation cannot create a bucket that exists, so a
// reinstall uses it as it is.
// It returns the bucket's name too.
func applyBucket(ctx context.Context, st *Stacks, store Storage, d Deployer, dryRun bool, onEvent func(Event)) (*Result, string, error) {
	cur, err := st.Describe(ctx, BucketStack)
	if err != nil {
		return nil, "", err
	}
	param := d.Bucket
	if cur != nil && !d.Explicit["BucketName"] {
		param = cur.Params["BucketName"] // an upgrade keeps the bucket
	}
	name := param
	if name == "" {
		name = "odin-" + d.Account + "-" + d.Region
	}
	if cur == nil {
		in := &s3.HeadBucketInput{Bucket: aws.String(name)}
		if d.Account != "" {
			in.ExpectedBucketOwner = aws.String(d.Account)
		}
		if _, err := store.HeadBucket(ctx, in); err == nil {
			return &Result{Stack: BucketStack, Status: Retained, Outputs: map[string]string{"BucketName": name}}, name, nil
		}
	}
	res, err := st.Apply(ctx, Stack{Name: BucketStack, Template: BucketTemplate(), Params: map[string]string{"BucketName": param}, Tags: stackTags(d.Version)}, dryRun, onEvent)
	return res, name, err
}

// upload puts the code in the bucket with its SHA-256 (S3 checks it on the
// way in), unless an object of that key, hence of those bytes, is there.
func upload(ctx context.Context, store Storage, bucket string, code Code) (bool, error) {
	key := code.Key()
	sum := sha256.Sum256(code.Zip)
	want := base64.StdEncoding.EncodeToString(sum[:])
	head, err := store.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled})
	if err == nil {
		// The key names a digest, but anyone who may write to the bucket
		// can put other bytes there before odin does: those would become
		// the function. Use the object only if its bytes are these.
		if got := aws.ToString(head.ChecksumSHA256); got == want {
			return false, nil
		}
		if ok, err := sameBytes(ctx, store, bucket, key, sum); err != nil {
			return false, err
		} else if ok {
			return false, nil
		}
		return false, fmt.Errorf("s3://%s/%s holds other bytes than this odin's function code (sha256 %s): someone else wrote it; "+
			"inspect it (it would have run as the deployer), delete it, and install again", bucket, key, hex.EncodeToString(sum[:]))
	}
	if !awserr.Is(err, "NotFound", "NoSuchKey", "404") {
		return false, fmt.Errorf("look for s3://%s/%s: %w", bucket, key, err)
	}
	_, err = store.PutObject(ctx, &s3.PutObjectInput{
		Bucket:            aws.String(bucket),
		Key:               aws.String(key),
		Body:              bytes.NewReader(code.Zip),
		ContentType:       aws.String("application/zip"),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(want),
		// Never over another writer's object of that key.
		IfNoneMatch: aws.String("*"),
	})
	if err != nil {
		return false, fmt.Errorf("upload the deployer function's code to s3://%s/%s: %w", bucket, key, err)
	}
	return true, nil
}

// sameBytes reads the object and says whether its SHA-256 is sum (for
// objects stored without a checksum).
func sameBytes(ctx context.Context, store Storage, bucket, key string, sum [32]byte) (bool, error) {
	out, err := store.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return false, fmt.Errorf("read s3://%s/%s to check it: %w", bucket, key, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(out.Body, 300<<20)); err != nil {
		return false, fmt.Errorf("read s3://%s/%s to check it: %w", bucket, key, err)
	}
	return bytes.Equal(h.Sum(nil), sum[:]), nil
}

// Target says how to install the role the deployer assumes in a target
// account.
type Target struct {
	Version          string
	DeployerAccount  string
	DeployerRoleName string
	RoleName         string
}

// InstallTarget creates or updates the target role's stack.
func InstallTarget(ctx context.Context, st *Stacks, t Target, dryRun bool, onEvent func(Event)) (*Report, error) {
	if len(t.DeployerAccount) != 12 || strings.Trim(t.DeployerAccount, "0123456789") != "" {
		return nil, fmt.Errorf("the deployer's account must be 12 digits, not %q", t.DeployerAccount)
	}
	params := map[string]string{"DeployerAccount": t.DeployerAccount}
	if t.DeployerRoleName != "" {
		params["DeployerRoleName"] = t.DeployerRoleName
	}
	if t.RoleName != "" {
		params["RoleName"] = t.RoleName
	}
	res, err := st.Apply(ctx, Stack{Name: TargetStack, Template: TargetTemplate(), Params: params, Tags: stackTags(t.Version)}, dryRun, onEvent)
	rep := &Report{}
	if res != nil {
		rep.Stacks = append(rep.Stacks, res)
	}
	return rep, err
}

// Uninstall deletes the deployer's stacks, or the target role's with target.
// The releases bucket is kept (its stack's policy retains it): it holds
// every release and the audit trail.
// defaultBucket is the releases bucket's name when the bucket stack's
// outputs and parameters do not say it.
func Uninstall(ctx context.Context, st *Stacks, target bool, defaultBucket string, onEvent func(Event)) (*Report, error) {
	rep := &Report{}
	names := []string{DeployerStack, BucketStack}
	if target {
		names = []string{TargetStack}
	}
	var errs []error
	for _, name := range names {
		var bucket string
		if name == BucketStack {
			if info, err := st.Describe(ctx, name); err == nil && info != nil {
				bucket = info.Outputs["BucketName"]
				if bucket == "" {
					bucket = info.Params["BucketName"]
				}
				if bucket == "" {
					bucket = defaultBucket
				}
			}
		}
		deleted, err := st.Delete(ctx, name, onEvent)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Stacks = append(rep.Stacks, &Result{Stack: name, Changed: deleted, Status: "DELETE_COMPLETE"})
		if bucket != "" {
			rep.Bucket = bucket
			rep.Kept = append(rep.Kept, "s3://"+bucket+" (the releases bucket: every release and lock; delete it yourself when nothing needs them)")
		}
	}
	return rep, errors.Join(errs...)
}
