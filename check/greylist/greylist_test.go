package greylist

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/checktest"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/store"
)

var ctx = context.Background()

var t0 = checktest.T0

func load(t *testing.T, src string) *Greylister {
	t.Helper()
	return FromConfig(checktest.Config(t, src))
}

// fixture is a greylister with the default settings unless src says
// otherwise, on a real store, with a fake clock.
type fixture struct {
	t   *testing.T
	g   *Greylister
	st  *store.Store
	clk *checktest.Clock
	env *check.Env
}

func newFixture(t *testing.T, src string) *fixture {
	st := checktest.OpenState(t, t.TempDir())
	clk := checktest.NewClock(t0)
	return &fixture{t: t, g: load(t, src), st: st, clk: clk, env: &check.Env{Now: clk.Now, State: st}}
}

// try makes an attempt at t0+at and returns "pass (why)" or "defer WAIT (why)".
func (f *fixture) try(at time.Duration, ip, sender, rcpt string) string {
	f.t.Helper()
	f.clk.Set(t0.Add(at))
	r, err := f.g.Check(ctx, f.env, netip.MustParseAddr(ip), sender, rcpt)
	if err != nil {
		f.t.Fatalf("Check: %v", err)
	}
	return describe(r)
}

func describe(r Result) string {
	if r.Pass {
		return "pass (" + r.Why + ")"
	}
	return fmt.Sprintf("defer %s (%s)", r.Wait, r.Why)
}

// TestTriplet walks one triplet and its neighbours through time with the
// default settings.
func TestTriplet(t *testing.T) {
	f := newFixture(t, "")
	const a, b = "a@sender.example", "bob@example.com"
	m := time.Minute
	for _, s := range []struct {
		at       time.Duration
		ip       string
		from, to string
		want     string
	}{
		{0, "192.0.2.7", a, b, "defer 5m0s (new triplet)"},
		{2 * m, "192.0.2.7", a, b, "defer 3m0s (retried before the delay)"},
		{2 * m, "192.0.2.7", a, "carol@example.com", "defer 5m0s (new triplet)"},                        // another recipient
		{2 * m, "198.51.100.1", a, b, "defer 5m0s (new triplet)"},                                       // another network
		{5 * m, "192.0.2.200", "A@Sender.Example", "Bob@Example.com", "pass (retried after the delay)"}, // same /24, case aside
		{6 * m, "192.0.2.7", a, b, "pass (triplet passed before)"},
		{6 * m, "2001:db8:1:2::1", "", b, "defer 5m0s (new triplet)"},
		{12 * m, "2001:db8:1:2:ffff::9", "<>", b, "pass (retried after the delay)"}, // the null sender, same /64
		{12 * m, "2001:db8:1:3::1", "", b, "defer 5m0s (new triplet)"},              // another /64
	} {
		if got := f.try(s.at, s.ip, s.from, s.to); got != s.want {
			t.Errorf("t0+%v %s %s -> %s: %s, want %s", s.at, s.ip, s.from, s.to, got, s.want)
		}
	}
	// A client without an address (a local pipe) is not greylisted.
	if r, err := f.g.Check(ctx, f.env, netip.Addr{}, a, b); err != nil || !r.Pass || r.Why != WhyNoAddress {
		t.Errorf("no address: %+v, %v", r, err)
	}
}

// TestExpiry: a triplet that does not retry within expiry starts over; a
// passed one lasts pass_ttl from its last use.
func TestExpiry(t *testing.T) {
	f := newFixture(t, "[greylist]\nexpiry = \"4h\"\npass_ttl = \"10d\"\nauto_allow_after = 0\n")
	const ip, a, b = "192.0.2.7", "a@sender.example", "bob@example.com"
	h, d := time.Hour, 24*time.Hour
	for _, s := range []struct {
		at   time.Duration
		want string
	}{
		{0, "defer 5m0s (new triplet)"},
		{4 * h, "defer 5m0s (new triplet)"}, // expired: starts over
		{4*h + 4*time.Minute, "defer 1m0s (retried before the delay)"},
		{4*h + 5*time.Minute, "pass (retried after the delay)"},
		{9 * d, "pass (triplet passed before)"},          // within pass_ttl; extends it
		{18 * d, "pass (triplet passed before)"},         // 9d after its last use
		{28*d + time.Second, "defer 5m0s (new triplet)"}, // 10d after: gone
		{28*d + 5*time.Minute, "defer 1s (retried before the delay)"},
	} {
		if got := f.try(s.at, ip, a, b); got != s.want {
			t.Errorf("t0+%v: %s, want %s", s.at, got, s.want)
		}
	}
}

