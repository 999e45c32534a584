// Package config resolves odin's settings: flags, then ODIN_* environment
// variables, then the config file, then defaults, with one viper per run.
package config

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Keys of every setting. A key is also the name of its global flag, and its
// environment variable is ODIN_ followed by the key upper-cased with '-' as '_'.
const (
	KeyBackend      = "backend"
	KeyRegion       = "region"
	KeyProfile      = "profile"
	KeyEndpoint     = "endpoint"
	KeyOutput       = "output"
	KeyNoColor      = "no-color"
	KeyVerbose      = "verbose"
	KeyQuiet        = "quiet"
	KeyBucket       = "bucket"
	KeyStateMachine = "state-machine"
	KeyDataDir      = "data-dir"
	KeyAssumeRole   = "assume-role"
	KeyAccountRoles = "account-roles"
)

// Backends and output modes odin understands.
var (
	Backends    = []string{"local", "aws"}
	OutputModes = []string{"auto", "tty", "plain", "json", "github"}
)

// Source says where a setting's value came from.
type Source string

const (
	SourceFlag    Source = "flag"
	SourceEnv     Source = "env"
	SourceFile    Source = "file"
	SourceDefault Source = "default"
)

// Setting is one resolved value with its origin, as `odin config` shows it.
type Setting struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source Source `json:"source"`
	// Origin names the flag, variable or file the value came from; for a
	// default, what it was resolved from (the backend, the AWS SDK).
	Origin string `json:"origin,omitempty"`
	Help   string `json:"help"`
}

// Settings are the resolved values for one invocation.
type Settings struct {
	Backend      string
	Region       string
	Profile      string
	Endpoint     string
	Output       string
	NoColor      bool
	Verbose      bool
	Quiet        bool
	Bucket       string
	StateMachine string
	DataDir      string
	AssumeRole   string
	// AccountRoles maps an AWS account id to the role odin assumes for a
	// release or execution in that account (aws backend); AssumeRole is for
	// every other account.
	AccountRoles map[string]string

	// ConfigFile is the file that was read, empty when none exists.
	ConfigFile string
	all        []Setting
}

// All returns every setting with its source, sorted by key.
func (s *Settings) All() []Setting { return append([]Setting(nil), s.all...) }

type spec struct {
	key, def, help string
	boolean        bool
}

var specs = []spec{
	{key: KeyBackend, def: "local", help: "where deploys run: local (embedded backend on loopback) or aws"},
	{key: KeyRegion, def: "", help: "AWS region (aws: the SDK's default chain; local: us-east-1)"},
	{key: KeyProfile, def: "", help: "AWS shared-config profile (aws backend)"},
	{key: KeyEndpoint, def: "", help: "override the endpoint of every AWS API (an S3/SFN-compatible server)"},
	{key: KeyOutput, def: "auto", help: "output mode: auto, tty, plain, json or github (auto is github when GITHUB_ACTIONS=true)"},
	{key: KeyNoColor, def: "false", help: "never print colour (NO_COLOR is honoured too)", boolean: true},
	{key: KeyVerbose, def: "false", help: "print debug detail on stderr", boolean: true},
	{key: KeyQuiet, def: "false", help: "print only errors and the final verdict", boolean: true},
	{key: KeyBucket, def: "", help: "S3 bucket for releases (local: odin-releases; aws: odin-<account>-<region>)"},
	{key: KeyStateMachine, def: contract.DeployerName, help: "deployer state machine: a name or an ARN"},
	{key: KeyDataDir, def: "", help: "data directory of the local backend (default $XDG_STATE_HOME/odin)"},
	{key: KeyAssumeRole, def: "", help: "IAM role ARN to assume for every AWS call (aws backend)"},
	{key: KeyAccountRoles, def: "", help: "roles per account, ACCOUNT=ROLE_ARN,...: the role for a release's (or execution's) account, in place of assume-role (aws backend)"},
}

// BackendKeys are the settings about where deploys run and how odin reaches
// AWS. Their flags are only on the commands that open a backend
// (RegisterBackendFlags); their variables and config-file keys apply
// everywhere.
var BackendKeys = []string{KeyBackend, KeyRegion, KeyProfile, KeyEndpoint, KeyBucket, KeyStateMachine, KeyDataDir, KeyAssumeRole, KeyAccountRoles}

// IsBackendKey says whether key is one of BackendKeys.
func IsBackendKey(key string) bool { return slices.Contains(BackendKeys, key) }

