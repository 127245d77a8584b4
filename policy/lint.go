package policy

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/mailwarden/mailwarden/config"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/parser"
)

// This file holds the warnings of a config that loads: rules that cannot do
// what they seem to, and protections of the embedded default the config no
// longer has. `mailwarden config check` prints them; they never stop a load.

// parseExpr parses an expression that compiled into the tree the warnings
// read: unlike the compiled program, it is not optimised, so comparisons and
// constant lists are still as written.
func parseExpr(src string) ast.Node {
	tree, err := parser.ParseWithConfig(src, conf.New(exprEnv{}))
	if err != nil {
		return nil
	}
	return tree.Node
}

// exprLine is the line within src of a node, counted from 1.
func exprLine(src string, n ast.Node) int {
	r := []rune(src)
	from := min(max(n.Location().From, 0), len(r))
	return 1 + strings.Count(string(r[:from]), "\n")
}

// directions are the values the direction variable takes: see
// [Organization.Direction].
var directions = []string{Inbound, Outbound, Internal}

// directionWarnings warns about each comparison of direction with a constant
// it never has: `direction == "inbond"` is never true, and `!=` always.
func (v *validator) directionWarnings(key, src string, tree ast.Node) {
	if tree == nil {
		return
	}
	check := func(n ast.Node, s *ast.StringNode, so string) {
		if slices.Contains(directions, s.Value) {
			return
		}
		hint := "direction is inbound, outbound or internal"
		switch {
		case s.Value == "any":
			hint = "leave the comparison out to match any direction"
		default:
			for _, d := range directions {
				if config.EditDistance(strings.ToLower(strings.TrimSpace(s.Value)), d) <= 1 {
					hint = fmt.Sprintf("did you mean %q?", d)
				}
			}
		}
		line := v.Line(key)
		if b := v.BodyLine(key); b > 0 {
			line = b + exprLine(src, n) - 1
		}
		v.Warn(key, line, hint, "expression compares direction with %q, a value it never has, so %s", s.Value, so)
	}
	ast.Walk(&tree, visitFunc(func(n ast.Node) {
		b, ok := n.(*ast.BinaryNode)
		if !ok {
			return
		}
		switch b.Operator {
		case "==", "!=":
			so := fmt.Sprintf("%s is always %v", b.Operator, b.Operator == "!=")
			if s, ok := b.Right.(*ast.StringNode); ok && isDirection(b.Left) {
				check(b, s, so)
			} else if s, ok := b.Left.(*ast.StringNode); ok && isDirection(b.Right) {
				check(b, s, so)
			}
		case "in":
			if arr, ok := b.Right.(*ast.ArrayNode); ok && isDirection(b.Left) {
				for _, e := range arr.Nodes {
					if s, ok := e.(*ast.StringNode); ok {
						check(e, s, "that element of the list never matches")
					}
				}
			}
		}
	}))
}

// isDirection reports whether n reads the direction variable.
func isDirection(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return x.Value == "direction"
	case *ast.MemberNode:
		id, _ := x.Node.(*ast.IdentifierNode)
		s, _ := x.Property.(*ast.StringNode)
		return id != nil && id.Value == "$env" && s != nil && s.Value == "direction"
	}
	return false
}

type visitFunc func(ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(*n) }

// alwaysHolds reports whether a condition holds for every message: an
// address list with "*" and no exception, or the expression true.
func alwaysHolds(c Condition) bool {
	switch c := c.(type) {
	case addressCond:
		return len(c.except) == 0 && slices.ContainsFunc(c.in, AddressPattern.MatchesAll)
	case *exprCond:
		b, ok := c.tree.(*ast.BoolNode)
		return ok && b.Value
	}
	return false
}

// unconditional reports whether r holds for every message.
func unconditional(r *Rule) bool {
	for _, c := range r.Conditions {
		if !alwaysHolds(c) {
			return false
		}
	}
	return true
}

// evaluationOrder is the enabled rules in the order [Policy.Evaluate] tries
// them: by stage, and in file order within a stage.
func evaluationOrder(p *Policy) []*Rule {
	order := slices.Clone(p.Rules)
	slices.SortStableFunc(order, func(a, b *Rule) int { return int(a.Stage) - int(b.Stage) })
	return order
}

