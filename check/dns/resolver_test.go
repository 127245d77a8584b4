package dns_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/check/dns/dnstest"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// setup starts a fake server and a resolver asking it, with a fake clock.
func setup(t *testing.T, opts dns.Options) (*dnstest.Server, *dns.Resolver, *clock) {
	t.Helper()
	srv := dnstest.New(t)
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	if opts.Servers == nil {
		opts.Servers = []string{srv.Addr()}
	}
	if opts.Timeout == 0 {
		opts.Timeout = 500 * time.Millisecond
	}
	opts.Now = clk.Now
	r, err := dns.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return srv, r, clk
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestLookupIPCachesByTTL(t *testing.T) {
	srv, r, clk := setup(t, dns.Options{})
	srv.Add("host.test. 30 IN A 192.0.2.1", "host.test. 60 IN A 192.0.2.2", "host.test. 30 IN AAAA 2001:db8::1")
	ctx := context.Background()

	got, ttl, err := r.LookupIP(ctx, "ip4", "host.test")
	if err != nil || !slices.Equal(got, addrs("192.0.2.1", "192.0.2.2")) || ttl != 30*time.Second {
		t.Fatalf("LookupIP = %v, %v, %v; want both addresses, 30s", got, ttl, err)
	}
	clk.Add(10 * time.Second)
	got, ttl, err = r.LookupIP(ctx, "ip4", "HOST.test.")
	if err != nil || len(got) != 2 || ttl != 20*time.Second {
		t.Fatalf("second LookupIP = %v, %v, %v; want the cached answer with 20s left", got, ttl, err)
	}
	if n := srv.Count("host.test.", mdns.TypeA); n != 1 {
		t.Fatalf("server saw %d A queries, want 1 (the second from the cache)", n)
	}
	got[0] = netip.Addr{} // the caller's copy, not the cache's
	clk.Add(20 * time.Second)
	got, _, err = r.LookupIP(ctx, "ip4", "host.test")
	if err != nil || !slices.Equal(got, addrs("192.0.2.1", "192.0.2.2")) {
		t.Fatalf("LookupIP after expiry = %v, %v", got, err)
	}
	if n := srv.Count("host.test.", mdns.TypeA); n != 2 {
		t.Fatalf("server saw %d A queries, want 2 (the TTL ran out)", n)
	}

	got, _, err = r.LookupIP(ctx, "ip", "host.test")
	if err != nil || !slices.Equal(got, addrs("192.0.2.1", "192.0.2.2", "2001:db8::1")) {
		t.Fatalf(`LookupIP "ip" = %v, %v`, got, err)
	}
	got, _, err = r.LookupIP(ctx, "ip6", "host.test")
	if err != nil || !slices.Equal(got, addrs("2001:db8::1")) {
		t.Fatalf(`LookupIP "ip6" = %v, %v`, got, err)
	}
	st := r.Stats()
	// Lookups: A, A, A, "ip" (A, AAAA), AAAA; only the AAAA of "ip" and
	// the two uncached A lookups reached the server.
	if st.Lookups != 6 || st.CacheHits != 3 || st.Queries != 3 {
		t.Errorf("stats = %+v; want 6 lookups, 3 cache hits, 3 queries", st)
	}
}

func TestNotFound(t *testing.T) {
	srv, r, clk := setup(t, dns.Options{})
	srv.Add("exists.test. 300 IN TXT \"v=spf1 -all\"", "a.b.parent.test. 300 IN A 192.0.2.9")
	srv.SetNegativeTTL(120 * time.Second)
	ctx := context.Background()

	tests := []struct {
		name string
		want error
	}{
		{"missing.test", dns.ErrNXDomain},
		{"exists.test", dns.ErrNoData},
		{"b.parent.test", dns.ErrNoData}, // an empty non-terminal exists
	}
	for _, tc := range tests {
		for range 2 {
			got, ttl, err := r.LookupIP(ctx, "ip4", tc.name)
			if !errors.Is(err, tc.want) || !errors.Is(err, dns.ErrNotFound) || got != nil {
				t.Fatalf("LookupIP(%s) = %v, %v; want %v", tc.name, got, err, tc.want)
			}
			if ttl != 120*time.Second {
				t.Errorf("LookupIP(%s) TTL = %v, want the SOA minimum 120s", tc.name, ttl)
			}
		}
		if n := srv.Count(tc.name+".", mdns.TypeA); n != 1 {
			t.Errorf("%s: server saw %d queries, want 1 (the negative answer cached)", tc.name, n)
		}
	}
	if errors.Is(dns.ErrNXDomain, dns.ErrNoData) || errors.Is(dns.ErrNoData, dns.ErrNXDomain) {
		t.Error("NXDOMAIN and NODATA are not distinct")
	}
	clk.Add(121 * time.Second)
	if _, _, err := r.LookupIP(ctx, "ip4", "missing.test"); !errors.Is(err, dns.ErrNXDomain) {
		t.Fatal(err)
	}
	if n := srv.Count("missing.test.", mdns.TypeA); n != 2 {
		t.Errorf("server saw %d queries after the negative TTL, want 2", n)
	}
	st := r.Stats()
	if st.NXDomain != 3 || st.NoData != 4 {
		t.Errorf("stats = %+v; want 3 NXDOMAIN, 4 NODATA", st)
	}

	// "ip": not found when neither type is there; NODATA when the name exists.
	if _, _, err := r.LookupIP(ctx, "ip", "nowhere.test"); !errors.Is(err, dns.ErrNXDomain) {
		t.Errorf(`LookupIP "ip" of a missing name: %v, want NXDOMAIN`, err)
	}
	if _, _, err := r.LookupIP(ctx, "ip", "exists.test"); !errors.Is(err, dns.ErrNoData) {
		t.Errorf(`LookupIP "ip" of a name without addresses: %v, want NODATA`, err)
	}
}

func TestTTLClamp(t *testing.T) {
	srv, r, clk := setup(t, dns.Options{MinTTL: 10 * time.Second, MaxTTL: time.Minute})
	srv.Add("zero.test. 0 IN A 192.0.2.1", "day.test. 86400 IN A 192.0.2.2")
	srv.SetNegativeTTL(0)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		want time.Duration
	}{{"zero.test", 10 * time.Second}, {"day.test", time.Minute}, {"none.test", 10 * time.Second}} {
		_, ttl, err := r.LookupIP(ctx, "ip4", tc.name)
		if err != nil && !errors.Is(err, dns.ErrNotFound) {
			t.Fatal(err)
		}
		if ttl != tc.want {
			t.Errorf("%s: TTL %v, want %v", tc.name, ttl, tc.want)
		}
	}
	clk.Add(9 * time.Second)
	r.LookupIP(ctx, "ip4", "zero.test")
	if n := srv.Count("zero.test.", mdns.TypeA); n != 1 {
		t.Errorf("a TTL 0 answer was asked %d times within MinTTL, want 1", n)
	}
	clk.Add(2 * time.Second)
	r.LookupIP(ctx, "ip4", "zero.test")
	if n := srv.Count("zero.test.", mdns.TypeA); n != 2 {
		t.Errorf("a TTL 0 answer was asked %d times after MinTTL, want 2", n)
	}
}