// RegisterFlags adds the general flags every command takes to fs: the
// config file and what odin prints. Values are read back through Load.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "config file (default $XDG_CONFIG_HOME/odin/config.yaml)")
	for _, s := range specs {
		if !IsBackendKey(s.key) {
			register(fs, s)
		}
	}
}

// RegisterBackendFlags adds the flags of the given backend keys to fs, all
// of BackendKeys when none are given.
func RegisterBackendFlags(fs *pflag.FlagSet, keys ...string) {
	if len(keys) == 0 {
		keys = BackendKeys
	}
	for _, s := range specs {
		if IsBackendKey(s.key) && slices.Contains(keys, s.key) {
			register(fs, s)
			_ = fs.SetAnnotation(s.key, BackendAnnotation, []string{"true"})
		}
	}
}

// BackendAnnotation marks the flags RegisterBackendFlags adds, so that help
// can group them apart from a command's own flag of the same name.
const BackendAnnotation = "odin.backend"

func register(fs *pflag.FlagSet, s spec) {
	if s.boolean {
		fs.Bool(s.key, false, s.help)
		return
	}
	fs.String(s.key, s.def, s.help)
}

// Env looks up an environment variable; os.LookupEnv in production.
type Env func(string) (string, bool)

// EnvName is the environment variable of a key.
func EnvName(key string) string {
	return "ODIN_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// Load resolves the settings from fs (the command's parsed flags; a setting
// whose flag the command lacks comes from the rest), env and the
// config file. A missing default config file is fine; a missing explicit one
// (--config or ODIN_CONFIG) is an error.
func Load(fs *pflag.FlagSet, env Env) (*Settings, error) {
	v := viper.New()
	v.SetConfigType("yaml")

	path, explicit := configPath(fs, env)
	s := &Settings{}
	if path != "" {
		switch err := readConfig(v, path); {
		case err == nil:
			s.ConfigFile = path
		case errors.Is(err, iofs.ErrNotExist) && !explicit:
		default:
			return nil, err
		}
	}

	for _, sp := range specs {
		st := Setting{Key: sp.key, Help: sp.help, Source: SourceDefault, Value: sp.def}
		if f := fs.Lookup(sp.key); f != nil && f.Changed {
			st.Value, st.Source, st.Origin = f.Value.String(), SourceFlag, "--"+sp.key
		} else if val, ok := env(EnvName(sp.key)); ok {
			st.Value, st.Source, st.Origin = val, SourceEnv, EnvName(sp.key)
		} else if v.IsSet(sp.key) {
			st.Value, st.Source, st.Origin = fileValue(v, sp.key), SourceFile, s.ConfigFile
		}
		s.all = append(s.all, st)
	}
	sort.Slice(s.all, func(i, j int) bool { return s.all[i].Key < s.all[j].Key })
	if err := s.assign(); err != nil {
		return nil, err
	}
	return s, nil
}

func configPath(fs *pflag.FlagSet, env Env) (path string, explicit bool) {
	if f := fs.Lookup("config"); f != nil && f.Changed {
		return f.Value.String(), true
	}
	if p, ok := env("ODIN_CONFIG"); ok && p != "" {
		return p, true
	}
	dir, ok := env("XDG_CONFIG_HOME")
	if !ok || dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "odin", "config.yaml"), false
}

