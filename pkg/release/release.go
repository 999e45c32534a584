// Package release loads, validates and identifies release files: the YAML that
// says what odin deploys, where, and how it knows the result is healthy.
package release

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"
)

// Targets a release can name.
const (
	TargetLocal = "local"
	TargetAWS   = "aws"
)

// Defaults applied to fields a release file leaves out. They match the
// "default" annotations of schema/release.schema.json (a test checks).
const (
	DefaultTimeout              = 600
	DefaultInstances            = 1
	DefaultWorkingDir           = "."
	DefaultHealthType           = "http"
	DefaultHealthPath           = "/healthz"
	DefaultExpectedStatus       = 200
	DefaultHealthInterval       = 1
	DefaultHealthTimeout        = 2
	DefaultHealthyThreshold     = 2
	DefaultUnhealthyThreshold   = 3
	DefaultLocalGracePeriod     = 30
	DefaultAWSGracePeriod       = 300
	DefaultStrategy             = "AllAtOnce"
	DefaultEBSVolumeType        = "gp3"
	DefaultEBSDeviceName        = "/dev/xvda"
	DefaultTenancy              = "default"
	DefaultHookHeartbeatTimeout = 300
)

// File is a validated release file: its exact bytes (what deploy uploads) and
// their digest, which the deployer checks again before it acts.
type File struct {
	Release *Release
	Bytes   []byte
	// SHA256 is the lower-case hex SHA-256 of Bytes.
	SHA256 string
	// Path is the name the file was loaded or parsed under.
	Path string
}

// Dir is the directory relative working_dir values resolve against.
func (f *File) Dir() string { return filepath.Dir(f.Path) }

// Release is the model of a release file, with defaults applied.
type Release struct {
	ProjectName  string                    `json:"project_name"`
	ConfigName   string                    `json:"config_name"`
	Target       string                    `json:"target"`
	AWSAccountID string                    `json:"aws_account_id,omitempty"`
	AWSRegion    string                    `json:"aws_region,omitempty"`
	Timeout      int                       `json:"timeout"`
	Metadata     map[string]string         `json:"metadata,omitempty"`
	Image        string                    `json:"image,omitempty"`
	Subnets      []string                  `json:"subnets,omitempty"`
	UserData     string                    `json:"user_data,omitempty"`
	Lifecycle    map[string]*LifecycleHook `json:"lifecycle,omitempty"`
	Services     map[string]*Service       `json:"services"`
}

