package awsprovider

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/odin-deploy/odin/pkg/deployer"
)

// ClientSource gives the clients that act in a release's account.
type ClientSource interface {
	Clients(ctx context.Context, s Session) (*Clients, error)
}

// Options configure a Provider.
type Options struct {
	// Clients gives the clients for a release's account and region; a
	// *Sessions assumes the target role there.
	Clients ClientSource
	Logger  *slog.Logger
	// Now is the clock that judges grace periods; time.Now when nil.
	Now func() time.Time
	// Sleep waits between polls while load balancers detach; a timer
	// honouring ctx when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// DetachTimeout bounds how long one clean-up waits for load balancers
	// to let go of a group before it fails (retried by the state machine).
	// Default 4 minutes.
	DetachTimeout time.Duration
	// PollInterval is the wait between detach polls. Default 5 seconds.
	PollInterval time.Duration
}

// Provider deploys releases with target aws. It keeps no state between
// calls: everything it needs is found again by name and tag, so any task may
// run in a fresh Lambda.
type Provider struct {
	clients       ClientSource
	log           *slog.Logger
	now           func() time.Time
	sleep         func(ctx context.Context, d time.Duration) error
	detachTimeout time.Duration
	pollInterval  time.Duration
}

var _ deployer.Provider = (*Provider)(nil)

// New returns a provider.
func New(o Options) *Provider {
	p := &Provider{clients: o.Clients, log: o.Logger, now: o.Now, sleep: o.Sleep,
		detachTimeout: o.DetachTimeout, pollInterval: o.PollInterval}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.sleep == nil {
		p.sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if p.detachTimeout <= 0 {
		p.detachTimeout = 4 * time.Minute
	}
	if p.pollInterval <= 0 {
		p.pollInterval = 5 * time.Second
	}
	return p
}

func (p *Provider) session(ctx context.Context, d *deployer.Deployment) (*Clients, error) {
	c, err := p.clients.Clients(ctx, Session{Account: d.Account, Region: d.Region, Execution: d.Execution, DeployedBy: d.DeployedBy})
	if err != nil {
		return nil, fmt.Errorf("reach account %s in %s: %w", d.Account, d.Region, err)
	}
	return c, nil
}

// Validate resolves every name the release uses and checks that its
// project, config and service may use each one.
func (p *Provider) Validate(ctx context.Context, d *deployer.Deployment) error {
	c, err := p.session(ctx, d)
	if err != nil {
		return err
	}
	if _, err := p.resolve(ctx, c, d); err != nil {
		return wrapCall(err, "validate resources")
	}
	return nil
}

// wrapCall turns an AWS call's failure into an error that says what odin was
// doing; the deployer's own typed errors pass through.
func wrapCall(err error, doing string) error {
	if _, ok := err.(interface{ ErrorType() string }); ok {
		return err
	}
	return fmt.Errorf("%s: %w", doing, err)
}
