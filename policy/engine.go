package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mailwarden/mailwarden/config"

	"github.com/mailwarden/mailwarden/scanner"
)

// Policy is a compiled, immutable rule set. The daemon swaps the whole
// Policy on reload, so a session sees one policy from start to end.
type Policy struct {
	// FailOpen is server.on_error = "accept": a rule that cannot be
	// evaluated is skipped rather than answered with tempfail.
	FailOpen bool
	Org      *Organization
	Rules    []*Rule // enabled rules, in file order
	Disabled []*Rule
	// Warnings are what `mailwarden config check` reports about a config
	// that loads: rules that decide all mail, comparisons of direction with a
	// value it never has, and each protection of the embedded default that
	// these rules no longer give (judged by what the rules match, not by
	// their names).
	Warnings []config.Problem
}

// Verdict is the outcome for one recipient (or, before RCPT, for the whole
// transaction) after the rules up to some stage.
type Verdict struct {
	Action     Action // ActionNone: no terminal rule matched yet
	Rule       string // the deciding rule
	Stage      Stage  // the stage of the deciding rule
	Reply      Reply  // for reject and tempfail
	Area       string // quarantine area for quarantine and discard
	TagSubject []string
	AddHeaders []HeaderField
	Matches    []scanner.Match
}

// Terminal reports whether a rule decided.
func (v *Verdict) Terminal() bool { return v.Action != ActionNone }

// Evaluate runs every rule decided at or before stage upTo, in stage order
// and within a stage in file order, for one recipient (rcpt "" before RCPT).
// The first terminal rule decides; modifying actions of every matching rule
// up to it add up. Evaluate is a pure function of the facts, so the daemon,
// a reload and `mailwarden check` all agree.
func (p *Policy) Evaluate(upTo Stage, f *Facts, rcpt string) Verdict {
	var v Verdict
	if rcpt == "" && upTo >= StageRcpt {
		upTo = StageMail
	}
	for s := StageConnect; s <= upTo; s++ {
		for _, r := range p.Rules {
			if r.Stage != s || r.Scored || f.bypassed(r.Name, rcpt) {
				continue
			}
			findings, ok := r.match(p.Org, f, rcpt)
			if !ok && len(findings) > 0 && findings[0].Name == FindingExprError && !p.FailOpen {
				// The rule cannot be decided: an internal error, answered
				// like every other one, with tempfail.
				v.Matches = append(v.Matches, scanner.Match{Rule: r.Name, Stage: s.String(), Action: "tempfail", Findings: findings})
				v.Action, v.Rule, v.Stage = ActionTempfail, r.Name, s
				v.Reply = Reply{451, "4.3.0", fmt.Sprintf("Temporary local problem, try again later (rule %s: %s)", r.Name, FindingExprError)}
				return v
			}
			if !ok {
				continue
			}
			v.Matches = append(v.Matches, scanner.Match{Rule: r.Name, Stage: s.String(), Action: r.Action.String(), Findings: findings})
			if r.TagSubject != "" && !slices.Contains(v.TagSubject, r.TagSubject) {
				v.TagSubject = append(v.TagSubject, r.TagSubject)
			}
			v.AddHeaders = append(v.AddHeaders, r.AddHeaders...)
			if r.Action != ActionNone {
				v.Action, v.Rule, v.Stage, v.Area = r.Action, r.Name, s, r.Area
				v.Reply = r.reply(findings)
				return v
			}
		}
	}
	return v
}

func (r *Rule) match(o *Organization, f *Facts, rcpt string) ([]scanner.Finding, bool) {
	var all []scanner.Finding
	for _, c := range r.Conditions {
		fs, ok := c.Match(o, f, rcpt)
		if !ok {
			return fs, false // empty, or the reason it could not be decided
		}
		all = append(all, fs...)
	}
	return all, true
}

// reply is the rule's reply with the rule name and the finding appended, so
// a sender quoting the bounce tells the administrator exactly what fired.
// Finding values stay out of it: they may hold configured lists.
func (r *Rule) reply(findings []scanner.Finding) Reply {
	if r.Reply.Code == 0 {
		return Reply{}
	}
	rep := r.Reply
	why := "rule " + r.Name
	if len(findings) > 0 {
		// The last finding is the most specific: conditions are kept in
		// stage order, so content comes after the envelope.
		why += ": " + findings[len(findings)-1].Name
	}
	rep.Text = strings.TrimSpace(rep.Text + " (" + why + ")")
	return rep
}

