// Package spam adds up the spam score of a message and gives its verdict:
// the findings spam (the score is at or over the threshold) and
// spam.probable (at or over the probable threshold, under the threshold),
// and SpamAssassin's X-Spam-* header fields, so existing Sieve, procmail
// and mail-client filters keep working.
//
// The score is the sum of two kinds of test: the findings of other checks
// whose family [spam] inputs names and which carry a score (spamtest.*,
// bayes.*, dnsbl.*, dnswl.*), each named by its finding name, and the
// scored rules (score = N in a [[rule]]), each named by its rule name.
//
// The score is a sum of the other end-of-message checks' findings, so it
// cannot be a check the runner runs beside them. [Check] declares the two
// findings (so rules may name them) and makes the runner run the input
// checks ([check.LearnsFrom]); the session calls [Settings.Tally] at end of
// message once every other check has finished and before any rule there is
// decided. The score is one per message: input findings limited to some
// recipients do not count, and a scored rule cannot depend on the
// recipient. What happens per recipient is up to the rules acting on spam
// and spam.probable (the default ones apply to inbound mail only).
package spam

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner"
)

// Section is the config section of the spam score.
const Section = "spam"

// The findings of the verdict. Value is the score, Reason
// "score=S required=R tests=A,B,C".
const (
	FindingSpam     = policy.FindingSpam
	FindingProbable = policy.FindingSpamProbable
)

// The header fields of the verdict, SpamAssassin's names. X-Spam-Level is
// not written, but a sender's copy of it is removed with the others.
const (
	HeaderFlag   = "X-Spam-Flag"
	HeaderStatus = "X-Spam-Status"
	HeaderScore  = "X-Spam-Score"
	HeaderLevel  = "X-Spam-Level"
)

// Forgeable are the header fields a sender's copy of which is removed from
// delivered inbound mail: left in, they would fool the filters that read
// ours.
var Forgeable = []string{HeaderFlag, HeaderStatus, HeaderScore, HeaderLevel}

// Config is [spam].
type Config struct {
	// Threshold is the score at or over which a message is spam (the
	// finding spam), as SpamAssassin's required_score. Default 5.0.
	Threshold float64 `toml:"threshold"`
	// ProbableThreshold is the score at or over which a message under
	// the threshold is probable spam (spam.probable). Default 3.0; equal
	// to threshold, there is no probable level.
	ProbableThreshold float64 `toml:"probable_threshold"`
	// Sensitivity moves both thresholds: "low" raises them by 2 (fewer
	// messages are spam), "medium" leaves them, "high" lowers them by 1.5.
	// Default "medium".
	Sensitivity string `toml:"sensitivity"`
	// Inputs are the finding names and families ("bayes.*") whose score
	// counts. Default ["spamtest.*", "bayes.*", "dnsbl.*", "dnswl.*"].
	Inputs []string `toml:"inputs"`
	// Headers adds X-Spam-Status and X-Spam-Score (and X-Spam-Flag: YES
	// on spam) to delivered inbound mail, after removing any the sender
	// wrote. Default true.
	Headers bool `toml:"headers"`
}

// SensitivityShift is how far each sensitivity moves both thresholds.
var SensitivityShift = map[string]float64{"low": 2, "medium": 0, "high": -1.5}

// Defaults are SpamAssassin's required_score and the inputs.
func Defaults() Config {
	return Config{Threshold: 5, ProbableThreshold: 3, Sensitivity: "medium",
		Inputs: []string{"spamtest.*", "bayes.*", "dnsbl.*", "dnswl.*"}, Headers: true}
}

func init() {
	config.Register(Section, Defaults, validate)
	check.Register(func(cfg *config.Config) []check.Check {
		s := FromConfig(cfg)
		// Pointers: a Check holds a slice, and the runner compares checks.
		if s.Headers {
			return []check.Check{&alwaysCheck{Check{s}}}
		}
		return []check.Check{&Check{s}}
	})
}