func TestFailures(t *testing.T) {
	srv, r, _ := setup(t, dns.Options{Timeout: 100 * time.Millisecond})
	srv.Add("servfail.test. 60 IN A 192.0.2.1", "refused.test. 60 IN A 192.0.2.1", "drop.test. 60 IN A 192.0.2.1")
	srv.Set("servfail.test.", dnstest.Behavior{Rcode: mdns.RcodeServerFailure})
	srv.Set("refused.test", dnstest.Behavior{Rcode: mdns.RcodeRefused})
	srv.Set("notimp.test", dnstest.Behavior{Rcode: mdns.RcodeNotImplemented})
	srv.Set("drop.test", dnstest.Behavior{Drop: true})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		want error
	}{
		{"servfail.test", dns.ErrServFail},
		{"refused.test", dns.ErrRefused},
		{"notimp.test", dns.ErrBadResponse},
		{"drop.test", dns.ErrTimeout},
		{strings.Repeat("x", 64) + ".test", dns.ErrBadName},
		{"", dns.ErrBadName},
	} {
		for range 2 {
			got, _, err := r.LookupIP(ctx, "ip4", tc.name)
			if !errors.Is(err, tc.want) || errors.Is(err, dns.ErrNotFound) || got != nil {
				t.Fatalf("LookupIP(%s) = %v, %v; want %v", tc.name, got, err, tc.want)
			}
		}
		if tc.want != dns.ErrBadName {
			if n := srv.Count(tc.name+".", mdns.TypeA); n != 2 {
				t.Errorf("%s: server saw %d queries, want 2 (failures are not cached)", tc.name, n)
			}
		}
	}
	st := r.Stats()
	if st.ServFails != 2 || st.Refused != 2 || st.BadResponses != 2 || st.Timeouts != 2 || st.BadNames != 4 {
		t.Errorf("stats = %+v", st)
	}
}

