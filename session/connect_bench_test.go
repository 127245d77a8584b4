package session

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check/dns/dnstest"
	"github.com/mailwarden/mailwarden/check/dnsbl"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/store"
)

// benchZone is the DNSBL of the benchmarks, served by a fake DNS server.
const benchZone = "bl.bench.test"

// benchEntries returns n IP list entries of every form, IPv4 and IPv6 (a
// quarter), addresses, CIDR and ranges, in a fixed pseudo-random order, and
// a few addresses that the list holds.
func benchEntries(n int) (entries []string, inList []netip.Addr) {
	r := rand.New(rand.NewPCG(17, 23))
	v4 := func() netip.Addr {
		return netip.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
	}
	v6 := func() netip.Addr {
		b := [16]byte{0x20, 0x01, 0x0d, 0xb8}
		for i := 4; i < 16; i++ {
			b[i] = byte(r.Uint32())
		}
		return netip.AddrFrom16(b)
	}
	entries = make([]string, n)
	for i := range entries {
		var a netip.Addr
		switch k := r.IntN(100); {
		case k < 45:
			a = v4()
			entries[i] = a.String()
		case k < 60:
			p := netip.PrefixFrom(v4(), 20+r.IntN(13)).Masked()
			entries[i], a = p.String(), p.Addr()
		case k < 70:
			a = v4()
			entries[i] = fmt.Sprintf("%s-%d", a, int(a.As4()[3])+r.IntN(256-int(a.As4()[3])))
		case k < 85:
			a = v6()
			entries[i] = a.String()
		case k < 95:
			p := netip.PrefixFrom(v6(), 48+r.IntN(81)).Masked()
			entries[i], a = p.String(), p.Addr()
		default:
			a = v6()
			b := a.As16()
			lo := int(b[14])<<8 | int(b[15])
			entries[i] = fmt.Sprintf("%s-%x", a, lo+r.IntN(65536-lo))
		}
		if i%1000 == 0 {
			inList = append(inList, a)
		}
	}
	return entries, inList
}

// benchClients returns the clients the benchmarks connect from: IPv4 and
// IPv6, some in the IP list (inList), a quarter listed in the DNSBL (their
// records added to srv), the rest in neither; each in its own /24 or /64,
// so that no per-network throttle of the default counts two of them.
func benchClients(b *testing.B, srv *dnstest.Server, inList []netip.Addr, n int) []netip.Addr {
	b.Helper()
	zone, err := dnsbl.New(dnsbl.Config{Name: "bench", Zone: benchZone})
	if err != nil {
		b.Fatal(err)
	}
	out := slices.Clone(inList)
	for i := 0; len(out) < n; i++ {
		var a netip.Addr
		if i%4 == 3 {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, byte(i >> 8), byte(i), 15: 1})
		} else {
			a = netip.AddrFrom4([4]byte{198, 18 + byte(i>>8), byte(i), 1})
		}
		if i%4 == 0 {
			srv.Add(zone.QueryName(a) + " A 127.0.0.2")
		}
		out = append(out, a)
	}
	return out
}

// benchDNS starts the fake DNS server, caching answers and NXDOMAINs for
// an hour, so nothing expires during a benchmark.
func benchDNS(b *testing.B) *dnstest.Server {
	srv := dnstest.New(b)
	srv.SetNegativeTTL(time.Hour)
	return srv
}

// benchDNSConfig is a [dns] section on srv and a [[dnsbl]] on benchZone,
// with a rule refusing its listings.
func benchDNSConfig(srv *dnstest.Server) string {
	return fmt.Sprintf(`
[dns]
servers = [%q]

[[dnsbl]]
name = "bench"
zone = %q

[[rule]]
name = "dnsbl"
findings = ["dnsbl.*"]
action = "reject"
reply = "554 5.7.1 Client listed"
`, srv.Addr(), benchZone)
}

