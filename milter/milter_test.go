package milter

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/session"

	gomilter "github.com/d--j/go-milter"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailwarden/mailwarden/policy/release"
	"github.com/mailwarden/mailwarden/store"
)

const testConfig = `
[organization]
internal_domains = ["example.com"]
trusted_networks = ["10.0.0.0/8"]

[[rule]]
name = "blocked-net"
clients = ["192.0.2.0/24", "2001:db8:bad::/48"]
action = "reject"
reply = "554 5.7.1 Network blocked"

[[rule]]
name = "no-such-user"
recipients = ["nobody@example.com"]
action = "reject"
reply = "550 5.1.1 No such user"

[[rule]]
name = "ceo-subject"
recipients = ["ceo@example.com"]
subject = "(?i)lottery"
action = "quarantine"
quarantine = "policy"

[[rule]]
name = "gtube"
findings = ["content.gtube"]
action = "quarantine"
quarantine = "spam"

[[rule]]
name = "stamp"
add_headers = ["X-Mailwarden: scanned"]
`

type testServer struct {
	addr  string
	srv   *Server
	store *store.Store
	rt    *session.Runtime
}

func startServer(t testing.TB, config string) *testServer {
	t.Helper()
	return startServerLog(t, config, nil)
}

// startServerLog is [startServer] with the daemon's log also written to w.
func startServerLog(t testing.TB, config string, w io.Writer) *testServer {
	t.Helper()
	return startServerIn(t, config, t.TempDir(), w)
}

// startServerIn is [startServerLog] on the data directory dir, which the
// test may have prepared.
func startServerIn(t testing.TB, config, dir string, w io.Writer) *testServer {
	t.Helper()
	l, err := session.LoadConfig("test.toml", []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := session.NewRuntime(l, bytes.Repeat([]byte{7}, 32), dir)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{t}, nil))
	}
	if w != nil {
		log = slog.New(slog.NewTextHandler(w, nil))
	}
	srv := NewServer(rt, st, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		st.Close()
	})
	return &testServer{addr: ln.Addr().String(), srv: srv, store: st, rt: rt}
}

type testWriter struct{ t testing.TB }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// txn is one SMTP transaction as an MTA would send it.
type txn struct {
	ip    string
	from  string
	rcpts []string
	msg   string
}

// outcome is what the milter answered.
type outcome struct {
	stage   string // where it stopped: connect, rcpt:N, eoh, eom
	action  *gomilter.Action
	rcptAct []*gomilter.Action
	mods    []gomilter.ModifyAction
}

func (o outcome) deleted() []string {
	var out []string
	for _, m := range o.mods {
		if m.Type == gomilter.ActionDelRcpt {
			out = append(out, strings.Trim(m.Rcpt, "<>"))
		}
	}
	return out
}

func (o outcome) header(name string) (string, bool) {
	for _, m := range o.mods {
		if (m.Type == gomilter.ActionAddHeader || m.Type == gomilter.ActionChangeHeader) && strings.EqualFold(m.HeaderName, name) {
			return m.HeaderValue, true
		}
	}
	return "", false
}

