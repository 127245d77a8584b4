package session

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner"
)

// Greylister keeps greylisting triplets; check/greylist implements it over
// the state store. In a dry run (env.DryRun) it only reads.
type Greylister interface {
	// Greylist reports whether the triplet of ip (aggregated to its
	// network), sender and rcpt has waited out the delay; when it has not,
	// wait is how long is left.
	Greylist(ctx context.Context, env *check.Env, ip netip.Addr, sender, rcpt string) (pass bool, wait time.Duration, err error)
}

// The findings of the greylist action, in the tracking log and the reply.
const (
	FindingGreylistPending = "greylist.pending"
	FindingGreylistError   = "greylist.error"
)

// greylistBudget bounds one triplet lookup in the state store.
const greylistBudget = 5 * time.Second

// resolveGreylist turns a greylist verdict for rcpt into what it means for
// this attempt: a tempfail while the triplet waits, or, once it has
// waited (or is exempt), the verdict of the rules with that rule set
// aside for rcpt. Rules are evaluated again up to stage, so a later rule
// still decides.
func (s *Session) resolveGreylist(stage policy.Stage, v policy.Verdict, rcpt string) policy.Verdict {
	for range len(s.rt.Policy.Rules) {
		if v.Action != policy.ActionGreylist {
			return v
		}
		pass := s.greylistExempt(rcpt)
		var wait time.Duration
		if !pass {
			var err error
			pass, wait, err = s.greylist(rcpt)
			if err != nil {
				s.log.Error("greylist lookup failed", "rule", v.Rule, "rcpt", rcpt, "err", err)
				if !s.rt.Policy.FailOpen {
					return s.greylistVerdict(v, policy.Reply{Code: 451, Enhanced: "4.3.0",
						Text: fmt.Sprintf("Temporary local problem, try again later (rule %s: %s)", v.Rule, FindingGreylistError)},
						scanner.Finding{Name: FindingGreylistError, Where: "state", Reason: firstLine(err.Error())})
				}
				pass = true
			}
		}
		if !pass {
			rep := policy.DefaultGreylist
			if r := s.rt.Policy.Rule(v.Rule); r != nil {
				rep = r.Reply // as configured, before the rule name is added
			}
			secs := int(wait.Round(time.Second) / time.Second)
			rep.Text = fmt.Sprintf("%s, retry in %d seconds (rule %s: %s)", rep.Text, max(secs, 1), v.Rule, FindingGreylistPending)
			return s.greylistVerdict(v, rep, scanner.Finding{Name: FindingGreylistPending, Value: fmt.Sprint(secs),
				Where: "envelope", Reason: fmt.Sprintf("first attempt of this client network, sender and recipient; wait %s", wait.Round(time.Second))})
		}
		if s.Facts.Bypass == nil {
			s.Facts.Bypass = map[string][]string{}
		}
		s.Facts.Bypass[v.Rule] = append(s.Facts.Bypass[v.Rule], rcpt)
		v = s.rt.Policy.Evaluate(stage, &s.Facts, rcpt)
	}
	return v
}

// greylistVerdict is the tempfail a greylist rule gives.
func (s *Session) greylistVerdict(v policy.Verdict, rep policy.Reply, f scanner.Finding) policy.Verdict {
	out := v
	out.Action, out.Reply = policy.ActionTempfail, rep
	out.Matches = append(slices.Clone(v.Matches[:max(len(v.Matches)-1, 0)]),
		scanner.Match{Rule: v.Rule, Stage: v.Stage.String(), Action: "greylist", Findings: append(lastFindings(v.Matches), f)})
	return out
}

func lastFindings(ms []scanner.Match) []scanner.Finding {
	if len(ms) == 0 {
		return nil
	}
	return slices.Clone(ms[len(ms)-1].Findings)
}

// greylistExempt reports whether rcpt skips greylisting: mail from
// trusted networks or authenticated clients, an approved sender, a
// known host.
func (s *Session) greylistExempt(rcpt string) bool {
	if s.Facts.AuthUser != "" || s.rt.Policy.Org.TrustedClient(s.Facts.ClientIP) || s.rt.KnownHosts.Contains(s.Facts.ClientIP) {
		return true
	}
	for _, f := range s.Facts.Findings {
		if slices.Contains(policy.GreylistExempt, f.Name) && f.For(rcpt) {
			return true
		}
	}
	return false
}

func (s *Session) greylist(rcpt string) (bool, time.Duration, error) {
	if s.rt.Greylister == nil {
		return false, 0, fmt.Errorf("session: no greylist store")
	}
	ctx, cancel := context.WithTimeout(context.Background(), greylistBudget)
	defer cancel()
	return s.rt.Greylister.Greylist(ctx, s.Env, s.Facts.ClientIP, s.Facts.Sender, rcpt)
}