func validate(r *config.Report, c *Config) {
	key := func(k string) string { return Section + "." + k }
	bad := func(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
	if bad(c.Threshold) {
		r.Add(key("threshold"), "5.0 is SpamAssassin's required_score", "not a number")
	}
	if bad(c.ProbableThreshold) {
		r.Add(key("probable_threshold"), "", "not a number")
	} else if c.ProbableThreshold > c.Threshold {
		r.Add(key("probable_threshold"), "probable spam is the level under spam: set it at or below threshold",
			"probable_threshold %g is over threshold %g", c.ProbableThreshold, c.Threshold)
	}
	if _, ok := SensitivityShift[c.Sensitivity]; !ok {
		r.Add(key("sensitivity"), "low, medium or high", "%q is not a sensitivity", c.Sensitivity)
	}
	for i, n := range c.Inputs {
		k := fmt.Sprintf("%s[%d]", key("inputs"), i)
		switch {
		case n == "" || strings.ContainsAny(n, " \t\r\n,"):
			r.Add(k, `a finding name or family, such as "bayes.*"`, "%q is not a finding name", n)
		case policy.FindingNameMatch(n, FindingSpam) || policy.FindingNameMatch(n, FindingProbable) || n == "spam.*":
			r.Add(k, "the score cannot count its own verdict", "%q names the spam findings", n)
		}
	}
}

// Settings are one loaded configuration's [spam].
type Settings struct{ Config }

// FromConfig is the [spam] of a loaded configuration.
func FromConfig(cfg *config.Config) Settings {
	return Settings{*config.Section[Config](cfg, Section)}
}

// Required is the spam threshold after the sensitivity.
func (s Settings) Required() float64 { return s.Threshold + SensitivityShift[s.Sensitivity] }

// Probable is the probable-spam threshold after the sensitivity.
func (s Settings) Probable() float64 { return s.ProbableThreshold + SensitivityShift[s.Sensitivity] }

// Test is one contributing test: an input finding or a scored rule.
type Test struct {
	Name  string  `json:"name"`
	Score float64 `json:"score"`
}

// Verdict is a message's spam score and what it means.
type Verdict struct {
	// Score is the sum of the tests, rounded to one decimal, the precision
	// the header shows, so the header and the verdict always agree.
	Score    float64 `json:"score"`
	Required float64 `json:"required"`
	Probable float64 `json:"probable"`
	Tests    []Test  `json:"tests,omitempty"` // sorted by name
}

// Tally adds up a message's score from its findings and the scored rules
// whose conditions hold. An input finding counts once per name, with the
// score of its first report; a finding without a score, or limited to some
// recipients, does not count.
func (s Settings) Tally(findings []scanner.Finding, rules []policy.Contribution) Verdict {
	v := Verdict{Required: s.Required(), Probable: s.Probable()}
	seen := map[string]bool{}
	add := func(name string, score float64) {
		if seen[name] || score == 0 || math.IsNaN(score) || math.IsInf(score, 0) {
			return
		}
		seen[name] = true
		v.Tests = append(v.Tests, Test{Name: name, Score: score})
	}
	for _, f := range findings {
		if len(f.Recipients) > 0 || !s.counts(f.Name) {
			continue
		}
		add(f.Name, f.Score)
	}
	for _, c := range rules {
		add(c.Rule, c.Score)
	}
	slices.SortFunc(v.Tests, func(a, b Test) int { return strings.Compare(a.Name, b.Name) })
	sum := 0.0
	for _, t := range v.Tests {
		sum += t.Score
	}
	v.Score = math.Round(sum*10) / 10
	if v.Score == 0 {
		v.Score = 0 // not -0
	}
	return v
}

func (s Settings) counts(name string) bool {
	if name == FindingSpam || name == FindingProbable {
		return false
	}
	for _, p := range s.Inputs {
		if policy.FindingNameMatch(p, name) {
			return true
		}
	}
	return false
}

// Spam reports whether the score is at or over the threshold.
func (v Verdict) Spam() bool { return v.Score >= v.Required }

// TestNames are the contributing tests, "none" for none (as SpamAssassin
// writes it), separated by commas.
func (v Verdict) TestNames() string {
	if len(v.Tests) == 0 {
		return "none"
	}
	names := make([]string, len(v.Tests))
	for i, t := range v.Tests {
		names[i] = t.Name
	}
	return strings.Join(names, ",")
}

// Reason is "score=S required=R tests=A,B,C".
func (v Verdict) Reason() string {
	return fmt.Sprintf("score=%.1f required=%.1f tests=%s", v.Score, v.Required, v.TestNames())
}

// Findings are the verdict's findings: spam, spam.probable, or none.
func (v Verdict) Findings() []scanner.Finding {
	name := ""
	switch {
	case v.Spam():
		name = FindingSpam
	case v.Score >= v.Probable:
		name = FindingProbable
	default:
		return nil
	}
	return []scanner.Finding{{Name: name, Value: fmt.Sprintf("%.1f", v.Score), Where: "message", Reason: v.Reason(), Score: v.Score}}
}

// Headers are the verdict's header fields: X-Spam-Flag: YES on spam,
// X-Spam-Status and X-Spam-Score. X-Spam-Status is folded before a line
// would pass 78 characters, between tests.
func (v Verdict) Headers() []policy.HeaderField {
	var out []policy.HeaderField
	yes := "No"
	if v.Spam() {
		yes = "Yes"
		out = append(out, policy.HeaderField{Name: HeaderFlag, Value: "YES"})
	}
	status := fmt.Sprintf("%s, score=%.1f required=%.1f", yes, v.Score, v.Required)
	out = append(out, policy.HeaderField{Name: HeaderStatus, Value: fold(len(HeaderStatus)+2, status, v.TestNames())},
		policy.HeaderField{Name: HeaderScore, Value: fmt.Sprintf("%.1f", v.Score)})
	return out
}

// fold writes status and " tests=A,B,C" on lines of at most 78 characters
// where the tests allow, the first line starting at column start; the
// continuation lines begin with a tab (RFC 5322 §2.2.3).
func fold(start int, status, tests string) string {
	const width = 78
	var b strings.Builder
	b.WriteString(status)
	col := start + len(status)
	word := "tests="
	if col+1+len(word) > width {
		b.WriteString("\n\t")
		col = 8
	} else {
		b.WriteByte(' ')
		col++
	}
	b.WriteString(word)
	col += len(word)
	for i, t := range strings.Split(tests, ",") {
		if i > 0 {
			b.WriteByte(',')
			col++
			if col+len(t) > width {
				b.WriteString("\n\t")
				col = 8
			}
		}
		b.WriteString(t)
		col += len(t)
	}
	return b.String()
}

// Ref is one header field by name and its 1-based index among the fields
// of that name, as the milter's change-header call counts them.
type Ref struct {
	Name  string
	Index int
}

// Forged are the X-Spam-* fields in hs (see [Forgeable]), by name in the
// order of Forgeable and by index within a name.
func Forged(hs []check.RawHeader) []Ref { return Refs(hs, Forgeable) }

// Refs are the fields of hs with the given names, by name in the order of
// names and by index within a name (names compared without case, as the
// MTA counts them).
func Refs(hs []check.RawHeader, names []string) []Ref {
	var out []Ref
	for _, name := range names {
		n := 0
		for _, h := range hs {
			if strings.EqualFold(h.Name, name) {
				n++
				out = append(out, Ref{Name: name, Index: n})
			}
		}
	}
	return out
}

// Check declares spam and spam.probable, and has the input checks run;
// the session computes the findings (see the package comment).
type Check struct{ s Settings }

// alwaysCheck is [Check] when [spam] headers is on: every delivered inbound
// message gets the score, so it is computed whether or not a rule uses it.
type alwaysCheck struct{ Check }

func (alwaysCheck) Always() string {
	return "[spam] headers: delivered inbound mail gets X-Spam-Status"
}

func (Check) Name() string          { return "spam" }
func (Check) Stage() policy.Stage   { return policy.StageEOM }
func (Check) Scope() check.Scope    { return check.ScopeTransaction }
func (Check) Budget() time.Duration { return time.Second }

// OnError is skip: Run does nothing that can fail.
func (Check) OnError() check.OnError { return check.OnErrorSkip }

func (Check) Findings() []check.Declared {
	return []check.Declared{
		{Name: FindingSpam, Doc: "the spam score is at or over [spam] threshold; value the score, reason the tests"},
		{Name: FindingProbable, Doc: "the spam score is at or over [spam] probable_threshold, under threshold"},
	}
}

// LearnsFrom are the inputs: while the score is used, the checks reporting
// them run.
func (c Check) LearnsFrom() []string { return c.s.Inputs }

// Run reports nothing: the verdict is the sum of the other checks of this
// stage, computed by the session through [Settings.Tally].
func (Check) Run(context.Context, *check.Input) ([]check.Finding, error) { return nil, nil }
