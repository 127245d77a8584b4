package dnsbl_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/check/dns/dnstest"
	"github.com/mailwarden/mailwarden/check/dnsbl"
)

func setup(t *testing.T) (*dnstest.Server, *dns.Resolver) {
	t.Helper()
	srv := dnstest.New(t)
	r, err := dns.New(dns.Options{Servers: []string{srv.Addr()}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return srv, r
}

func zone(t *testing.T, c dnsbl.Config) *dnsbl.Zone {
	t.Helper()
	z, err := dnsbl.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

var spamCodes = map[string]string{
	"127.0.0.2":     "spam source",
	"127.0.0.4-7":   "exploited host",
	"127.0.0.10/31": "end-user range",
}

func TestQueryName(t *testing.T) {
	z := zone(t, dnsbl.Config{Name: "bl", Zone: "BL.Test."})
	for _, tc := range []struct{ ip, want string }{
		{"192.0.2.99", "99.2.0.192.bl.test."},
		{"127.0.0.2", "2.0.0.127.bl.test."},
		{"::ffff:192.0.2.99", "99.2.0.192.bl.test."},
		// RFC 5782 §2.4's example.
		{"2001:db8:1:2:3:4:567:89ab", "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.test."},
	} {
		if got := z.QueryName(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("QueryName(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
}

func TestLookup(t *testing.T) {
	srv, r := setup(t)
	srv.Add(
		"2.2.0.192.bl.test. 300 IN A 127.0.0.2",
		"3.2.0.192.bl.test. 300 IN A 127.0.0.2",
		"3.2.0.192.bl.test. 300 IN A 127.0.0.5",
		"4.2.0.192.bl.test. 300 IN A 127.0.0.9",
		"5.2.0.192.bl.test. 300 IN A 127.255.255.254",
		"6.2.0.192.bl.test. 300 IN A 198.51.100.1",
		"7.2.0.192.bl.test. 300 IN TXT \"only a TXT\"",
		"11.2.0.192.bl.test. 300 IN A 127.0.0.2",
		"11.2.0.192.bl.test. 300 IN A 127.255.255.255",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test. 300 IN A 127.0.0.11",
		"2.2.0.192.uri.test. 300 IN A 127.0.0.6",
		"2.2.0.192.uri.test. 300 IN TXT \"see https://uri.test/q?192.0.2.2\"",
		"2.2.0.192.only.test. 300 IN A 127.0.0.9",
		"3.2.0.192.only.test. 300 IN A 127.0.0.2",
	)
	srv.Set("8.2.0.192.bl.test.", dnstest.Behavior{Rcode: mdns.RcodeServerFailure})
	srv.Set("9.2.0.192.bl.test.", dnstest.Behavior{Drop: true})
	bl := zone(t, dnsbl.Config{Name: "bl", Zone: "bl.test", Codes: spamCodes, Timeout: 300 * time.Millisecond})
	uri := zone(t, dnsbl.Config{Name: "uri", Zone: "uri.test", Codes: map[string]string{"&2": "phish", "&0.0.0.4": "malware"}, TXT: true})
	only := zone(t, dnsbl.Config{Name: "only", Zone: "only.test", Codes: map[string]string{"127.0.0.2": "spam source"}, CodesOnly: true})

	for _, tc := range []struct {
		zone   *dnsbl.Zone
		ip     string
		status dnsbl.Status
		reason string
		err    error
	}{
		{bl, "192.0.2.2", dnsbl.Listed, "127.0.0.2: spam source", nil},
		{bl, "192.0.2.3", dnsbl.Listed, "127.0.0.2: spam source; 127.0.0.5: exploited host", nil},
		{bl, "192.0.2.4", dnsbl.Listed, "127.0.0.9", nil}, // no meaning given
		{bl, "2001:db8::1", dnsbl.Listed, "127.0.0.11: end-user range", nil},
		{bl, "192.0.2.1", dnsbl.NotListed, "", nil},   // NXDOMAIN
		{bl, "192.0.2.7", dnsbl.NotListed, "", nil},   // NODATA
		{bl, "2001:db8::2", dnsbl.NotListed, "", nil}, // NXDOMAIN
		{bl, "192.0.2.5", dnsbl.Failed, "dnsbl: zone answered an error code: bl answered 127.255.255.254 (query through a public or unidentified resolver)", dnsbl.ErrErrorCode},
		{bl, "192.0.2.11", dnsbl.Failed, "", dnsbl.ErrErrorCode}, // one error code spoils the answer
		{bl, "192.0.2.6", dnsbl.Failed, "dnsbl: answer outside 127.0.0.0/8: bl answered 198.51.100.1", dnsbl.ErrNotLoopback},
		{bl, "192.0.2.8", dnsbl.Failed, "", dnsbl.ErrLookup},
		{bl, "192.0.2.9", dnsbl.Failed, "", dnsbl.ErrTimeout},
		{uri, "192.0.2.2", dnsbl.Listed, "127.0.0.6: malware, phish (see https://uri.test/q?192.0.2.2)", nil},
		{only, "192.0.2.2", dnsbl.NotListed, "", nil},
		{only, "192.0.2.3", dnsbl.Listed, "127.0.0.2: spam source", nil},
	} {
		res := tc.zone.Lookup(context.Background(), r, netip.MustParseAddr(tc.ip))
		name := tc.zone.Config().Name + " " + tc.ip
		if res.Status != tc.status || (tc.reason != "" || tc.status != dnsbl.Failed) && res.Reason != tc.reason {
			t.Errorf("%s: %s %q, want %s %q", name, res.Status, res.Reason, tc.status, tc.reason)
		}
		if !errors.Is(res.Err, tc.err) || (tc.err == nil) != (res.Err == nil) {
			t.Errorf("%s: err %v, want %v", name, res.Err, tc.err)
		}
		if res.Zone != tc.zone {
			t.Errorf("%s: result of another zone", name)
		}
	}
	if n := srv.Count("2.2.0.192.bl.test.", mdns.TypeTXT); n != 0 {
		t.Errorf("TXT asked %d times of a zone without TXT", n)
	}
}

// fakeResolver answers every A lookup with addrs, for answers the fake
// DNS server cannot give (an IPv6 address to an A query).
type fakeResolver struct{ addrs []netip.Addr }

func (f fakeResolver) LookupIP(context.Context, string, string) ([]netip.Addr, time.Duration, error) {
	return f.addrs, time.Minute, nil
}

func (f fakeResolver) LookupTXT(context.Context, string) ([]string, time.Duration, error) {
	return nil, 0, dns.ErrNXDomain
}

func TestLookupOddAnswers(t *testing.T) {
	z := zone(t, dnsbl.Config{Name: "bl", Zone: "bl.test"})
	ip := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		addrs  []string
		err    error
		status dnsbl.Status
	}{
		{[]string{"::ffff:127.0.0.2"}, dnsbl.ErrNotLoopback, dnsbl.Failed},
		{[]string{"2001:db8::1"}, dnsbl.ErrNotLoopback, dnsbl.Failed},
		{[]string{"127.0.0.2", "10.0.0.1"}, dnsbl.ErrNotLoopback, dnsbl.Failed},
		{[]string{"127.255.255.252"}, dnsbl.ErrErrorCode, dnsbl.Failed},
		{[]string{"127.255.255.251"}, nil, dnsbl.Listed},
		{[]string{"127.0.0.1"}, nil, dnsbl.Listed},
		{nil, nil, dnsbl.NotListed},
	} {
		var addrs []netip.Addr
		for _, a := range tc.addrs {
			addrs = append(addrs, netip.MustParseAddr(a))
		}
		res := z.Lookup(context.Background(), fakeResolver{addrs}, ip)
		if res.Status != tc.status || !errors.Is(res.Err, tc.err) || (tc.err == nil) != (res.Err == nil) {
			t.Errorf("answer %v: %s, %v; want %s, %v", tc.addrs, res.Status, res.Err, tc.status, tc.err)
		}
	}
	if res := z.Lookup(context.Background(), fakeResolver{}, netip.Addr{}); !errors.Is(res.Err, dnsbl.ErrBadAddress) {
		t.Errorf("invalid address: %v", res.Err)
	}
	// Offline is a failed lookup, not "not listed".
	off, err := dns.New(dns.Options{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if res := z.Lookup(context.Background(), off, ip); res.Status != dnsbl.Failed || !errors.Is(res.Err, dns.ErrOffline) {
		t.Errorf("offline: %s, %v", res.Status, res.Err)
	}
}

func TestLookupCacheHit(t *testing.T) {
	srv, r := setup(t)
	srv.Add("2.2.0.192.bl.test. 300 IN A 127.0.0.2")
	zones := []*dnsbl.Zone{zone(t, dnsbl.Config{Name: "bl", Zone: "bl.test"}), zone(t, dnsbl.Config{Name: "other", Zone: "other.test"})}
	for range 2 {
		for _, ip := range []string{"192.0.2.2", "192.0.2.3"} {
			res := dnsbl.LookupAll(context.Background(), r, zones, netip.MustParseAddr(ip))
			if res.Zones[0].Err != nil || res.Zones[1].Err != nil {
				t.Fatal(res.Zones[0].Err, res.Zones[1].Err)
			}
		}
	}
	for _, name := range []string{"2.2.0.192.bl.test", "3.2.0.192.bl.test", "2.2.0.192.other.test", "3.2.0.192.other.test"} {
		if n := srv.Count(name, mdns.TypeA); n != 1 {
			t.Errorf("%s asked %d times for two lookups, want 1 (the second from the cache)", name, n)
		}
	}
}

func TestLookupAll(t *testing.T) {
	srv, r := setup(t)
	srv.Add(
		"2.2.0.192.a.test. 300 IN A 127.0.0.2",
		"2.2.0.192.b.test. 300 IN A 127.0.0.3",
		"2.2.0.192.slow.test. 300 IN A 127.0.0.2",
		"2.2.0.192.wl.test. 300 IN A 127.0.10.1",
	)
	srv.Set("2.2.0.192.slow.test", dnstest.Behavior{Delay: 5 * time.Second})
	zones := []*dnsbl.Zone{
		zone(t, dnsbl.Config{Name: "a", Zone: "a.test", Weight: 2, Codes: map[string]string{"127.0.0.2": "spam source"}}),
		zone(t, dnsbl.Config{Name: "b", Zone: "b.test", Weight: 3}),
		zone(t, dnsbl.Config{Name: "slow", Zone: "slow.test", Weight: 10, Timeout: 200 * time.Millisecond}),
		zone(t, dnsbl.Config{Name: "none", Zone: "none.test", Weight: 7}),
		zone(t, dnsbl.Config{Name: "wl", Zone: "wl.test", Weight: -1, Allow: true}),
	}
	ip := netip.MustParseAddr("192.0.2.2")
	res := dnsbl.LookupAll(context.Background(), r, zones, ip)
	var got []string
	for _, zr := range res.Zones {
		got = append(got, zr.Zone.Config().Name+" "+zr.Status.String())
	}
	want := []string{"a listed", "b listed", "slow failed", "none not listed", "wl listed"}
	if !slices.Equal(got, want) {
		t.Errorf("results %q, want %q", got, want)
	}
	if !errors.Is(res.Zones[2].Err, dnsbl.ErrTimeout) || !errors.Is(res.Zones[2].Err, dns.ErrTimeout) {
		t.Errorf("slow zone: %v, want a timeout", res.Zones[2].Err)
	}
	if res.Zones[0].Reason != "127.0.0.2: spam source" {
		t.Errorf("reason %q", res.Zones[0].Reason)
	}
	if res.Score != 4 {
		t.Errorf("score %d, want 2+3-1", res.Score)
	}

	// The overall budget cuts a zone short of its own timeout, and the
	// zones after it in the list still answer (a fresh cache, so they
	// have to be asked).
	r2, err := dns.New(dns.Options{Servers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	zones[2] = zone(t, dnsbl.Config{Name: "slow", Zone: "slow.test", Weight: 10, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res = dnsbl.LookupAll(ctx, r2, zones, ip)
	got = got[:0]
	for _, zr := range res.Zones {
		got = append(got, zr.Zone.Config().Name+" "+zr.Status.String())
	}
	if !slices.Equal(got, want) || !errors.Is(res.Zones[2].Err, dnsbl.ErrTimeout) || res.Score != 4 {
		t.Errorf("under the budget: %q, score %d, slow zone %v; want %q, 4, a timeout", got, res.Score, res.Zones[2].Err, want)
	}
}

func TestLookupAllParallel(t *testing.T) {
	// Three zones that each take 400 ms answer within a 1 s budget only
	// when asked at once.
	srv, r := setup(t)
	var zones []*dnsbl.Zone
	for _, n := range []string{"s1", "s2", "s3"} {
		srv.Add("2.2.0.192." + n + ".test. 300 IN A 127.0.0.2")
		srv.Set("2.2.0.192."+n+".test", dnstest.Behavior{Delay: 400 * time.Millisecond})
		zones = append(zones, zone(t, dnsbl.Config{Name: n, Zone: n + ".test", Weight: 1, Timeout: time.Minute}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res := dnsbl.LookupAll(ctx, r, zones, netip.MustParseAddr("192.0.2.2"))
	for _, zr := range res.Zones {
		if zr.Status != dnsbl.Listed {
			t.Errorf("%s: %s %v", zr.Zone.Config().Name, zr.Status, zr.Err)
		}
	}
	if res.Score != 3 {
		t.Errorf("score %d, want 3", res.Score)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		cfg  dnsbl.Config
		errs []string
	}{
		{dnsbl.Config{Name: "zen", Zone: "zen.example.test."}, nil},
		{dnsbl.Config{}, []string{"dnsbl: name is empty", `dnsbl: zone "" is not a domain name`}},
		{dnsbl.Config{Name: "Zen!", Zone: "bad..zone"}, []string{`dnsbl: name "Zen!": use lower-case`, `dnsbl: zone "bad..zone" is not`}},
		{dnsbl.Config{Name: "z", Zone: strings.Repeat("a.", 100) + "test"}, []string{"is not a domain name"}},
		{dnsbl.Config{Name: "z", Zone: "z.test", Timeout: -time.Second}, []string{"dnsbl: timeout -1s is negative"}},
		{dnsbl.Config{Name: "z", Zone: "z.test", CodesOnly: true}, []string{"codes_only without codes"}},
		{dnsbl.Config{Name: "z", Zone: "z.test", Codes: map[string]string{"127.0.0.2": "ok", "10.0.0.1": "x", "127.0.0.300": "y"}},
			[]string{`dnsbl: code "10.0.0.1": not in 127.0.0.0-127.255.255.251`, `dnsbl: code "127.0.0.300": "127.0.0.300" is not an IPv4 address`}},
	} {
		z, err := dnsbl.New(tc.cfg)
		if tc.errs == nil {
			if err != nil || z.Config().Timeout != dnsbl.DefaultTimeout {
				t.Errorf("New(%+v): %v", tc.cfg, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("New(%+v): no error, want %q", tc.cfg, tc.errs)
			continue
		}
		for _, want := range tc.errs {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("New(%+v): %q does not say %q", tc.cfg, err, want)
			}
		}
		if n := strings.Count(err.Error(), "\n") + 1; n != len(tc.errs) {
			t.Errorf("New(%+v): %d problems reported, want %d: %q", tc.cfg, n, len(tc.errs), err)
		}
	}
}

func TestParseCode(t *testing.T) {
	for _, tc := range []struct {
		in, canon string
		match     []string
		miss      []string
	}{
		{"127.0.0.2", "127.0.0.2", []string{"127.0.0.2"}, []string{"127.0.0.3", "127.0.1.2"}},
		{"127.0.0.4-7", "127.0.0.4-127.0.0.7", []string{"127.0.0.4", "127.0.0.7"}, []string{"127.0.0.3", "127.0.0.8"}},
		{"127.0.0.250-127.0.1.3", "127.0.0.250-127.0.1.3", []string{"127.0.0.255", "127.0.1.0"}, []string{"127.0.1.4"}},
		{"127.0.0.8/29", "127.0.0.8/29", []string{"127.0.0.8", "127.0.0.15"}, []string{"127.0.0.16", "127.0.0.7"}},
		{"127.0.0.9/29", "127.0.0.8/29", []string{"127.0.0.8"}, nil},
		{"127.0.0.0/8", "127.0.0.0/8", []string{"127.0.0.1", "127.255.0.1"}, []string{"128.0.0.1"}},
		{"&4", "&0.0.0.4", []string{"127.0.0.4", "127.0.0.6", "127.0.0.12"}, []string{"127.0.0.2", "127.0.0.8"}},
		{"&0x0c", "&0.0.0.12", []string{"127.0.0.4", "127.0.0.8"}, []string{"127.0.0.2"}},
		{"&0.0.1.0", "&0.0.1.0", []string{"127.0.1.2"}, []string{"127.0.0.255"}},
	} {
		c, err := dnsbl.ParseCode(tc.in)
		if err != nil {
			t.Errorf("ParseCode(%q): %v", tc.in, err)
			continue
		}
		if c.String() != tc.canon {
			t.Errorf("ParseCode(%q) = %s, want %s", tc.in, c, tc.canon)
		}
		for _, a := range tc.match {
			if !c.Match(netip.MustParseAddr(a)) {
				t.Errorf("%s does not match %s", tc.in, a)
			}
		}
		for _, a := range tc.miss {
			if c.Match(netip.MustParseAddr(a)) {
				t.Errorf("%s matches %s", tc.in, a)
			}
		}
	}
	for _, bad := range []string{"", "x", "127.0.0", "::1", "10.0.0.2", "127.255.255.254", "127.255.255.252/30",
		"127.0.0.7-4", "127.0.0.4-", "127.0.0.4-300", "127.0.0.4-+5", "127.0.0.0-128.0.0.0", "126.0.0.0/7",
		"&0", "&", "&x", "&+4", "&::1", "&0x100000000", "127.0.0.1/33", "::1/128"} {
		if c, err := dnsbl.ParseCode(bad); err == nil {
			t.Errorf("ParseCode(%q) = %s, want an error", bad, c)
		}
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"127.0.0.2", "127.0.0.4-7", "127.0.0.2-127.0.0.9", "127.0.0.8/29", "&4", "&0x0c", "&0.0.0.8", "1-2", "&-1"} {
		f.Add(s, uint32(0x7f000002))
	}
	f.Fuzz(func(t *testing.T, s string, v uint32) {
		c, err := dnsbl.ParseCode(s)
		if err != nil {
			return
		}
		// The canonical form parses back to the same code.
		c2, err := dnsbl.ParseCode(c.String())
		if err != nil || c2 != c {
			t.Fatalf("%q -> %s -> %v, %v", s, c, c2, err)
		}
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		if c.Match(a) != c2.Match(a) {
			t.Fatalf("%q and %s disagree on %s", s, c, a)
		}
		if c.Match(netip.MustParseAddr("::1")) {
			t.Fatalf("%q matches an IPv6 address", s)
		}
		// Only a mask can match outside 127.0.0.0/8.
		if !strings.HasPrefix(s, "&") && c.Match(a) && v>>24 != 127 {
			t.Fatalf("%q matches %s", s, a)
		}
	})
}

// BenchmarkLookupAllCacheHit is the connect-stage DNSBL work for a client
// whose answers are cached: three zones, one listing it.
func BenchmarkLookupAllCacheHit(b *testing.B) {
	srv := dnstest.New(b)
	srv.Add("2.2.0.192.a.test. 300 IN A 127.0.0.2")
	r, err := dns.New(dns.Options{Servers: []string{srv.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	var zones []*dnsbl.Zone
	for _, n := range []string{"a", "b", "c"} {
		z, err := dnsbl.New(dnsbl.Config{Name: n, Zone: n + ".test", Weight: 1, Codes: spamCodes})
		if err != nil {
			b.Fatal(err)
		}
		zones = append(zones, z)
	}
	ip := netip.MustParseAddr("192.0.2.2")
	ctx := context.Background()
	dnsbl.LookupAll(ctx, r, zones, ip)
	b.ReportAllocs()
	for b.Loop() {
		if res := dnsbl.LookupAll(ctx, r, zones, ip); res.Score != 1 {
			b.Fatalf("score %d", res.Score)
		}
	}
	if n := srv.Total(); n != 3 {
		b.Fatalf("server saw %d queries, want 3", n)
	}
}
