package policy

import (
	"github.com/mailwarden/mailwarden/config"
)

// Catalog is what policy knows of the checks of one loaded configuration:
// the finding names they declare and the stage at which each is known.
// check.Set implements it; policy never imports the checks themselves.
type Catalog interface {
	// FindingStage is the stage at which name is known, and whether any
	// check declares it.
	FindingStage(name string) (Stage, bool)
	// FindingNames lists every declared name (families as "prefix.*").
	FindingNames() []string
}

// findingStage is the stage at which a finding is known: from the catalog,
// or end of message when the config is loaded without one.
func (v *validator) findingStage(name string) (Stage, bool) {
	if v.cat == nil {
		return StageEOM, true
	}
	return v.cat.FindingStage(name)
}

// suggestFinding is the hint for an unknown finding name: the closest
// declared one.
func (v *validator) suggestFinding(name string) string {
	if v.cat == nil {
		return ""
	}
	best, bestD := "", 4
	for _, n := range v.cat.FindingNames() {
		if d := config.EditDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return "`mailwarden config check` lists the findings of the active checks"
	}
	return "did you mean " + best + "?"
}

// UsedFindings maps each finding name the enabled rules can use to the
// earliest stage of a rule using it. The key "*" means a rule may use any
// finding (has() with a computed name). Checks no rule can use need not run.
func (p *Policy) UsedFindings() map[string]Stage {
	used := map[string]Stage{}
	add := func(n string, s Stage) {
		if old, ok := used[n]; !ok || s < old {
			used[n] = s
		}
	}
	for _, r := range p.Rules {
		if r.Action == ActionGreylist {
			for _, n := range GreylistExempt {
				add(n, r.Stage)
			}
		}
		for _, c := range r.Conditions {
			switch c := c.(type) {
			case findingCond:
				for _, n := range c.names {
					add(n, r.Stage)
				}
			case *exprCond:
				for _, n := range c.findings {
					add(n, r.Stage)
				}
				if c.anyFinding {
					add("*", r.Stage)
				}
			}
		}
	}
	return used
}

// GreylistExempt are the findings that exempt a recipient from every
// greylist rule: an approved sender, and a client that is a known host.
// A config with a greylist rule runs the checks that report them.
var GreylistExempt = []string{"sender.approved", "client.known_host"}
