package throttle

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/checktest"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/store"
)

var ctx = context.Background()

var t0 = checktest.T0

// load decodes a config and returns its throttles, failing on a problem.
func load(t *testing.T, src string) []*Throttle {
	t.Helper()
	cfg, rep, err := config.Decode("t.toml", []byte(src))
	if err == nil {
		err = rep.Err()
	}
	if err != nil {
		t.Fatalf("config:\n%v", err)
	}
	var out []*Throttle
	for _, c := range build(cfg) {
		out = append(out, c.(*Throttle))
	}
	return out
}

func trusted(ip netip.Addr) bool { return netip.MustParsePrefix("10.0.0.0/8").Contains(ip) }

// attempt runs th once for a message from ip and returns its finding's
// reason, or "" for none.
func attempt(t *testing.T, th *Throttle, env *check.Env, in check.Input) string {
	t.Helper()
	in.Env = env
	fs, err := th.Run(ctx, &in)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	switch len(fs) {
	case 0:
		return ""
	case 1:
		if fs[0].Name != th.Finding() {
			t.Fatalf("finding %s, want %s", fs[0].Name, th.Finding())
		}
		return fs[0].Value + ": " + fs[0].Reason
	}
	t.Fatalf("findings %+v", fs)
	return ""
}

func from(ip string) check.Input { return check.Input{ClientIP: netip.MustParseAddr(ip)} }

const ipThrottle = `
[[throttle]]
name = "ip"
key = "ip"
messages = 3
window = "1m"
block = "5m"
`

// TestLimitAndBlock: the limit is reached at the (N+1)th message, the key
// stays blocked for the block time without being counted, its whole /24
// with it and no other network, the block survives a restart (a new store
// handle on the same directory), and once it expires counting starts over.
func TestLimitAndBlock(t *testing.T) {
	dir := t.TempDir()
	st := checktest.OpenState(t, dir)
	th := load(t, ipThrottle)[0]
	clk := checktest.NewClock(t0)
	env := &check.Env{Now: clk.Now, State: st}
	for i := range 3 {
		if got := attempt(t, th, env, from("192.0.2.7")); got != "" {
			t.Fatalf("message %d: %s", i+1, got)
		}
		clk.Advance(time.Second)
	}
	got := attempt(t, th, env, from("192.0.2.7"))
	if want := "192.0.2.0/24: 4 messages in 1m, limit 3; blocked until 2025-03-01T12:05:06Z"; got != want {
		t.Fatalf("4th message: %q\nwant %q", got, want)
	}
	clk.Advance(2 * time.Minute) // the window has moved on; the block holds
	if got := attempt(t, th, env, from("192.0.2.200")); !strings.Contains(got, "blocked until 2025-03-01T12:05:06Z") {
		t.Errorf("another address of the /24 during the block: %q", got)
	}
	if got := attempt(t, th, env, from("192.0.3.1")); got != "" {
		t.Errorf("another /24: %q", got)
	}
	ckey := check.StateKey(FindingPrefix+"ip", Messages, "192.0.2.0/24")
	if n := memoryFor(st).add(ckey, time.Minute, 0, clk.Now()); n != 0 {
		t.Errorf("attempts during the block were counted: %d in the window", n)
	}

	st.Close() // a restart
	st = checktest.OpenState(t, dir)
	env.State = st
	if got := attempt(t, th, env, from("192.0.2.7")); !strings.Contains(got, "4 messages in 1m, limit 3; blocked until") {
		t.Errorf("after a restart: %q, want the block still there", got)
	}
	clk.Set(t0.Add(3*time.Second + 5*time.Minute)) // the block's end
	for i := range 3 {
		if got := attempt(t, th, env, from("192.0.2.7")); got != "" {
			t.Fatalf("after the block, message %d: %s", i+1, got)
		}
	}
	if got := attempt(t, th, env, from("192.0.2.7")); !strings.Contains(got, "4 messages") {
		t.Errorf("4th message after the block: %q", got)
	}
}

// TestWindowSlides: with block = "0s" only the attempts over the limit are
// refused, and once the window has moved past the old ones a key may send
// again.
func TestWindowSlides(t *testing.T) {
	st := checktest.OpenState(t, t.TempDir())
	th := load(t, `
[[throttle]]
name = "sender"
key = "sender"
messages = 2
window = "16m"
block = "0s"
`)[0]
	clk := checktest.NewClock(t0)
	env := &check.Env{Now: clk.Now, State: st}
	in := check.Input{Sender: "Bob@Example.COM"}
	steps := []struct {
		after time.Duration
		want  string
	}{
		{0, ""},
		{5 * time.Minute, ""},
		{5 * time.Minute, "bob@example.com: 3 messages in 16m, limit 2"}, // t0+10m
		{4 * time.Minute, "bob@example.com: 4 messages in 16m, limit 2"}, // t0+14m: refused attempts count
		// t0+19m: the first message (t0) has left the window, with one
		// bucket of slack; t0+5m, +10m, +14m are in it.
		{5 * time.Minute, "bob@example.com: 4 messages in 16m, limit 2"},
		{40 * time.Minute, ""}, // all of them gone
	}
	for i, s := range steps {
		clk.Advance(s.after)
		if got := attempt(t, th, env, in); got != s.want {
			t.Errorf("step %d (t0+%v): %q, want %q", i, clk.Now().Sub(t0), got, s.want)
		}
	}
	if es, err := st.ListEntries(ctx, BlockNamespace, "", 10, clk.Now()); err != nil || len(es) != 0 {
		t.Errorf("block = 0s stored blocks: %v, %v", es, err)
	}
}

