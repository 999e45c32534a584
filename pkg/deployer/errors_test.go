package deployer

import (
	"reflect"
	"testing"
	"time"
)

// On AWS, aws-lambda-go names an error by its Go type; locally, by
// ErrorType. The state machine's Retry and Catch match those names, so they
// must agree.
func TestErrorNames(t *testing.T) {
	for _, err := range []interface {
		error
		ErrorType() string
	}{
		&BadReleaseError{}, &LockExistsError{}, &ResourceError{}, &DeployError{}, &HealthError{},
		&HaltError{}, &TimeoutError{}, &CleanUpError{}, &StorageError{},
	} {
		if got := reflect.TypeOf(err).Elem().Name(); got != err.ErrorType() {
			t.Errorf("%s reports itself as %s", got, err.ErrorType())
		}
	}
}

func TestWaits(t *testing.T) {
	tests := []struct {
		target          string
		timeout         int
		interval        time.Duration
		deploy, healthy int
	}{
		{"local", 600, time.Second, 1, 1},
		{"local", 300, 5 * time.Second, 1, 5},
		{"local", 60, 0, 1, 1},
		// A long local timeout stretches the wait so the loop stays within
		// the execution's history budget.
		{"local", 172800, time.Second, 1, 128},
		{"aws", 600, time.Second, 30, 15},
		{"aws", 3600, time.Second, 30, 60},
		{"aws", 172800, time.Second, 30, 120},
	}
	for _, tt := range tests {
		d, h := waits(tt.target, tt.timeout, tt.interval)
		if d != tt.deploy || h != tt.healthy {
			t.Errorf("waits(%s, %d, %s) = %d, %d; want %d, %d", tt.target, tt.timeout, tt.interval, d, h, tt.deploy, tt.healthy)
		}
		if tt.timeout/h*eventsPerLoop > historyBudget {
			t.Errorf("waits(%s, %d) = %d overflows the history budget", tt.target, tt.timeout, h)
		}
	}
}
