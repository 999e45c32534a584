// Package backend builds the AWS SDK clients odin talks to, for the embedded
// local backend or for AWS: endpoint, credentials, region, account, bucket and
// the deployer state machine, so the rest of odin has one code path.
package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"

	"github.com/odin-deploy/odin/pkg/config"
	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/exitcode"
	"github.com/odin-deploy/odin/pkg/local/access"
)

// Kinds of backend.
const (
	Local = "local"
	AWS   = "aws"
)

// LocalBucket and DeployerName are the local backend's defaults, created by
// the local server on its first start.
const (
	LocalBucket  = "odin-releases"
	DeployerName = contract.DeployerName
)

// Options says how to reach the backend.
type Options struct {
	Settings *config.Settings
	// StartLocal returns the endpoint of the local backend, starting it if it
	// is not running. Required when the backend is local.
	StartLocal func(ctx context.Context) (access.Endpoint, error)
	// HTTPClient, when set, carries every SDK call (tests count calls with it).
	HTTPClient aws.HTTPClient
	// Trace, when set, gets one line per AWS call (--verbose).
	Trace io.Writer
	// Identity resolves the caller; when false the caller is not looked up
	// (commands that only read do not need it).
	Identity bool
	// Account is the AWS account the command is about (a release's
	// aws_account_id, an execution ARN's account), when known: it picks the
	// role to assume from the account-roles setting.
	Account string
}

// Backend is a resolved backend with its clients.
type Backend struct {
	Kind            string
	Region          string
	Account         string
	Endpoint        string // empty when the SDK's default endpoints are used
	Bucket          string
	StateMachineArn string
	// CallerArn is who is calling (STS GetCallerIdentity), for the audit trail.
	CallerArn string
	// Role is the IAM role odin assumed for every call, if any.
	Role string

	S3  *s3.Client
	SFN *sfn.Client
	STS *sts.Client
	// Config is what the clients were built from (credentials, region,
	// retries, the HTTP client), for commands that need other services;
	// give them Endpoint too.
	Config aws.Config

	// local is where the local backend serves now, when Kind is Local.
	local *localServer
	http  aws.HTTPClient
}

