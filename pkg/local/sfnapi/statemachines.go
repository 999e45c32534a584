package sfnapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/odin-deploy/odin/pkg/local/asl"
	"github.com/odin-deploy/odin/pkg/local/store"
)

const (
	maxDefinition = 1048576
	typeStandard  = "STANDARD"
	typeExpress   = "EXPRESS"
)

var (
	defaultLogging = json.RawMessage(`{"level":"OFF","includeExecutionData":false}`)
	defaultTracing = json.RawMessage(`{"enabled":false}`)
)

// compact canonicalises a configuration object so that equal ones compare
// equal; absent stays nil.
func compact(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

func orDefault(raw, def json.RawMessage) json.RawMessage {
	if raw == nil {
		return def
	}
	return raw
}

// checkDefinition parses a definition as Create and Update do.
func checkDefinition(def string) error {
	if _, err := asl.Parse([]byte(def)); err != nil {
		var de *asl.DefinitionError
		if errors.As(err, &de) {
			return &apiError{status: 400, namespace: nsModel, name: "InvalidDefinition", message: de.Error()}
		}
		return modelErr("InvalidDefinition", "Invalid State Machine Definition: '%s'", err.Error())
	}
	return nil
}

// smArnOf checks a stateMachineArn argument.
func (a *API) smArnOf(s string) *apiError {
	p, err := parseArn(s, "stateMachine")
	if err != nil {
		return err
	}
	if len(p.rest) != 1 {
		// A version or alias ARN: the local backend doesn't publish versions.
		return stateMachineDoesNotExist(s)
	}
	return nil
}

type createStateMachineInput struct {
	Name                    *string         `json:"name"`
	Definition              *string         `json:"definition"`
	RoleArn                 *string         `json:"roleArn"`
	Type                    *string         `json:"type"`
	LoggingConfiguration    json.RawMessage `json:"loggingConfiguration"`
	TracingConfiguration    json.RawMessage `json:"tracingConfiguration"`
	Publish                 bool            `json:"publish"`
	VersionDescription      *string         `json:"versionDescription"`
	EncryptionConfiguration json.RawMessage `json:"encryptionConfiguration"`
}

func (a *API) createStateMachine(ctx context.Context, body []byte) (any, error) {
	var in createStateMachineInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("name", in.Name)
	v.required("definition", in.Definition)
	v.required("roleArn", in.RoleArn)
	v.length("name", in.Name, 1, 80, false)
	v.length("definition", in.Definition, 1, maxDefinition, true)
	v.length("roleArn", in.RoleArn, 1, 256, false)
	v.enum("type", in.Type, typeStandard, typeExpress)
	if err := v.err(); err != nil {
		return nil, err
	}
	if !validName(*in.Name) {
		return nil, modelErr("InvalidName", "Invalid Name: '%s'", *in.Name)
	}
	if !strings.HasPrefix(*in.RoleArn, "arn:") {
		return nil, invalidArn("Invalid ARN prefix: " + *in.RoleArn)
	}
	if in.Type != nil && *in.Type == typeExpress {
		return nil, modelErr("StateMachineTypeNotSupported", "EXPRESS state machines are not supported by the local backend")
	}
	if in.Publish || in.VersionDescription != nil {
		return nil, validationErr("Publishing state machine versions is not supported by the local backend")
	}
	if err := checkDefinition(*in.Definition); err != nil {
		return nil, err
	}
	now := a.opts.Clock.Now()
	sm := store.StateMachine{
		Arn: stateMachineArn(a.opts.Region, a.opts.Account, *in.Name), Name: *in.Name, Type: typeStandard, Created: now,
		Revisions: []store.Revision{{
			ID: newUUID(), Definition: *in.Definition, RoleArn: *in.RoleArn, Date: now,
			Logging: compact(in.LoggingConfiguration), Tracing: compact(in.TracingConfiguration),
		}},
	}
	got, err := a.store.CreateStateMachine(ctx, sm)
	if errors.Is(err, store.ErrExists) {
		// Idempotent when everything but roleArn and tags matches.
		cur := got.Current()
		if cur.Definition != *in.Definition || !bytes.Equal(cur.Logging, sm.Revisions[0].Logging) ||
			!bytes.Equal(cur.Tracing, sm.Revisions[0].Tracing) {
			return nil, modelErr("StateMachineAlreadyExists", "State Machine Already Exists: '%s'", sm.Arn)
		}
	} else if err != nil {
		return nil, err
	}
	return struct {
		StateMachineArn string      `json:"stateMachineArn"`
		CreationDate    json.Number `json:"creationDate"`
	}{got.Arn, epoch(got.Created)}, nil
}

type updateStateMachineInput struct {
	StateMachineArn      *string         `json:"stateMachineArn"`
	Definition           *string         `json:"definition"`
	RoleArn              *string         `json:"roleArn"`
	LoggingConfiguration json.RawMessage `json:"loggingConfiguration"`
	TracingConfiguration json.RawMessage `json:"tracingConfiguration"`
	Publish              bool            `json:"publish"`
	VersionDescription   *string         `json:"versionDescription"`
}

func (a *API) updateStateMachine(ctx context.Context, body []byte) (any, error) {
	var in updateStateMachineInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("stateMachineArn", in.StateMachineArn)
	v.length("stateMachineArn", in.StateMachineArn, 1, 256, false)
	v.length("definition", in.Definition, 1, maxDefinition, true)
	v.length("roleArn", in.RoleArn, 1, 256, false)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := a.smArnOf(*in.StateMachineArn); err != nil {
		return nil, err
	}
	logging, tracing := compact(in.LoggingConfiguration), compact(in.TracingConfiguration)
	if in.Definition == nil && in.RoleArn == nil && logging == nil && tracing == nil {
		return nil, modelErr("MissingRequiredParameter", "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified")
	}
	if in.Publish || in.VersionDescription != nil {
		return nil, validationErr("Publishing state machine versions is not supported by the local backend")
	}
	if in.RoleArn != nil && !strings.HasPrefix(*in.RoleArn, "arn:") {
		return nil, invalidArn("Invalid ARN prefix: " + *in.RoleArn)
	}
	if in.Definition != nil {
		if err := checkDefinition(*in.Definition); err != nil {
			return nil, err
		}
	}
	now := a.opts.Clock.Now()
	sm, err := a.store.UpdateStateMachine(ctx, *in.StateMachineArn, func(cur store.Revision) store.Revision {
		next := cur
		next.ID, next.Date = newUUID(), now
		if in.Definition != nil {
			next.Definition = *in.Definition
		}
		if in.RoleArn != nil {
			next.RoleArn = *in.RoleArn
		}
		if logging != nil {
			next.Logging = logging
		}
		if tracing != nil {
			next.Tracing = tracing
		}
		return next
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, stateMachineDoesNotExist(*in.StateMachineArn)
	}
	if err != nil {
		return nil, err
	}
	cur := sm.Current()
	return struct {
		UpdateDate json.Number `json:"updateDate"`
		RevisionID string      `json:"revisionId"`
	}{epoch(cur.Date), cur.ID}, nil
}

type describeStateMachineOutput struct {
	StateMachineArn      string          `json:"stateMachineArn"`
	Name                 string          `json:"name"`
	Status               string          `json:"status,omitempty"`
	Definition           string          `json:"definition"`
	RoleArn              string          `json:"roleArn"`
	Type                 string          `json:"type,omitempty"`
	CreationDate         json.Number     `json:"creationDate,omitempty"`
	UpdateDate           json.Number     `json:"updateDate,omitempty"`
	LoggingConfiguration json.RawMessage `json:"loggingConfiguration"`
	TracingConfiguration json.RawMessage `json:"tracingConfiguration"`
	RevisionID           string          `json:"revisionId,omitempty"`
}

func (a *API) describeStateMachine(ctx context.Context, body []byte) (any, error) {
	var in struct {
		StateMachineArn *string `json:"stateMachineArn"`
		IncludedData    *string `json:"includedData"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("stateMachineArn", in.StateMachineArn)
	v.length("stateMachineArn", in.StateMachineArn, 1, 256, false)
	v.enum("includedData", in.IncludedData, "ALL_DATA", "METADATA_ONLY")
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := a.smArnOf(*in.StateMachineArn); err != nil {
		return nil, err
	}
	sm, ok := a.store.StateMachine(*in.StateMachineArn)
	if !ok {
		return nil, stateMachineDoesNotExist(*in.StateMachineArn)
	}
	cur := sm.Current()
	return describeStateMachineOutput{
		StateMachineArn: sm.Arn, Name: sm.Name, Status: "ACTIVE", Definition: cur.Definition,
		RoleArn: cur.RoleArn, Type: sm.Type, CreationDate: epoch(sm.Created),
		LoggingConfiguration: orDefault(cur.Logging, defaultLogging),
		TracingConfiguration: orDefault(cur.Tracing, defaultTracing),
		RevisionID:           cur.ID,
	}, nil
}

func (a *API) listStateMachines(ctx context.Context, body []byte) (any, error) {
	var in struct {
		MaxResults *int64  `json:"maxResults"`
		NextToken  *string `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.intRange("maxResults", in.MaxResults, 0, 1000)
	v.length("nextToken", in.NextToken, 1, 1024, false)
	if err := v.err(); err != nil {
		return nil, err
	}
	from := 0
	if in.NextToken != nil {
		pos, err := a.tokens.decode(*in.NextToken, "ListStateMachines")
		if err != nil {
			return nil, err
		}
		from = int(pos)
	}
	sms, next := a.store.ListStateMachines(from, pageSize(in.MaxResults))
	type item struct {
		StateMachineArn string      `json:"stateMachineArn"`
		Name            string      `json:"name"`
		Type            string      `json:"type"`
		CreationDate    json.Number `json:"creationDate"`
	}
	out := struct {
		StateMachines []item `json:"stateMachines"`
		NextToken     string `json:"nextToken,omitempty"`
	}{StateMachines: []item{}}
	for _, sm := range sms {
		out.StateMachines = append(out.StateMachines, item{sm.Arn, sm.Name, sm.Type, epoch(sm.Created)})
	}
	if next >= 0 {
		out.NextToken = a.tokens.encode(int64(next), "ListStateMachines")
	}
	return out, nil
}

func (a *API) deleteStateMachine(ctx context.Context, body []byte) (any, error) {
	var in struct {
		StateMachineArn *string `json:"stateMachineArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("stateMachineArn", in.StateMachineArn)
	v.length("stateMachineArn", in.StateMachineArn, 1, 256, false)
	if err := v.err(); err != nil {
		return nil, err
	}
	p, perr := parseArn(*in.StateMachineArn, "stateMachine")
	if perr != nil {
		return nil, perr
	}
	if len(p.rest) != 1 {
		return nil, validationErr("Qualified state machine ARNs are not supported by DeleteStateMachine: '%s'", *in.StateMachineArn)
	}
	// Deleting a machine that doesn't exist succeeds, as on AWS. Executions
	// already running go on to their end.
	if err := a.store.DeleteStateMachine(ctx, *in.StateMachineArn); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return struct{}{}, nil
}

func (a *API) validateStateMachineDefinition(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Definition *string `json:"definition"`
		Type       *string `json:"type"`
		Severity   *string `json:"severity"`
		MaxResults *int64  `json:"maxResults"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var v violations
	v.required("definition", in.Definition)
	// AWS diagnoses an empty definition rather than refusing the request (recorded).
	v.length("definition", in.Definition, 0, maxDefinition, true)
	v.enum("type", in.Type, typeStandard, typeExpress)
	v.enum("severity", in.Severity, asl.SeverityError, asl.SeverityWarning)
	v.intRange("maxResults", in.MaxResults, 0, 100)
	if err := v.err(); err != nil {
		return nil, err
	}
	withWarnings := in.Severity != nil && *in.Severity == asl.SeverityWarning
	machineType := typeStandard
	if in.Type != nil {
		machineType = *in.Type
	}
	diags := asl.ValidateType([]byte(*in.Definition), machineType)
	out := struct {
		Result      string           `json:"result"`
		Diagnostics []asl.Diagnostic `json:"diagnostics"`
		Truncated   bool             `json:"truncated"`
	}{Result: "OK", Diagnostics: []asl.Diagnostic{}}
	limit := pageSize(in.MaxResults)
	for _, d := range diags {
		if d.Severity == asl.SeverityError {
			out.Result = "FAIL"
		} else if !withWarnings {
			continue
		}
		if len(out.Diagnostics) == limit {
			out.Truncated = true
			continue
		}
		out.Diagnostics = append(out.Diagnostics, d)
	}
	return out, nil
}
