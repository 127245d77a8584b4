package check

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/policy"
)

// fake is a check whose behaviour a test sets.
type fake struct {
	name    string
	stage   policy.Stage
	scope   Scope
	decl    []Declared
	budget  time.Duration
	onError OnError
	always  string
	calls   atomic.Int32
	run     func(ctx context.Context, in *Input) ([]Finding, error)
}

func (f *fake) Name() string          { return f.name }
func (f *fake) Stage() policy.Stage   { return f.stage }
func (f *fake) Scope() Scope          { return f.scope }
func (f *fake) Findings() []Declared  { return f.decl }
func (f *fake) Budget() time.Duration { return max(f.budget, time.Second) }
func (f *fake) OnError() OnError      { return f.onError }
func (f *fake) Run(ctx context.Context, in *Input) ([]Finding, error) {
	f.calls.Add(1)
	if f.run != nil {
		return f.run(ctx, in)
	}
	return []Finding{{Name: f.decl[0].Name, Value: in.Rcpt}}, nil
}

type alwaysFake struct{ *fake }

func (a alwaysFake) Always() string { return a.always }

func newFake(name string, stage policy.Stage, scope Scope) *fake {
	return &fake{name: name, stage: stage, scope: scope, decl: []Declared{{Name: name + ".hit"}}, onError: OnErrorTempfail}
}

func mustSet(t *testing.T, cs ...Check) *Set {
	t.Helper()
	s, err := NewSet(cs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func names(fs []Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name+"="+f.Value)
	}
	return strings.Join(out, " ")
}

// TestScopes: a connection-scoped check runs once per connection, a
// transaction-scoped one once per message whatever the recipients, and a
// recipient-scoped one per recipient, whose findings only that recipient's
// rules see.
func TestScopes(t *testing.T) {
	conn := newFake("conn", policy.StageConnect, ScopeConnection)
	tx := newFake("tx", policy.StageMail, ScopeTransaction)
	rc := newFake("rc", policy.StageRcpt, ScopeRecipient)
	set := mustSet(t, conn, tx, rc)
	r := NewRunner(set, map[string]policy.Stage{"conn.hit": policy.StageConnect, "tx.hit": policy.StageMail, "rc.hit": policy.StageRcpt})
	u := r.NewRun(&Env{})
	defer u.Close()
	u.Start(policy.StageConnect, &Input{})
	for range 2 { // two transactions on one connection
		u.ResetTx()
		u.Start(policy.StageMail, &Input{})
		for _, rcpt := range []string{"a@x", "b@x", "c@x"} {
			u.StartRcpt(policy.StageRcpt, rcpt, &Input{})
			if f := u.Await(policy.StageRcpt, rcpt); f != nil {
				t.Fatal(f.Err)
			}
		}
		if got, want := names(u.Findings("b@x")), "conn.hit= tx.hit= rc.hit=b@x"; got != want {
			t.Errorf("b@x sees %q, want %q", got, want)
		}
	}
	if conn.calls.Load() != 1 || tx.calls.Load() != 2 || rc.calls.Load() != 6 {
		t.Errorf("runs: connection %d (want 1), transaction %d (want 2), recipient %d (want 6)",
			conn.calls.Load(), tx.calls.Load(), rc.calls.Load())
	}
}

// TestConcurrent: a stage's checks run at once. Each waits for the other to
// have started, which only happens if they run concurrently.
func TestConcurrent(t *testing.T) {
	started := make(chan string, 2)
	barrier := func(ctx context.Context, in *Input) ([]Finding, error) {
		started <- "x"
		for len(started) < 2 {
			select {
			case <-ctx.Done():
				return nil, errors.New("the other check never started")
			case <-time.After(time.Millisecond):
			}
		}
		return nil, nil
	}
	a, b := newFake("a", policy.StageEOM, ScopeTransaction), newFake("b", policy.StageEOM, ScopeTransaction)
	a.run, b.run = barrier, barrier
	a.budget, b.budget = 10*time.Second, 10*time.Second
	r := NewRunner(mustSet(t, a, b), map[string]policy.Stage{"a.hit": policy.StageEOM, "b.hit": policy.StageEOM})
	u := r.NewRun(&Env{})
	defer u.Close()
	u.Start(policy.StageEOM, &Input{})
	if f := u.Await(policy.StageEOM, ""); f != nil {
		t.Fatal(f.Err)
	}
}

