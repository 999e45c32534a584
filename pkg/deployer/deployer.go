// Package deployer is odin's reference deployer: the state machine that deploys
// a release and the one task handler behind every one of its Task states.
package deployer

import (
	"bytes"
	"context"
	_ "embed"
	"time"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/release"
)

// FunctionName is the Lambda function (and local backend function) that runs
// every task of the deployer state machine.
const FunctionName = contract.DeployerName

// StateMachineName is the deployer state machine's name.
const StateMachineName = contract.DeployerName

//go:embed deployer.asl.json
var definitionTemplate []byte

// Template is the deployer's States Language definition with ${FunctionArn}
// where the task handler's Lambda ARN goes.
func Template() []byte { return bytes.Clone(definitionTemplate) }

// Definition is the deployer state machine for the task handler at
// functionArn (see FunctionArn).
func Definition(functionArn string) []byte {
	return bytes.ReplaceAll(definitionTemplate, []byte("${FunctionArn}"), []byte(functionArn))
}

// FunctionArn is the Lambda ARN of the task handler in a region and account.
func FunctionArn(region, account string) string {
	return "arn:aws:lambda:" + region + ":" + account + ":function:" + FunctionName
}

// State is what flows from task to task: the input plus what the deployer
// learns on the way. Every task returns it whole.
type State struct {
	contract.Input

	// Set by Validate.
	StartedAt      string `json:"started_at,omitempty"`
	Deadline       string `json:"deadline,omitempty"`
	Timeout        int    `json:"timeout,omitempty"`
	WaitForDeploy  int    `json:"wait_for_deploy,omitempty"`
	WaitForHealthy int    `json:"wait_for_healthy,omitempty"`

	// Set by Lock; ReleaseLock* deletes the lock only if its ETag still matches.
	LockETag string `json:"lock_etag,omitempty"`

	// Set by Deploy and CheckHealthy. Healthy drives the Healthy? choice.
	Healthy *bool            `json:"healthy,omitempty"`
	Health  *contract.Health `json:"health,omitempty"`

	// Written by the state machine's catchers.
	Error        *CaughtError `json:"error,omitempty"`
	CleanupError *CaughtError `json:"cleanup_error,omitempty"`
	LockError    *CaughtError `json:"lock_error,omitempty"`
}

// CaughtError is what a Catch writes: the error name and its cause.
type CaughtError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Deployment is what a provider needs to act on one release.
type Deployment struct {
	ReleaseID string
	Project   string
	Config    string
	Account   string
	Region    string
	// Execution is the ARN of the execution deploying the release, and
	// DeployedBy the caller who started it: the AWS provider names its role
	// session and source identity after them.
	Execution  string
	DeployedBy string
	// Bucket holds the release (for user data's {{RELEASE_BUCKET}}).
	Bucket string
	// Services are the release's services, defaults applied and working
	// directories made absolute.
	Services map[string]Service
	// Release is the whole release file, for what Services does not carry
	// (an AWS provider's instance types, subnets, images).
	Release *release.Release `json:"-"`
	// Started is when the execution started; Deadline when the release must
	// be healthy.
	Started  time.Time
	Deadline time.Time
}

// Service is how to run and health-check one service of a release.
type Service struct {
	Command    []string
	WorkingDir string
	Env        map[string]string
	Instances  int
	// Listen is the stable port of the service's load balancer.
	Listen      int
	HealthCheck HealthCheck
}

// HealthCheck says how to tell an instance is healthy.
type HealthCheck struct {
	Type               string // "http" or "tcp"
	Path               string
	ExpectedStatus     int
	Interval           time.Duration
	Timeout            time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
	// GracePeriod is how long after start failed checks mean "launching",
	// not "unhealthy".
	GracePeriod time.Duration
}

// Provider runs releases on a target (processes on this machine, Auto
// Scaling groups on AWS). Its methods are called from separate task
// invocations, so it keeps what it started itself, keyed by release id.
type Provider interface {
	// Validate checks that what the release needs exists and is free
	// (ResourceError otherwise).
	Validate(ctx context.Context, d *Deployment) error
	// Deploy starts the release's instances beside those serving now.
	Deploy(ctx context.Context, d *Deployment) error
	// Health reports the release's instances. An instance that cannot
	// recover (it exited) is a *DeployError.
	Health(ctx context.Context, d *Deployment) (*contract.Health, error)
	// CleanUpSuccess sends traffic to the release, then stops the previous one.
	CleanUpSuccess(ctx context.Context, d *Deployment) error
	// CleanUpFailure stops the release's instances; the previous release keeps
	// serving. Nothing to stop is not an error.
	CleanUpFailure(ctx context.Context, d *Deployment) error
}