// Service is one service of a release. Command through Listen apply to target
// local; InstanceType through AssociatePublicIPAddress to target aws.
type Service struct {
	// Name is the service's key in the release file.
	Name string `json:"-"`

	Command    []string          `json:"command,omitempty"`
	WorkingDir string            `json:"working_dir,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	Instances  int               `json:"instances,omitempty"`
	Listen     int               `json:"listen,omitempty"`

	HealthCheck *HealthCheck `json:"health_check"`

	InstanceType             string            `json:"instance_type,omitempty"`
	SecurityGroups           []string          `json:"security_groups,omitempty"`
	TargetGroups             []string          `json:"target_groups,omitempty"`
	ELBs                     []string          `json:"elbs,omitempty"`
	Profile                  string            `json:"profile,omitempty"`
	Tags                     map[string]string `json:"tags,omitempty"`
	Autoscaling              *Autoscaling      `json:"autoscaling,omitempty"`
	EBS                      *EBS              `json:"ebs,omitempty"`
	Placement                *Placement        `json:"placement,omitempty"`
	AssociatePublicIPAddress bool              `json:"associate_public_ip_address,omitempty"`
}

// Dir resolves the service's working directory against releaseDir,
// the directory of the release file.
func (s *Service) Dir(releaseDir string) string {
	if filepath.IsAbs(s.WorkingDir) {
		return filepath.Clean(s.WorkingDir)
	}
	return filepath.Join(releaseDir, s.WorkingDir)
}

// HealthCheck says how an instance is judged healthy. Durations are seconds.
type HealthCheck struct {
	Type               string `json:"type,omitempty"`
	Path               string `json:"path,omitempty"`
	ExpectedStatus     int    `json:"expected_status,omitempty"`
	Interval           int    `json:"interval,omitempty"`
	Timeout            int    `json:"timeout,omitempty"`
	HealthyThreshold   int    `json:"healthy_threshold,omitempty"`
	UnhealthyThreshold int    `json:"unhealthy_threshold,omitempty"`
	GracePeriod        *int   `json:"grace_period,omitempty"`
}

// Grace is the grace period in seconds (defaults applied, never nil after Parse).
func (h *HealthCheck) Grace() int {
	if h == nil || h.GracePeriod == nil {
		return 0
	}
	return *h.GracePeriod
}

// Autoscaling sizes a service's Auto Scaling group (target aws).
type Autoscaling struct {
	MinSize  int     `json:"min_size,omitempty"`
	MaxSize  int     `json:"max_size,omitempty"`
	Spread   float64 `json:"spread,omitempty"`
	MaxTerms int     `json:"max_terms,omitempty"`
	Strategy string  `json:"strategy,omitempty"`
}

// EBS is the root volume of a service's instances (target aws).
type EBS struct {
	VolumeSize int    `json:"volume_size"`
	VolumeType string `json:"volume_type,omitempty"`
	DeviceName string `json:"device_name,omitempty"`
	// Iops is the volume's provisioned IOPS, 0 for the type's own. Parse
	// guarantees it for io1 and io2 and refuses it for gp2, st1, sc1 and
	// standard; for gp3 0 means EC2's default, 3000.
	Iops int `json:"iops,omitempty"`
}

// Placement places a service's instances (target aws).
type Placement struct {
	GroupName      string `json:"group_name,omitempty"`
	Strategy       string `json:"strategy,omitempty"`
	PartitionCount int    `json:"partition_count,omitempty"`
	Tenancy        string `json:"tenancy,omitempty"`
}

// LifecycleHook is an Auto Scaling lifecycle hook (target aws).
type LifecycleHook struct {
	Transition       string `json:"transition"`
	Role             string `json:"role"`
	SNS              string `json:"sns"`
	HeartbeatTimeout int    `json:"heartbeat_timeout,omitempty"`
}

func (r *Release) applyDefaults() {
	if r.Timeout == 0 {
		r.Timeout = DefaultTimeout
	}
	for name, s := range r.Services {
		s.Name = name
		if s.HealthCheck == nil {
			s.HealthCheck = &HealthCheck{}
		}
		h := s.HealthCheck
		if h.GracePeriod == nil {
			g := DefaultLocalGracePeriod
			if r.Target == TargetAWS {
				g = DefaultAWSGracePeriod
			}
			// The grace period never outlasts the deploy (Coinbase's clamp).
			g = min(g, r.Timeout)
			h.GracePeriod = &g
		}
		if r.Target == TargetAWS {
			s.defaultsAWS()
			continue
		}
		if s.WorkingDir == "" {
			s.WorkingDir = DefaultWorkingDir
		}
		if s.Instances == 0 {
			s.Instances = DefaultInstances
		}
		h.Type = cmpOr(h.Type, DefaultHealthType)
		if h.Type == "http" {
			h.Path = cmpOr(h.Path, DefaultHealthPath)
			h.ExpectedStatus = cmpOr(h.ExpectedStatus, DefaultExpectedStatus)
		}
		h.Interval = cmpOr(h.Interval, DefaultHealthInterval)
		h.Timeout = cmpOr(h.Timeout, DefaultHealthTimeout)
		h.HealthyThreshold = cmpOr(h.HealthyThreshold, DefaultHealthyThreshold)
		h.UnhealthyThreshold = cmpOr(h.UnhealthyThreshold, DefaultUnhealthyThreshold)
	}
	for _, hook := range r.Lifecycle {
		hook.HeartbeatTimeout = cmpOr(hook.HeartbeatTimeout, DefaultHookHeartbeatTimeout)
	}
}

func (s *Service) defaultsAWS() {
	if s.Autoscaling == nil {
		s.Autoscaling = &Autoscaling{}
	}
	a := s.Autoscaling
	a.MinSize = cmpOr(a.MinSize, 1)
	a.MaxSize = cmpOr(a.MaxSize, a.MinSize)
	a.Strategy = cmpOr(a.Strategy, DefaultStrategy)
	if s.EBS != nil {
		s.EBS.VolumeType = cmpOr(s.EBS.VolumeType, DefaultEBSVolumeType)
		s.EBS.DeviceName = cmpOr(s.EBS.DeviceName, DefaultEBSDeviceName)
	}
	if s.Placement != nil {
		s.Placement.Tenancy = cmpOr(s.Placement.Tenancy, DefaultTenancy)
	}
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Step Functions execution names are at most 80 characters.
const maxExecutionName = 80

// ReleaseID is the id of the release whose file has the digest sha256hex:
// "r-" and the digest's first 16 hex digits. The same bytes always give the
// same id, hence the same execution names, so deploying a file while it is
// being deployed attaches instead of starting a second deploy.
func ReleaseID(sha256hex string) string {
	if len(sha256hex) > 16 {
		sha256hex = sha256hex[:16]
	}
	return "r-" + strings.ToLower(sha256hex)
}

// ExecutionPrefix is how the execution names of every release of project and
// configName begin; with configName empty, of every config of project.
// Project and config are joined by '_', which names cannot contain, so
// project "a-b" config "c" never matches project "a" config "b-c".
// Pairs too long to leave room for a release id are made unique by a hash
// of the whole pair in place of the config's tail; the project is always
// whole, so ExecutionPrefix(project, "") begins every one of its names.
func ExecutionPrefix(project, configName string) string {
	if configName == "" {
		return "deploy-" + project + "_"
	}
	p := "deploy-" + project + "_" + configName + "_"
	if len(p) <= maxPrefix {
		return p
	}
	sum := sha256.Sum256([]byte(project + "/" + configName))
	h := hex.EncodeToString(sum[:4])
	// "deploy-" + project + "_" + kept + "-" + 8 hex + "_" fills maxPrefix.
	keep := maxPrefix - len("deploy-") - len(project) - len("_-_") - len(h)
	if keep <= 0 {
		return "deploy-" + project + "_" + h + "_"
	}
	return "deploy-" + project + "_" + configName[:keep] + "-" + h + "_"
}

// MaxAttempts is how many times one release can be deployed to one project
// and config (each attempt is an execution, and Step Functions keeps names
// for 90 days). Past it, change the file: any byte makes a new release.
const MaxAttempts = 9999

// maxPrefix leaves room for a release id ("r-" + 16 hex) and the largest
// attempt suffix ("-9999") in 80 characters.
const maxPrefix = maxExecutionName - len("r-") - 16 - len("-9999")

// ExecutionName is the Step Functions execution name of the attempt-th
// deploy of releaseID: ExecutionPrefix(project, config) + releaseID, and
// "-<attempt>" from the second attempt on. At most 80 characters, letters,
// digits, '-' and '_' only. A release is deployed again when it is rolled
// back to, or retried after a failure; Step Functions never reuses a name,
// so each of those is a new attempt.
func (r *Release) ExecutionName(releaseID string, attempt int) string {
	return ExecutionName(r.ProjectName, r.ConfigName, releaseID, attempt)
}

// ExecutionName is Release.ExecutionName for a project and config.
func ExecutionName(project, configName, releaseID string, attempt int) string {
	name := ExecutionPrefix(project, configName) + releaseID
	if attempt > 1 {
		name += "-" + strconv.Itoa(attempt)
	}
	return name
}

// Attempt says which attempt of releaseID of project and config an execution
// name is, or 0 when it is not one of them.
func Attempt(name, project, configName, releaseID string) int {
	rest, ok := strings.CutPrefix(name, ExecutionPrefix(project, configName)+releaseID)
	switch {
	case !ok:
		return 0
	case rest == "":
		return 1
	}
	digits, ok := strings.CutPrefix(rest, "-")
	if !ok || digits == "" || digits[0] == '0' || len(digits) > len("9999") {
		return 0
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 2 {
		return 0
	}
	return n
}

// Root is the S3 prefix of the project and config's objects in account:
// "<account>/<project>/<config>". Releases, the lock and the halt flag live
// under it.
func (r *Release) Root(account string) string {
	return account + "/" + r.ProjectName + "/" + r.ConfigName
}