// unconditionalWarnings warns about each enabled rule with a terminal action
// that holds for every message: it decides all mail, and the rules after it
// never run.
func (v *validator) unconditionalWarnings(p *Policy, index map[*Rule]int) {
	order := evaluationOrder(p)
	for i, r := range order {
		if r.Action == ActionNone || !unconditional(r) {
			continue
		}
		what := "no condition"
		if len(r.Conditions) > 0 {
			what = "only conditions that always hold"
		}
		msg := fmt.Sprintf("rule %q has action %s and %s, so it decides all mail %s", r.Name, r.Action, what, r.Stage.Describe())
		if n := len(order) - i - 1; n > 0 {
			msg += fmt.Sprintf(", and the %d rule(s) after it never run", n)
		}
		v.Warn(fmt.Sprintf("rule[%d].action", index[r]), 0, "add a condition, or leave out action to only tag or add header fields", "%s", msg)
	}
}

// trigger is what a baseline rule reacts to: a finding, the message size or
// the recipient count.
type trigger struct {
	kind    string // "finding", "size" or "rcpt"
	finding string
}

// phrase names the mail a trigger picks, after "mail".
func (t trigger) phrase() string {
	switch t.kind {
	case "finding":
		return "with finding " + t.finding
	case "size":
		return "by its size"
	default:
		return "by its recipient count"
	}
}

// triggers lists what a condition reacts to.
func triggers(c Condition) []trigger {
	switch c := c.(type) {
	case findingCond:
		if c.except {
			return nil // findings_except exempts mail; it picks none
		}
		var ts []trigger
		for _, n := range c.names {
			ts = append(ts, trigger{kind: "finding", finding: n})
		}
		return ts
	case sizeCond:
		return []trigger{{kind: "size"}}
	case rcptCountCond:
		return []trigger{{kind: "rcpt"}}
	}
	return nil
}

// baselineEffects say, per finding of the embedded default's rules, what
// mail gets through without them. A test keeps it complete.
var baselineEffects = map[string]string{
	"throttle.inbound-ip":      "one client network may send any number of messages from outside",
	"throttle.inbound-sender":  "one sender may send any number of messages from outside",
	"throttle.outbound-ip":     "one of your hosts may send any number of messages out",
	"throttle.outbound-sender": "one of your senders may send any number of messages out",
	"list.blocked-clients":     "clients in the list blocked-clients are not refused",
	"sender.blocked":           "senders in a blocked-senders list are not refused",
	"scan.exclusion":           "messages that hit a scanning limit are delivered unscanned",
	"dmarc.reject":             "mail from outside that fails DMARC under its domain's p=reject is delivered",
	"dmarc.quarantine":         "mail from outside that fails DMARC under its domain's p=quarantine is delivered to the inbox",
	"virus":                    "messages in which clamd found a virus are delivered",
	"attachment.executable":    "executables from outside, attached or in archives, are delivered",
	"recipient.unknown":        "mail to recipients no [recipients] table lists is accepted, and harvesting goes uncounted",
	"mime.ambiguous":           "messages whose MIME structure reads more than one way (CVE-2024-28054) are delivered, though the scan may not have seen what the recipient's client shows",
	"content.gtube":            "messages with the GTUBE test string are delivered",
	"url.listed":               "messages from outside with links a URI blocklist lists are delivered",
	"message.malformed":        "malformed messages are delivered unflagged",
	"spam":                     "mail from outside whose spam score is over [spam] threshold is delivered to the inbox",
	"spam.probable":            "mail from outside whose spam score is over [spam] probable_threshold is delivered untagged",
}

// effect says what gets through when nothing acts like baseline rule b on t.
func effect(t trigger, b *Rule) string {
	for _, c := range b.Conditions {
		switch c := c.(type) {
		case sizeCond:
			if t.kind == "size" {
				return fmt.Sprintf("messages over %d bytes are accepted", c.n)
			}
		case rcptCountCond:
			if t.kind == "rcpt" {
				return fmt.Sprintf("a message may have more than %d recipients", c.n)
			}
		}
	}
	if e, ok := baselineEffects[t.finding]; ok && t.kind == "finding" {
		return e
	}
	return fmt.Sprintf("what the embedded default's rule %q does is not done", b.Name)
}

// coverage is how far a rule holds whenever a trigger does.
type coverage int

const (
	coverNone coverage = iota // the rule does not look at the trigger
	coverPart                 // it looks at it, under further conditions
	coverFull                 // it holds for all mail the trigger picks
)

// condCoverage is how far condition c holds whenever t does.
func condCoverage(c Condition, t trigger) coverage {
	if e, ok := c.(*exprCond); ok {
		return exprCoverage(e.tree, t)
	}
	if slices.Contains(triggers(c), t) {
		return coverFull
	}
	return coverNone
}

