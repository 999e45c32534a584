package engine

import "time"

// resumePoint says where a resumed execution picks up: the state to run and,
// when its Entered event was already recorded, that event's id, time and input.
type resumePoint struct {
	state     string
	entered   bool
	enteredID int64
	enteredAt time.Time
	input     any
}
