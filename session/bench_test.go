package session

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/policy"
)

// noop is a check that finds nothing and always runs.
type noop struct {
	name  string
	stage policy.Stage
}

func (c noop) Name() string               { return c.name }
func (c noop) Stage() policy.Stage        { return c.stage }
func (noop) Scope() check.Scope           { return check.ScopeTransaction }
func (noop) Budget() time.Duration        { return time.Second }
func (noop) OnError() check.OnError       { return check.OnErrorSkip }
func (c noop) Findings() []check.Declared { return []check.Declared{{Name: c.name + ".x"}} }
func (noop) Always() string               { return "benchmark" }
func (noop) Run(context.Context, *check.Input) ([]check.Finding, error) {
	return nil, nil
}

// BenchmarkRunnerOverhead drives a whole session (connect to end of
// message, one recipient, a 5 KB message) with no checks and with 20 no-op
// checks at each of the six stages, and reports the cost per check run.
func BenchmarkRunnerOverhead(b *testing.B) {
	msg := []byte("From: a@example.net\r\nTo: bob@example.com\r\nSubject: bench\r\n\r\n" + strings.Repeat("the quick brown fox\r\n", 250))
	hs, body := SplitMessage(msg)
	for _, perStage := range []int{0, 20} {
		b.Run(fmt.Sprintf("checks-per-stage=%d", perStage), func(b *testing.B) {
			var cs []check.Check
			for st := policy.StageConnect; st <= policy.StageEOM; st++ {
				for i := range perStage {
					cs = append(cs, noop{name: fmt.Sprintf("noop%s%d", st, i), stage: st})
				}
			}
			set, err := check.NewSet(cs...)
			if err != nil {
				b.Fatal(err)
			}
			cfg, pol, err := policy.LoadWith("b.toml", []byte("[[rule]]\nname = \"r\"\nsubject = \"^nomatch\"\naction = \"reject\"\n"), set)
			if err != nil {
				b.Fatal(err)
			}
			rt, err := NewRuntime(&Loaded{Config: cfg, Policy: pol, Checks: set}, nil, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			ip := netip.MustParseAddr("198.51.100.1")
			for b.Loop() {
				s := NewSession(rt, quiet)
				s.Connect(ip, "c")
				s.Helo("c", "", "")
				s.Mail("a@example.net", "", "", 0)
				s.Rcpt("bob@example.com")
				for _, h := range hs {
					s.Header(h.Name, h.Value)
				}
				s.EOH()
				_ = s.Body(body)
				if _, err := s.EOM(); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			if perStage > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(6*perStage), "ns/check-run(upper)")
			}
		})
	}
}
