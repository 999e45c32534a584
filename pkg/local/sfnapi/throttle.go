package sfnapi

import (
	"math"
	"strings"
	"sync"
	"time"
)

// bucket is a token bucket: capacity tokens, refilled at rate per second.
type bucket struct {
	capacity, rate float64
	tokens         float64
	last           time.Time
}

// throttle holds AWS's per-operation API buckets (reference §5.1), shared by
// every caller as AWS shares them across an account and Region.
type throttle struct {
	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

// bucketSizes returns AWS's bucket and refill for op in region.
func bucketSizes(op, region string) (capacity, rate float64) {
	big := region == "us-east-1" || region == "us-west-2" || region == "eu-west-1"
	pick := func(bigC, bigR, c, r float64) (float64, float64) {
		if big {
			return bigC, bigR
		}
		return c, r
	}
	switch op {
	case "StartExecution":
		return pick(1300, 300, 800, 150)
	case "GetExecutionHistory":
		return 400, 20
	case "DescribeExecution":
		return pick(300, 15, 250, 10)
	case "DescribeStateMachineForExecution":
		return 200, 1
	case "DescribeStateMachine":
		return 200, 20
	case "ListExecutions":
		return pick(200, 5, 100, 2)
	case "StopExecution":
		return pick(1000, 200, 500, 25)
	case "CreateStateMachine", "UpdateStateMachine", "DeleteStateMachine", "ValidateStateMachineDefinition":
		return 100, 1
	}
	if strings.HasPrefix(op, "SendTask") {
		return pick(3000, 500, 1500, 300)
	}
	return 100, 2 // ListStateMachines and the rest: AWS's smallest published bucket
}

func newThrottle(region string, now func() time.Time, ops []string) *throttle {
	t := &throttle{now: now, buckets: map[string]*bucket{}}
	start := now()
	for _, op := range ops {
		c, r := bucketSizes(op, region)
		t.buckets[op] = &bucket{capacity: c, rate: r, tokens: c, last: start}
	}
	return t
}

// allow takes a token for op, reporting false when its bucket is empty.
func (t *throttle) allow(op string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buckets[op]
	if b == nil {
		return true
	}
	now := t.now()
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(b.capacity, b.tokens+el*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
