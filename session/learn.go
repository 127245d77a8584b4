package session

import (
	"fmt"
	"strings"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/bayes"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/store"
)

// learnRcpt tells the learning checks (the IP profiler) what became of a
// recipient at RCPT; the run does nothing in a dry run.
func (s *Session) learnRcpt(rcpt string, r StageResult) {
	if s.run == nil {
		return
	}
	action := "continue"
	if r.Verdict != nil {
		action = r.Verdict.Action.String()
	}
	s.run.Learn(&check.Outcome{Stage: policy.StageRcpt, ClientIP: s.Facts.ClientIP, AuthUser: s.Facts.AuthUser,
		Sender: s.Facts.Sender, Rcpt: rcpt, Refused: r.Verdict != nil, Action: action,
		Findings: s.run.Findings(rcpt), Matches: r.Matches})
}

// learnEOM tells the learning checks what became of the message: the
// decision, and the rules that matched for each recipient.
func (s *Session) learnEOM(res *Result) {
	if s.run == nil || res == nil {
		return
	}
	var matches []scanner.Match
	for _, r := range s.Facts.Recipients {
		matches = append(matches, res.Verdicts[r].Matches...)
	}
	s.run.Learn(&check.Outcome{Stage: policy.StageEOM, ClientIP: s.Facts.ClientIP, Origin: s.origin, AuthUser: s.Facts.AuthUser,
		Sender: s.Facts.Sender, Recipients: s.Facts.Recipients, Action: res.Decision.Action.String(),
		Findings: res.Findings, Matches: matches})
}

// autoLearn teaches the Bayesian classifier a message whose score, left
// out the classifier's own contribution, is very high or very low (see
// [bayes.AutoLearner.Decide]), and records it in res.Findings as
// [bayes.FindingAutoLearn] for the tracking row. It runs after the rules
// decided, never in a dry run; the database write happens in the
// background, so the reply does not wait for it, and its failure is only
// logged.
func (s *Session) autoLearn(res *Result, contribs []policy.Contribution) {
	al := s.rt.AutoLearn
	if al == nil || s.Env == nil || s.Env.DryRun || res.Spam == nil {
		return
	}
	st, ok := s.Env.State.(store.Bayes)
	if !ok || st == nil {
		return
	}
	in := bayes.AutoInput{Trusted: s.rt.Policy.Org.TrustedOrigin(&s.Facts),
		Tempfailed: res.Decision.Action == policy.ActionTempfail}
	for _, f := range res.Findings {
		in.Findings = append(in.Findings, f.Name)
	}
	for _, v := range res.Verdicts {
		switch v.Action {
		case policy.ActionReject, policy.ActionDiscard, policy.ActionQuarantine:
			in.Held = true
		}
	}
	onBayes := map[string]bool{}
	for _, c := range contribs {
		for _, f := range c.Findings {
			if strings.HasPrefix(f.Name, "bayes.") {
				onBayes[c.Rule] = true
			}
		}
	}
	for _, t := range res.Spam.Tests {
		in.Tests = append(in.Tests, bayes.AutoTest{Name: t.Name, Score: t.Score, Bayes: onBayes[t.Name]})
	}
	now := s.Env.Time()
	l, why := al.Decide(in, now)
	if l == store.BayesNone {
		s.log.Debug("bayes: not autolearned", "queue_id", s.QueueID, "reason", why)
		return
	}
	if !al.Learn(s.log, st, res.Message, l, now, s.QueueID) {
		return
	}
	res.Findings = append(res.Findings, scanner.Finding{Name: bayes.FindingAutoLearn, Value: l.String(), Where: "message",
		Reason: fmt.Sprintf("learned as %s: score %.1f without the classifier's, %.1f with it", l, autoScore(in.Tests), res.Spam.Score)})
}

func autoScore(ts []bayes.AutoTest) float64 { sc, _ := bayes.AutoScore(ts); return sc }