// TestFailures: an error, a spent budget and a panic each give check.error
// naming the check; tempfail checks return a Failure, skip ones do not.
func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		run     func(ctx context.Context, in *Input) ([]Finding, error)
		onError OnError
		reason  string
	}{
		{"error", func(context.Context, *Input) ([]Finding, error) { return nil, errors.New("scanner down") }, OnErrorTempfail, "scanner down"},
		{"timeout", func(ctx context.Context, _ *Input) ([]Finding, error) { <-ctx.Done(); return nil, nil }, OnErrorTempfail, "time budget"},
		{"panic", func(context.Context, *Input) ([]Finding, error) { panic("boom") }, OnErrorTempfail, "panicked: boom"},
		{"skip", func(context.Context, *Input) ([]Finding, error) { return nil, errors.New("down") }, OnErrorSkip, "down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFake("c", policy.StageEOM, ScopeTransaction)
			c.run, c.onError, c.budget = tc.run, tc.onError, time.Millisecond
			r := NewRunner(mustSet(t, c), map[string]policy.Stage{"c.hit": policy.StageEOM})
			u := r.NewRun(&Env{})
			defer u.Close()
			u.Start(policy.StageEOM, &Input{})
			f := u.Await(policy.StageEOM, "")
			if (f != nil) != (tc.onError == OnErrorTempfail) {
				t.Fatalf("failure %+v with on_error %s", f, tc.onError)
			}
			fs := u.Findings("")
			if len(fs) != 1 || fs[0].Name != FindingError || fs[0].Value != "c" || !strings.Contains(fs[0].Reason, tc.reason) {
				t.Errorf("findings %+v: want check.error for c, %q", fs, tc.reason)
			}
		})
	}
}

// TestSkipUnused: a check no rule uses never runs; one that runs always
// does; a check is awaited at the first stage whose rules need it, not
// where it starts.
func TestSkipUnused(t *testing.T) {
	unused := newFake("unused", policy.StageMail, ScopeTransaction)
	always := alwaysFake{newFake("always", policy.StageEOM, ScopeTransaction)}
	always.always = "it verifies releases"
	release := make(chan struct{})
	early := newFake("early", policy.StageMail, ScopeTransaction)
	early.budget = 10 * time.Second
	early.run = func(ctx context.Context, _ *Input) ([]Finding, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return []Finding{{Name: "early.hit"}}, nil
	}
	r := NewRunner(mustSet(t, unused, always, early), map[string]policy.Stage{"early.hit": policy.StageEOM})
	var active []string
	for _, a := range r.Active() {
		active = append(active, a.Check.Name()+"@"+a.Await.String()+":"+a.Why)
	}
	if got, want := strings.Join(active, " "), "always@eom:it verifies releases early@eom:rules use early.hit"; got != want {
		t.Errorf("active %q, want %q", got, want)
	}
	u := r.NewRun(&Env{})
	defer u.Close()
	u.Start(policy.StageMail, &Input{})
	if f := u.Await(policy.StageRcpt, ""); f != nil { // must not wait for early
		t.Fatal(f.Err)
	}
	if len(u.Findings("")) != 0 {
		t.Error("a running check contributed findings")
	}
	close(release)
	u.Await(policy.StageEOM, "")
	if got := names(u.Findings("")); got != "early.hit=" {
		t.Errorf("findings %q", got)
	}
	if unused.calls.Load() != 0 {
		t.Error("the unused check ran")
	}
}

func TestSetCatalog(t *testing.T) {
	a := newFake("a", policy.StageConnect, ScopeConnection)
	a.decl = []Declared{{Name: "dnsbl.*"}, {Name: "dnswl.example"}}
	rc := newFake("rc", policy.StageConnect, ScopeRecipient)
	set := mustSet(t, a, rc)
	for _, tc := range []struct {
		name  string
		stage policy.Stage
		ok    bool
	}{{"dnsbl.spamhaus", policy.StageConnect, true}, {"dnswl.example", policy.StageConnect, true},
		{"rc.hit", policy.StageRcpt, true}, {"dnswl.other", 0, false}} {
		st, ok := set.FindingStage(tc.name)
		if ok != tc.ok || st != tc.stage {
			t.Errorf("%s: %v %v, want %v %v", tc.name, st, ok, tc.stage, tc.ok)
		}
	}
	if _, err := NewSet(a, newFake("a", policy.StageEOM, ScopeTransaction)); err == nil {
		t.Error("two checks named a were accepted")
	}
	b := newFake("b", policy.StageEOM, ScopeTransaction)
	b.decl = []Declared{{Name: "dnswl.example"}}
	if _, err := NewSet(a, b); err == nil {
		t.Error("a finding declared twice was accepted")
	}
}