// TestDryRun: a dry run reads the counters and blocks but changes nothing.
func TestDryRun(t *testing.T) {
	st := checktest.OpenState(t, t.TempDir())
	th := load(t, ipThrottle)[0]
	clk := checktest.NewClock(t0)
	dry := &check.Env{Now: clk.Now, State: st, DryRun: true}
	live := &check.Env{Now: clk.Now, State: st}
	for range 5 {
		if got := attempt(t, th, dry, from("192.0.2.7")); got != "" {
			t.Fatalf("dry run of an unused key: %q", got)
		}
	}
	ckey := check.StateKey(FindingPrefix+"ip", Messages, "192.0.2.0/24")
	if n := memoryFor(st).add(ckey, time.Minute, 0, clk.Now()); n != 0 {
		t.Fatalf("a dry run counted %d", n)
	}
	for range 3 {
		attempt(t, th, live, from("192.0.2.7"))
	}
	if got := attempt(t, th, dry, from("192.0.2.7")); got != "192.0.2.0/24: 4 messages in 1m, limit 3; would block for 5m (dry run: not counted, not blocked)" {
		t.Errorf("dry run at the limit: %q", got)
	}
	if n := memoryFor(st).add(ckey, time.Minute, 0, clk.Now()); n != 3 {
		t.Errorf("count after the dry run: %d, want 3", n)
	}
	if es, _ := st.ListEntries(ctx, BlockNamespace, "", 10, clk.Now()); len(es) != 0 {
		t.Errorf("a dry run blocked: %v", es)
	}
	attempt(t, th, live, from("192.0.2.7")) // blocks
	if got := attempt(t, th, dry, from("192.0.2.7")); !strings.Contains(got, "blocked until") {
		t.Errorf("dry run of a blocked key: %q", got)
	}
	// No store: a dry run reports nothing; a live session fails.
	if got := attempt(t, th, &check.Env{DryRun: true}, from("192.0.2.7")); got != "" {
		t.Errorf("dry run without a store: %q", got)
	}
	in := from("192.0.2.7")
	in.Env = &check.Env{}
	if _, err := th.Run(ctx, &in); !errors.Is(err, check.ErrNoState) {
		t.Errorf("live run without a store: %v, want ErrNoState", err)
	}
}

// TestKeysAndDirection: what each key counts by, and which sessions a
// directed throttle counts at all.
func TestKeysAndDirection(t *testing.T) {
	st := checktest.OpenState(t, t.TempDir())
	ths := load(t, `
[[throttle]]
name = "in-ip"
direction = "inbound"
key = "ip"
messages = 1
window = "1h"
ipv4_prefix = 32
ipv6_prefix = 48

[[throttle]]
name = "out-user"
direction = "outbound"
key = "auth_user"
messages = 1
window = "1h"

[[throttle]]
name = "null"
key = "sender"
messages = 1
window = "1h"

[[throttle]]
name = "rcpt"
key = "recipient"
messages = 1
window = "1h"
`)
	env := &check.Env{Now: func() time.Time { return t0 }, State: st, Trusted: trusted}
	in := func(ip, auth, sender, rcpt string) check.Input {
		return check.Input{ClientIP: netip.MustParseAddr(ip), AuthUser: auth, Sender: sender, Rcpt: rcpt}
	}
	for _, tc := range []struct {
		throttle int
		in       check.Input
		want     string // the finding's value on the second attempt, "" for none
	}{
		{0, in("192.0.2.1", "", "a@x.example", ""), "192.0.2.1/32"},
		{0, in("192.0.2.2", "", "a@x.example", ""), "192.0.2.2/32"},        // /32: its own key
		{0, in("2001:db8:1:2::1", "", "", ""), "2001:db8:1::/48"},          // /48
		{0, in("10.1.1.1", "", "a@x.example", ""), ""},                     // trusted: outbound
		{0, in("192.0.2.9", "alice", "a@x.example", ""), ""},               // authenticated: outbound
		{1, in("192.0.2.3", "alice", "a@x.example", ""), "alice"},          // outbound by AUTH
		{1, in("10.1.1.1", "", "a@x.example", ""), ""},                     // outbound, but no user
		{1, in("192.0.2.4", "", "a@x.example", ""), ""},                    // inbound
		{2, in("192.0.2.5", "", "", ""), ""},                               // the null sender: not by sender
		{2, in("192.0.2.5", "", "Big@Example.COM", ""), "big@example.com"}, // lower-cased
		{3, in("192.0.2.6", "", "a@x.example", "Carol@Example.com"), "carol@example.com"},
	} {
		th := ths[tc.throttle]
		first := attempt(t, th, env, tc.in)
		second := attempt(t, th, env, tc.in)
		value, _, _ := strings.Cut(second, ": ")
		if first != "" || value != tc.want {
			t.Errorf("%s %+v: first %q, second %q; want none, then value %q", th.name, tc.in, first, second, tc.want)
		}
	}
}