// TestAutoAllow: after auto_allow_after passed triplets the network and
// sender domain skip greylisting, for any recipient and any address of
// the domain, and no other pair does.
func TestAutoAllow(t *testing.T) {
	f := newFixture(t, "[greylist]\nauto_allow_after = 2\n")
	m := time.Minute
	for i, rcpt := range []string{"r1@example.com", "r2@example.com"} {
		from := fmt.Sprintf("bounce-%d@list.example", i) // VERP: a new address each time
		at := time.Duration(i) * 10 * m
		if got := f.try(at, "192.0.2.7", from, rcpt); got != "defer 5m0s (new triplet)" {
			t.Fatalf("pass %d, first attempt: %s", i, got)
		}
		if got := f.try(at+5*m, "192.0.2.7", from, rcpt); got != "pass (retried after the delay)" {
			t.Fatalf("pass %d, retry: %s", i, got)
		}
	}
	for _, s := range []struct {
		ip, from, to, want string
	}{
		{"192.0.2.8", "other@LIST.example", "new@example.com", "pass (network and sender domain allowed automatically)"},
		{"192.0.2.8", "a@other.example", "new@example.com", "defer 5m0s (new triplet)"},
		{"198.51.100.1", "x@list.example", "new@example.com", "defer 5m0s (new triplet)"},
	} {
		if got := f.try(30*m, s.ip, s.from, s.to); got != s.want {
			t.Errorf("%s %s -> %s: %s, want %s", s.ip, s.from, s.to, got, s.want)
		}
	}
}

// TestConcurrent: of concurrent first attempts exactly one is the new
// triplet, and of concurrent retries the confirmation counts once toward
// the automatic allow.
func TestConcurrent(t *testing.T) {
	f := newFixture(t, "[greylist]\nauto_allow_after = 2\n")
	run := func() map[string]int {
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := f.g.Check(ctx, f.env, netip.MustParseAddr("192.0.2.7"), "a@sender.example", "bob@example.com")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[describe(r)]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		return got
	}
	if got := run(); got["defer 5m0s (new triplet)"] != 1 || got["defer 5m0s (retried before the delay)"] != 7 {
		t.Errorf("concurrent first attempts: %v", got)
	}
	f.clk.Set(t0.Add(5 * time.Minute))
	if got := run(); got["pass (retried after the delay)"]+got["pass (triplet passed before)"] != 8 {
		t.Errorf("concurrent retries: %v", got)
	}
	n, err := f.st.Count(ctx, check.StateKey(counterPairs, check.StateKey("192.0.2.0/24", "sender.example")), 35*24*time.Hour, f.clk.Now())
	if err != nil || n != 1 {
		t.Errorf("passes counted toward the automatic allow: %d, %v; want 1", n, err)
	}
}