// TestFamilyPatterns checks that a rule's "prefix.*" reaches every check
// declaring a name under it, at the latest of their stages, and activates
// them all.
func TestFamilyPatterns(t *testing.T) {
	zen := newFake("zen", policy.StageConnect, ScopeConnection)
	zen.decl = []Declared{{Name: "dnsbl.zen"}}
	late := newFake("late", policy.StageMail, ScopeTransaction)
	late.decl = []Declared{{Name: "dnsbl.late"}}
	fam := newFake("fam", policy.StageConnect, ScopeConnection)
	fam.decl = []Declared{{Name: "x.*"}}
	other := newFake("other", policy.StageConnect, ScopeConnection)
	other.decl = []Declared{{Name: "dnsblx"}}
	set := mustSet(t, zen, late, fam, other)
	for _, tc := range []struct {
		name  string
		stage policy.Stage
		ok    bool
	}{{"dnsbl.*", policy.StageMail, true}, {"dnsbl.zen", policy.StageConnect, true}, {"x.*", policy.StageConnect, true},
		{"x.y.*", policy.StageConnect, true}, {"y.*", 0, false}, {"dnsbl", 0, false}} {
		st, ok := set.FindingStage(tc.name)
		if ok != tc.ok || st != tc.stage {
			t.Errorf("%s: %v %v, want %v %v", tc.name, st, ok, tc.stage, tc.ok)
		}
	}
	var active []string
	for _, a := range NewRunner(set, map[string]policy.Stage{"dnsbl.*": policy.StageMail}).Active() {
		active = append(active, a.Check.Name())
	}
	if got := strings.Join(active, " "); got != "zen late" {
		t.Errorf("active %q, want zen late", got)
	}
}

// judge is a check that judges the client, as a DNSBL does.
type judge struct{ *fake }

func (judge) JudgesClient() bool { return true }

// TestKnownHostOrigin: on a connection from a known host the client
// judges do not run at connect; StartOrigin runs them on each message's
// origin, once per transaction, awaited at end of headers. Other checks
// and other clients are unaffected.
func TestKnownHostOrigin(t *testing.T) {
	j := judge{newFake("dnsbl", policy.StageConnect, ScopeConnection)}
	j.decl = []Declared{{Name: "dnsbl.zen"}}
	j.run = func(_ context.Context, in *Input) ([]Finding, error) {
		return []Finding{{Name: "dnsbl.zen", Value: in.ClientIP.String()}}, nil
	}
	other := newFake("other", policy.StageConnect, ScopeConnection)
	r := NewRunner(mustSet(t, j, other), map[string]policy.Stage{"dnsbl.zen": policy.StageConnect, "other.hit": policy.StageConnect})
	relay := netip.MustParseAddr("10.0.0.1")
	env := &Env{KnownHost: func(ip netip.Addr) bool { return ip == relay }}

	u := r.NewRun(env)
	defer u.Close()
	u.Start(policy.StageConnect, &Input{ClientIP: relay})
	u.Await(policy.StageConnect, "")
	if got := names(u.Findings("")); got != "other.hit=" {
		t.Fatalf("findings at connect from a known host: %q, want only other.hit", got)
	}
	for i, origin := range []string{"192.0.2.7", "198.51.100.9"} {
		u.ResetTx()
		u.StartOrigin(netip.MustParseAddr(origin), &Input{ClientIP: relay})
		u.Await(policy.StageEOH, "")
		if got := names(u.Findings("")); got != "other.hit= dnsbl.zen="+origin {
			t.Errorf("message %d: findings %q, want the origin judged", i, got)
		}
	}
	if n := j.calls.Load(); n != 2 {
		t.Errorf("the judge ran %d times over 2 messages, want 2", n)
	}

	u2 := r.NewRun(env)
	defer u2.Close()
	u2.Start(policy.StageConnect, &Input{ClientIP: netip.MustParseAddr("203.0.113.5")})
	u2.Await(policy.StageConnect, "")
	if got := names(u2.Findings("")); got != "dnsbl.zen=203.0.113.5 other.hit=" {
		t.Errorf("an ordinary client: %q", got)
	}
}