// TestStagesAndScopes: each limit is counted where it happens.
func TestStagesAndScopes(t *testing.T) {
	ths := load(t, `
[[throttle]]
name = "conns"
key = "ip"
connections = 10
window = "1m"

[[throttle]]
name = "msgs"
key = "sender"
messages = 10
window = "1m"

[[throttle]]
name = "rcpts"
key = "sender"
recipients = 10
window = "1m"

[[throttle]]
name = "to"
key = "recipient"
messages = 10
window = "1m"
on_error = "tempfail"
`)
	for i, want := range []struct {
		stage   policy.Stage
		scope   check.Scope
		onError check.OnError
		block   time.Duration
	}{
		{policy.StageConnect, check.ScopeConnection, check.OnErrorSkip, time.Minute},
		{policy.StageMail, check.ScopeTransaction, check.OnErrorSkip, time.Minute},
		{policy.StageRcpt, check.ScopeRecipient, check.OnErrorSkip, time.Minute},
		{policy.StageRcpt, check.ScopeRecipient, check.OnErrorTempfail, time.Minute},
	} {
		th := ths[i]
		if th.Stage() != want.stage || th.Scope() != want.scope || th.OnError() != want.onError || th.block != want.block {
			t.Errorf("%s: stage %v scope %v on_error %v block %v; want %+v", th.name, th.Stage(), th.Scope(), th.OnError(), th.block, want)
		}
	}
	if d := ths[0].Findings(); len(d) != 1 || d[0].Name != "throttle.conns" || d[0].Doc != "more than 10 connections in 1m from one client network, or blocked for that" {
		t.Errorf("declared %+v", d)
	}
}