// ruleCoverage is how far r holds whenever t does, and whether one of its
// conditions looks at t (an unconditional rule holds for t without). A
// direction the baseline rule b also has is no further condition: the
// protection is only for that direction.
func ruleCoverage(r *Rule, t trigger, b *Rule) (cov coverage, direct bool) {
	full := true
	for _, c := range r.Conditions {
		cc := condCoverage(c, t)
		direct = direct || cc > coverNone
		full = full && (cc == coverFull || alwaysHolds(c) || sameDirection(c, b) || sameExcept(c, b))
	}
	switch {
	case full:
		return coverFull, direct
	case direct:
		return coverPart, true
	}
	return coverNone, false
}

// sameDirection reports whether c is a direction condition b has too.
func sameDirection(c Condition, b *Rule) bool {
	d, ok := c.(directionCond)
	return ok && slices.Contains(b.Conditions, Condition(d))
}

// sameExcept reports whether c is a findings_except b has too (approved
// senders skip the spam rules): the protection is only for the mail it
// leaves.
func sameExcept(c Condition, b *Rule) bool {
	e, ok := c.(findingCond)
	return ok && e.except && slices.ContainsFunc(b.Conditions, func(d Condition) bool {
		f, ok := d.(findingCond)
		return ok && f.except && slices.Equal(f.names, e.names)
	})
}

// exprCoverage is how far an expression holds whenever t does: fully for
// has("finding") (or size > N, rcpt_index > N) alone or in an ||, in part
// when the expression looks at it otherwise, and not at all under a !.
func exprCoverage(n ast.Node, t trigger) coverage {
	switch x := n.(type) {
	case *ast.BinaryNode:
		switch x.Operator {
		case "||", "or":
			return max(exprCoverage(x.Left, t), exprCoverage(x.Right, t))
		case "&&", "and":
			l, r := exprCoverage(x.Left, t), exprCoverage(x.Right, t)
			if l == coverFull && r == coverFull {
				return coverFull
			}
			return min(max(l, r), coverPart)
		}
		if isAtom(x, t) {
			return coverFull
		}
	case *ast.CallNode:
		if isAtom(x, t) {
			return coverFull
		}
	case *ast.UnaryNode:
		if x.Operator == "!" || x.Operator == "not" {
			return coverNone
		}
	}
	if n == nil {
		return coverNone
	}
	found := false
	ast.Walk(&n, visitFunc(func(m ast.Node) {
		switch y := m.(type) {
		case *ast.CallNode:
			found = found || isAtom(y, t)
		case *ast.IdentifierNode:
			found = found || (t.kind == "size" && y.Value == "size") ||
				(t.kind == "rcpt" && (y.Value == "rcpt_index" || y.Value == "rcpt_count"))
		}
	}))
	if found {
		return coverPart
	}
	return coverNone
}

// isAtom reports whether n is the expression form of t: has("name"),
// size > N, rcpt_index > N or rcpt_count > N (or >=, or mirrored).
func isAtom(n ast.Node, t trigger) bool {
	switch x := n.(type) {
	case *ast.CallNode:
		id, _ := x.Callee.(*ast.IdentifierNode)
		if id == nil || id.Value != "has" || len(x.Arguments) != 1 || t.kind != "finding" {
			return false
		}
		s, _ := x.Arguments[0].(*ast.StringNode)
		return s != nil && s.Value == t.finding
	case *ast.BinaryNode:
		vars := map[string][]string{"size": {"size"}, "rcpt": {"rcpt_index", "rcpt_count"}}[t.kind]
		isVar := func(n ast.Node) bool {
			id, ok := n.(*ast.IdentifierNode)
			return ok && slices.Contains(vars, id.Value)
		}
		isNum := func(n ast.Node) bool {
			switch n.(type) {
			case *ast.IntegerNode, *ast.FloatNode:
				return true
			}
			return false
		}
		switch x.Operator {
		case ">", ">=":
			return isVar(x.Left) && isNum(x.Right)
		case "<", "<=":
			return isNum(x.Left) && isVar(x.Right)
		}
	}
	return false
}

// holdsBack reports whether r, matching mail that baseline rule b acts on,
// does what b is there for: a terminal action other than accept, or for a
// b that only flags, adding a header field or tag on a condition that looks
// at the trigger.
func holdsBack(r, b *Rule, direct bool) bool {
	switch r.Action {
	case ActionReject, ActionTempfail, ActionQuarantine, ActionDiscard:
		return true
	}
	return b.Action == ActionNone && direct && (r.TagSubject != "" || len(r.AddHeaders) > 0)
}

var (
	baselineOnce   sync.Once
	baselinePolicy *Policy
)

// baseline is the embedded default, compiled once, to compare configs with.
func baseline() *Policy {
	baselineOnce.Do(func() {
		_, baselinePolicy, _ = load("(embedded default)", config.DefaultTOML(), false, nil)
	})
	return baselinePolicy
}