func send(t *testing.T, addr string, x txn) outcome {
	t.Helper()
	c := gomilter.NewClient("tcp", addr, gomilter.WithActions(gomilter.AllClientSupportedActionMasks))
	s, err := c.Session(gomilter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := func(a *gomilter.Action) bool {
		return a.Type != gomilter.ActionContinue && a.Type != gomilter.ActionAccept
	}
	ip := x.ip
	if ip == "" {
		ip = "198.51.100.1"
	}
	family := gomilter.FamilyInet
	if strings.Contains(ip, ":") {
		family = gomilter.FamilyInet6
	}
	a, err := s.Conn("client.example.net", family, 25, ip)
	if err != nil {
		t.Fatal(err)
	}
	if stop(a) {
		return outcome{stage: "connect", action: a}
	}
	if a, err = s.Helo("client.example.net"); err != nil {
		t.Fatal(err)
	}
	if stop(a) {
		return outcome{stage: "helo", action: a}
	}
	if a, err = s.Mail(x.from, ""); err != nil {
		t.Fatal(err)
	}
	if stop(a) {
		return outcome{stage: "mail", action: a}
	}
	var o outcome
	ok := 0
	for _, r := range x.rcpts {
		a, err := s.Rcpt(r, "")
		if err != nil {
			t.Fatal(err)
		}
		o.rcptAct = append(o.rcptAct, a)
		if !stop(a) {
			ok++
		}
	}
	if ok == 0 {
		o.stage = "rcpt"
		return o
	}
	if _, err = s.DataStart(); err != nil {
		t.Fatal(err)
	}
	hs, body := session.SplitMessage([]byte(x.msg))
	for _, h := range hs {
		if _, err = s.HeaderField(h.Name, h.Value, nil); err != nil {
			t.Fatal(err)
		}
	}
	if a, err = s.HeaderEnd(); err != nil {
		t.Fatal(err)
	}
	if stop(a) {
		o.stage, o.action = "eoh", a
		return o
	}
	mods, a, err := s.BodyReadFrom(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	o.stage, o.action, o.mods = "eom", a, mods
	return o
}

func mkmsg(subject, body string) string {
	return "From: Alice <alice@example.net>\r\nTo: bob@example.com\r\nSubject: " + subject +
		"\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <1@example.net>\r\n\r\n" + body + "\r\n"
}

// waitEvents waits until the tracking log holds exactly n rows, newest
// first, and fails the test when it holds more or not that many in time:
// a caller reading [0] then reads the row its own transaction wrote.
func waitEvents(t *testing.T, st *store.Store, n int) []store.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, err := st.Events(context.Background(), store.EventQuery{Limit: n + 10})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case len(evs) > n:
			t.Fatalf("%d tracking rows, want %d", len(evs), n)
		case len(evs) == n:
			return evs
		case time.Now().After(deadline):
			t.Fatalf("%d tracking rows after 10s, want %d", len(evs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStages(t *testing.T) {
	ts := startServer(t, testConfig)

	t.Run("clean mail gets the header", func(t *testing.T) {
		o := send(t, ts.addr, txn{from: "alice@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("hello", "hi")})
		if o.stage != "eom" || o.action.Type != gomilter.ActionAccept {
			t.Fatalf("got %s %+v, want accept at eom", o.stage, o.action)
		}
		if v, ok := o.header("X-Mailwarden"); !ok || strings.TrimSpace(v) != "scanned" {
			t.Errorf("X-Mailwarden header = %q, %v", v, ok)
		}
	})
	t.Run("blocked network at connect", func(t *testing.T) {
		o := send(t, ts.addr, txn{ip: "192.0.2.9", from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("x", "y")})
		if o.stage != "connect" || o.action.SMTPCode != 554 || !strings.Contains(o.action.SMTPReply, "rule blocked-net: client.network") {
			t.Fatalf("got %s %+v", o.stage, o.action)
		}
	})
	t.Run("blocked IPv6 network at connect", func(t *testing.T) {
		o := send(t, ts.addr, txn{ip: "2001:db8:bad::25", from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("x", "y")})
		if o.stage != "connect" || o.action.SMTPCode != 554 {
			t.Fatalf("got %s %+v", o.stage, o.action)
		}
		o = send(t, ts.addr, txn{ip: "2001:db8:beef::25", from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("x", "y")})
		if o.stage != "eom" || o.action.Type != gomilter.ActionAccept {
			t.Fatalf("a neighbouring IPv6 network: %s %+v", o.stage, o.action)
		}
	})
	t.Run("one recipient rejected at RCPT", func(t *testing.T) {
		o := send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"nobody@example.com", "bob@example.com"}, msg: mkmsg("x", "y")})
		if o.rcptAct[0].SMTPCode != 550 || !strings.HasPrefix(o.rcptAct[0].SMTPReply, "550 5.1.1 No such user (rule no-such-user") {
			t.Errorf("rcpt 1: %+v", o.rcptAct[0])
		}
		if o.rcptAct[1].Type != gomilter.ActionContinue {
			t.Errorf("rcpt 2: %+v", o.rcptAct[1])
		}
		if o.action.Type != gomilter.ActionAccept {
			t.Errorf("eom: %+v", o.action)
		}
	})
	t.Run("GTUBE is quarantined and discarded", func(t *testing.T) {
		msg := mkmsg("test", "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")
		o := send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: msg})
		if o.action.Type != gomilter.ActionDiscard {
			t.Fatalf("got %+v, want discard", o.action)
		}
		list, err := ts.store.ListQuarantine(context.Background(), store.QuarantineQuery{Area: "spam"})
		if err != nil || len(list) != 1 {
			t.Fatalf("quarantine: %v %d entries", err, len(list))
		}
		e, err := ts.store.GetQuarantine(context.Background(), list[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Raw) != msg || e.Rule != "gtube" || strings.Join(e.Recipients, ",") != "bob@example.com" {
			t.Errorf("entry: rule %q rcpts %v raw %q", e.Rule, e.Recipients, e.Raw)
		}
	})
	t.Run("split: one recipient quarantined, the other delivered", func(t *testing.T) {
		o := send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"ceo@example.com", "bob@example.com"}, msg: mkmsg("You won the LOTTERY", "y")})
		if o.action.Type != gomilter.ActionAccept {
			t.Fatalf("got %+v", o.action)
		}
		if d := o.deleted(); len(d) != 1 || d[0] != "ceo@example.com" {
			t.Errorf("deleted %v, want [ceo@example.com]", d)
		}
		list, _ := ts.store.ListQuarantine(context.Background(), store.QuarantineQuery{Area: "policy"})
		if len(list) != 1 || list[0].Recipients[0] != "ceo@example.com" {
			t.Errorf("quarantine: %+v", list)
		}
	})
	evs := waitEvents(t, ts.store, 7)
	if len(evs) != 7 {
		t.Fatalf("%d tracking rows, want 7", len(evs))
	}
	byAction := map[string]int{}
	for _, e := range evs {
		byAction[e.Stage+"/"+e.Action]++
	}
	for k, n := range map[string]int{"eom/accept": 3, "connect/reject": 2, "eom/quarantine": 1, "eom/split": 1} {
		if byAction[k] != n {
			t.Errorf("tracking rows %s = %d, want %d (all: %v)", k, byAction[k], n, byAction)
		}
		action, stage, _ := strings.Cut(k, "/")
		action, stage = stage, action
		if got := testutil.ToFloat64(ts.srv.metrics.messages.WithLabelValues(action, stage)); int(got) != n {
			t.Errorf("metric mailwarden_transactions_total{action=%q,stage=%q} = %v, want %d", action, stage, got, n)
		}
	}
	if got := testutil.ToFloat64(ts.srv.metrics.quarantined.WithLabelValues("spam")); got != 1 {
		t.Errorf("mailwarden_quarantined_total{area=spam} = %v", got)
	}
}

