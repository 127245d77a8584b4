package session

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/policy"
)

// listCheck is a fake connection-scoped reputation check: it lists
// 192.0.2.0/24 and counts its runs; fail makes it err, boom panic.
type listCheck struct {
	runs       atomic.Int32
	fail, boom bool
	onError    check.OnError
}

func (*listCheck) Name() string               { return "fakelist" }
func (*listCheck) Stage() policy.Stage        { return policy.StageConnect }
func (*listCheck) Scope() check.Scope         { return check.ScopeConnection }
func (*listCheck) Budget() time.Duration      { return time.Second }
func (c *listCheck) OnError() check.OnError   { return c.onError }
func (*listCheck) Findings() []check.Declared { return []check.Declared{{Name: "fakelist.listed"}} }
func (c *listCheck) Run(_ context.Context, in *check.Input) ([]check.Finding, error) {
	c.runs.Add(1)
	switch {
	case c.boom:
		panic("fakelist bug")
	case c.fail:
		return nil, errors.New("list server down")
	case netip.MustParsePrefix("192.0.2.0/24").Contains(in.ClientIP):
		return []check.Finding{{Name: "fakelist.listed", Value: in.ClientIP.String(), Where: "client"}}, nil
	}
	return nil, nil
}

func runtimeWith(t *testing.T, config string, cs ...check.Check) *Runtime {
	t.Helper()
	set, err := check.NewSet(cs...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, pol, err := policy.LoadWith("test.toml", []byte(config), set)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewRuntime(&Loaded{Config: cfg, Policy: pol, Checks: set}, nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const listedRule = `
[[rule]]
name = "listed"
findings = ["fakelist.listed"]
senders_except = ["*@partner.example"]
action = "reject"
reply = "554 5.7.1 Listed"
`

// TestConnectionCheck: a connection-scoped finding is computed once per
// connection, kept across its transactions, and a rule on it with a sender
// exception is decided at MAIL.
func TestConnectionCheck(t *testing.T) {
	c := &listCheck{onError: check.OnErrorTempfail}
	rt := runtimeWith(t, listedRule, c)
	if st := rt.Policy.Rules[0].Stage; st != policy.StageMail {
		t.Fatalf("rule decided %v, want mail", st)
	}
	s := NewSession(rt, quiet)
	defer s.Close()
	if r := s.Connect(netip.MustParseAddr("192.0.2.7"), "x"); r.Verdict != nil {
		t.Fatalf("decided at connect: %+v", r.Verdict)
	}
	s.Helo("x", "", "")
	for _, tc := range []struct {
		from   string
		reject bool
	}{{"a@else.example", true}, {"b@partner.example", false}, {"c@else.example", true}} {
		r := s.Mail(tc.from, "", "", 0)
		if (r.Verdict != nil) != tc.reject {
			t.Errorf("%s: verdict %+v, want reject %v", tc.from, r.Verdict, tc.reject)
		}
		if tc.reject && !strings.Contains(r.Verdict.Reply.String(), "rule listed: fakelist.listed") {
			t.Errorf("reply %q", r.Verdict.Reply.String())
		}
	}
	if n := c.runs.Load(); n != 1 {
		t.Errorf("the connection-scoped check ran %d times over 3 transactions, want 1", n)
	}
}

// TestCheckFailure: a failing check with on_error tempfail answers 451
// naming it at the first stage that needs it; with skip, the rules see
// check.error and go on; a panic is a failure like any other.
func TestCheckFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		c        *listCheck
		tempfail bool
	}{
		{"error, tempfail", &listCheck{fail: true, onError: check.OnErrorTempfail}, true},
		{"panic, tempfail", &listCheck{boom: true, onError: check.OnErrorTempfail}, true},
		{"error, skip", &listCheck{fail: true, onError: check.OnErrorSkip}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := runtimeWith(t, listedRule+`
[[rule]]
name = "tag-errors"
findings = ["check.error"]
add_headers = ["X-Check-Error: yes"]
`, tc.c)
			s := NewSession(rt, quiet)
			defer s.Close()
			s.Connect(netip.MustParseAddr("192.0.2.7"), "x")
			s.Helo("x", "", "")
			r := s.Mail("a@else.example", "", "", 0)
			if tc.tempfail {
				if r.Verdict == nil || r.Verdict.Reply.Code != 451 || !strings.Contains(r.Verdict.Reply.String(), "rule check.fakelist: check.error") {
					t.Fatalf("verdict %+v, want 451 naming check.fakelist", r.Verdict)
				}
				return
			}
			if r.Verdict != nil {
				t.Fatalf("a skipped failure decided: %+v", r.Verdict)
			}
			s.Rcpt("bob@example.com")
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
			if !slices.Contains(res.Decision.AddHeaders, policy.HeaderField{Name: "X-Check-Error", Value: "yes"}) {
				t.Errorf("rules did not see check.error: %+v (findings %+v)", res.Decision, res.Findings)
			}
		})
	}
}
