package check

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
)

// Set is the checks one loaded configuration runs, and the catalog of the
// findings they declare: rules are checked against it at load, and the
// stage of a rule on a finding is the stage of the check declaring it.
type Set struct {
	checks []Check
	exact  map[string]Check
	shared map[string][]Check // every declarer of a Shared name, in order
	family map[string]Check   // "dnsbl." for "dnsbl.*"
}

var _ policy.Catalog = (*Set)(nil)

// NewSet builds a set; two checks with one name, or one finding declared
// twice (unless every declaration is [Declared].Shared), are an error.
func NewSet(cs ...Check) (*Set, error) {
	s := &Set{exact: map[string]Check{}, shared: map[string][]Check{}, family: map[string]Check{}}
	sharedOK := map[string]bool{} // every declaration so far is Shared
	names := map[string]bool{}
	for _, c := range cs {
		if names[c.Name()] {
			return nil, fmt.Errorf("check: two checks named %q", c.Name())
		}
		names[c.Name()] = true
		for _, d := range c.Findings() {
			if p, ok := strings.CutSuffix(d.Name, "*"); ok {
				if o := s.family[p]; o != nil {
					return nil, fmt.Errorf("check: findings %s declared by %s and %s", d.Name, o.Name(), c.Name())
				}
				s.family[p] = c
				continue
			}
			if o := s.exact[d.Name]; o != nil {
				if !d.Shared || !sharedOK[d.Name] {
					return nil, fmt.Errorf("check: finding %s declared by %s and %s", d.Name, o.Name(), c.Name())
				}
			} else {
				s.exact[d.Name], sharedOK[d.Name] = c, d.Shared
			}
			if d.Shared && !slices.Contains(s.shared[d.Name], c) {
				s.shared[d.Name] = append(s.shared[d.Name], c)
			}
		}
		s.checks = append(s.checks, c)
	}
	return s, nil
}

// Checks are the set's checks, in registration order.
func (s *Set) Checks() []Check { return s.checks }

// declarer is the check that declares a finding name: an exact
// declaration, else the longest family prefix.
func (s *Set) declarer(name string) Check {
	if c := s.exact[name]; c != nil {
		return c
	}
	var best Check
	bestLen := -1
	for p, c := range s.family {
		if strings.HasPrefix(name, p) && len(p) > bestLen {
			best, bestLen = c, len(p)
		}
	}
	return best
}

// declarers are the checks that may report what a rule names: for a name,
// its declarer; for a pattern "prefix.*", every check declaring a name or
// a family under prefix (rules may write "dnsbl.*" for every list).
func (s *Set) declarers(name string) []Check {
	p, ok := strings.CutSuffix(name, "*")
	if !ok || !strings.HasSuffix(p, ".") {
		if cs := s.shared[name]; len(cs) > 0 {
			return cs
		}
		if c := s.declarer(name); c != nil {
			return []Check{c}
		}
		return nil
	}
	var out []Check
	add := func(c Check) {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	for _, c := range s.checks {
		for _, d := range c.Findings() {
			if family, ok := strings.CutSuffix(d.Name, "*"); strings.HasPrefix(d.Name, p) || (ok && strings.HasPrefix(p, family)) {
				add(c)
			}
		}
	}
	return out
}

// stageOf is the stage at which a check's findings are known: its stage,
// RCPT at the earliest for a recipient-scoped check.
func stageOf(c Check) policy.Stage {
	st := c.Stage()
	if c.Scope() == ScopeRecipient {
		st = max(st, policy.StageRcpt)
	}
	return st
}

// FindingStage implements [policy.Catalog]: the stage at which the finding
// is known, which is its check's stage (RCPT at the earliest for a
// recipient-scoped check); for a shared name ([Declared].Shared), the
// earliest of its checks' stages, from which it grows; for a pattern
// "prefix.*", the latest stage of the checks it covers.
func (s *Set) FindingStage(name string) (policy.Stage, bool) {
	if name == FindingError {
		return policy.StageEOM, true // any check may fail, at any stage
	}
	if cs := s.shared[name]; len(cs) > 0 {
		st := policy.StageEOM
		for _, c := range cs {
			st = min(st, stageOf(c))
		}
		return st, true
	}
	cs := s.declarers(name)
	if len(cs) == 0 {
		return 0, false
	}
	st := policy.StageConnect
	for _, c := range cs {
		st = max(st, stageOf(c))
	}
	return st, true
}

// FindingNames implements [policy.Catalog]: every declared name, families
// as "prefix.*", sorted.
func (s *Set) FindingNames() []string {
	out := []string{FindingError}
	for n := range s.exact {
		out = append(out, n)
	}
	for p := range s.family {
		out = append(out, p+"*")
	}
	sort.Strings(out)
	return out
}

// Builder makes the checks of one kind for a loaded configuration, reading
// its section with [config.Section]. The section's validator has already
// reported every problem in it, so a builder skips what is invalid rather
// than failing: the load fails on the report, and the checks of a config
// with problems are only used to check its rules' finding names. Check
// packages register a builder from init.
type Builder func(cfg *config.Config) []Check

var (
	buildersMu sync.Mutex
	builders   []Builder
)

// Register adds a builder; check packages call it from init.
func Register(b Builder) {
	buildersMu.Lock()
	defer buildersMu.Unlock()
	builders = append(builders, b)
}

// Build runs every registered builder for cfg and returns the set, with
// extra checks (tests' fakes) added.
func Build(cfg *config.Config, extra ...Check) (*Set, error) {
	buildersMu.Lock()
	bs := slices.Clone(builders)
	buildersMu.Unlock()
	var all []Check
	for _, b := range bs {
		all = append(all, b(cfg)...)
	}
	return NewSet(append(all, extra...)...)
}
