package spf

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/check/dns/dnstest"
)

// fakeDNS starts a fake DNS server with records (zone-file lines without
// TTL and class: "example.com. TXT \"v=spf1 -all\"") and failures, and a
// resolver that asks it.
func fakeDNS(t *testing.T, records []string, behave map[string]dnstest.Behavior) (*dnstest.Server, *dns.Resolver) {
	t.Helper()
	srv := dnstest.New(t)
	for _, rec := range records {
		name, rest, _ := strings.Cut(rec, " ")
		srv.Add(name + " 300 IN " + rest)
	}
	for name, b := range behave {
		srv.Set(name, b)
	}
	r, err := dns.New(dns.Options{Servers: []string{srv.Addr()}, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return srv, r
}

// txt is a TXT record line for name, quoted in 255-octet strings as a
// zone file needs them.
func txt(name, value string) string {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, value[:255])
		value = value[255:]
	}
	parts = append(parts, value)
	return name + " TXT \"" + strings.Join(parts, "\" \"") + "\""
}

// includes is a record with n include terms, each of a domain that passes
// nothing, then -all.
func includes(n int) []string {
	rec := "v=spf1"
	out := []string{}
	for i := range n {
		rec += fmt.Sprintf(" include:i%d.limit.test", i)
		out = append(out, txt(fmt.Sprintf("i%d.limit.test.", i), "v=spf1 ?ip4:203.0.113.0/24"))
	}
	return append(out, txt("limit.test.", rec+" -all"))
}

