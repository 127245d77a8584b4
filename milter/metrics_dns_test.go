package milter

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailwarden/mailwarden/check/dns"
)

// TestDNSMetrics: each resolver counter reaches its metric, on the
// server's registry once SetDNSStats is called.
func TestDNSMetrics(t *testing.T) {
	ts := startServer(t, testConfig)
	names := func() map[string]bool {
		mfs, err := ts.srv.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, mf := range mfs {
			got[mf.GetName()] = true
		}
		return got
	}
	if names()["mailwarden_dns_lookups_total"] {
		t.Error("DNS metrics before SetDNSStats")
	}
	st := dns.Stats{Lookups: 1, CacheHits: 2, Coalesced: 3, NXDomain: 4, NoData: 5, Timeouts: 6, ServFails: 7,
		Refused: 8, NetworkErrors: 9, BadResponses: 10, BadNames: 11, Offline: 12, Queries: 13, TCPFallbacks: 14,
		Failovers: 15, CacheEntries: 16, CacheBytes: 17, Evictions: 18}
	ts.srv.SetDNSStats(func() dns.Stats { return st })
	if !names()["mailwarden_dns_lookups_total"] {
		t.Fatal("no DNS metrics after SetDNSStats")
	}
	want := `
# HELP mailwarden_dns_cache_bytes Estimated bytes held by the DNS cache.
# TYPE mailwarden_dns_cache_bytes gauge
mailwarden_dns_cache_bytes 17
# HELP mailwarden_dns_cache_entries Answers in the DNS cache.
# TYPE mailwarden_dns_cache_entries gauge
mailwarden_dns_cache_entries 16
# HELP mailwarden_dns_cache_evictions_total Live answers dropped from the DNS cache to stay within its bounds.
# TYPE mailwarden_dns_cache_evictions_total counter
mailwarden_dns_cache_evictions_total 18
# HELP mailwarden_dns_cache_hits_total DNS lookups answered from the cache.
# TYPE mailwarden_dns_cache_hits_total counter
mailwarden_dns_cache_hits_total 2
# HELP mailwarden_dns_coalesced_total DNS lookups that joined an identical query in flight.
# TYPE mailwarden_dns_coalesced_total counter
mailwarden_dns_coalesced_total 3
# HELP mailwarden_dns_errors_total DNS lookups that failed, by kind of their final error.
# TYPE mailwarden_dns_errors_total counter
mailwarden_dns_errors_total{kind="bad_name"} 11
mailwarden_dns_errors_total{kind="bad_response"} 10
mailwarden_dns_errors_total{kind="network"} 9
mailwarden_dns_errors_total{kind="offline"} 12
mailwarden_dns_errors_total{kind="refused"} 8
mailwarden_dns_errors_total{kind="servfail"} 7
mailwarden_dns_errors_total{kind="timeout"} 6
# HELP mailwarden_dns_failovers_total DNS queries passed on to the next server after a failure.
# TYPE mailwarden_dns_failovers_total counter
mailwarden_dns_failovers_total 15
# HELP mailwarden_dns_lookups_total DNS lookups asked of the shared resolver, per record type.
# TYPE mailwarden_dns_lookups_total counter
mailwarden_dns_lookups_total 1
# HELP mailwarden_dns_not_found_total DNS lookups answered not found, by kind (nxdomain, nodata).
# TYPE mailwarden_dns_not_found_total counter
mailwarden_dns_not_found_total{kind="nodata"} 5
mailwarden_dns_not_found_total{kind="nxdomain"} 4
# HELP mailwarden_dns_queries_total DNS queries sent to servers, UDP and TCP.
# TYPE mailwarden_dns_queries_total counter
mailwarden_dns_queries_total 13
# HELP mailwarden_dns_tcp_fallbacks_total Truncated UDP answers asked again over TCP.
# TYPE mailwarden_dns_tcp_fallbacks_total counter
mailwarden_dns_tcp_fallbacks_total 14
`
	if err := testutil.CollectAndCompare(ts.srv.metrics.dns, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
