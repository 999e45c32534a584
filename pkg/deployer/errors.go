package deployer

import "github.com/odin-deploy/odin/pkg/contract"

// Each task error is its own type so that the execution history names it
// (aws-lambda-go and the local engine report a Go error by its type name or
// ErrorType), and the state machine's Retry and Catch can tell them apart.

// BadReleaseError says the release or the execution input cannot be deployed:
// a digest mismatch, an invalid release, a stale or mismatched input. Retrying
// does not help.
type BadReleaseError struct{ Msg string }

func (e *BadReleaseError) Error() string     { return e.Msg }
func (e *BadReleaseError) ErrorType() string { return contract.BadReleaseError }

// LockExistsError says another release holds the project and config's deploy lock.
type LockExistsError struct{ Msg string }

func (e *LockExistsError) Error() string     { return e.Msg }
func (e *LockExistsError) ErrorType() string { return contract.LockExistsError }

// ResourceError says something the release needs is missing or taken (a
// command, a working directory, a port).
type ResourceError struct{ Msg string }

func (e *ResourceError) Error() string     { return e.Msg }
func (e *ResourceError) ErrorType() string { return contract.ResourceError }

// DeployError says the new release's instances could not be started or one of
// them exited.
type DeployError struct{ Msg string }

func (e *DeployError) Error() string     { return e.Msg }
func (e *DeployError) ErrorType() string { return contract.DeployError }

// HealthError says health could not be determined this time; the state
// machine retries it.
type HealthError struct{ Msg string }

func (e *HealthError) Error() string     { return e.Msg }
func (e *HealthError) ErrorType() string { return contract.HealthError }

// HaltError says someone halted the deploy (the halt object); never retried.
type HaltError struct{ Msg string }

func (e *HaltError) Error() string     { return e.Msg }
func (e *HaltError) ErrorType() string { return contract.HaltError }

// TimeoutError says the release did not become healthy within its timeout.
type TimeoutError struct{ Msg string }

func (e *TimeoutError) Error() string     { return e.Msg }
func (e *TimeoutError) ErrorType() string { return contract.TimeoutError }

// CleanUpError says cleaning up (stopping instances, releasing the lock)
// failed, so something may be left behind.
type CleanUpError struct{ Msg string }

func (e *CleanUpError) Error() string     { return e.Msg }
func (e *CleanUpError) ErrorType() string { return contract.CleanUpError }

// StorageError is a transient failure talking to S3; the state machine
// retries it with backoff.
type StorageError struct{ Msg string }

func (e *StorageError) Error() string     { return e.Msg }
func (e *StorageError) ErrorType() string { return contract.StorageError }