// TestEvaluate runs check_host() (RFC 7208) against the fake DNS server.
func TestEvaluate(t *testing.T) {
	v4 := "192.0.2.7"
	v6 := "2001:db8::7"
	tests := []struct {
		name    string
		ip      string
		helo    string
		sender  string
		records []string
		behave  map[string]dnstest.Behavior
		timeout time.Duration
		want    Result
		expl    string // in the explanation
	}{
		// Results of the "all" qualifiers (§4.6.2, §5.1) and none (§4.5).
		{name: "ip4 pass", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 ip4:192.0.2.0/24 -all")}, want: Pass},
		{name: "fail", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 ip4:198.51.100.0/24 -all")}, want: Fail, expl: "matched all"},
		{name: "softfail", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 ~all")}, want: SoftFail},
		{name: "neutral", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 ?all")}, want: Neutral},
		{name: "no match is neutral", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 ip4:198.51.100.1")}, want: Neutral, expl: "no mechanism matched"},
		{name: "no record is none", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "google-site-verification=x")}, want: None, expl: "no SPF record"},
		{name: "NXDOMAIN is none", ip: v4, sender: "a@nowhere.example", want: None},
		{name: "version case-insensitive", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "V=SPF1 IP4:192.0.2.7 -ALL")}, want: Pass},
		{name: "record in two strings", ip: v4, sender: "a@example.com", records: []string{`example.com. TXT "v=spf1 ip4:192.0.2.7" " -all"`}, want: Pass},
		{name: "single-label domain is none without lookup", ip: v4, sender: "a@localhost", want: None, expl: "not a domain"},
		{name: "address literal is none", ip: v4, sender: "a@[192.0.2.7]", want: None},

		// include (§5.2) and redirect (§6.1).
		{name: "include pass", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 include:_spf.provider.test -all"),
			txt("_spf.provider.test.", "v=spf1 ip4:192.0.2.0/28 -all")}, want: Pass},
		{name: "include fail does not match", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 include:_spf.provider.test ~all"),
			txt("_spf.provider.test.", "v=spf1 -all")}, want: SoftFail},
		{name: "include of no record is permerror", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 include:none.test -all")}, want: PermError},
		{name: "include temperror", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 include:broken.test -all")},
			behave: map[string]dnstest.Behavior{"broken.test.": {Rcode: mdns.RcodeServerFailure}}, want: TempError},
		{name: "redirect", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 redirect=_spf.example.net"),
			txt("_spf.example.net.", "v=spf1 ip4:192.0.2.7 -all")}, want: Pass},
		{name: "redirect result is the target's", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 redirect=_spf.example.net"),
			txt("_spf.example.net.", "v=spf1 -all")}, want: Fail},
		{name: "redirect after a match is ignored", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 redirect=_spf.example.net ip4:192.0.2.7"),
			txt("_spf.example.net.", "v=spf1 -all")}, want: Pass},
		{name: "redirect to no record is permerror", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 redirect=none.test")}, want: PermError},
		{name: "two redirects are permerror", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 redirect=a.test redirect=b.test")}, want: PermError},

		// Macros (§7) and exists (§5.7).
		{name: "exists with %{i} and %{d}", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 exists:%{i}._spf.%{d} -all"),
			"192.0.2.7._spf.example.com. A 127.0.0.2"}, want: Pass},
		{name: "exists with %{ir} and %{l}", ip: v4, sender: "alice@example.com", records: []string{
			txt("example.com.", "v=spf1 exists:%{ir}.%{l}._spf.%{d} -all"),
			"7.2.0.192.alice._spf.example.com. A 127.0.0.2"}, want: Pass},
		{name: "exists with %{h}", ip: v4, helo: "mx.example.org", sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 exists:%{h}.hosts.example.com -all"),
			"mx.example.org.hosts.example.com. A 127.0.0.2"}, want: Pass},
		{name: "exists without an address does not match", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 exists:%{i}._spf.%{d} -all")}, want: Fail},
		{name: "exists on IPv6 uses dotted nibbles", ip: v6, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 exists:%{i}._spf.%{d} -all"),
			"2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7._spf.example.com. A 127.0.0.2"}, want: Pass},
		{name: "bad macro is permerror", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 exists:%{z}.example.com -all")}, want: PermError},

		// ptr (§5.5), validated by the forward lookup.
		{name: "ptr pass", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 ptr -all"),
			"7.2.0.192.in-addr.arpa. PTR mail.example.com.",
			"mail.example.com. A 192.0.2.7"}, want: Pass},
		{name: "ptr not validated by the forward lookup", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 ptr -all"),
			"7.2.0.192.in-addr.arpa. PTR mail.example.com.",
			"mail.example.com. A 192.0.2.8"}, want: Fail},
		{name: "ptr of another domain", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 ptr -all"),
			"7.2.0.192.in-addr.arpa. PTR mail.notexample.com.",
			"mail.notexample.com. A 192.0.2.7"}, want: Fail},
		{name: "ptr of IPv6", ip: v6, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 ptr:example.com -all"),
			"7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR mail.example.com.",
			"mail.example.com. AAAA 2001:db8::7"}, want: Pass},

		// IPv6 (ip6, a and mx with AAAA).
		{name: "ip6 pass", ip: v6, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 ip6:2001:db8::/32 -all")}, want: Pass},
		{name: "ip6 does not match IPv4", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 ip6:::/0 -all")}, want: Fail},
		{name: "ip4 does not match IPv6", ip: v6, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 ip4:0.0.0.0/0 -all")}, want: Fail},
		{name: "a with AAAA", ip: v6, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 a -all"), "example.com. AAAA 2001:db8::7"}, want: Pass},
		{name: "a with only A fails IPv6", ip: v6, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 a -all"), "example.com. A 192.0.2.7"}, want: Fail},
		{name: "a with a v6 prefix", ip: v6, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 a:net.example.com//64 -all"), "net.example.com. AAAA 2001:db8::1"}, want: Pass},
		{name: "IPv4-mapped client is IPv4", ip: "::ffff:192.0.2.7", sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 ip4:192.0.2.7 -all")}, want: Pass},
		{name: "mx with AAAA", ip: v6, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 mx -all"), "example.com. MX 10 mx1.example.com.", "mx1.example.com. AAAA 2001:db8::7"}, want: Pass},
		{name: "mx with A and a v4 prefix", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 mx/24 -all"), "example.com. MX 10 mx1.example.com.", "mx1.example.com. A 192.0.2.200"}, want: Pass},

		// Lookup limits (§4.6.4).
		{name: "10 DNS-querying terms are allowed", ip: v4, sender: "a@limit.test", records: includes(10), want: Fail},
		{name: "11 DNS-querying terms are permerror", ip: v4, sender: "a@limit.test", records: includes(11), want: PermError, expl: "more than 10 DNS-querying terms"},
		{name: "redirect counts toward the limit", ip: v4, sender: "a@limit.test", records: append(includes(10)[:10],
			txt("limit.test.", "v=spf1 include:i0.limit.test include:i1.limit.test include:i2.limit.test include:i3.limit.test include:i4.limit.test include:i5.limit.test include:i6.limit.test include:i7.limit.test include:i8.limit.test include:i9.limit.test redirect=i0.limit.test")),
			want: PermError, expl: "more than 10"},
		{name: "ip4 terms do not count", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1"+strings.Repeat(" ip4:198.51.100.1", 30)+" ip4:192.0.2.7 -all")}, want: Pass},
		{name: "2 void lookups are allowed", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 a:v1.example.com a:v2.example.com -all")}, want: Fail},
		{name: "3 void lookups are permerror", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 a:v1.example.com a:v2.example.com a:v3.example.com -all")}, want: PermError, expl: "more than 2 void lookups"},
		{name: "NODATA is a void lookup", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 mx:v1.example.com mx:v2.example.com mx:v3.example.com -all"),
			"v1.example.com. A 192.0.2.99", "v2.example.com. A 192.0.2.99", "v3.example.com. A 192.0.2.99"}, want: PermError, expl: "void"},
		{name: "11 MX records are permerror", ip: v4, sender: "a@example.com", records: append([]string{txt("example.com.", "v=spf1 mx -all")},
			func() []string {
				var mx []string
				for i := range 11 {
					mx = append(mx, fmt.Sprintf("example.com. MX %d mx%d.example.com.", i, i))
				}
				return mx
			}()...), want: PermError, expl: "more than 10 MX"},

		// temperror (a failure, §4.4, §5) versus permerror (a broken record, §4.6).
		{name: "SERVFAIL is temperror", ip: v4, sender: "a@example.com",
			behave: map[string]dnstest.Behavior{"example.com.": {Rcode: mdns.RcodeServerFailure}}, want: TempError, expl: "SERVFAIL"},
		{name: "REFUSED is temperror", ip: v4, sender: "a@example.com",
			behave: map[string]dnstest.Behavior{"example.com.": {Rcode: mdns.RcodeRefused}}, want: TempError},
		{name: "timeout is temperror", ip: v4, sender: "a@example.com", timeout: 500 * time.Millisecond,
			behave: map[string]dnstest.Behavior{"example.com.": {Drop: true}}, want: TempError, expl: "timeout"},
		{name: "timeout in a mechanism is temperror", ip: v4, sender: "a@example.com", timeout: 500 * time.Millisecond,
			records: []string{txt("example.com.", "v=spf1 a:slow.example.com -all")},
			behave:  map[string]dnstest.Behavior{"slow.example.com.": {Drop: true}}, want: TempError},
		{name: "SERVFAIL of an MX host is temperror", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 mx -all"), "example.com. MX 10 mx1.example.com."},
			behave: map[string]dnstest.Behavior{"mx1.example.com.": {Rcode: mdns.RcodeServerFailure}}, want: TempError},
		{name: "failed reverse lookup does not match ptr", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 ptr -all")},
			behave: map[string]dnstest.Behavior{"7.2.0.192.in-addr.arpa.": {Rcode: mdns.RcodeServerFailure}}, want: Fail},
		{name: "bad ip4 is permerror", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 ip4:999.1.1.1 -all")}, want: PermError},
		{name: "bad prefix is permerror", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 ip4:192.0.2.0/33 -all")}, want: PermError},
		{name: "unknown mechanism is permerror", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 frobnicate -all")}, want: PermError},
		{name: "unknown modifier is ignored", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 foo=bar ip4:192.0.2.7 -all")}, want: Pass},
		{name: "two records are permerror", ip: v4, sender: "a@example.com", records: []string{
			txt("example.com.", "v=spf1 -all"), txt("example.com.", "v=spf1 +all")}, want: PermError, expl: "more than one SPF record"},
		{name: "syntax error after a match is not reached", ip: v4, sender: "a@example.com", records: []string{txt("example.com.", "v=spf1 ip4:192.0.2.7 frobnicate")}, want: Pass},

		// The HELO identity (§2.3): postmaster@HELO.
		{name: "HELO identity", ip: v4, helo: "mx.example.org", sender: "postmaster@mx.example.org", records: []string{
			txt("mx.example.org.", "v=spf1 a -all"), "mx.example.org. A 192.0.2.7"}, want: Pass},
		{name: "sender without local part is postmaster", ip: v4, sender: "@example.com", records: []string{
			txt("example.com.", "v=spf1 exists:%{l}.users.example.com -all"), "postmaster.users.example.com. A 127.0.0.2"}, want: Pass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, r := fakeDNS(t, tt.records, tt.behave)
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			helo := tt.helo
			if helo == "" {
				helo = "client.example.org"
			}
			o := Evaluate(ctx, r, netip.MustParseAddr(tt.ip), helo, tt.sender)
			if o.Result != tt.want || !strings.Contains(o.Explanation, tt.expl) {
				t.Errorf("Evaluate = %s (%s), want %s (%q)", o.Result, o.Explanation, tt.want, tt.expl)
			}
			if o.Offline {
				t.Errorf("offline set")
			}
			if strings.Contains(tt.name, "without lookup") && srv.Total() != 0 {
				t.Errorf("%d queries, want none", srv.Total())
			}
		})
	}
}

// TestEvaluateSharedCache checks that SPF lookups go through the shared
// resolver's cache: a second evaluation asks the server nothing.
func TestEvaluateSharedCache(t *testing.T) {
	srv, r := fakeDNS(t, []string{
		txt("example.com.", "v=spf1 include:_spf.provider.test -all"),
		txt("_spf.provider.test.", "v=spf1 a:mx.provider.test -all"),
		"mx.provider.test. A 192.0.2.7",
	}, nil)
	ip := netip.MustParseAddr("192.0.2.7")
	if o := Evaluate(t.Context(), r, ip, "h.example.org", "a@example.com"); o.Result != Pass || o.Lookups == 0 {
		t.Fatalf("first: %+v", o)
	}
	n := srv.Total()
	if o := Evaluate(t.Context(), r, ip, "h.example.org", "b@example.com"); o.Result != Pass {
		t.Fatalf("second: %+v", o)
	}
	if srv.Total() != n {
		t.Errorf("second evaluation asked the server %d more queries, want 0 (cached)", srv.Total()-n)
	}
}

// TestEvaluateOffline: an offline resolver is no answer about the sender.
func TestEvaluateOffline(t *testing.T) {
	r, err := dns.New(dns.Options{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	o := Evaluate(t.Context(), r, netip.MustParseAddr("192.0.2.7"), "h.example.org", "a@example.com")
	if !o.Offline || o.Result != TempError {
		t.Errorf("offline: %+v, want temperror marked offline", o)
	}
}

var dnstestDrop = dnstest.Behavior{Drop: true}

// BenchmarkEvaluateCached is one MAIL FROM evaluation through an include
// and an a mechanism, every answer from the shared resolver's cache.
func BenchmarkEvaluateCached(b *testing.B) {
	srv := dnstest.New(b)
	srv.Add(`example.com. 3600 IN TXT "v=spf1 include:_spf.provider.test -all"`,
		`_spf.provider.test. 3600 IN TXT "v=spf1 a:mx.provider.test ip4:198.51.100.0/24 -all"`,
		"mx.provider.test. 3600 IN A 192.0.2.7")
	r, err := dns.New(dns.Options{Servers: []string{srv.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	ip := netip.MustParseAddr("192.0.2.7")
	if o := Evaluate(b.Context(), r, ip, "h.example.org", "a@example.com"); o.Result != Pass {
		b.Fatalf("%+v", o)
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(b.Context(), r, ip, "h.example.org", "a@example.com")
	}
}
