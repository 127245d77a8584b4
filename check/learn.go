package check

import (
	"context"
	"fmt"
	"net/netip"
	"runtime/debug"

	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner"
)

// Learner is implemented by a check that learns from what became of the
// mail it saw (the IP profiler counts spam verdicts, invalid recipients
// and bounces per client). The session tells every active learner the
// [Outcome] of each recipient at RCPT and of each message at end of
// message, after the rules decided and before the reply; never in a dry
// run. Learning never changes a decision: a learner's error is logged and
// the session goes on.
type Learner interface {
	// Learn records o. It must return when ctx ends (the check's budget).
	Learn(ctx context.Context, env *Env, o *Outcome) error
}

// Outcome is what the rules decided for one recipient at RCPT, or for one
// message at end of message.
type Outcome struct {
	// Stage is [policy.StageRcpt] for a recipient, [policy.StageEOM] for a
	// message.
	Stage    policy.Stage
	ClientIP netip.Addr
	// Origin is, on a connection from a known host, the message's first
	// untrusted hop when the session found one: the client a learner
	// judges instead of the relay. Invalid otherwise.
	Origin   netip.Addr
	AuthUser string
	// Sender is the envelope sender; "" is the null sender (a bounce).
	Sender string
	// Rcpt is the recipient decided at RCPT; Refused says it was refused
	// (rejected or tempfailed) there.
	Rcpt    string
	Refused bool
	// Recipients are the message's recipients at end of message.
	Recipients []string
	// Action is the decision: at RCPT the recipient's (continue for one
	// accepted so far), at end of message the message's (accept, reject,
	// tempfail, quarantine, discard).
	Action string
	// Findings are what the rules saw: at RCPT the connection's, the
	// transaction's and the recipient's own; at end of message all of
	// them, recipient-scoped ones limited to their recipient.
	Findings []Finding
	// Matches are the rules that matched, with their actions and the
	// findings behind them; at end of message those of every recipient.
	Matches []scanner.Match
}

// Learn tells the run's active learners of o, each within its check's time
// budget, one after another. It does nothing in a dry run.
func (u *Run) Learn(o *Outcome) {
	if u == nil || u.env == nil || u.env.DryRun {
		return
	}
	for i := range u.r.active {
		c := u.r.active[i].Check
		l, ok := c.(Learner)
		if !ok {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.Budget())
		err := safeLearn(ctx, c.Name(), l, u.env, o)
		cancel()
		if err != nil && u.env.Log != nil {
			u.env.Log.Warn("check could not learn", "check", c.Name(), "stage", o.Stage.String(), "err", err)
		}
	}
}

// safeLearn runs a learner, turning a panic into an error.
func safeLearn(ctx context.Context, name string, l Learner, env *Env, o *Outcome) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("check: %s panicked while learning: %v\n%s", name, p, debug.Stack())
		}
	}()
	return l.Learn(ctx, env, o)
}
