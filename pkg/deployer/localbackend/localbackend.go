// Package localbackend assembles the embedded local backend with the reference
// deployer registered: its task handler, its process provider and its
// bootstrap (the releases bucket and the deployer state machine).
package localbackend

import (
	"context"
	"errors"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/localprovider"
	"github.com/odin-deploy/odin/pkg/local/engine"
	"github.com/odin-deploy/odin/pkg/local/server"
)

// Backend is a running local backend with the deployer.
type Backend struct {
	*server.Server
	Provider *localprovider.Provider
}

// WithDeployer registers the reference deployer in so, next to any functions
// so already registers. The returned provider runs local releases: close it
// after the server, which stops every instance it started.
func WithDeployer(so server.Options) (server.Options, *localprovider.Provider) {
	p := localprovider.New(localprovider.Options{DataDir: so.DataDir, Logger: so.Logger})
	functions := so.Functions
	so.Functions = func(ep server.Endpoint) (*engine.Functions, error) {
		fns := engine.NewFunctions()
		if functions != nil {
			var err error
			if fns, err = functions(ep); err != nil {
				return nil, err
			}
		}
		h := deployer.LocalHandler(deployer.Endpoint(ep), p, so.Logger)
		fns.Register(deployer.FunctionName, h.Invoke)
		return fns, nil
	}
	bootstrap := so.Bootstrap
	so.Bootstrap = func(ctx context.Context, ep server.Endpoint) error {
		if bootstrap != nil {
			if err := bootstrap(ctx, ep); err != nil {
				return err
			}
		}
		_, err := deployer.Bootstrap(ctx, deployer.Endpoint(ep))
		return err
	}
	return so, p
}

// Start starts a local backend with the deployer registered.
func Start(ctx context.Context, so server.Options) (*Backend, error) {
	so, p := WithDeployer(so)
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