// AWSRehearsal says where the local backend sends the deployer's AWS
// provider calls (its --aws-endpoint), or "" when it refuses target aws
// releases. It is "" on the aws backend.
func (b *Backend) AWSRehearsal(ctx context.Context) (string, error) {
	if b.Kind != Local {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	client := b.http
	if client == nil {
		client = http.DefaultClient
	}
	h, err := access.Ask(ctx, b.local.endpoint(), client)
	if err != nil {
		return "", fmt.Errorf("ask the local backend how it deploys target aws: %w", err)
	}
	return h.AWSEndpoint, nil
}

// Describe is the one line odin prints first, so nobody deploys to the wrong place.
func (b *Backend) Describe() string {
	where := b.Kind
	if b.Endpoint != "" {
		where += " " + b.Endpoint
	}
	line := fmt.Sprintf("backend %s · account %s · region %s · state machine %s", where, b.Account, b.Region, StateMachineName(b.StateMachineArn))
	if b.Role != "" {
		line += " · role " + b.Role
	}
	return line
}

// Open resolves the backend and builds its clients.
func Open(ctx context.Context, opts Options) (*Backend, error) {
	s := opts.Settings
	if s == nil {
		return nil, errors.New("backend: no settings")
	}
	var (
		cfg aws.Config
		b   = &Backend{Kind: s.Backend}
		err error
	)
	if s.Region != "" {
		// Before anything starts or is called.
		if err := CheckRegion(s.Region); err != nil {
			return nil, exitcode.UsageError(err)
		}
	}
	switch s.Backend {
	case Local:
		if opts.StartLocal == nil {
			return nil, errors.New("backend: the local backend cannot be started from here")
		}
		ep, err := opts.StartLocal(ctx)
		if err != nil {
			return nil, fmt.Errorf("start the local backend: %w", err)
		}
		b.local = &localServer{find: opts.StartLocal, ep: ep}
		b.Endpoint, b.Region, b.Account = ep.URL, ep.Region, ep.Account
		if s.Region != "" {
			b.Region = s.Region
		}
		cfg = aws.Config{Region: b.Region, Credentials: b.local}
		cfg.RetryMaxAttempts = 3
	case AWS:
		var lo []func(*awsconfig.LoadOptions) error
		if s.Region != "" {
			lo = append(lo, awsconfig.WithRegion(s.Region))
		}
		if s.Profile != "" {
			lo = append(lo, awsconfig.WithSharedConfigProfile(s.Profile))
		}
		// The SDK's own warnings (falling back to IMDSv1, say) are for
		// --verbose only.
		lo = append(lo, awsconfig.WithLogger(sdkLogger(opts.Trace)))
		cfg, err = awsconfig.LoadDefaultConfig(ctx, lo...)
		var noProfile awsconfig.SharedConfigProfileNotExistError
		switch {
		case errors.As(err, &noProfile):
			return nil, exitcode.UsageError(fmt.Errorf("no AWS profile %q in the shared config and credentials files (~/.aws/config, ~/.aws/credentials): "+
				"create it with: aws configure --profile %s (or aws configure sso --profile %s), or pick another with --profile or AWS_PROFILE", noProfile.Profile, noProfile.Profile, noProfile.Profile))
		case err != nil:
			return nil, exitcode.UsageError(fmt.Errorf("load AWS configuration: %w", err))
		}
		if cfg.Region == "" {
			return nil, exitcode.UsageError(errors.New("no AWS region: set one with --region, ODIN_REGION or AWS_REGION, or in the profile: aws configure set region REGION" + profileFlag(s.Profile)))
		}
		if err := CheckRegion(cfg.Region); err != nil {
			return nil, exitcode.UsageError(err)
		}
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			if opts.Trace != nil {
				fmt.Fprintf(opts.Trace, "credentials: %v\n", err)
			}
			return nil, exitcode.UsageError(credentialsError(s.Profile))
		}
		b.Region = cfg.Region
		b.Endpoint = s.Endpoint
	default:
		return nil, fmt.Errorf("unknown backend %q", s.Backend)
	}
	// Keep what the SDK's configuration chose (a custom CA bundle, say) unless
	// the caller brings its own client.
	if opts.HTTPClient != nil {
		cfg.HTTPClient = opts.HTTPClient
	}
	cfg.HTTPClient = httpClient(cfg.HTTPClient, opts.Trace)
	if b.local != nil {
		cfg.HTTPClient = b.local.client(cfg.HTTPClient)
	}
	b.http = cfg.HTTPClient
	// Transient errors and throttling are retried with the SDK's jittered
	// backoff; five attempts ride out a short burst of throttling.
	cfg.RetryMaxAttempts = 5

	stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
		setEndpoint(&o.BaseEndpoint, b.Endpoint)
		if b.local != nil {
			o.EndpointResolverV2 = resolverFor(b.local, o.EndpointResolverV2, func(p *sts.EndpointParameters, u *string) { p.Endpoint = u })
		}
	})
	if role := s.RoleFor(opts.Account); s.Backend == AWS && role != "" {
		b.Role = role
		// The session is named for whoever assumes the role, so the audit
		// trail (deployed_by, CloudTrail) names a person, not just the role.
		base, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, fmt.Errorf("resolve the caller before assuming %s (sts get-caller-identity): %w", role, err)
		}
		session := SessionName(aws.ToString(base.Arn))
		provider := stscreds.NewAssumeRoleProvider(stsClient, role, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = session
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
		stsClient = sts.NewFromConfig(cfg, func(o *sts.Options) { setEndpoint(&o.BaseEndpoint, b.Endpoint) })
	}
	b.STS = stsClient
	b.S3 = s3.NewFromConfig(cfg, func(o *s3.Options) {
		setEndpoint(&o.BaseEndpoint, b.Endpoint)
		if b.local != nil {
			o.EndpointResolverV2 = resolverFor(b.local, o.EndpointResolverV2, func(p *s3.EndpointParameters, u *string) { p.Endpoint = u })
		}
		// Loopback servers have no virtual-host DNS.
		o.UsePathStyle = b.Endpoint != ""
	})
	b.SFN = sfn.NewFromConfig(cfg, func(o *sfn.Options) {
		setEndpoint(&o.BaseEndpoint, b.Endpoint)
		if b.local != nil {
			o.EndpointResolverV2 = resolverFor(b.local, o.EndpointResolverV2, func(p *sfn.EndpointParameters, u *string) { p.Endpoint = u })
		}
	})
	b.Config = cfg

	// Who deploys, for the audit trail: the same STS call on both backends
	// (the local one answers GetCallerIdentity for its owner).
	if opts.Identity || b.Account == "" {
		id, err := b.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, fmt.Errorf("resolve the caller (sts get-caller-identity): %w", err)
		}
		b.Account, b.CallerArn = aws.ToString(id.Account), aws.ToString(id.Arn)
	}

	b.Bucket = s.Bucket
	if b.Bucket == "" {
		b.Bucket = DefaultBucket(b.Kind, b.Account, b.Region)
	}
	b.StateMachineArn = StateMachineArn(s.StateMachine, b.Region, b.Account)
	return b, nil
}

