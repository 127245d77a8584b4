package session

import (
	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner"
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
