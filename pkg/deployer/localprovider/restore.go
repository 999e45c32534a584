package localprovider

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/privfile"
)

// restoreTimeout bounds how long a restored release may take to become
// healthy again before it is given up.
const restoreTimeout = 5 * time.Minute

// The serving release of each project and config is recorded when it is
// promoted, so a provider started after the server stopped (or died) brings
// those releases back: the same commands, a new set of processes, traffic
// switched once they are healthy.
func (p *Provider) servingDir() string { return filepath.Join(p.dataDir, "deployer", "serving") }

func (p *Provider) servingPath(d *deployer.Deployment) string {
	// '_' cannot appear in project or config names, so the name is unique.
	return filepath.Join(p.servingDir(), d.Project+"_"+d.Config+".json")
}

func (p *Provider) recordServing(d *deployer.Deployment) {
	b, err := json.Marshal(d)
	if err == nil {
		err = os.MkdirAll(p.servingDir(), 0o700)
	}
	if err == nil {
		tmp := p.servingPath(d) + ".tmp"
		if err = privfile.Write(tmp, b); err == nil {
			err = os.Rename(tmp, p.servingPath(d))
		}
	}
	if err != nil {
		p.logger.Warn("cannot record the serving release; it will not come back after a restart", "release", d.ReleaseID, "error", err)
	}
}

// restore starts every recorded serving release and switches traffic to it
// in the background once it is healthy.
func (p *Provider) restore() {
	entries, err := os.ReadDir(p.servingDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(p.servingDir(), e.Name())
		if filepath.Ext(path) != ".json" {
			continue
		}
		b, err := os.ReadFile(path)
		d := &deployer.Deployment{}
		if err == nil {
			err = json.Unmarshal(b, d)
		}
		if err == nil {
			err = p.Deploy(context.Background(), d)
		}
		if err == nil {
			p.mu.Lock()
			p.releases[d.ReleaseID].restarted = true
			p.mu.Unlock()
		}
		if err != nil {
			p.logger.Warn("cannot bring back the serving release", "record", path, "error", err)
			os.Remove(path)
			continue
		}
		p.logger.Info("bringing back the serving release", "project", d.Project, "config", d.Config, "release", d.ReleaseID)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.promoteWhenHealthy(d)
		}()
	}
}

// promoteWhenHealthy switches traffic to a restored release once it is
// healthy, unless a deploy resumed after the restart promoted another one
// first; it never stops the other releases of its project and config (see
// promote).
func (p *Provider) promoteWhenHealthy(d *deployer.Deployment) {
	ctx := context.Background()
	deadline := time.Now().Add(restoreTimeout)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		if cur := p.Serving(d.Project, d.Config); cur != "" && cur != d.ReleaseID {
			p.logger.Info("a resumed deploy promoted another release; the restored one is not switched to", "release", d.ReleaseID, "serving", cur)
			return
		}
		h, err := p.health(d)
		switch {
		case err == nil && h.Healthy:
			if err := p.promote(d, true); err != nil {
				p.logger.Warn("cannot switch to the restored release", "release", d.ReleaseID, "error", err)
			}
			return
		case err != nil || time.Now().After(deadline):
			reason := "not healthy in time"
			if err != nil {
				reason = err.Error()
			} else {
				reason += ": " + h.Summary()
			}
			p.logger.Warn("the restored release failed; it is stopped", "release", d.ReleaseID, "reason", reason)
			p.CleanUpFailure(ctx, d)
			return
		}
	}
}
