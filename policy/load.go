package policy

import (
	"fmt"
	"os"
	"regexp"

	"github.com/mailwarden/mailwarden/config"
)

// Load decodes and validates src, named file in messages, and compiles its
// rules. Errors are a *[config.ConfigError] listing every problem at once; a
// config that loads may still have [Policy.Warnings]. Load has no catalog,
// so it accepts any finding name and takes it as known at end of message
// (for this package's tests); the daemon uses [LoadWith].
func Load(file string, src []byte) (*config.Config, *Policy, error) {
	return load(file, src, true, nil)
}

// LoadWith is [Load] against the findings the configuration's checks
// declare: a rule naming a finding no check declares is refused with a
// "did you mean" hint, and a rule on a finding is decided at the stage of
// the check that reports it.
func LoadWith(file string, src []byte, cat Catalog) (*config.Config, *Policy, error) {
	return load(file, src, true, cat)
}

// LoadFile reads a config file and loads it with [LoadWith].
func LoadFile(path string, cat Catalog) (*config.Config, *Policy, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("policy: read config: %w", err)
	}
	return LoadWith(path, src, cat)
}

// LoadDefault loads the embedded default configuration.
func LoadDefault(cat Catalog) (*config.Config, *Policy, error) {
	return LoadWith("(embedded default)", config.DefaultTOML(), cat)
}

// load is [LoadWith]; compare says whether to warn about the protections of
// the embedded default that src lacks, which the default itself is loaded
// without.
func load(file string, src []byte, compare bool, cat Catalog) (*config.Config, *Policy, error) {
	cfg, rep, err := config.Decode(file, src)
	if err != nil {
		return nil, nil, err
	}
	pol := Compile(cfg, rep, cat, compare)
	if err := rep.Err(); err != nil {
		return nil, nil, err
	}
	pol.Warnings = rep.Warnings
	return cfg, pol, nil
}

// Compile compiles the organization and the rules of a decoded config,
// adding every problem and warning to rep; the policy is only usable when
// rep has no problems. compare adds the warnings about protections of the
// embedded default that cfg lacks.
func Compile(cfg *config.Config, rep *config.Report, cat Catalog, compare bool) *Policy {
	v := &validator{Report: rep, compare: compare, cat: cat}
	return v.compile(cfg)
}

// validator compiles one config, reporting into its [config.Report].
type validator struct {
	*config.Report
	compare bool // warn about protections of the embedded default this config lacks
	cat     Catalog
}

func (v *validator) compile(c *config.Config) *Policy {
	s := &c.Server
	org := &Organization{}
	for _, d := range c.Organization.InternalDomains {
		d, ok := config.InternalDomain(d)
		if !ok {
			continue // reported by config.Decode
		}
		org.domains = append(org.domains, d)
	}
	var errs []error
	org.trusted, errs = ParseNetList(c.Organization.TrustedNetworks)
	for _, err := range errs {
		v.Add("organization.trusted_networks", "", "%v", err)
	}

	pol := &Policy{Org: org, FailOpen: s.OnError == "accept"}
	names := map[string]int{}
	index := map[*Rule]int{}
	for i := range c.Rules {
		r := v.rule(i, &c.Rules[i])
		index[r] = i
		if first, dup := names[c.Rules[i].Name]; dup && c.Rules[i].Name != "" {
			v.Add(fmt.Sprintf("rule[%d].name", i), fmt.Sprintf("rule[%d] has the same name", first), "duplicate rule name %q", c.Rules[i].Name)
		}
		names[c.Rules[i].Name] = i
		if r != nil && r.Enabled {
			pol.Rules = append(pol.Rules, r)
		}
		if r != nil && !r.Enabled {
			pol.Disabled = append(pol.Disabled, r)
		}
	}
	if len(pol.Rules) == 0 && !c.Policy.AllowNoRules {
		const (
			what = "so no mail is checked: GTUBE, unscannable, ambiguous and oversized messages are delivered"
			hint = "add rules (contrib/mailwarden.toml has the baseline), or set allow_no_rules = true in [policy] to mean it"
		)
		switch {
		case v.Line("policy.allow_no_rules") > 0:
			v.Add("policy.allow_no_rules", hint, "no enabled [[rule]], %s", what)
		case len(c.Rules) > 0:
			v.Add("rule[0].enabled", hint, "every rule is disabled, %s", what)
		default:
			v.Problems = append(v.Problems, config.Problem{File: v.File(), Line: v.LastLine(), Key: "rule",
				Msg: "no enabled [[rule]], " + what, Hint: hint})
		}
	}
	v.unconditionalWarnings(pol, index)
	if v.compare {
		v.baselineWarnings(pol)
	}
	return pol
}

var ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
