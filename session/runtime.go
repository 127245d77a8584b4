package session

import (
	"fmt"
	"os"

	"github.com/mailwarden/mailwarden/check"
	_ "github.com/mailwarden/mailwarden/check/all" // every check
	"github.com/mailwarden/mailwarden/check/authres"
	"github.com/mailwarden/mailwarden/check/bayes"
	"github.com/mailwarden/mailwarden/check/dkimsign"
	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/check/greylist"
	"github.com/mailwarden/mailwarden/check/knownhost"
	"github.com/mailwarden/mailwarden/check/spam"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
)

// Loaded is one loaded configuration: its settings, its compiled rules, and
// the checks its sections configure, whose declared findings the rules were
// checked against.
type Loaded struct {
	Config *config.Config
	Policy *policy.Policy
	Checks *check.Set
}

// LoadConfig decodes src, named file in messages, builds the checks its
// sections configure, and compiles its rules against the findings those
// checks declare (see [policy.Compile]). Every problem, of any section or
// rule, comes back at once in one *[config.ConfigError].
func LoadConfig(file string, src []byte) (*Loaded, error) {
	cfg, rep, err := config.Decode(file, src)
	if err != nil {
		return nil, err
	}
	set, err := check.Build(cfg)
	if err != nil {
		return nil, err
	}
	pol := policy.Compile(cfg, rep, set, true)
	if err := rep.Err(); err != nil {
		return nil, err
	}
	pol.Warnings = rep.Warnings
	return &Loaded{Config: cfg, Policy: pol, Checks: set}, nil
}

// LoadConfigFile reads and loads a config file; see [LoadConfig].
func LoadConfigFile(path string) (*Loaded, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read: %w", err)
	}
	return LoadConfig(path, src)
}

// LoadDefault loads the embedded default configuration.
func LoadDefault() (*Loaded, error) {
	return LoadConfig("(embedded default)", config.DefaultTOML())
}

// NewRuntime makes a runtime for a loaded configuration, with the checks
// its rules can use activated.
func NewRuntime(l *Loaded, releaseKey []byte, spoolDir string) (*Runtime, error) {
	res, err := dns.FromConfig(l.Config, false)
	if err != nil {
		return nil, err
	}
	checks := check.NewRunner(l.Checks, l.Policy.UsedFindings())
	var al *bayes.AutoLearner
	if spamScored(checks) {
		al = bayes.NewAutoLearner(bayes.FromConfig(l.Config))
	}
	return &Runtime{Config: l.Config, Policy: l.Policy, ReleaseKey: releaseKey, SpoolDir: spoolDir,
		Checks: checks, Greylister: greylist.FromConfig(l.Config),
		DNS: res, KnownHosts: knownhost.FromConfig(l.Config), DKIM: dkimsign.FromConfig(l.Config),
		Auth: authres.FromConfig(l.Config), Spam: spam.FromConfig(l.Config),
		AutoLearn: al}, nil
}

// spamScored reports whether the spam score is in use ([spam] headers, or
// a rule naming spam), and so its input checks run: without them every
// message would score 0, and auto-learning would teach all mail as ham.
func spamScored(r *check.Runner) bool {
	for _, a := range r.Active() {
		if a.Check.Name() == "spam" {
			return true
		}
	}
	return false
}