func TestNetworkError(t *testing.T) {
	// A closed port on loopback: the UDP write or read fails with
	// "connection refused", or the query times out.
	srv := dnstest.New(t)
	addr := srv.Addr()
	srv.Close()
	r, err := dns.New(dns.Options{Servers: []string{addr}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.LookupIP(context.Background(), "ip4", "host.test")
	if !errors.Is(err, dns.ErrNetwork) && !errors.Is(err, dns.ErrTimeout) {
		t.Fatalf("err = %v, want a network error or a timeout", err)
	}
}

func TestFailover(t *testing.T) {
	bad := dnstest.New(t)
	good := dnstest.New(t)
	for _, name := range []string{"a.test", "b.test"} {
		bad.Add(name + ". 60 IN A 192.0.2.66")
		good.Add(name + ". 60 IN A 192.0.2.1")
	}
	bad.Set("a.test", dnstest.Behavior{Drop: true})
	bad.Set("b.test", dnstest.Behavior{Rcode: mdns.RcodeServerFailure})
	_, r, _ := setup(t, dns.Options{Servers: []string{bad.Addr(), good.Addr()}, Timeout: 100 * time.Millisecond})
	for _, name := range []string{"a.test", "b.test"} {
		got, _, err := r.LookupIP(context.Background(), "ip4", name)
		if err != nil || !slices.Equal(got, addrs("192.0.2.1")) {
			t.Errorf("%s: %v, %v; want the second server's answer", name, got, err)
		}
		if bad.Count(name, mdns.TypeA) != 1 || good.Count(name, mdns.TypeA) != 1 {
			t.Errorf("%s: servers asked %d and %d times, want 1 each", name, bad.Count(name, mdns.TypeA), good.Count(name, mdns.TypeA))
		}
	}
	if st := r.Stats(); st.Failovers != 2 {
		t.Errorf("failovers = %d, want 2", st.Failovers)
	}
	// Both servers failing: the error is the last server's.
	good.Set("b.test", dnstest.Behavior{Rcode: mdns.RcodeRefused})
	_, r2, _ := setup(t, dns.Options{Servers: []string{bad.Addr(), good.Addr()}})
	if _, _, err := r2.LookupIP(context.Background(), "ip4", "b.test"); !errors.Is(err, dns.ErrRefused) {
		t.Errorf("err = %v, want REFUSED from the last server", err)
	}
}

func TestTCPFallback(t *testing.T) {
	srv, r, _ := setup(t, dns.Options{})
	srv.Add("tc.test. 60 IN A 192.0.2.1")
	srv.Set("tc.test", dnstest.Behavior{TruncateUDP: true})
	// More TXT than fits in 1232 bytes: the server truncates by itself.
	for i := range 20 {
		srv.Add(fmt.Sprintf("big.test. 60 IN TXT \"%02d%s\"", i, strings.Repeat("x", 98)))
	}
	ctx := context.Background()
	got, _, err := r.LookupIP(ctx, "ip4", "tc.test")
	if err != nil || !slices.Equal(got, addrs("192.0.2.1")) {
		t.Fatalf("LookupIP = %v, %v", got, err)
	}
	txt, _, err := r.LookupTXT(ctx, "big.test")
	if err != nil || len(txt) != 20 {
		t.Fatalf("LookupTXT = %d records, %v; want 20", len(txt), err)
	}
	var nets []string
	for _, q := range srv.Queries() {
		nets = append(nets, q.Name+" "+q.Net)
	}
	want := []string{"tc.test. udp", "tc.test. tcp", "big.test. udp", "big.test. tcp"}
	if !slices.Equal(nets, want) {
		t.Errorf("queries %q, want %q", nets, want)
	}
	if st := r.Stats(); st.TCPFallbacks != 2 {
		t.Errorf("TCP fallbacks = %d, want 2", st.TCPFallbacks)
	}
}

func TestTypes(t *testing.T) {
	srv, r, _ := setup(t, dns.Options{})
	srv.Add(
		`example.test. 300 IN TXT "v=spf1 " "ip4:192.0.2.0/24 -all"`,
		`example.test. 300 IN TXT "other"`,
		"example.test. 300 IN MX 20 mx2.example.test.",
		"example.test. 300 IN MX 10 mx1.example.test.",
		"1.2.0.192.in-addr.arpa. 300 IN PTR mail.example.test.",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR six.example.test.",
		"alias.test. 100 IN CNAME alias2.test.",
		"alias2.test. 200 IN CNAME example2.test.",
		"example2.test. 300 IN A 192.0.2.7",
		"example2.test. 300 IN AAAA 2001:db8::7",
	)
	ctx := context.Background()
	txt, _, err := r.LookupTXT(ctx, "example.test")
	if err != nil || !slices.Equal(txt, []string{"v=spf1 ip4:192.0.2.0/24 -all", "other"}) {
		t.Errorf("LookupTXT = %q, %v", txt, err)
	}
	mx, _, err := r.LookupMX(ctx, "example.test")
	if err != nil || !slices.Equal(mx, []dns.MX{{"mx1.example.test.", 10}, {"mx2.example.test.", 20}}) {
		t.Errorf("LookupMX = %v, %v", mx, err)
	}
	ptr, _, err := r.LookupPTR(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil || !slices.Equal(ptr, []string{"mail.example.test."}) {
		t.Errorf("LookupPTR v4 = %v, %v", ptr, err)
	}
	ptr, _, err = r.LookupPTR(ctx, netip.MustParseAddr("2001:db8::1"))
	if err != nil || !slices.Equal(ptr, []string{"six.example.test."}) {
		t.Errorf("LookupPTR v6 = %v, %v", ptr, err)
	}
	ip, ttl, err := r.LookupIP(ctx, "ip", "alias.test")
	if err != nil || !slices.Equal(ip, addrs("192.0.2.7", "2001:db8::7")) || ttl != 100*time.Second {
		t.Errorf("LookupIP through CNAMEs = %v, %v, %v; want both addresses, the chain's lowest TTL 100s", ip, ttl, err)
	}
	ans, err := r.Query(ctx, "example.test.", mdns.TypeMX)
	if err != nil || len(ans.Records) != 2 || ans.TTL != 300*time.Second {
		t.Errorf("Query MX = %v, %v", ans, err)
	}
	ans, err = r.Query(ctx, "missing.test.", mdns.TypeMX)
	if !errors.Is(err, dns.ErrNXDomain) || ans.TTL != 60*time.Second || ans.Records != nil {
		t.Errorf("Query of a missing name = %v, %v; want NXDOMAIN holding 60s", ans, err)
	}
	if _, _, err := r.LookupIP(ctx, "tcp", "example.test"); err == nil {
		t.Error("LookupIP with a bad network gave no error")
	}
}

func TestCoalesce(t *testing.T) {
	srv, r, _ := setup(t, dns.Options{})
	srv.Add("slow.test. 60 IN A 192.0.2.1")
	srv.Set("slow.test", dnstest.Behavior{Delay: 200 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			got, _, err := r.LookupIP(context.Background(), "ip4", "slow.test")
			if err == nil && !slices.Equal(got, addrs("192.0.2.1")) {
				err = fmt.Errorf("got %v", got)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := srv.Count("slow.test", mdns.TypeA); n != 1 {
		t.Errorf("server saw %d queries for 10 concurrent lookups, want 1", n)
	}
	if st := r.Stats(); st.Coalesced+st.CacheHits != 9 {
		t.Errorf("coalesced %d + cache hits %d, want 9", st.Coalesced, st.CacheHits)
	}
}

func TestCallerDeadline(t *testing.T) {
	srv, r, _ := setup(t, dns.Options{Timeout: 2 * time.Second})
	srv.Add("slow.test. 60 IN A 192.0.2.1")
	srv.Set("slow.test", dnstest.Behavior{Delay: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := r.LookupIP(ctx, "ip4", "slow.test"); !errors.Is(err, dns.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, _, err := r.LookupIP(ctx2, "ip4", "slow.test"); !errors.Is(err, context.Canceled) || errors.Is(err, dns.ErrTimeout) {
		t.Fatalf("err = %v, want canceled", err)
	}
	// A caller that has already given up starts no query.
	if _, _, err := r.LookupIP(ctx2, "ip4", "other.test"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
	// The query went on without the callers and its answer was cached.
	time.Sleep(400 * time.Millisecond)
	srv.Set("slow.test", dnstest.Behavior{})
	got, _, err := r.LookupIP(context.Background(), "ip4", "slow.test")
	if err != nil || len(got) != 1 {
		t.Fatalf("LookupIP = %v, %v", got, err)
	}
	if n := srv.Count("slow.test", mdns.TypeA); n != 1 {
		t.Errorf("server saw %d queries, want 1", n)
	}
	if n := srv.Count("other.test", mdns.TypeA); n != 0 {
		t.Errorf("server saw %d queries of a canceled lookup, want 0", n)
	}
}

func TestEviction(t *testing.T) {
	srv, r, _ := setup(t, dns.Options{CacheEntries: 2})
	for _, n := range []string{"a", "b", "c"} {
		srv.Add(n + ".test. 300 IN A 192.0.2.1")
	}
	ctx := context.Background()
	look := func(name string) {
		t.Helper()
		if _, _, err := r.LookupIP(ctx, "ip4", name); err != nil {
			t.Fatal(err)
		}
	}
	look("a.test")
	look("b.test")
	look("a.test") // a is now the most recently used
	look("c.test") // evicts b
	look("a.test")
	look("b.test")
	counts := []int{srv.Count("a.test", mdns.TypeA), srv.Count("b.test", mdns.TypeA), srv.Count("c.test", mdns.TypeA)}
	if !slices.Equal(counts, []int{1, 2, 1}) {
		t.Errorf("queries per name %v, want [1 2 1]: b evicted as least recently used", counts)
	}
	st := r.Stats()
	if st.CacheEntries != 2 || st.Evictions != 2 {
		t.Errorf("cache entries %d evictions %d, want 2 and 2", st.CacheEntries, st.Evictions)
	}
}

func TestEvictionByBytes(t *testing.T) {
	srv, r, _ := setup(t, dns.Options{CacheBytes: 4096})
	ctx := context.Background()
	for i := range 100 {
		name := fmt.Sprintf("n%d.test", i)
		srv.Add(fmt.Sprintf("%s. 300 IN TXT \"%s\"", name, strings.Repeat("x", 200)))
		if _, _, err := r.LookupTXT(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	st := r.Stats()
	if st.CacheBytes > 4096 || st.CacheEntries == 0 || st.CacheEntries >= 20 {
		t.Errorf("cache holds %d entries, %d bytes; want a few within 4096 bytes", st.CacheEntries, st.CacheBytes)
	}
	// The newest answer is still cached, the oldest is not.
	r.LookupTXT(ctx, "n99.test")
	r.LookupTXT(ctx, "n0.test")
	if srv.Count("n99.test", mdns.TypeTXT) != 1 || srv.Count("n0.test", mdns.TypeTXT) != 2 {
		t.Errorf("n99 asked %d times, n0 %d times; want 1 and 2", srv.Count("n99.test", mdns.TypeTXT), srv.Count("n0.test", mdns.TypeTXT))
	}
	// An answer bigger than the whole bound is not cached.
	for i := range 30 {
		srv.Add(fmt.Sprintf("huge.test. 300 IN TXT \"%02d%s\"", i, strings.Repeat("y", 200)))
	}
	r.LookupTXT(ctx, "huge.test")
	r.LookupTXT(ctx, "huge.test")
	// Each lookup is a truncated UDP query and a TCP one.
	if n := srv.Count("huge.test", mdns.TypeTXT); n != 4 {
		t.Errorf("an over-size answer was asked %d times, want 4 (not cached)", n)
	}
	if st := r.Stats(); st.CacheBytes > 4096 {
		t.Errorf("cache bytes %d over the bound", st.CacheBytes)
	}
}

func TestOffline(t *testing.T) {
	srv := dnstest.New(t)
	srv.Add("host.test. 60 IN A 192.0.2.1")
	// Offline reads no resolv.conf: a directory would be a read error.
	r, err := dns.New(dns.Options{Offline: true, ResolvConf: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.LookupIP(context.Background(), "ip4", "host.test"); !errors.Is(err, dns.ErrOffline) || errors.Is(err, dns.ErrNotFound) {
		t.Errorf("offline lookup: %v, want ErrOffline", err)
	}
	r, err = dns.New(dns.Options{Offline: true, Servers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Query(context.Background(), "host.test", mdns.TypeA); !errors.Is(err, dns.ErrOffline) {
		t.Errorf("offline query: %v, want ErrOffline", err)
	}
	if srv.Total() != 0 {
		t.Errorf("the offline resolver sent %d queries", srv.Total())
	}
	if st := r.Stats(); st.Offline != 1 {
		t.Errorf("offline count %d, want 1", st.Offline)
	}
}

func TestNewServers(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	os.WriteFile(conf, []byte("search example.test\nnameserver 192.0.2.53\nnameserver ::1\n"), 0o644)
	for _, tc := range []struct {
		name string
		opts dns.Options
		want []string
		err  string
	}{
		{"resolv.conf", dns.Options{ResolvConf: conf}, []string{"192.0.2.53:53", "[::1]:53"}, ""},
		{"missing resolv.conf", dns.Options{ResolvConf: filepath.Join(dir, "none")}, []string{"127.0.0.1:53"}, ""},
		{"unreadable resolv.conf", dns.Options{ResolvConf: dir}, nil, "dns: reading"},
		{"servers", dns.Options{Servers: []string{"127.0.0.1:5353", "[::1]:53"}, ResolvConf: dir}, []string{"127.0.0.1:5353", "[::1]:53"}, ""},
		{"bad servers", dns.Options{Servers: []string{"127.0.0.1", "dns.test:53", "[::1]:53"}}, nil,
			"dns: server \"127.0.0.1\": want IP:port\ndns: server \"dns.test:53\": want IP:port"},
		{"TTL bounds", dns.Options{Servers: []string{"127.0.0.1:53"}, MinTTL: time.Hour, MaxTTL: time.Minute}, nil, "dns: max TTL"},
	} {
		r, err := dns.New(tc.opts)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := r.Servers(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: servers %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParseResolvConf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n", []string{"127.0.0.53:53"}},
		{"# nameserver 192.0.2.1\n; nameserver 192.0.2.2\nnameserver\tfe80::1%eth0 # link-local\n", []string{"[fe80::1%eth0]:53"}},
		{"nameserver 192.0.2.1\nnameserver bogus\nnameserver 192.0.2.2\nnameserver 192.0.2.3\nnameserver 192.0.2.4\n",
			[]string{"192.0.2.1:53", "192.0.2.2:53", "192.0.2.3:53"}},
		{"nameserver 192.0.2.1\r\n  nameserver 192.0.2.2", []string{"192.0.2.1:53", "192.0.2.2:53"}},
		{"nameserver 192.0.2.1:53\nnameservers 192.0.2.2\n", nil},
		{"nameserver 192.0.2.1 " + strings.Repeat("x", 10000) + "\nnameserver 192.0.2.2\n", []string{"192.0.2.2:53"}},
	} {
		got, err := dns.ParseResolvConf(strings.NewReader(tc.in))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseResolvConf(%.40q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseResolvConf(f *testing.F) {
	f.Add("nameserver 127.0.0.53\noptions edns0\n")
	f.Add("nameserver ::1\nnameserver fe80::1%eth0\n# x\n")
	f.Add("nameserver 1.2.3.4 " + strings.Repeat("y", 5000))
	f.Fuzz(func(t *testing.T, in string) {
		got, err := dns.ParseResolvConf(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 3 {
			t.Fatalf("%d servers, want at most 3", len(got))
		}
		for _, s := range got {
			ap, err := netip.ParseAddrPort(s)
			if err != nil || ap.Port() != 53 {
				t.Fatalf("server %q does not parse as IP:53: %v", s, err)
			}
			if !strings.Contains(in, ap.Addr().String()) && !strings.Contains(strings.ToLower(in), ap.Addr().String()) {
				// netip normalises IPv6 forms; the address must at least re-parse from the input line.
				found := false
				for _, line := range strings.Split(in, "\n") {
					if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
						if a, err := netip.ParseAddr(f[1]); err == nil && a == ap.Addr() {
							found = true
						}
					}
				}
				if !found {
					t.Fatalf("server %q is not in the input", s)
				}
			}
		}
	})
}

func TestReverse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1", "1.2.0.192"},
		{"127.0.0.2", "2.0.0.127"},
		{"0.0.0.0", "0.0.0.0"},
		{"255.255.255.255", "255.255.255.255"},
		{"::ffff:10.20.30.40", "40.30.20.10"},
		{"2001:db8:1:2:3:4:567:89ab", "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"},
		{"::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"},
	} {
		if got := dns.Reverse(netip.MustParseAddr(tc.in)); got != tc.want {
			t.Errorf("Reverse(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// BenchmarkResolverCacheHit is a lookup answered from the cache: a listed
// (positive) and a not-listed (negative) DNSBL-style A query.
func BenchmarkResolverCacheHit(b *testing.B) {
	srv := dnstest.New(b)
	srv.Add("2.0.0.127.bl.test. 300 IN A 127.0.0.2")
	r, err := dns.New(dns.Options{Servers: []string{srv.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, bc := range []struct{ name, q string }{{"positive", "2.0.0.127.bl.test"}, {"negative", "3.0.0.127.bl.test"}} {
		r.LookupIP(ctx, "ip4", bc.q)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.LookupIP(ctx, "ip4", bc.q)
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.LookupIP(ctx, "ip4", "2.0.0.127.bl.test")
			}
		})
	})
	if n := srv.Total(); n != 2 {
		b.Fatalf("server saw %d queries, want 2", n)
	}
}