// TestResetStops: a new transaction stops the checks of the old one (their
// contexts end, and no budget error is recorded for them), and Close stops
// the connection's; a connection check survives ResetTx.
func TestResetStops(t *testing.T) {
	stopped := make(chan string, 4)
	blocking := func(name string, scope Scope) *fake {
		f := newFake(name, policy.StageMail, scope)
		f.budget = time.Hour
		f.run = func(ctx context.Context, _ *Input) ([]Finding, error) {
			<-ctx.Done()
			stopped <- name
			return nil, nil
		}
		return f
	}
	tx, conn := blocking("tx", ScopeTransaction), blocking("conn", ScopeConnection)
	u := NewRunner(mustSet(t, tx, conn), map[string]policy.Stage{"tx.hit": policy.StageEOM, "conn.hit": policy.StageEOM}).NewRun(&Env{})
	u.Start(policy.StageMail, &Input{})
	u.ResetTx()
	select {
	case n := <-stopped:
		if n != "tx" {
			t.Fatalf("ResetTx stopped %s", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ResetTx did not stop the transaction's check")
	}
	u.Close()
	select {
	case n := <-stopped:
		if n != "conn" {
			t.Fatalf("Close stopped %s", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the connection's check")
	}
	for _, f := range u.Findings("") {
		if f.Name == FindingError {
			t.Errorf("a stopped check counts as failed: %+v", f)
		}
	}
}

// learner learns from a finding no rule names.
type learnsFake struct{ *fake }

func (learnsFake) LearnsFrom() []string { return []string{"harvest.hit"} }

// TestLearnsFrom: the check a learner learns from runs, awaited at its own
// stage, though no rule names its finding.
func TestLearnsFrom(t *testing.T) {
	l := learnsFake{newFake("prof", policy.StageConnect, ScopeConnection)}
	h := newFake("harvest", policy.StageRcpt, ScopeRecipient)
	idle := newFake("idle", policy.StageRcpt, ScopeRecipient)
	r := NewRunner(mustSet(t, l, h, idle), map[string]policy.Stage{"prof.hit": policy.StageConnect})
	var got []string
	for _, a := range r.Active() {
		got = append(got, a.Check.Name()+"@"+a.Await.String()+":"+a.Why)
	}
	if s := strings.Join(got, " "); s != "prof@connect:rules use prof.hit harvest@rcpt:prof learns from harvest.hit" {
		t.Errorf("active %q", s)
	}
}

// TestKnownHostRecipientJudges: a recipient-scoped client judge (a
// throttle by ip on recipients) does not count a known host's recipients.
func TestKnownHostRecipientJudges(t *testing.T) {
	j := judge{newFake("rcpt-ip", policy.StageRcpt, ScopeRecipient)}
	r := NewRunner(mustSet(t, j), map[string]policy.Stage{"rcpt-ip.hit": policy.StageRcpt})
	relay := netip.MustParseAddr("10.0.0.1")
	u := r.NewRun(&Env{KnownHost: func(ip netip.Addr) bool { return ip == relay }})
	defer u.Close()
	u.StartRcpt(policy.StageRcpt, "bob@example.com", &Input{ClientIP: relay})
	u.Await(policy.StageRcpt, "bob@example.com")
	if n := j.calls.Load(); n != 0 {
		t.Errorf("the judge ran %d times for a known host's recipient", n)
	}
	u.StartRcpt(policy.StageRcpt, "carol@example.com", &Input{ClientIP: netip.MustParseAddr("192.0.2.1")})
	u.Await(policy.StageRcpt, "carol@example.com")
	if n := j.calls.Load(); n != 1 {
		t.Errorf("the judge ran %d times for an ordinary client's recipient, want 1", n)
	}
}

// TestOverdue: a check that ignores its context is waited for no longer
// than its budget and a grace; it then fails as check.error, and its late
// findings are not used.
func TestOverdue(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stuck := newFake("stuck", policy.StageMail, ScopeTransaction)
	stuck.budget = time.Second // fake's minimum
	stuck.run = func(context.Context, *Input) ([]Finding, error) {
		<-release // ignores ctx
		return []Finding{{Name: "stuck.hit"}}, nil
	}
	u := NewRunner(mustSet(t, stuck), map[string]policy.Stage{"stuck.hit": policy.StageMail}).NewRun(&Env{})
	defer u.Close()
	start := time.Now()
	u.Start(policy.StageMail, &Input{})
	fail := u.Await(policy.StageMail, "")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waited %v for a check with a 1s budget", d)
	}
	if fail == nil || fail.Check != "stuck" || !strings.Contains(fail.Err.Error(), "past its time budget") {
		t.Errorf("failure %+v", fail)
	}
	if got := names(u.Findings("")); got != "check.error=stuck" {
		t.Errorf("findings %q, want check.error naming the check", got)
	}
}
