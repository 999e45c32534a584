package localprovider

import (
	"context"
	"fmt"
	"time"

	"github.com/odin-deploy/odin/pkg/deployer"
)

// A server restart ends every instance (a stop stops them, a crash leaves
// them to StopOrphans), but not the deploys: their executions resume where
// they were. A resumed deploy that asks about a release this provider has
// never heard of is one whose instances died with the last server, so they
// are started again here, and the deploy goes on judging them as new ones
// (its deadline still runs from its own start).

// adoptionWait bounds how long a CleanUpSuccess waits for the instances of a
// release started again after a restart to become healthy.
const adoptionWait = 5 * time.Minute

// adopt starts the instances of a release the provider does not know.
func (p *Provider) adopt(ctx context.Context, d *deployer.Deployment) error {
	p.mu.Lock()
	_, known := p.releases[d.ReleaseID]
	p.mu.Unlock()
	if known {
		return nil
	}
	p.logger.Warn("a deploy resumed after a restart of the local backend: starting its release's instances again", "release", d.ReleaseID)
	if err := p.Deploy(ctx, d); err != nil {
		return err
	}
	p.mu.Lock()
	if r := p.releases[d.ReleaseID]; r != nil {
		r.restarted = true
	}
	p.mu.Unlock()
	return nil
}

// awaitRestarted waits until every instance of a release started again
// after a restart is healthy: the deploy that promotes it had already seen
// it healthy once, and its instances are only catching up.
func (p *Provider) awaitRestarted(ctx context.Context, d *deployer.Deployment) error {
	p.mu.Lock()
	r := p.releases[d.ReleaseID]
	restarted := r != nil && r.restarted
	p.mu.Unlock()
	if !restarted {
		return nil
	}
	deadline := time.Now().Add(adoptionWait)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		h, err := p.health(d)
		if err != nil {
			return &deployer.CleanUpError{Msg: fmt.Sprintf("release %s, started again after a restart: %v", d.ReleaseID, err)}
		}
		if h.Healthy {
			return nil
		}
		if time.Now().After(deadline) {
			return &deployer.CleanUpError{Msg: fmt.Sprintf("release %s, started again after a restart, is not healthy after %s: %s", d.ReleaseID, adoptionWait, h.Summary())}
		}
		select {
		case <-ctx.Done():
			return &deployer.CleanUpError{Msg: fmt.Sprintf("release %s, started again after a restart, is not healthy yet: %s", d.ReleaseID, h.Summary())}
		case <-p.done:
			return &deployer.CleanUpError{Msg: "the local provider is shut down"}
		case <-t.C:
		}
	}
}
