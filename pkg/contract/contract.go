// Package contract is what odin's client and its deployer agree on: the
// execution input, the records they leave in S3 and where, the health report
// a task returns, and the names of the deployer's resources and errors. It
// imports nothing, so both sides can use it without importing each other.
package contract

import (
	"fmt"
	"sort"
	"strings"
)

// Names of the deployer's resources, the defaults the client looks for.
const (
	// DeployerName names the deployer's state machine, its Lambda function
	// (and the local backend's function) and its CloudFormation stack.
	DeployerName = "odin-deployer"
	// TargetRoleName is the role the deployer assumes in a target account.
	TargetRoleName = "odin-deployer-target"
)

// Input is the execution input `odin deploy` builds and the deployer reads.
type Input struct {
	ReleaseID     string `json:"release_id"`
	ProjectName   string `json:"project_name"`
	ConfigName    string `json:"config_name"`
	Target        string `json:"target"`
	AWSAccountID  string `json:"aws_account_id"`
	AWSRegion     string `json:"aws_region"`
	Bucket        string `json:"bucket"`
	ReleaseKey    string `json:"release_key"`
	ReleaseSHA256 string `json:"release_sha256"`
	DeployedBy    string `json:"deployed_by"`
	CreatedAt     string `json:"created_at"`
	// ReleaseDir is where a local release's relative working_dir resolves.
	ReleaseDir string `json:"release_dir,omitempty"`
}

// Root is the S3 prefix of a project and config in an account:
// <account>/<project>/<config>. Releases, the lock and the halt object live
// under it.
func Root(account, project, configName string) string {
	return account + "/" + project + "/" + configName
}

// ReleaseKey is where a release file is uploaded.
func ReleaseKey(account, project, configName, releaseID string) string {
	return Root(account, project, configName) + "/" + releaseID + "/release"
}

// LockKey is the deploy lock of a project and config.
func LockKey(account, project, configName string) string {
	return Root(account, project, configName) + "/lock"
}

// HaltKey is the halt object of a project and config.
func HaltKey(account, project, configName string) string {
	return Root(account, project, configName) + "/halt"
}

// Lock is the lock object's body: the deployer writes it when it takes the
// lock, `odin unlock` reads it.
type Lock struct {
	ReleaseID  string `json:"release_id"`
	Owner      string `json:"owner"`
	Execution  string `json:"execution"`
	AcquiredAt string `json:"acquired_at"`
	ExpiresAt  string `json:"expires_at"`
}

// Halt is the halt object's body: who asked and why. The deployer honours
// a halt object written after its execution started.
type Halt struct {
	By     string `json:"by"`
	At     string `json:"at"`
	Reason string `json:"reason,omitempty"`
}

// Health is a release's health, in the `health` field of the output of the
// deployer's Deploy and CheckHealthy tasks.
type Health struct {
	Healthy  bool                      `json:"healthy"`
	Services map[string]*ServiceHealth `json:"services"`
}

// ServiceHealth counts one service's instances by state.
type ServiceHealth struct {
	Desired     int        `json:"desired"`
	Healthy     int        `json:"healthy"`
	Launching   int        `json:"launching"`
	Unhealthy   int        `json:"unhealthy"`
	Terminating int        `json:"terminating"`
	Instances   []Instance `json:"instances"`
}

// Instance states.
const (
	InstanceLaunching   = "launching"
	InstanceHealthy     = "healthy"
	InstanceUnhealthy   = "unhealthy"
	InstanceExited      = "exited"
	InstanceTerminating = "terminating"
	InstanceStopped     = "stopped"
)

// Instance is one running (or failed) copy of a service.
type Instance struct {
	ID        string `json:"id"`
	ReleaseID string `json:"release_id"`
	State     string `json:"state"`
	PID       int    `json:"pid,omitempty"`
	Port      int    `json:"port,omitempty"`
	// Reason says why the instance is not healthy: its exit status, the
	// failing check.
	Reason  string   `json:"reason,omitempty"`
	LogTail []string `json:"log_tail,omitempty"`
}

// TaskOutput is the part of a deployer task's output the client reads.
type TaskOutput struct {
	Health *Health `json:"health,omitempty"`
}

// The error names the deployer fails a deploy with; users act on them, and
// the live view and `odin fail` tell outcomes apart by them.
const (
	BadReleaseError = "BadReleaseError" // the release file is not what was uploaded, or is invalid
	LockExistsError = "LockExistsError" // another deploy holds the lock
	ResourceError   = "ResourceError"   // what the release needs is not there
	DeployError     = "DeployError"     // the release could not be started
	HealthError     = "HealthError"     // an instance is unhealthy
	HaltError       = "HaltError"       // someone halted the deploy
	TimeoutError    = "TimeoutError"    // the release was not healthy within its timeout
	CleanUpError    = "CleanUpError"    // cleaning up after a deploy failed
	StorageError    = "StorageError"    // reading or writing S3 failed
)

// Summary says in one line which instances are not healthy and why.
func (hl *Health) Summary() string {
	if hl == nil {
		return "no health report"
	}
	var parts []string
	names := make([]string, 0, len(hl.Services))
	for n := range hl.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := hl.Services[n]
		if s == nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d healthy", n, s.Healthy, s.Desired))
		for _, in := range s.Instances {
			if in.State == InstanceHealthy {
				continue
			}
			line := fmt.Sprintf("%s %s", in.ID, in.State)
			if in.Reason != "" {
				line += ": " + in.Reason
			}
			if len(in.LogTail) > 0 {
				line += " (last log lines: " + strings.Join(in.LogTail, " | ") + ")"
			}
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}

// ExecutionArn is the ARN of the execution called name of the state machine
// at stateMachineArn.
func ExecutionArn(stateMachineArn, name string) string {
	return strings.Replace(stateMachineArn, ":stateMachine:", ":execution:", 1) + ":" + name
}
