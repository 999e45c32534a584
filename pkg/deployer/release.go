package deployer

import (
	"bytes"
	"fmt"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// releaseInfo is what the deployer takes from a release file.
type releaseInfo struct {
	timeout     int
	minInterval time.Duration
	services    map[string]Service
}

// Interim decode until pkg/release lands: strict YAML into the fields the
// deployer uses, with the release model's defaults.
type rawRelease struct {
	ProjectName  string                `yaml:"project_name"`
	ConfigName   string                `yaml:"config_name"`
	Target       string                `yaml:"target"`
	AWSAccountID string                `yaml:"aws_account_id"`
	AWSRegion    string                `yaml:"aws_region"`
	Timeout      int                   `yaml:"timeout"`
	Metadata     map[string]string     `yaml:"metadata"`
	Services     map[string]rawService `yaml:"services"`
}

type rawService struct {
	Command     []string          `yaml:"command"`
	WorkingDir  string            `yaml:"working_dir"`
	Env         map[string]string `yaml:"env"`
	Instances   int               `yaml:"instances"`
	Listen      int               `yaml:"listen"`
	HealthCheck struct {
		Type               string `yaml:"type"`
		Path               string `yaml:"path"`
		ExpectedStatus     int    `yaml:"expected_status"`
		Interval           int    `yaml:"interval"`
		Timeout            int    `yaml:"timeout"`
		HealthyThreshold   int    `yaml:"healthy_threshold"`
		UnhealthyThreshold int    `yaml:"unhealthy_threshold"`
		GracePeriod        *int   `yaml:"grace_period"`
	} `yaml:"health_check"`
}

// checkRelease parses the release's bytes again (the client's checks are not
// trusted) and checks it is the release the execution input describes.
func checkRelease(st *State, data []byte) (*releaseInfo, error) {
	var r rawRelease
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, &BadReleaseError{Msg: fmt.Sprintf("release %s is invalid: %v", st.ReleaseKey, err)}
	}
	var problems []string
	check := func(field, inRelease, inInput string) {
		if inRelease != "" && inRelease != inInput {
			problems = append(problems, fmt.Sprintf("%s is %q in the release but %q in the execution input", field, inRelease, inInput))
		}
	}
	if r.ProjectName == "" || r.ConfigName == "" || r.Target == "" {
		problems = append(problems, "project_name, config_name and target are required")
	}
	check("project_name", r.ProjectName, st.ProjectName)
	check("config_name", r.ConfigName, st.ConfigName)
	check("target", r.Target, st.Target)
	check("aws_account_id", r.AWSAccountID, st.AWSAccountID)
	check("aws_region", r.AWSRegion, st.AWSRegion)
	if len(r.Services) == 0 {
		problems = append(problems, "services: at least one service is required")
	}
	info := &releaseInfo{timeout: r.Timeout, services: map[string]Service{}}
	for name, s := range r.Services {
		if len(s.Command) == 0 && r.Target == "local" {
			problems = append(problems, fmt.Sprintf("services.%s.command is required", name))
		}
		svc := Service{Command: s.Command, Env: s.Env, Instances: s.Instances, Listen: s.Listen}
		if svc.Instances == 0 {
			svc.Instances = 1
		}
		svc.WorkingDir = resolveDir(st.ReleaseDir, s.WorkingDir)
		hc := s.HealthCheck
		grace := 30
		if hc.GracePeriod != nil {
			grace = *hc.GracePeriod
		}
		svc.HealthCheck = HealthCheck{
			Type:               or(hc.Type, "http"),
			Path:               or(hc.Path, "/healthz"),
			ExpectedStatus:     orInt(hc.ExpectedStatus, 200),
			Interval:           time.Duration(orInt(hc.Interval, 1)) * time.Second,
			Timeout:            time.Duration(orInt(hc.Timeout, 2)) * time.Second,
			HealthyThreshold:   orInt(hc.HealthyThreshold, 2),
			UnhealthyThreshold: orInt(hc.UnhealthyThreshold, 3),
			GracePeriod:        time.Duration(grace) * time.Second,
		}
		if info.minInterval == 0 || svc.HealthCheck.Interval < info.minInterval {
			info.minInterval = svc.HealthCheck.Interval
		}
		info.services[name] = svc
	}
	if len(problems) > 0 {
		return nil, &BadReleaseError{Msg: fmt.Sprintf("release %s is invalid: %s", st.ReleaseKey, joinLines(problems))}
	}
	return info, nil
}

func parseServices(st *State, data []byte) (map[string]Service, error) {
	info, err := checkRelease(st, data)
	if err != nil {
		return nil, err
	}
	return info.services, nil
}

// resolveDir makes a relative working_dir absolute against the release
// file's directory.
func resolveDir(releaseDir, dir string) string {
	if dir == "" {
		dir = "."
	}
	if filepath.IsAbs(dir) || releaseDir == "" {
		return dir
	}
	return filepath.Join(releaseDir, dir)
}

func or(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func orInt(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func joinLines(s []string) string {
	var b bytes.Buffer
	for i, l := range s {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(l)
	}
	return b.String()
}
