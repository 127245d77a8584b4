package profiler

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/checktest"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/store"
)

var ctx = context.Background()

var t0 = checktest.T0

func load(t *testing.T, src string) *Profiler {
	t.Helper()
	return FromConfig(checktest.Config(t, src))
}

// small has thresholds a test reaches quickly.
const small = `
[profiler]
enabled = true
window = "16m"
block = "30m"
spam = 2
virus = 1
bounce = 3
harvest_invalid = 4
harvest_ratio = 0.5
harvest_min_recipients = 6
`

func trusted(ip netip.Addr) bool { return netip.MustParsePrefix("10.0.0.0/8").Contains(ip) }

// fixture is a profiler on a real state store with a fake clock.
type fixture struct {
	t   *testing.T
	p   *Profiler
	st  *store.Store
	clk *checktest.Clock
	env *check.Env
}

func newFixture(t *testing.T, src string) *fixture {
	st := checktest.OpenState(t, t.TempDir())
	clk := checktest.NewClock(t0)
	return &fixture{t: t, p: load(t, src), st: st, clk: clk, env: &check.Env{Now: clk.Now, State: st, Trusted: trusted}}
}

func (f *fixture) learn(o check.Outcome) {
	f.t.Helper()
	if err := f.p.Learn(ctx, f.env, &o); err != nil {
		f.t.Fatalf("Learn: %v", err)
	}
}

// connect returns the finding at connect from ip as "type: reason", or "".
func (f *fixture) connect(ip string) string {
	f.t.Helper()
	fs, err := f.p.Run(ctx, &check.Input{ClientIP: netip.MustParseAddr(ip), Env: f.env})
	if err != nil {
		f.t.Fatalf("Run: %v", err)
	}
	if len(fs) == 0 {
		return ""
	}
	if len(fs) != 1 || fs[0].Name != Finding {
		f.t.Fatalf("findings %+v", fs)
	}
	return fs[0].Value + ": " + fs[0].Reason
}

// message is the end-of-message outcome of one message from ip whose
// matched rules named finding ("" for none).
func message(ip, sender, finding string) check.Outcome {
	o := check.Outcome{Stage: policy.StageEOM, ClientIP: netip.MustParseAddr(ip), Sender: sender, Action: "accept"}
	if finding != "" {
		o.Action = "quarantine"
		o.Matches = []scanner.Match{{Rule: "r", Stage: "eom", Action: "quarantine", Findings: []scanner.Finding{{Name: finding}}}}
	}
	return o
}

// rcpt is the RCPT outcome of one recipient from ip, invalid or not.
func rcpt(ip string, invalid bool) check.Outcome {
	o := check.Outcome{Stage: policy.StageRcpt, ClientIP: netip.MustParseAddr(ip), Sender: "a@x.example", Rcpt: "b@example.com", Action: "continue"}
	if invalid {
		o.Refused, o.Action = true, "reject"
		o.Findings = []scanner.Finding{{Name: "recipient.unknown", Value: "b@example.com"}}
	}
	return o
}