func TestReleaseHeader(t *testing.T) {
	ts := startServer(t, testConfig)
	msg := mkmsg("test", "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")
	good := release.Digest([]byte(msg))
	type tok struct {
		rule, sender, nonce string
		rcpts               []string
		exp                 time.Duration
		digest              string
	}
	valid := func() tok {
		return tok{"gtube", "a@example.net", release.NewNonce(), []string{"bob@example.com"}, time.Hour, good}
	}
	sign := func(k tok) string {
		return release.Sign(ts.rt.ReleaseKey, release.Token{ID: "q1", Rule: k.rule, Sender: k.sender, Nonce: k.nonce,
			Recipients: k.rcpts, Expires: time.Now().Add(k.exp)}, k.digest)
	}
	with := func(f func(*tok)) string { k := valid(); f(&k); return sign(k) }
	replayed := sign(valid())
	tests := []struct {
		name    string
		ip      string
		from    string
		before  string // header fields before the release header
		header  string
		extra   string // a second release header
		rcpts   []string
		want    gomilter.ActionType
		deleted []string
		finding string
	}{
		{name: "valid token passes", header: sign(valid()), want: gomilter.ActionAccept, finding: "release.verified"},
		{name: "first use of a token", header: replayed, want: gomilter.ActionAccept, finding: "release.verified"},
		{name: "replay of the same token", header: replayed, want: gomilter.ActionDiscard, finding: "release.invalid"},
		{name: "other recipient still quarantined", header: sign(valid()), rcpts: []string{"bob@example.com", "eve@example.com"},
			want: gomilter.ActionAccept, deleted: []string{"eve@example.com"}, finding: "release.verified"},
		{name: "expired", header: with(func(k *tok) { k.exp = -time.Minute }), want: gomilter.ActionDiscard, finding: "release.invalid"},
		{name: "other message", header: with(func(k *tok) { k.digest = release.Digest([]byte("other")) }), want: gomilter.ActionDiscard, finding: "release.invalid"},
		{name: "other rule", header: with(func(k *tok) { k.rule = "stamp" }), want: gomilter.ActionDiscard},
		{name: "other sender", from: "attacker@evil.example", header: sign(valid()), want: gomilter.ActionDiscard, finding: "release.invalid"},
		{name: "untrusted client", ip: "198.51.100.9", header: sign(valid()), want: gomilter.ActionDiscard, finding: "release.invalid"},
		{name: "header prepended", before: "Subject: Totally legit\r\n", header: sign(valid()), want: gomilter.ActionDiscard, finding: "release.invalid"},
		{name: "two release headers", header: sign(valid()), extra: sign(valid()), want: gomilter.ActionDiscard, finding: "release.invalid"},
		{name: "forged mac", header: strings.Replace(sign(valid()), "mac=", "mac=AA", 1), want: gomilter.ActionDiscard, finding: "release.invalid"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ip, from, rcpts := "127.0.0.1", "a@example.net", []string{"bob@example.com"}
			if tc.ip != "" {
				ip = tc.ip
			}
			if tc.from != "" {
				from = tc.from
			}
			if tc.rcpts != nil {
				rcpts = tc.rcpts
			}
			in := "Received: from mta by mta; now\r\n" + tc.before + release.Header + ": " + tc.header + "\r\n"
			if tc.extra != "" {
				in += release.Header + ": " + tc.extra + "\r\n"
			}
			in += msg
			o := send(t, ts.addr, txn{ip: ip, from: from, rcpts: rcpts, msg: in})
			if o.action.Type != tc.want {
				t.Fatalf("action %v, want %v", o.action.Type, tc.want)
			}
			if strings.Join(o.deleted(), ",") != strings.Join(tc.deleted, ",") {
				t.Errorf("deleted %v, want %v", o.deleted(), tc.deleted)
			}
			if tc.want == gomilter.ActionAccept {
				v, ok := o.header(release.Header)
				if !ok || v != "" {
					t.Errorf("release header not removed: %q %v", v, ok)
				}
			}
			if tc.finding != "" {
				ev := waitEvents(t, ts.store, i+1)[0] // one row per case, newest first
				found := false
				for _, f := range ev.Findings {
					found = found || f.Name == tc.finding
				}
				if !found {
					t.Errorf("tracking row lacks finding %s: %+v", tc.finding, ev.Findings)
				}
			}
		})
	}
}