// baselineProtection is one thing the embedded default guards against.
type baselineProtection struct {
	trigger trigger
	rule    *Rule
}

// convenience reports whether a finding of the embedded default's rules is
// acted on for the reader's convenience, not for protection: a config that
// drops its rule lets nothing harmful through, so the lint does not warn.
// Graymail (check/graymail) is tagged and delivered: it is not spam.
func convenience(t trigger) bool {
	return t.kind == "finding" && (t.finding == "graymail" || strings.HasPrefix(t.finding, "graymail."))
}

func baselineProtections(b *Policy) []baselineProtection {
	var out []baselineProtection
	for _, r := range b.Rules {
		for _, c := range r.Conditions {
			for _, t := range triggers(c) {
				if convenience(t) {
					continue
				}
				out = append(out, baselineProtection{t, r})
			}
		}
	}
	return out
}

// baselineWarnings names each protection of the embedded default that p no
// longer has: nothing acts on the finding (or size, or recipient count) the
// way the default's rule does, or only under further conditions, or a rule
// accepts that mail first. What counts is what the rules match, not what
// they are called.
func (v *validator) baselineWarnings(p *Policy) {
	b := baseline()
	if b == nil {
		return
	}
	order := evaluationOrder(p)
	for _, bp := range baselineProtections(b) {
		t, br := bp.trigger, bp.rule
		if t.kind == "finding" && v.cat != nil {
			if _, declared := v.cat.FindingStage(t.finding); !declared {
				// The config does not configure what reports it (a
				// [[throttle]] or [[list]] of the default's), so the
				// default's rule could not load here.
				continue
			}
		}
		verb, verbs, verbsIt := "hold back", "holds back", "holds it back"
		if br.Action == ActionNone {
			verb, verbs, verbsIt = "flag", "flags", "flags it"
		}
		hint := "the embedded default has: " + baselineRuleText(br)
		eff := effect(t, br)
		var partial []*Rule
		var acceptedBy *Rule
		covered := false
		for _, r := range order {
			cov, direct := ruleCoverage(r, t, br)
			if cov == coverNone {
				continue
			}
			if holdsBack(r, br, direct) {
				if cov == coverFull {
					covered = true
					break
				}
				partial = append(partial, r)
				continue
			}
			if r.Action != ActionNone && cov == coverFull {
				acceptedBy = r
				break
			}
		}
		names := make([]string, len(partial))
		for i, r := range partial {
			names[i] = fmt.Sprintf("%q", r.Name)
		}
		who, does := "rule "+strings.Join(names, ""), verbs
		if len(names) > 1 {
			who, does = "rules "+strings.Join(names, ", "), verb
		}
		switch {
		case covered:
		case acceptedBy != nil && len(partial) > 0:
			v.Warn("", partial[0].Line, hint, "%s %s mail %s only under further conditions, and rule %q accepts the rest; otherwise %s",
				who, does, t.phrase(), acceptedBy.Name, eff)
		case acceptedBy != nil && !unconditional(acceptedBy):
			v.Warn("", acceptedBy.Line, hint, "rule %q accepts mail %s before any rule %s, so %s",
				acceptedBy.Name, t.phrase(), verbsIt, eff)
		case acceptedBy != nil:
			v.Warn("", acceptedBy.Line, hint, "rule %q accepts all mail before any rule %s mail %s, so %s",
				acceptedBy.Name, verbs, t.phrase(), eff)
		case len(partial) > 0:
			v.Warn("", partial[0].Line, hint, "%s %s mail %s only under further conditions; otherwise %s", who, does, t.phrase(), eff)
		default:
			msg := fmt.Sprintf("no rule %s mail %s, so %s", verbs, t.phrase(), eff)
			line := 0
			for _, r := range p.Disabled {
				if cov, direct := ruleCoverage(r, t, br); cov > coverNone && direct && holdsBack(r, br, direct) {
					msg += fmt.Sprintf(" (rule %q would, but it is disabled)", r.Name)
					line = r.Line
					break
				}
			}
			v.Warn("", line, hint, "%s", msg)
		}
	}
}

// baselineRuleText is a rule of the embedded default as written, without its
// name, on one line: `findings = ["scan.exclusion"], action = "quarantine"`.
func baselineRuleText(r *Rule) string {
	lines := strings.Split(string(config.DefaultTOML()), "\n")
	var keys []string
	for i := r.Line; i < len(lines); i++ { // r.Line is 1-based: lines[r.Line] is the next line
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "[") {
			break
		}
		if strings.HasPrefix(l, "#") || strings.HasPrefix(l, "name ") || strings.HasPrefix(l, "name=") {
			continue
		}
		keys = append(keys, l)
	}
	return strings.Join(keys, ", ")
}
