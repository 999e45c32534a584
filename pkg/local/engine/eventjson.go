package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// detailsMember names the details member of an event type on the wire, or ""
// for types that carry none.
func detailsMember(typ string) string {
	switch {
	case strings.HasSuffix(typ, "StateEntered"):
		return "stateEnteredEventDetails"
	case strings.HasSuffix(typ, "StateExited"):
		return "stateExitedEventDetails"
	}
	switch typ {
	case "LambdaFunctionStarted", "TaskStateAborted", "WaitStateAborted", "ParallelStateAborted",
		"MapStateAborted", "ParallelStateStarted", "ParallelStateSucceeded", "ParallelStateFailed",
		"MapStateSucceeded", "MapStateFailed", "MapRunSucceeded", "MapRunAborted", "PassStateAborted":
		return ""
	}
	return strings.ToLower(typ[:1]) + typ[1:] + "EventDetails"
}

// carriesInput and carriesOutput say which details get inputDetails /
// outputDetails beside input / output.
func carriesInput(typ string) bool {
	return strings.HasSuffix(typ, "StateEntered") || typ == "ExecutionStarted" ||
		typ == "LambdaFunctionScheduled" || typ == "ActivityScheduled"
}

func carriesOutput(typ string) bool {
	return strings.HasSuffix(typ, "StateExited") || typ == "ExecutionSucceeded" ||
		typ == "TaskSucceeded" || typ == "TaskSubmitted" || typ == "LambdaFunctionSucceeded" ||
		typ == "ActivitySucceeded"
}

type payloadDetails struct {
	Truncated bool `json:"truncated"`
}

// wireDetails is Details plus the truncation flags the wire form carries.
type wireDetails struct {
	*Details
	InputDetails             *payloadDetails `json:"inputDetails,omitempty"`
	OutputDetails            *payloadDetails `json:"outputDetails,omitempty"`
	AssignedVariablesDetails *payloadDetails `json:"assignedVariablesDetails,omitempty"`
}

// epochSeconds writes t as epoch seconds with millisecond precision, the way
// AWS JSON 1.0 sends timestamps.
func epochSeconds(t time.Time) json.Number {
	ms := t.UnixMilli()
	s := strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
	return json.Number(s)
}

// MarshalJSON writes the GetExecutionHistory wire shape of the event.
func (ev Event) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"timestamp":`)
	b.WriteString(string(epochSeconds(ev.Timestamp)))
	b.WriteString(`,"type":`)
	t, _ := json.Marshal(ev.Type)
	b.Write(t)
	fmt.Fprintf(&b, `,"id":%d,"previousEventId":%d`, ev.ID, ev.PreviousEventID)
	if member := detailsMember(ev.Type); member != "" && ev.Details != nil {
		w := wireDetails{Details: ev.Details}
		if carriesInput(ev.Type) {
			w.InputDetails = &payloadDetails{}
		}
		if carriesOutput(ev.Type) {
			w.OutputDetails = &payloadDetails{}
		}
		if ev.Details.AssignedVariables != nil {
			w.AssignedVariablesDetails = &payloadDetails{}
		}
		d, err := json.Marshal(w)
		if err != nil {
			return nil, err
		}
		b.WriteString(`,"`)
		b.WriteString(member)
		b.WriteString(`":`)
		b.Write(d)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes (and AWS sends).
func (ev *Event) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("history event: %w", err)
	}
	var out Event
	for k, v := range raw {
		var err error
		switch {
		case k == "timestamp":
			var n json.Number
			if err = json.Unmarshal(v, &n); err == nil {
				var f float64
				if f, err = n.Float64(); err == nil {
					sec, frac := math.Modf(f)
					out.Timestamp = time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC()
				}
			}
		case k == "type":
			err = json.Unmarshal(v, &out.Type)
		case k == "id":
			err = json.Unmarshal(v, &out.ID)
		case k == "previousEventId":
			err = json.Unmarshal(v, &out.PreviousEventID)
		case strings.HasSuffix(k, "EventDetails"):
			out.Details = &Details{}
			err = json.Unmarshal(v, out.Details)
		}
		if err != nil {
			return fmt.Errorf("history event field %q: %w", k, err)
		}
	}
	*ev = out
	return nil
}