// BenchmarkConnectStage measures connect-stage decisions through the
// session (NewSession, Connect, its verdict) with a 100,000-entry inline
// IP list (IPv4 and IPv6 addresses, CIDR, ranges) and a DNSBL answered from
// the DNS cache, warmed first: the IP list lookup, the DNSBL's cache hit,
// the runner and the rules, per connection. It fails if any lookup reaches
// the DNS server during the timed loop.
func BenchmarkConnectStage(b *testing.B) {
	srv := benchDNS(b)
	entries, inList := benchEntries(100_000)
	clients := benchClients(b, srv, inList, 256)
	src := "[[list]]\nname = \"bench\"\nkind = \"ip\"\nentries = ['''\n" + strings.Join(entries, "\n") + "\n''']\n" +
		"\n[[rule]]\nname = \"blocked-client\"\nfindings = [\"list.bench\"]\naction = \"reject\"\nreply = \"554 5.7.1 Client address blocked\"\n" +
		benchDNSConfig(srv)
	l, err := LoadConfig("bench.toml", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	rt, err := NewRuntime(l, nil, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	connect := func(ip netip.Addr) string {
		s := NewSession(rt, quiet)
		defer s.Close()
		r := s.Connect(ip, "unknown")
		if r.Verdict == nil {
			return "continue"
		}
		return r.Verdict.Rule
	}
	want := make([]string, len(clients))
	count := map[string]int{}
	for i, ip := range clients {
		want[i] = connect(ip) // warms the list and the DNS cache
		count[want[i]]++
	}
	if count["blocked-client"] == 0 || count["dnsbl"] == 0 || count["continue"] == 0 {
		b.Fatalf("verdicts of the clients %v: want some of each of blocked-client, dnsbl, continue", count)
	}
	queries := len(srv.Queries())
	i := 0
	for b.Loop() {
		k := i % len(clients)
		if got := connect(clients[k]); got != want[k] {
			b.Fatalf("client %s: %s, was %s when warmed", clients[k], got, want[k])
		}
		i++
	}
	if n := len(srv.Queries()) - queries; n > 0 {
		b.Fatalf("%d DNS queries during the timed loop: the benchmark is not of cache hits", n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkSessionLatency measures what mailwarden adds to one whole SMTP
// session (connect, HELO, MAIL, RCPT, the header, a small body, end of
// message) under the embedded default rules plus a DNSBL answered from the
// DNS cache, with the state store the daemon has: the default throttles
// count every message in it. Each iteration is one session; the figures
// are the 50th and 99th percentile of their durations (target: under
// 0.5 ms at p99). The second run leaves out the default's throttles and
// their rules, to show what their store round trips cost.
func BenchmarkSessionLatency(b *testing.B) {
	def := string(config.DefaultTOML())
	var noThrottles []string
	for _, para := range strings.Split(def, "\n\n") {
		if !strings.Contains(para, "[[throttle]]") && !strings.Contains(para, `name = "throttle-`) {
			noThrottles = append(noThrottles, para)
		}
	}
	b.Run("rules=default", func(b *testing.B) { benchSessionLatency(b, def) })
	b.Run("rules=default-without-throttles", func(b *testing.B) {
		src := strings.Join(noThrottles, "\n\n")
		if strings.Contains(src, "[[throttle]]") || strings.Contains(src, `"throttle-`) {
			b.Fatal("the default's throttles were not taken out")
		}
		benchSessionLatency(b, src)
	})
}

func benchSessionLatency(b *testing.B, rules string) {
	srv := benchDNS(b)
	all := benchClients(b, srv, nil, 320)
	src := rules + benchDNSConfig(srv)
	l, err := LoadConfig("bench.toml", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	st, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.OpenState(context.Background()); err != nil {
		b.Fatal(err)
	}
	rt, err := NewRuntime(l, nil, dir)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("From: Alice <alice@example.net>\r\nTo: bob@example.com\r\nSubject: lunch\r\n" +
		"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench@example.net>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("Shall we meet at noon on Friday?\r\n", 30))
	hs, body := SplitMessage(msg)
	session := func(ip netip.Addr, sender string) (string, error) {
		s := NewSession(rt, quiet)
		s.Env.State = st
		defer s.Close()
		for _, r := range []StageResult{s.Connect(ip, "unknown"), s.Helo("mx.example.net", "", ""),
			s.Mail(sender, "", "", 0), s.Rcpt("bob@example.com")} {
			if r.Verdict != nil {
				return r.Verdict.Rule, nil
			}
		}
		for _, h := range hs {
			s.Header(h.Name, h.Value)
		}
		if r := s.EOH(); r.Verdict != nil || r.Err != nil {
			return fmt.Sprint(r.Verdict), r.Err
		}
		if err := s.Body(body); err != nil {
			return "", err
		}
		res, err := s.EOM()
		if err != nil {
			return "", err
		}
		return res.Decision.Action.String(), nil
	}
	// Senders vary, so that the default throttle of 200 messages a minute
	// per sender never blocks one, nor that of 3,600 per network. The
	// clients the DNSBL lists are refused at connect: warming the cache
	// finds them, and only whole sessions are measured.
	sender := func(i int) string { return fmt.Sprintf("user%d@example.net", i%4096) }
	var clients []netip.Addr
	for i, ip := range all {
		got, err := session(ip, sender(i))
		switch {
		case err != nil:
			b.Fatal(err)
		case got == "accept":
			clients = append(clients, ip)
		case got != "dnsbl":
			b.Fatalf("client %s: %s, want accept or the dnsbl rule", ip, got)
		}
	}
	if len(clients) < 200 {
		b.Fatalf("%d clients accepted, want 200 or more", len(clients))
	}
	queries := len(srv.Queries())
	lat := make([]time.Duration, 0, 1<<16)
	i := 0
	for b.Loop() {
		k := i % len(clients)
		t0 := time.Now()
		got, err := session(clients[k], sender(i))
		lat = append(lat, time.Since(t0))
		if err != nil || got != "accept" {
			b.Fatalf("client %s: %s (%v), was accepted when warmed", clients[k], got, err)
		}
		i++
	}
	if n := len(srv.Queries()) - queries; n > 0 {
		b.Fatalf("%d DNS queries during the timed loop: the benchmark is not of cache hits", n)
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1e3 }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