func TestBadInputKeepsServing(t *testing.T) {
	ts := startServer(t, testConfig)
	raw := func(payload []byte) {
		t.Helper()
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(payload)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.Copy(io.Discard, c) // until the server closes
	}
	// A zero-length packet: go-milter v0.10.2 would panic on it.
	raw([]byte{0, 0, 0, 0})
	// After a valid negotiation, a zero-length packet and a connect packet without NUL.
	neg := []byte{0, 0, 0, 13, 'O', 0, 0, 0, 6, 0, 0, 0x01, 0xff, 0, 0x1f, 0xff, 0xff}
	raw(append(append([]byte{}, neg...), 0, 0, 0, 0))
	raw(append(append([]byte{}, neg...), 0, 0, 0, 3, 'C', 'x', 'y'))
	raw(append(append([]byte{}, neg...), 0, 0, 0, 2, 'M', 'x'))
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 50; i++ {
		b := make([]byte, rng.Intn(200))
		rng.Read(b)
		if i%2 == 0 {
			b = append(append([]byte{}, neg...), b...)
		}
		raw(b)
	}
	o := send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("after", "ok")})
	if o.action.Type != gomilter.ActionAccept {
		t.Fatalf("after bad input: %+v", o.action)
	}
}

func TestPanicIsRecovered(t *testing.T) {
	ts := startServer(t, testConfig)
	var armed atomic.Bool
	hook := func(stage string) {
		if stage == "rcpt" && armed.CompareAndSwap(true, false) {
			panic("injected fault")
		}
	}
	faultHook.Store(&hook)
	t.Cleanup(func() { faultHook.Store(nil) })
	armed.Store(true)
	o := send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("x", "y")})
	if o.stage != "rcpt" || o.rcptAct[0].SMTPCode != 451 || !strings.Contains(o.rcptAct[0].SMTPReply, "4.3.0") {
		t.Fatalf("panicking session got %s %+v, want 451 4.3.0 at rcpt", o.stage, o.rcptAct)
	}
	if ts.srv.Panics.Load() != 1 {
		t.Errorf("panics = %d", ts.srv.Panics.Load())
	}
	o = send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("x", "y")})
	if o.action.Type != gomilter.ActionAccept {
		t.Fatalf("next session: %+v", o.action)
	}
}