// TestThresholds: each threat blocks at one past its threshold (the last
// outcome fed), and only its own counts count toward it.
func TestThresholds(t *testing.T) {
	rep := func(n int, o check.Outcome) []check.Outcome {
		var out []check.Outcome
		for range n {
			out = append(out, o)
		}
		return out
	}
	const until = "; blocked until 2025-03-01T12:30:03Z"
	for _, tc := range []struct {
		name string
		ip   string // connecting after the outcomes
		feed []check.Outcome
		want string
	}{
		{"spam", "192.0.2.1", rep(3, message("192.0.2.1", "a@x.example", "spam.high")),
			"spam: 192.0.2.1/32: 3 spam messages in 16m, threshold 2" + until},
		{"gtube is spam", "192.0.2.1", rep(3, message("192.0.2.1", "a@x.example", "content.gtube")),
			"spam: 192.0.2.1/32: 3 spam messages in 16m, threshold 2" + until},
		{"virus", "192.0.2.1", rep(2, message("192.0.2.1", "a@x.example", "virus.eicar")),
			"virus: 192.0.2.1/32: 2 virus messages in 16m, threshold 1" + until},
		// clamav's finding is virus, with no dot.
		{"clamav's virus", "192.0.2.1", rep(2, message("192.0.2.1", "a@x.example", "virus")),
			"virus: 192.0.2.1/32: 2 virus messages in 16m, threshold 1" + until},
		{"bounce", "192.0.2.1", rep(4, message("192.0.2.1", "", "")),
			"bounce: 192.0.2.1/32: 4 bounces (null-sender messages) in 16m, threshold 3" + until},
		// 4 invalid of 5 is at the threshold and under the ratio's sample;
		// the fifth invalid one is past the count.
		{"harvest count", "192.0.2.1", []check.Outcome{rcpt("192.0.2.1", true), rcpt("192.0.2.1", true), rcpt("192.0.2.1", false),
			rcpt("192.0.2.1", true), rcpt("192.0.2.1", true), rcpt("192.0.2.1", true)},
			"harvest: 192.0.2.1/32: 5 invalid recipients of 6 in 16m, threshold 4" + until},
		{"IPv6 by /64", "2001:db8:1:2:ffff::1", rep(3, message("2001:db8:1:2::7", "a@x.example", "spam.x")),
			"spam: 2001:db8:1:2::/64: 3 spam messages in 16m, threshold 2" + until},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, small)
			for i, o := range tc.feed {
				if got := f.connect(tc.ip); got != "" {
					t.Fatalf("blocked after %d: %q", i, got)
				}
				f.learn(o)
			}
			if got := f.connect(tc.ip); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if got := f.connect("192.0.2.2"); got != "" {
				t.Errorf("another address: %q", got)
			}
		})
	}
	// Only its own counts: one of each threat type is under every threshold.
	f := newFixture(t, small)
	for _, o := range []check.Outcome{message("192.0.2.1", "a@x.example", "spam.x"), message("192.0.2.1", "a@x.example", "virus.x"),
		message("192.0.2.1", "", ""), message("192.0.2.1", "", ""), rcpt("192.0.2.1", true), rcpt("192.0.2.1", true)} {
		f.learn(o)
	}
	if got := f.connect("192.0.2.1"); got != "" {
		t.Errorf("counts of different threats added up: %q", got)
	}
}

// TestNotSpam: a clean message, one whose spam finding no matched rule
// used, and a tag-only rule on a finding of another family are no spam.
func TestNotSpam(t *testing.T) {
	f := newFixture(t, small)
	for range 5 {
		f.learn(message("192.0.2.1", "a@x.example", ""))
		o := message("192.0.2.1", "a@x.example", "")
		o.Findings = []scanner.Finding{{Name: "spam.high"}} // seen, but no rule acted on it
		f.learn(o)
		f.learn(message("192.0.2.1", "a@x.example", "spamassassin.like")) // not "spam." ...
	}
	if got := f.connect("192.0.2.1"); got != "" {
		t.Errorf("blocked: %q", got)
	}
}

// TestHarvestRatio: a high share of invalid recipients blocks only once
// the minimum sample is reached, and a low share never does.
func TestHarvestRatio(t *testing.T) {
	f := newFixture(t, `
[profiler]
enabled = true
harvest_invalid = 0
harvest_ratio = 0.5
harvest_min_recipients = 6
`)
	// Five invalid of five: all invalid, but under the sample.
	for range 5 {
		f.learn(rcpt("192.0.2.1", true))
	}
	if got := f.connect("192.0.2.1"); got != "" {
		t.Fatalf("blocked under the minimum sample: %q", got)
	}
	f.learn(rcpt("192.0.2.1", true)) // six of six
	if got := f.connect("192.0.2.1"); !strings.HasPrefix(got, "harvest: 192.0.2.1/32: 6 invalid recipients of 6 in 1h (100%), threshold 50% of at least 6;") {
		t.Errorf("six of six: %q", got)
	}
	// Another client: valid recipients keep the share under a half.
	for i := range 40 {
		f.learn(rcpt("192.0.2.9", i%3 == 0)) // one in three invalid
	}
	if got := f.connect("192.0.2.9"); got != "" {
		t.Errorf("one in three invalid blocked: %q", got)
	}
	// A valid recipient after invalid ones is counted, but judged only
	// when an invalid one comes: 3 invalid, 3 valid, then one invalid is
	// 4 of 7.
	for i := range 6 {
		f.learn(rcpt("192.0.2.20", i < 3))
	}
	f.learn(rcpt("192.0.2.20", true))
	if got := f.connect("192.0.2.20"); !strings.Contains(got, "4 invalid recipients of 7 in 1h (57%)") {
		t.Errorf("4 of 7: %q", got)
	}
}