func readConfig(v *viper.Viper, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	if err := v.ReadConfig(f); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	known := map[string]bool{}
	for _, sp := range specs {
		known[sp.key] = true
	}
	var unknown []string
	for _, k := range v.AllKeys() {
		// account-roles may be a mapping of account ids to roles.
		if !known[k] && !strings.HasPrefix(k, KeyAccountRoles+".") {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("config file %s: unknown setting %s (known: %s)", path, strings.Join(unknown, ", "), strings.Join(keys(), ", "))
	}
	return nil
}

// fileValue is a setting as the config file gives it; a mapping (as
// account-roles may be written) becomes the KEY=VALUE,... form of its flag.
func fileValue(v *viper.Viper, key string) string {
	m, ok := v.Get(key).(map[string]any)
	if !ok {
		return v.GetString(key)
	}
	pairs := make([]string, 0, len(m))
	for k, val := range m {
		pairs = append(pairs, k+"="+fmt.Sprint(val))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

func keys() []string {
	var out []string
	for _, sp := range specs {
		out = append(out, sp.key)
	}
	return out
}

func (s *Settings) get(key string) Setting {
	for _, st := range s.all {
		if st.Key == key {
			return st
		}
	}
	return Setting{}
}

func (s *Settings) assign() error {
	var err error
	str := func(key string, dst *string, allowed []string) {
		st := s.get(key)
		*dst = st.Value
		if allowed != nil && err == nil && !contains(allowed, st.Value) {
			err = fmt.Errorf("%s: invalid %s %q (want one of: %s)", describe(st), key, st.Value, strings.Join(allowed, ", "))
		}
	}
	boolean := func(key string, dst *bool) {
		st := s.get(key)
		switch strings.ToLower(st.Value) {
		case "true", "1", "yes", "on":
			*dst = true
		case "false", "0", "no", "off", "":
			*dst = false
		default:
			if err == nil {
				err = fmt.Errorf("%s: invalid %s %q (want true or false)", describe(st), key, st.Value)
			}
		}
	}
	str(KeyBackend, &s.Backend, Backends)
	str(KeyRegion, &s.Region, nil)
	str(KeyProfile, &s.Profile, nil)
	str(KeyEndpoint, &s.Endpoint, nil)
	str(KeyOutput, &s.Output, OutputModes)
	boolean(KeyNoColor, &s.NoColor)
	boolean(KeyVerbose, &s.Verbose)
	boolean(KeyQuiet, &s.Quiet)
	str(KeyBucket, &s.Bucket, nil)
	str(KeyStateMachine, &s.StateMachine, nil)
	str(KeyDataDir, &s.DataDir, nil)
	str(KeyAssumeRole, &s.AssumeRole, nil)
	if err == nil && s.AssumeRole != "" {
		if _, rerr := roleAccount(s.AssumeRole); rerr != nil {
			err = fmt.Errorf("%s: invalid %s: %v", describe(s.get(KeyAssumeRole)), KeyAssumeRole, rerr)
		}
	}
	if err == nil {
		st := s.get(KeyAccountRoles)
		if s.AccountRoles, err = parseAccountRoles(st.Value); err != nil {
			err = fmt.Errorf("%s: invalid %s: %v", describe(st), KeyAccountRoles, err)
		}
	}
	if err == nil && s.Quiet && s.Verbose {
		err = errors.New("--quiet and --verbose cannot be used together")
	}
	return err
}

// RoleFor is the role to assume for account: its own from account-roles,
// else assume-role, else none.
func (s *Settings) RoleFor(account string) string {
	if r, ok := s.AccountRoles[account]; ok && account != "" {
		return r
	}
	return s.AssumeRole
}

// parseAccountRoles reads "ACCOUNT=ROLE_ARN,...". Each role must be in the
// account it is listed for: a role pasted under the wrong account would
// send a deploy to the wrong place.
func parseAccountRoles(v string) (map[string]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	roles := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		account, role, ok := strings.Cut(pair, "=")
		account, role = strings.TrimSpace(account), strings.TrimSpace(role)
		if !ok || account == "" || role == "" {
			return nil, fmt.Errorf("%q is not ACCOUNT=ROLE_ARN", pair)
		}
		if !IsAccountID(account) {
			return nil, fmt.Errorf("%q is not an AWS account id (12 digits; in a config file, quote it: YAML reads 012345678901 as an octal number)", account)
		}
		if _, dup := roles[account]; dup {
			return nil, fmt.Errorf("account %s is listed twice", account)
		}
		in, err := roleAccount(role)
		if err != nil {
			return nil, err
		}
		if in != account {
			return nil, fmt.Errorf("role %s is in account %s, not %s", role, in, account)
		}
		roles[account] = role
	}
	return roles, nil
}

// roleAccount is the account of an IAM role ARN
// (arn:PARTITION:iam::ACCOUNT:role/NAME).
func roleAccount(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "iam" || parts[3] != "" ||
		!IsAccountID(parts[4]) || !strings.HasPrefix(parts[5], "role/") || len(parts[5]) == len("role/") {
		return "", fmt.Errorf("%q is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", arn)
	}
	return parts[4], nil
}

// IsAccountID says whether s is an AWS account id: 12 digits.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func describe(st Setting) string {
	if st.Origin != "" {
		return st.Origin
	}
	return string(st.Source)
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// DefaultDataDir is where the local backend keeps its data when --data-dir is
// not set: $XDG_STATE_HOME/odin, else ~/.local/state/odin.
func DefaultDataDir(env Env) string {
	if d, ok := env("XDG_STATE_HOME"); ok && d != "" {
		return filepath.Join(d, "odin")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "odin")
	}
	return filepath.Join(home, ".local", "state", "odin")
}
