package spf

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/check/dns/dnstest"
)

// maxLookups bounds the queries of one evaluation whatever the record
// says: the TXT record, then at most 10 DNS-querying terms (RFC 7208
// §4.6.4), each at most one query plus 10 address lookups (of MX hosts,
// or of PTR names).
const maxLookups = 1 + 10*11

// FuzzEvaluate serves a hostile SPF record from the fake DNS server: the
// evaluation must end with one of the RFC 7208 results, within the lookup
// limits.
func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{
		"v=spf1 -all",
		"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx ptr exists:%{i}.x.test -all",
		"v=spf1 include:fuzz.test redirect=fuzz.test",
		"v=spf1 redirect=fuzz.test",
		"v=spf1 a:%{l1r-}.%{d2}.%{o}.%{h}.%{v}.%{p}.%{s} exp=%{r} ~all",
		"v=spf1 mx:fuzz.test/24//64 a//0 ?all",
		"v=spf1 %{",
		"v=spf1 ip4:999.0.0.1",
	} {
		f.Add(s)
	}
	srv := dnstest.New(f)
	srv.Add("fuzz.test. 60 IN MX 10 fuzz.test.", "fuzz.test. 60 IN A 192.0.2.7",
		"7.2.0.192.in-addr.arpa. 60 IN PTR fuzz.test.")
	ip := netip.MustParseAddr("192.0.2.7")
	f.Fuzz(func(t *testing.T, record string) {
		var chunks []string
		for len(record) > 255 {
			chunks = append(chunks, record[:255])
			record = record[255:]
		}
		srv.Remove("fuzz.test.")
		srv.Add("fuzz.test. 60 IN MX 10 fuzz.test.", "fuzz.test. 60 IN A 192.0.2.7")
		srv.AddRR(&mdns.TXT{Hdr: mdns.RR_Header{Name: "fuzz.test.", Rrtype: mdns.TypeTXT, Class: mdns.ClassINET, Ttl: 60},
			Txt: append(chunks, record)})
		r, err := dns.New(dns.Options{Servers: []string{srv.Addr()}, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		o := Evaluate(ctx, r, ip, "fuzz.test", "a@fuzz.test")
		if !slices.Contains(Results, o.Result) {
			t.Fatalf("result %q is not an RFC 7208 result", o.Result)
		}
		if o.Lookups > maxLookups {
			t.Fatalf("%d lookups, more than %d", o.Lookups, maxLookups)
		}
	})
}