// TestDecay: counts leave the window, so a slow trickle never blocks.
func TestDecay(t *testing.T) {
	f := newFixture(t, small) // spam = 2 in 16m
	for range 10 {
		f.learn(message("192.0.2.1", "a@x.example", "spam.x"))
		f.clk.Advance(10 * time.Minute) // at most two in any window
	}
	if got := f.connect("192.0.2.1"); got != "" {
		t.Errorf("a spam every 10 minutes blocked: %q", got)
	}
	st, err := f.p.Show(ctx, f.st, netip.MustParseAddr("192.0.2.1"), f.clk.Now())
	if err != nil || st.Counts[Spam] < 1 || st.Counts[Spam] > 2 || st.Blocked != nil {
		t.Errorf("status %+v, %v; want 1 or 2 spam in the window and no block", st, err)
	}
}

// TestBlockLifecycle: a block survives a restart, ends after block, and an
// unblock lifts it and forgets the counts.
func TestBlockLifecycle(t *testing.T) {
	dir := t.TempDir()
	st := checktest.OpenState(t, dir)
	clk := checktest.NewClock(t0)
	p := load(t, small)
	env := &check.Env{Now: clk.Now, State: st}
	for range 3 {
		if err := p.Learn(ctx, env, ptr(message("192.0.2.1", "a@x.example", "spam.x"))); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st = checktest.OpenState(t, dir)
	env.State = st
	connect := func() string {
		fs, err := p.Run(ctx, &check.Input{ClientIP: netip.MustParseAddr("192.0.2.1"), Env: env})
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) == 0 {
			return ""
		}
		return fs[0].Value
	}
	if got := connect(); got != Spam {
		t.Fatalf("after a restart: %q, want the spam block", got)
	}
	list, err := List(ctx, st, "", 10, clk.Now())
	if err != nil || len(list) != 1 || list[0].Network.String() != "192.0.2.1/32" || list[0].Count != 3 || list[0].Window != "16m" ||
		!list[0].Since.Equal(t0) || !list[0].Until.Equal(t0.Add(30*time.Minute)) {
		t.Errorf("List = %+v, %v", list, err)
	}
	clk.Advance(30 * time.Minute)
	if got := connect(); got != "" {
		t.Errorf("after the block time: %q", got)
	}

	// Blocked again, then unblocked.
	for range 3 {
		if err := p.Learn(ctx, env, ptr(message("192.0.2.1", "a@x.example", "spam.x"))); err != nil {
			t.Fatal(err)
		}
	}
	if got := connect(); got != Spam {
		t.Fatalf("blocked again: %q", got)
	}
	net, was, err := p.Unblock(ctx, st, netip.MustParseAddr("192.0.2.1"), clk.Now())
	if err != nil || !was || net.String() != "192.0.2.1/32" {
		t.Fatalf("Unblock: %v %v %v", net, was, err)
	}
	if got := connect(); got != "" {
		t.Errorf("after unblock: %q", got)
	}
	if err := p.Learn(ctx, env, ptr(message("192.0.2.1", "a@x.example", "spam.x"))); err != nil {
		t.Fatal(err)
	}
	if got := connect(); got != "" {
		t.Errorf("the next spam after an unblock blocked again: %q (counts not forgotten)", got)
	}
	if _, was, err := p.Unblock(ctx, st, netip.MustParseAddr("192.0.2.1"), clk.Now()); err != nil || was {
		t.Errorf("unblocking an address not blocked: %v %v", was, err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestNotProfiled: trusted networks, authenticated sessions and clients
// without an address are never counted, and a disabled profiler neither
// learns nor reports.
func TestNotProfiled(t *testing.T) {
	f := newFixture(t, small)
	for range 5 {
		f.learn(message("10.1.2.3", "a@x.example", "spam.x"))
		o := message("192.0.2.1", "a@x.example", "spam.x")
		o.AuthUser = "alice"
		f.learn(o)
		f.learn(check.Outcome{Stage: policy.StageEOM, Sender: ""})
	}
	if got := f.connect("10.1.2.3") + f.connect("192.0.2.1"); got != "" {
		t.Errorf("blocked: %q", got)
	}
	if es, _ := f.st.ListEntries(ctx, BlockNamespace, "", 10, f.clk.Now()); len(es) != 0 {
		t.Errorf("blocks: %+v", es)
	}

	off := newFixture(t, strings.Replace(small, "enabled = true", "enabled = false", 1))
	for range 5 {
		off.learn(message("192.0.2.1", "a@x.example", "spam.x"))
	}
	if n, _ := off.st.Count(ctx, counter(Spam, netip.MustParsePrefix("192.0.2.1/32")), 16*time.Minute, off.clk.Now()); n != 0 {
		t.Errorf("a disabled profiler counted %d", n)
	}
	if _, always := off.p.Check().(check.Always); always {
		t.Error("a disabled profiler runs always")
	}
	if _, always := f.p.Check().(check.Always); !always {
		t.Error("an enabled profiler does not run always")
	}
	if _, learns := f.p.Check().(check.Learner); !learns {
		t.Error("the profiler's check is no learner")
	}
}

// TestNoState: without a store a dry run reports nothing; a live session
// fails.
func TestNoState(t *testing.T) {
	p := load(t, small)
	in := &check.Input{ClientIP: netip.MustParseAddr("192.0.2.1"), Env: &check.Env{DryRun: true}}
	if fs, err := p.Run(ctx, in); err != nil || len(fs) != 0 {
		t.Errorf("dry run without a store: %v, %v", fs, err)
	}
	in.Env = &check.Env{}
	if _, err := p.Run(ctx, in); !errors.Is(err, check.ErrNoState) {
		t.Errorf("live run without a store: %v", err)
	}
	if err := p.Learn(ctx, &check.Env{}, ptr(message("192.0.2.1", "", ""))); !errors.Is(err, check.ErrNoState) {
		t.Errorf("learning without a store: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	p := load(t, "[profiler]\nenabled = true\n")
	c := p.c
	if c.Window.D != time.Hour || c.Block.D != time.Hour || c.Spam != 20 || c.Virus != 10 || c.HarvestInvalid != 25 ||
		c.HarvestRatio != 0.9 || c.HarvestMinRecipients != 20 || c.Bounce != 30 || c.IPv4Prefix != 32 || c.IPv6Prefix != 64 ||
		strings.Join(c.SpamFindings, " ") != "spam.* content.gtube" || strings.Join(c.VirusFindings, " ") != "virus virus.*" ||
		strings.Join(c.HarvestFindings, " ") != "recipient.unknown" {
		t.Errorf("defaults %+v", c)
	}
}

func TestConfigProblems(t *testing.T) {
	src := `[profiler]
enabled = true
window = "0s"
block = "forever"
spam = -1
harvest_ratio = 1.5
harvest_min_recipients = 0
spam_findings = ["spam.*", "", "spam*", "a b"]
ipv6_prefix = 129
treshold = 3
`
	_, rep, err := config.Decode("t.toml", []byte(src))
	if err == nil {
		err = rep.Err()
	}
	want := `t.toml:3: profiler.window: must be longer than 0s (hint: e.g. 1h)
t.toml:4: profiler.block: "forever" is not a duration (use e.g. 30s, 5m, 2h or 90d)
t.toml:5: profiler.spam: must not be negative (hint: 0 switches it off)
t.toml:6: profiler.harvest_ratio: 1.5 is not between 0 and 1 (hint: a share such as 0.9; 0 switches it off)
t.toml:7: profiler.harvest_min_recipients: must be at least 1 with a harvest_ratio (hint: e.g. 20, so that one mistyped address is no harvest)
t.toml:8: profiler.spam_findings[1]: "" is not a finding name (hint: a finding name, or a family as "spam.*")
t.toml:8: profiler.spam_findings[2]: "spam*" is not a finding name (hint: a finding name, or a family as "spam.*")
t.toml:8: profiler.spam_findings[3]: "a b" is not a finding name (hint: a finding name, or a family as "spam.*")
t.toml:9: profiler.ipv6_prefix: 129 is not an IPv6 prefix length (hint: 1 to 128; 64 profiles each /64)
t.toml:10: profiler.treshold: unknown key`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

// TestKnownHost: a known host (a relay in front) is never profiled nor
// looked up; the message's first untrusted hop is, when the session names
// it.
func TestKnownHost(t *testing.T) {
	f := newFixture(t, small)
	relay := netip.MustParsePrefix("198.51.100.0/24")
	f.env.KnownHost = relay.Contains
	for range 3 {
		f.learn(message("198.51.100.10", "a@x.example", "spam.x")) // no origin found
		o := message("198.51.100.10", "a@x.example", "spam.x")
		o.Origin = netip.MustParseAddr("203.0.113.9")
		f.learn(o)
	}
	if es, _ := f.st.ListEntries(ctx, BlockNamespace, "", 10, f.clk.Now()); len(es) != 1 || es[0].Key != "203.0.113.9/32" {
		t.Errorf("blocks %+v, want the origin's only", es)
	}
	if got := f.connect("198.51.100.10"); got != "" {
		t.Errorf("the relay: %q", got)
	}
	// The runner gives the check the origin as the client at end of headers.
	if got := f.connect("203.0.113.9"); !strings.HasPrefix(got, "spam: 203.0.113.9/32: 3 spam messages") {
		t.Errorf("the origin: %q", got)
	}
	if !f.p.JudgesClient() {
		t.Error("the profiler does not judge the client")
	}
}
