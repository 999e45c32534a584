// Package localbackend assembles the embedded local backend with the reference
// deployer registered: its task handler, its process provider and its
// bootstrap (the releases bucket and the deployer state machine).
package localbackend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/awsprovider"
	"github.com/odin-deploy/odin/pkg/deployer/localprovider"
	"github.com/odin-deploy/odin/pkg/local/access"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/server"
)

// Backend is a running local backend with the deployer.
type Backend struct {
	*server.Server
	Provider *localprovider.Provider
}

// AWS says how the local backend's deployer runs target aws releases: a
// rehearsal, with the real AWS provider talking to an AWS-compatible
// endpoint (moto, LocalStack) instead of AWS.
type AWS struct {
	// Endpoint receives the provider's EC2, Auto Scaling, ELB, ELBv2, IAM,
	// SNS and STS calls. Empty: target aws releases are refused.
	Endpoint string
	// RoleName is the role assumed in each release's account
	// (awsprovider.DefaultRoleName when empty).
	RoleName string
	// Config is the provider's own configuration; when nil it is the SDK's
	// default chain, and where that finds no credentials, fixed ones
	// (emulators accept any).
	Config *aws.Config
}

// WithDeployer registers the reference deployer in so, next to any functions
// so already registers. The returned provider runs local releases: close it
// after the server, which stops every instance it started. With
// a.Endpoint set, target aws releases run on the AWS provider against it.
func WithDeployer(ctx context.Context, so server.Options, a AWS) (server.Options, *localprovider.Provider, error) {
	providers := map[string]deployer.Provider{}
	unsupported := map[string]string{
		"aws": "the local backend deploys target aws releases only as a rehearsal against an AWS-compatible endpoint: " +
			"start it with `odin local stop; odin local start --aws-endpoint URL` (moto, LocalStack); to deploy to AWS, use --backend aws",
	}
	if a.Endpoint != "" {
		cfg, err := providerConfig(ctx, a)
		if err != nil {
			return so, nil, err
		}
		providers["aws"] = awsprovider.New(awsprovider.Options{
			Clients: &awsprovider.Sessions{Base: cfg, Endpoint: a.Endpoint, RoleName: a.RoleName},
			Logger:  so.Logger,
		})
		delete(unsupported, "aws")
		so.AWSEndpoint = a.Endpoint
	}
	p := localprovider.New(localprovider.Options{DataDir: so.DataDir, Logger: so.Logger})
	providers["local"] = p
	functions := so.Functions
	so.Functions = func(ep access.Endpoint) (*engine.Functions, error) {
		// The server calls this once it holds the data directory's lock.
		p.Start()
		fns := engine.NewFunctions()
		if functions != nil {
			var err error
			if fns, err = functions(ep); err != nil {
				return nil, err
			}
		}
		h := deployer.LocalHandler(ep, p, so.Logger)
		h.Providers, h.Unsupported = providers, unsupported
		if so.Clock != nil {
			// Deadlines follow the engine's clock, so a test that moves it
			// moves them too.
			h.Now = so.Clock.Now
		}
		fns.Register(deployer.FunctionName, h.Invoke)
		return fns, nil
	}
	bootstrap := so.Bootstrap
	so.Bootstrap = func(ctx context.Context, ep access.Endpoint) error {
		if bootstrap != nil {
			if err := bootstrap(ctx, ep); err != nil {
				return err
			}
		}
		_, err := deployer.Bootstrap(ctx, ep)
		return err
	}
	recovered := so.Recovered
	log := so.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	so.Recovered = func(ctx context.Context, ep access.Endpoint, r server.Recovered) {
		if recovered != nil {
			recovered(ctx, ep, r)
		}
		releaseOrphanedLocks(ctx, ep, so.DataDir, log, r)
	}
	return so, p, nil
}

// providerConfig is the AWS provider's own configuration for a rehearsal.
func providerConfig(ctx context.Context, a AWS) (aws.Config, error) {
	if a.Config != nil {
		return a.Config.Copy(), nil
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load the AWS configuration for --aws-endpoint: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.NewStaticCredentialsProvider("odin-rehearsal", "odin-rehearsal", "")
	} else if _, err := cfg.Credentials.Retrieve(rctx); err != nil {
		// No credentials here: an emulator takes any.
		cfg.Credentials = credentials.NewStaticCredentialsProvider("odin-rehearsal", "odin-rehearsal", "")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // each release sets its own
	}
	cfg.RetryMaxAttempts = 5
	return cfg, nil
}

// Start starts a local backend with the deployer registered.
func Start(ctx context.Context, so server.Options) (*Backend, error) {
	return StartWith(ctx, so, AWS{})
}

// StartWith starts a local backend with the deployer registered, running
// target aws releases as a says.
func StartWith(ctx context.Context, so server.Options, a AWS) (*Backend, error) {
	so, p, err := WithDeployer(ctx, so, a)
	if err != nil {
		return nil, err
	}
	srv, err := server.New(ctx, so)
	if err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return &Backend{Server: srv, Provider: p}, nil
}

// Close stops the server, then every instance the provider started.
func (b *Backend) Close() error {
	return errors.Join(b.Server.Close(), b.Provider.Close())
}
