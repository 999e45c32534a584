package deployer

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/odin-deploy/odin/pkg/release"
)

// releaseInfo is what the deployer takes from a release file.
type releaseInfo struct {
	release     *release.Release
	timeout     int
	minInterval time.Duration
	services    map[string]Service
}

// checkRelease parses and validates the release's bytes again (the client's
// checks are not trusted) and checks it is the release the execution input
// describes.
func checkRelease(st *State, data []byte) (*releaseInfo, error) {
	where := fmt.Sprintf("s3://%s/%s", st.Bucket, st.ReleaseKey)
	f, err := release.Parse(st.ReleaseKey, data)
	if err != nil {
		var ps release.Problems
		if errors.As(err, &ps) {
			return nil, &BadReleaseError{Msg: fmt.Sprintf("release %s is invalid:\n%s", where, ps.Error())}
		}
		return nil, &BadReleaseError{Msg: fmt.Sprintf("release %s is invalid: %v", where, err)}
	}
	r := f.Release
	var problems []string
	check := func(field, inRelease, inInput string) {
		if inRelease != "" && inRelease != inInput {
			problems = append(problems, fmt.Sprintf("%s is %q in the release but %q in the execution input", field, inRelease, inInput))
		}
	}
	check("project_name", r.ProjectName, st.ProjectName)
	check("config_name", r.ConfigName, st.ConfigName)
	check("target", r.Target, st.Target)
	check("aws_account_id", r.AWSAccountID, st.AWSAccountID)
	check("aws_region", r.AWSRegion, st.AWSRegion)
	if id := release.ReleaseID(f.SHA256); id != st.ReleaseID {
		problems = append(problems, fmt.Sprintf("release_id is %q but the release's digest makes it %q", st.ReleaseID, id))
	}
	if len(problems) > 0 {
		return nil, &BadReleaseError{Msg: fmt.Sprintf("release %s does not match the execution input: %s", where, strings.Join(problems, "; "))}
	}

	info := &releaseInfo{release: r, timeout: r.Timeout, services: map[string]Service{}}
	for name, s := range r.Services {
		hc := s.HealthCheck
		if hc == nil {
			hc = &release.HealthCheck{}
		}
		svc := Service{
			Command:    s.Command,
			WorkingDir: s.Dir(st.ReleaseDir),
			Env:        s.Env,
			Instances:  s.Instances,
			Listen:     s.Listen,
			HealthCheck: HealthCheck{
				Type:               hc.Type,
				Path:               hc.Path,
				ExpectedStatus:     hc.ExpectedStatus,
				Interval:           time.Duration(hc.Interval) * time.Second,
				Timeout:            time.Duration(hc.Timeout) * time.Second,
				HealthyThreshold:   hc.HealthyThreshold,
				UnhealthyThreshold: hc.UnhealthyThreshold,
				GracePeriod:        time.Duration(hc.Grace()) * time.Second,
			},
		}
		if svc.HealthCheck.Interval > 0 && (info.minInterval == 0 || svc.HealthCheck.Interval < info.minInterval) {
			info.minInterval = svc.HealthCheck.Interval
		}
		info.services[name] = svc
	}
	return info, nil
}