// TestDryRun: a dry run answers from the state and writes nothing.
func TestDryRun(t *testing.T) {
	f := newFixture(t, "")
	dry := &check.Env{Now: f.clk.Now, State: f.st, DryRun: true}
	try := func(at time.Duration, env *check.Env) string {
		t.Helper()
		f.clk.Set(t0.Add(at))
		r, err := f.g.Check(ctx, env, netip.MustParseAddr("192.0.2.7"), "a@sender.example", "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		return describe(r)
	}
	entries := func() int {
		t.Helper()
		n := 0
		for _, ns := range []string{NamespacePending, NamespacePass, NamespaceAllow} {
			es, err := f.st.ListEntries(ctx, ns, "", 100, f.clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			n += len(es)
		}
		return n
	}
	if got := try(0, dry); got != "defer 5m0s (new triplet)" || entries() != 0 {
		t.Errorf("dry first attempt: %s, %d entries stored", got, entries())
	}
	if got := try(10*time.Minute, dry); got != "defer 5m0s (new triplet)" {
		t.Errorf("dry retry: %s; the dry first attempt was recorded", got)
	}
	try(10*time.Minute, f.env) // a real first attempt
	if got := try(12*time.Minute, dry); got != "defer 3m0s (retried before the delay)" {
		t.Errorf("dry early retry: %s", got)
	}
	if got := try(15*time.Minute, dry); got != "pass (retried after the delay)" {
		t.Errorf("dry retry after the delay: %s", got)
	}
	if got := try(16*time.Minute, f.env); got != "pass (retried after the delay)" {
		t.Errorf("a live retry after the dry one: %s; the dry run confirmed the triplet", got)
	}
	if _, err := f.g.Check(ctx, &check.Env{DryRun: true}, netip.MustParseAddr("192.0.2.7"), "", "b@example.com"); err != nil {
		t.Errorf("dry run without a store: %v", err)
	}
	if _, err := f.g.Check(ctx, &check.Env{}, netip.MustParseAddr("192.0.2.7"), "", "b@example.com"); !errors.Is(err, check.ErrNoState) {
		t.Errorf("live run without a store: %v, want ErrNoState", err)
	}
}

// TestGreylistMethod: the session's interface gives the same answer.
func TestGreylistMethod(t *testing.T) {
	f := newFixture(t, "")
	pass, wait, err := f.g.Greylist(ctx, f.env, netip.MustParseAddr("192.0.2.7"), "", "b@example.com")
	if err != nil || pass || wait != 5*time.Minute {
		t.Errorf("Greylist = %v %v %v", pass, wait, err)
	}
}

func TestDefaults(t *testing.T) {
	g := load(t, "")
	if g.c != Defaults() {
		t.Fatalf("no [greylist]: %+v", g.c)
	}
	c := Defaults()
	if c.Delay.D != 5*time.Minute || c.Expiry.D != 24*time.Hour || c.PassTTL.D != 35*24*time.Hour || c.AutoAllowAfter != 5 ||
		c.IPv4Prefix != 24 || c.IPv6Prefix != 64 {
		t.Errorf("defaults %+v", c)
	}
}

func TestConfigProblems(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`[greylist]
delay = "10m"
expiry = "5m"
auto_allow_after = -1
ipv4_prefix = 0
ipv6_prefix = 200
`, `t.toml:3: greylist.expiry: 5m is not longer than the delay (10m): no retry could pass (hint: a day or so: MTAs retry for days)
t.toml:4: greylist.auto_allow_after: must not be negative (hint: 0 never allows automatically)
t.toml:5: greylist.ipv4_prefix: 0 is not an IPv4 prefix length (hint: 1 to 32; 24 treats each /24 as one client)
t.toml:6: greylist.ipv6_prefix: 200 is not an IPv6 prefix length (hint: 1 to 128; 64 treats each /64 as one client)`},
		{`[greylist]
delay = "0s"
pass_ttl = "a month"
dealy = "5m"
`, `t.toml:2: greylist.delay: must be longer than 0s
t.toml:3: greylist.pass_ttl: "a month" is not a duration (use e.g. 30s, 5m, 2h or 90d)
t.toml:4: greylist.dealy: unknown key (hint: did you mean greylist.delay?)`},
	} {
		_, rep, err := config.Decode("t.toml", []byte(tc.src))
		if err == nil {
			err = rep.Err()
		}
		if err == nil || err.Error() != tc.want {
			t.Errorf("got\n%v\nwant\n%s", err, tc.want)
		}
	}
}

// interleaved is a state store that runs between once, the first time a
// pass entry is looked up and not found: another session's attempt slotted
// in between this attempt's lookups.
type interleaved struct {
	store.State
	between func()
	done    bool
}

func (s *interleaved) GetEntry(ctx context.Context, ns, key string, now time.Time) (store.Entry, error) {
	e, err := s.State.GetEntry(ctx, ns, key, now)
	if ns == NamespacePass && errors.Is(err, store.ErrNotFound) && !s.done {
		s.done = true
		s.between()
	}
	return e, err
}

// TestRetryConfirmedMeanwhile: a retry after the delay whose pass lookup
// misses while a concurrent retry confirms the triplet (pass entry written,
// pending entry deleted) passes too; it is not taken for a new triplet.
func TestRetryConfirmedMeanwhile(t *testing.T) {
	f := newFixture(t, "")
	ip := netip.MustParseAddr("192.0.2.7")
	if got := f.try(0, "192.0.2.7", "a@sender.example", "bob@example.com"); got != "defer 5m0s (new triplet)" {
		t.Fatalf("first attempt: %s", got)
	}
	f.clk.Set(t0.Add(6 * time.Minute))
	st := &interleaved{State: f.st}
	st.between = func() {
		r, err := f.g.Check(ctx, f.env, ip, "a@sender.example", "bob@example.com")
		if err != nil || describe(r) != "pass (retried after the delay)" {
			t.Errorf("the other retry: %s, %v", describe(r), err)
		}
	}
	r, err := f.g.Check(ctx, &check.Env{Now: f.clk.Now, State: st}, ip, "a@sender.example", "bob@example.com")
	if err != nil || !r.Pass {
		t.Errorf("retry while another confirmed the triplet: %s, %v; want pass", describe(r), err)
	}
	if _, err := f.st.GetEntry(ctx, NamespacePending, check.StateKey("192.0.2.0/24", "a@sender.example", "bob@example.com"), f.clk.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pending entry left behind: %v", err)
	}
}