// sdkLogger is where the SDK logs: trace with --verbose, else nowhere.
func sdkLogger(trace io.Writer) logging.Logger {
	if trace == nil {
		return logging.Nop{}
	}
	return logging.NewStandardLogger(trace)
}

func profileFlag(profile string) string {
	if profile == "" {
		return ""
	}
	return " --profile " + profile
}

// credentialsError says how to get credentials, as the AWS CLI does ("Unable
// to locate credentials. You can configure credentials by running aws
// configure"). The SDK's chain of reasons goes to --verbose.
func credentialsError(profile string) error {
	return fmt.Errorf("no AWS credentials found: configure them with: aws configure%s (or aws sso login%s for an SSO profile), "+
		"or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pick a profile with --profile or AWS_PROFILE (--verbose shows where the SDK looked)",
		profileFlag(profile), profileFlag(profile))
}

// SessionName is the role session name for a caller ARN: its last part (the
// user, or the session of an assumed role such as an SSO login), in the
// characters and length STS allows.
func SessionName(callerArn string) string {
	name := STSName(callerArn[strings.LastIndexAny(callerArn, "/:")+1:], 64-len("odin-"))
	if name == "" {
		return "odin"
	}
	return "odin-" + name
}

// STSName keeps the characters STS allows in role session names and source
// identities ([\w+=,.@-]) of s, up to n bytes.
func STSName(s string, n int) string {
	out := make([]byte, 0, min(len(s), n))
	for i := 0; i < len(s) && len(out) < n; i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("_+=,.@-", c) >= 0:
			out = append(out, c)
		}
	}
	return string(out)
}

func setEndpoint(dst **string, endpoint string) {
	if endpoint != "" {
		*dst = aws.String(endpoint)
	}
}

// StateMachineArn expands a state machine name to an ARN; an ARN is kept.
func StateMachineArn(nameOrArn, region, account string) string {
	if strings.HasPrefix(nameOrArn, "arn:") {
		return nameOrArn
	}
	if nameOrArn == "" {
		nameOrArn = DeployerName
	}
	return fmt.Sprintf("arn:%s:states:%s:%s:stateMachine:%s", partition(region), region, account, nameOrArn)
}

// StateMachineName is the last part of a state machine ARN.
func StateMachineName(arn string) string {
	if i := strings.LastIndex(arn, ":"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
