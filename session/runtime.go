package session

import (
	"github.com/mailwarden/mailwarden/check"
	_ "github.com/mailwarden/mailwarden/check/all" // every check
	"github.com/mailwarden/mailwarden/policy"
)

// Checks is the set of every registered check: the catalog a
// configuration's rules are checked against.
func Checks() (*check.Set, error) { return check.Build() }

// LoadConfig loads a configuration against the findings the checks
// declare (see [policy.LoadWith]).
func LoadConfig(file string, src []byte) (*policy.Config, *policy.Policy, error) {
	set, err := Checks()
	if err != nil {
		return nil, nil, err
	}
	return policy.LoadWith(file, src, set)
}

// NewRuntime makes a runtime for a loaded configuration, with the checks
// its rules can use activated.
func NewRuntime(cfg *policy.Config, pol *policy.Policy, releaseKey []byte, spoolDir string) (*Runtime, error) {
	set, err := Checks()
	if err != nil {
		return nil, err
	}
	return &Runtime{Config: cfg, Policy: pol, ReleaseKey: releaseKey, SpoolDir: spoolDir,
		Checks: check.NewRunner(set, pol.UsedFindings())}, nil
}