// Decision is what to do with a whole message at end of message, combining
// every recipient's verdict.
type Decision struct {
	// Action is the reply for the whole message: tempfail or reject when any
	// recipient needs it, discard when no recipient is delivered, else accept.
	Action Action
	Reply  Reply
	Rule   string
	// Deliver are the recipients that get the message.
	Deliver []string
	// Quarantine groups the recipients whose copy is quarantined (or kept
	// for a discard) by area and rule.
	Quarantine []QuarantineGroup
	// TagSubject and AddHeaders are the modifications of delivered recipients.
	TagSubject []string
	AddHeaders []HeaderField
}

// QuarantineGroup is one quarantine copy and the recipients it is kept for.
type QuarantineGroup struct {
	Area, Rule, Reason string
	Action             Action // quarantine or discard
	Recipients         []string
}

// Combine turns per-recipient verdicts into one decision. The milter cannot
// reject some recipients at end of message, and removing them in silence
// would lose mail, so precedence is: any tempfail tempfails the message (the
// client retries, nothing is lost); else any reject rejects it; else the
// recipients are split: quarantined and discarded ones are removed with their
// copy kept, the rest delivered with the modifications their rules added.
func Combine(rcpts []string, verdicts map[string]Verdict) Decision {
	var d Decision
	for _, want := range []Action{ActionTempfail, ActionReject} {
		for _, r := range rcpts {
			if v := verdicts[r]; v.Action == want {
				return Decision{Action: want, Reply: v.Reply, Rule: v.Rule}
			}
		}
	}
	groups := map[string]int{}
	for _, r := range rcpts {
		v := verdicts[r]
		switch v.Action {
		case ActionQuarantine, ActionDiscard:
			k := v.Area + "\x00" + v.Rule + "\x00" + v.Action.String()
			i, ok := groups[k]
			if !ok {
				i = len(d.Quarantine)
				groups[k] = i
				d.Quarantine = append(d.Quarantine, QuarantineGroup{Area: v.Area, Rule: v.Rule, Action: v.Action, Reason: reason(v)})
			}
			d.Quarantine[i].Recipients = append(d.Quarantine[i].Recipients, r)
		default:
			d.Deliver = append(d.Deliver, r)
			for _, t := range v.TagSubject {
				if !slices.Contains(d.TagSubject, t) {
					d.TagSubject = append(d.TagSubject, t)
				}
			}
			for _, h := range v.AddHeaders {
				if !slices.Contains(d.AddHeaders, h) {
					d.AddHeaders = append(d.AddHeaders, h)
				}
			}
		}
	}
	d.Action = ActionAccept
	if len(d.Deliver) == 0 && len(d.Quarantine) > 0 {
		d.Action = ActionDiscard
		d.Rule = d.Quarantine[0].Rule
	}
	return d
}

// reason is the findings behind a verdict's deciding rule, in words.
func reason(v Verdict) string {
	for _, m := range v.Matches {
		if m.Rule != v.Rule {
			continue
		}
		var parts []string
		for _, f := range m.Findings {
			parts = append(parts, f.Name+": "+f.Reason)
		}
		if len(parts) == 0 {
			return "rule " + v.Rule
		}
		return fmt.Sprintf("rule %s: %s", v.Rule, strings.Join(parts, "; "))
	}
	return "rule " + v.Rule
}

// Rule returns the enabled rule called name, or nil.
func (p *Policy) Rule(name string) *Rule {
	for _, r := range p.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Contribution is one scored rule whose conditions hold, and what it adds
// to the spam score.
type Contribution struct {
	Rule     string
	Score    float64
	Findings []scanner.Finding // those its conditions matched
}

// Scores runs the scored rules (score = N) on the message's facts, once
// per message, and returns those whose conditions hold, in file order. A
// scored rule that cannot be decided (an expression error) contributes
// nothing.
func (p *Policy) Scores(f *Facts) []Contribution {
	var out []Contribution
	for _, r := range p.Rules {
		if !r.Scored {
			continue
		}
		fs, ok := r.match(p.Org, f, "")
		if ok {
			out = append(out, Contribution{Rule: r.Name, Score: r.Score, Findings: fs})
		}
	}
	return out
}