// TestConfigProblems: every problem of the [[throttle]] tables at once,
// each on its line.
func TestConfigProblems(t *testing.T) {
	src := `[[throttle]]
name = "no-limit"
key = "ip"
window = "1m"

[[throttle]]
name = "two-limits"
key = "sender"
messages = 10
recipients = 100
window = "1m"

[[throttle]]
name = "Bad Name"
key = "helo"
messages = 1
window = "soon"
block = "-5m"
direction = "sideways"

[[throttle]]
name = "no-window"
key = "sender"
connections = 5
ipv4_prefix = 33
on_error = "accept"
blok = "1m"

[[throttle]]
name = "no-limit"
key = "recipient"
recipients = -1
window = "0s"

[[throttle]]
messages = 1
window = "1m"
`
	_, rep, err := config.Decode("t.toml", []byte(src))
	if err == nil {
		err = rep.Err()
	}
	want := `t.toml:1: throttle[0]: no limit: set one of messages, connections or recipients (hint: messages = 100, connections = 100 or recipients = 100)
t.toml:10: throttle[1].recipients: messages and recipients are both set; a throttle counts one thing (hint: write one throttle per limit)
t.toml:14: throttle[2].name: "Bad Name" is not a throttle name (hint: lower-case letters, digits, - and _, at most 64)
t.toml:15: throttle[2].key: "helo" is not allowed (hint: one of ip, sender, auth_user, recipient)
t.toml:17: throttle[2].window: "soon" is not a duration (use e.g. 30s, 5m, 2h or 90d)
t.toml:18: throttle[2].block: "-5m" is not a duration (use e.g. 30s, 5m, 2h or 90d)
t.toml:19: throttle[2].direction: "sideways" is not allowed (hint: one of inbound, outbound, any)
t.toml:21: throttle[3]: window is missing (hint: window = "1m")
t.toml:24: throttle[3].connections: connections are counted at connect, when only the client's address is known, not the sender (hint: key = "ip")
t.toml:25: throttle[3].ipv4_prefix: 33 is not an IPv4 prefix length (hint: 1 to 32; 24 counts each /24 as one client)
t.toml:26: throttle[3].on_error: "accept" is not allowed (hint: one of skip, tempfail)
t.toml:27: throttle[3].blok: unknown key (hint: did you mean throttle.block?)
t.toml:30: throttle[4].name: throttle "no-limit" is defined twice (hint: throttle[0] has it)
t.toml:32: throttle[4].recipients: must be positive
t.toml:33: throttle[4].window: must be longer than 0s (hint: e.g. 1m, 10m or 1h)
t.toml:35: throttle[5]: name is missing (hint: name = "inbound-ip")
t.toml:35: throttle[5]: key is missing (hint: key = "ip", "sender", "auth_user" or "recipient")`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

// BenchmarkRun is one message's throttle check on the real store: the
// block lookup and the counter increment every MAIL costs, spread over
// 256 client networks.
func BenchmarkRun(b *testing.B) {
	s, err := store.Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.OpenState(ctx); err != nil {
		b.Fatal(err)
	}
	th := New(Config{Name: "ip", Key: KeyIP, Messages: 1 << 40, Window: config.Dur(time.Minute)})
	env := &check.Env{State: s}
	ips := make([]netip.Addr, 256)
	for i := range ips {
		ips[i] = netip.AddrFrom4([4]byte{192, 0, byte(i), 1})
	}
	i := 0
	for b.Loop() {
		if _, err := th.Run(ctx, &check.Input{ClientIP: ips[i%len(ips)], Env: env}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestJudgesClient: throttles by client network judge the client (and so
// count a known host's messages by their first untrusted hop); the others
// do not.
func TestJudgesClient(t *testing.T) {
	ths := load(t, ipThrottle+`
[[throttle]]
name = "sender"
key = "sender"
messages = 3
window = "1m"
`)
	if !ths[0].JudgesClient() || ths[1].JudgesClient() {
		t.Errorf("JudgesClient: ip %v, sender %v; want true, false", ths[0].JudgesClient(), ths[1].JudgesClient())
	}
}

// TestMemoryCounters: the in-memory window counts what the store's does
// (every increment in the window, at most a sixteenth older), is bounded
// in keys, and survives a rebuilt check on the same store (a reload).
func TestMemoryCounters(t *testing.T) {
	var m memory
	m.keys, m.lru, m.blocks = map[string]*list.Element{}, list.New(), map[string]cachedBlock{}
	at := t0
	for i := range 10 {
		if n := m.add("k", time.Minute, 1, at.Add(time.Duration(i)*time.Second)); n != int64(i+1) {
			t.Fatalf("count %d after %d increments", n, i+1)
		}
	}
	if n := m.add("k", time.Minute, 0, at.Add(75*time.Second)); n != 0 {
		t.Errorf("75s later the first 10s still count %d", n)
	}
	if n := m.add("k", time.Minute, 0, at.Add(62*time.Second)); n == 0 || n > 10 {
		t.Errorf("62s later: %d, want the increments after 2s (and up to a sixteenth older)", n)
	}
	for i := range maxKeys + 10 {
		m.add(fmt.Sprint("key", i), time.Minute, 1, at)
	}
	if len(m.keys) != maxKeys || m.lru.Len() != maxKeys {
		t.Errorf("%d keys kept, want at most %d", len(m.keys), maxKeys)
	}

	st := checktest.OpenState(t, t.TempDir())
	clk := checktest.NewClock(t0)
	live := &check.Env{Now: clk.Now, State: st}
	attempt(t, load(t, ipThrottle)[0], live, from("192.0.2.7"))
	attempt(t, load(t, ipThrottle)[0], live, from("192.0.2.7"))
	attempt(t, load(t, ipThrottle)[0], live, from("192.0.2.7"))
	if got := attempt(t, load(t, ipThrottle)[0], live, from("192.0.2.7")); !strings.Contains(got, "4 messages in 1m") {
		t.Errorf("after three checks rebuilt from the config, the fourth attempt: %q", got)
	}
}

// TestBlockCacheBounded: a full block cache sweeps what no longer holds
// instead of refusing every new word, and keeps live blocks.
func TestBlockCacheBounded(t *testing.T) {
	var m memory
	m.keys, m.lru, m.blocks = map[string]*list.Element{}, list.New(), map[string]cachedBlock{}
	for i := range maxKeys {
		m.remember(fmt.Sprint("k", i), cachedBlock{checked: t0})
	}
	live := cachedBlock{blocked: true, checked: t0, entry: store.Entry{Expires: t0.Add(time.Hour)}}
	m.remember("live", live)
	later := t0.Add(blockRecheck)
	m.remember("new", cachedBlock{checked: later})
	if _, ok := m.block("new", later); !ok {
		t.Error("a full cache of stale words took no new one")
	}
	if _, ok := m.block("live", later); !ok {
		t.Error("the sweep dropped a live block")
	}
	if len(m.blocks) > 2 {
		t.Errorf("%d entries after the sweep, want the live block and the new word", len(m.blocks))
	}
}