func TestStoreFailure(t *testing.T) {
	for _, onError := range []string{"tempfail", "accept"} {
		t.Run(onError, func(t *testing.T) {
			ts := startServer(t, "[server]\non_error = \""+onError+"\"\n"+testConfig)
			ts.store.Close() // every write now fails
			msg := mkmsg("test", "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")
			o := send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: msg})
			switch onError {
			case "tempfail":
				if o.action.SMTPCode != 451 {
					t.Errorf("got %+v, want 451", o.action)
				}
			case "accept":
				if o.action.Type != gomilter.ActionAccept || len(o.deleted()) != 0 {
					t.Errorf("got %+v deleted %v, want accept to all", o.action, o.deleted())
				}
			}
		})
	}
}

func TestSessionCap(t *testing.T) {
	ts := startServer(t, "[server]\nmax_sessions = 1\n"+testConfig)
	c := gomilter.NewClient("tcp", ts.addr, gomilter.WithActions(gomilter.AllClientSupportedActionMasks))
	first, err := c.Session(gomilter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := first.Conn("a", gomilter.FamilyInet, 25, "198.51.100.1"); err != nil {
		t.Fatal(err)
	}
	second, err := c.Session(gomilter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	a, err := second.Conn("b", gomilter.FamilyInet, 25, "198.51.100.2")
	if err != nil {
		t.Fatal(err)
	}
	if a.SMTPCode != 421 {
		t.Fatalf("second session got %+v, want 421", a)
	}
	first.Close()
	deadline := time.Now().Add(3 * time.Second)
	for ts.srv.Active() > 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	second.Close()
	for ts.srv.Active() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	o := send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("x", "y")})
	if o.action.Type != gomilter.ActionAccept {
		t.Fatalf("after the cap freed: %+v", o.action)
	}
}

func TestReloadAppliesToNewSessions(t *testing.T) {
	ts := startServer(t, testConfig)
	l, err := session.LoadConfig("new.toml", []byte(testConfig+`
[[rule]]
name = "new-block"
senders = ["*@spam.example"]
action = "reject"
`))
	if err != nil {
		t.Fatal(err)
	}
	x := txn{from: "x@spam.example", rcpts: []string{"bob@example.com"}, msg: mkmsg("x", "y")}
	if o := send(t, ts.addr, x); o.stage != "eom" {
		t.Fatalf("before reload: stopped at %s", o.stage)
	}
	rt, err := session.NewRuntime(l, ts.rt.ReleaseKey, ts.rt.SpoolDir)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.SetRuntime(rt)
	if o := send(t, ts.addr, x); o.stage != "mail" || o.action.SMTPCode != 550 {
		t.Fatalf("after reload: %s %+v", o.stage, o.action)
	}
}

// FuzzMilterInput sends arbitrary bytes after a valid negotiation: whatever
// they are, the daemon must answer or close, never crash (go-milter v0.10.2
// alone panics on several of them).
func FuzzMilterInput(f *testing.F) {
	neg := []byte{0, 0, 0, 13, 'O', 0, 0, 0, 6, 0, 0, 0x01, 0xff, 0, 0x1f, 0xff, 0xff}
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 3, 'C', 'x', 'y'})
	f.Add([]byte{0, 0, 0, 2, 'M', 'x'})
	f.Add([]byte{0, 0, 0, 2, 'R', 'x'})
	f.Add([]byte{0, 0, 0, 13, 'C', 'h', 0, '4', 0, 25, '1', '.', '2', '.', '3', '.', '4', 0})
	f.Add([]byte{0, 0, 0, 1, 'E', 0, 0, 0, 1, 'Q'})
	ts := startServer(f, testConfig)
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write(append(append([]byte{}, neg...), in...))
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
		if n := ts.srv.Panics.Load(); n != 0 {
			t.Fatalf("%d panics recovered in sessions", n)
		}
	})
}

func TestListenUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "milter.sock")
	ln, err := Listen("unix:"+path, "0660", "")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode %v, %v", fi.Mode(), err)
	}
	// A second daemon must not steal a live socket; a stale one is replaced.
	if _, err := Listen("unix:"+path, "0660", ""); err == nil {
		t.Fatal("a live socket was taken over")
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen("unix:"+path, "0600", "")
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln2.Close()
	if _, err := Listen("unix:"+path, "0660", "no-such-group-mailwarden"); err == nil {
		t.Fatal("an unknown group was accepted")
	}
}
