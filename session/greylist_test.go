package session

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/policy"
)

// fakeGreylister passes a triplet once it has been seen before, and
// counts lookups.
type fakeGreylister struct {
	seen  map[string]bool
	calls int
	err   error
}

func (g *fakeGreylister) Greylist(_ context.Context, _ *check.Env, ip netip.Addr, sender, rcpt string) (bool, time.Duration, error) {
	g.calls++
	if g.err != nil {
		return false, 0, g.err
	}
	k := ip.String() + "|" + sender + "|" + rcpt
	if g.seen[k] {
		return true, 0, nil
	}
	g.seen[k] = true
	return false, 299600 * time.Millisecond, nil
}

const greylistRules = `
[[rule]]
name = "grey"
direction = "inbound"
action = "greylist"

[[rule]]
name = "no-such-user"
recipients = ["nobody@example.com"]
action = "reject"
reply = "550 5.1.1 No such user"

[organization]
internal_domains = ["example.com"]
trusted_networks = ["10.0.0.0/8"]
`

// TestGreylistAction drives the greylist action through sessions: a first
// attempt is deferred with the wait in the reply, a retry passes and the
// later rules still decide, exempt clients never reach the store, and a
// store failure follows server.on_error.
func TestGreylistAction(t *testing.T) {
	g := &fakeGreylister{seen: map[string]bool{}}
	rt := runtimeWith(t, greylistRules)
	rt.Greylister = g
	if st := rt.Policy.Rules[0].Stage; st != policy.StageRcpt {
		t.Fatalf("greylist rule decided at %v, want rcpt", st)
	}
	attempt := func(ip, auth, rcpt string) StageResult {
		t.Helper()
		s := NewSession(rt, quiet)
		defer s.Close()
		s.Connect(netip.MustParseAddr(ip), "x")
		s.Helo("x", "", "")
		s.Mail("a@sender.example", auth, "", 0)
		return s.Rcpt(rcpt)
	}
	r := attempt("192.0.2.7", "", "bob@example.com")
	if r.Verdict == nil || r.Verdict.Action != policy.ActionTempfail {
		t.Fatalf("first attempt: %+v, want a tempfail", r.Verdict)
	}
	if got, want := r.Verdict.Reply.String(), "451 4.7.1 Greylisted, please try again later, retry in 300 seconds (rule grey: greylist.pending)"; got != want {
		t.Errorf("reply %q\nwant  %q", got, want)
	}
	if m := r.Matches[len(r.Matches)-1]; m.Rule != "grey" || m.Action != "greylist" || m.Findings[len(m.Findings)-1].Name != FindingGreylistPending {
		t.Errorf("match %+v", m)
	}
	if r := attempt("192.0.2.7", "", "bob@example.com"); r.Verdict != nil {
		t.Errorf("retry: %+v, want it let through", r.Verdict)
	}
	// Once past the greylist rule, the rules after it still decide.
	attempt("192.0.2.7", "", "nobody@example.com")
	if r := attempt("192.0.2.7", "", "nobody@example.com"); r.Verdict == nil || r.Verdict.Rule != "no-such-user" {
		t.Errorf("retry to a rejected recipient: %+v, want no-such-user", r.Verdict)
	}
	calls := g.calls
	for _, tc := range []struct{ ip, auth string }{{"10.1.2.3", ""}, {"192.0.2.9", "alice"}} {
		if r := attempt(tc.ip, tc.auth, "carol@example.com"); r.Verdict != nil {
			t.Errorf("exempt client %s/%q greylisted: %+v", tc.ip, tc.auth, r.Verdict)
		}
	}
	if g.calls != calls {
		t.Errorf("exempt clients reached the greylist store (%d lookups)", g.calls-calls)
	}

	g.err = errors.New("state: disk I/O error")
	r = attempt("192.0.2.50", "", "dave@example.com")
	if r.Verdict == nil || !strings.HasPrefix(r.Verdict.Reply.String(), "451 4.3.0") || !strings.Contains(r.Verdict.Reply.String(), "greylist.error") {
		t.Errorf("store failure: %+v, want 451 4.3.0 naming greylist.error", r.Verdict)
	}
	open := runtimeWith(t, greylistRules+"\n[server]\non_error = \"accept\"\n")
	open.Greylister = g
	rt = open
	if r := attempt("192.0.2.50", "", "dave@example.com"); r.Verdict != nil {
		t.Errorf("store failure with on_error = accept: %+v, want it let through", r.Verdict)
	}
}

// TestGreylistPassedAtEOM: a recipient let past the greylist rule at RCPT
// is delivered at end of message, not greylisted again.
func TestGreylistPassedAtEOM(t *testing.T) {
	g := &fakeGreylister{seen: map[string]bool{"192.0.2.7|a@sender.example|bob@example.com": true}}
	rt := runtimeWith(t, greylistRules)
	rt.Greylister = g
	s := NewSession(rt, quiet)
	defer s.Close()
	s.Connect(netip.MustParseAddr("192.0.2.7"), "x")
	s.Helo("x", "", "")
	s.Mail("a@sender.example", "", "", 0)
	if r := s.Rcpt("bob@example.com"); r.Verdict != nil {
		t.Fatalf("rcpt: %+v", r.Verdict)
	}
	hs, body := SplitMessage([]byte("Subject: x\r\n\r\nhi\r\n"))
	for _, h := range hs {
		s.Header(h.Name, h.Value)
	}
	s.EOH()
	_ = s.Body(body)
	res, err := s.EOM()
	if err != nil {
		t.Fatal(err)
	}
	if res.Decision.Action != policy.ActionAccept || len(res.Decision.Deliver) != 1 {
		t.Errorf("decision %+v, want bob delivered", res.Decision)
	}
}
