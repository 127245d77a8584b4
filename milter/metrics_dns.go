package milter

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailwarden/mailwarden/check/dns"
)

// SetDNSStats gives the metrics the shared resolver's counters
// ([dns.Resolver.Stats]); until it is called the mailwarden_dns_* metrics
// are absent. Call it again when a reload replaces the resolver.
func (s *Server) SetDNSStats(stats func() dns.Stats) { s.metrics.dns.stats.Store(&stats) }

// dnsCollector exports the resolver's counters as mailwarden_dns_*; it
// reads them at scrape time, so lookups pay nothing for metrics.
type dnsCollector struct {
	stats atomic.Pointer[func() dns.Stats]
}

type dnsMetric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(*dns.Stats) float64
	label string
}

func dnsCounter(name, help string, v func(*dns.Stats) uint64) dnsMetric {
	return dnsMetric{prometheus.NewDesc(name, help, nil, nil), prometheus.CounterValue,
		func(s *dns.Stats) float64 { return float64(v(s)) }, ""}
}

// The labelled families share one descriptor per name.
var (
	dnsNotFound = prometheus.NewDesc("mailwarden_dns_not_found_total",
		"DNS lookups answered not found, by kind (nxdomain, nodata).", []string{"kind"}, nil)
	dnsErrors = prometheus.NewDesc("mailwarden_dns_errors_total",
		"DNS lookups that failed, by kind of their final error.", []string{"kind"}, nil)
)

func dnsLabelled(desc *prometheus.Desc, label string, v func(*dns.Stats) uint64) dnsMetric {
	return dnsMetric{desc, prometheus.CounterValue, func(s *dns.Stats) float64 { return float64(v(s)) }, label}
}

var dnsMetrics = []dnsMetric{
	dnsCounter("mailwarden_dns_lookups_total", "DNS lookups asked of the shared resolver, per record type.", func(s *dns.Stats) uint64 { return s.Lookups }),
	dnsCounter("mailwarden_dns_cache_hits_total", "DNS lookups answered from the cache.", func(s *dns.Stats) uint64 { return s.CacheHits }),
	dnsCounter("mailwarden_dns_coalesced_total", "DNS lookups that joined an identical query in flight.", func(s *dns.Stats) uint64 { return s.Coalesced }),
	dnsLabelled(dnsNotFound, "nxdomain", func(s *dns.Stats) uint64 { return s.NXDomain }),
	dnsLabelled(dnsNotFound, "nodata", func(s *dns.Stats) uint64 { return s.NoData }),
	dnsLabelled(dnsErrors, "timeout", func(s *dns.Stats) uint64 { return s.Timeouts }),
	dnsLabelled(dnsErrors, "servfail", func(s *dns.Stats) uint64 { return s.ServFails }),
	dnsLabelled(dnsErrors, "refused", func(s *dns.Stats) uint64 { return s.Refused }),
	dnsLabelled(dnsErrors, "network", func(s *dns.Stats) uint64 { return s.NetworkErrors }),
	dnsLabelled(dnsErrors, "bad_response", func(s *dns.Stats) uint64 { return s.BadResponses }),
	dnsLabelled(dnsErrors, "bad_name", func(s *dns.Stats) uint64 { return s.BadNames }),
	dnsLabelled(dnsErrors, "offline", func(s *dns.Stats) uint64 { return s.Offline }),
	dnsCounter("mailwarden_dns_queries_total", "DNS queries sent to servers, UDP and TCP.", func(s *dns.Stats) uint64 { return s.Queries }),
	dnsCounter("mailwarden_dns_tcp_fallbacks_total", "Truncated UDP answers asked again over TCP.", func(s *dns.Stats) uint64 { return s.TCPFallbacks }),
	dnsCounter("mailwarden_dns_failovers_total", "DNS queries passed on to the next server after a failure.", func(s *dns.Stats) uint64 { return s.Failovers }),
	dnsCounter("mailwarden_dns_cache_evictions_total", "Live answers dropped from the DNS cache to stay within its bounds.", func(s *dns.Stats) uint64 { return s.Evictions }),
	{prometheus.NewDesc("mailwarden_dns_cache_entries", "Answers in the DNS cache.", nil, nil), prometheus.GaugeValue,
		func(s *dns.Stats) float64 { return float64(s.CacheEntries) }, ""},
	{prometheus.NewDesc("mailwarden_dns_cache_bytes", "Estimated bytes held by the DNS cache.", nil, nil), prometheus.GaugeValue,
		func(s *dns.Stats) float64 { return float64(s.CacheBytes) }, ""},
}

func (c *dnsCollector) Describe(ch chan<- *prometheus.Desc) {
	seen := map[*prometheus.Desc]bool{}
	for _, m := range dnsMetrics {
		if !seen[m.desc] {
			seen[m.desc] = true
			ch <- m.desc
		}
	}
}

func (c *dnsCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.stats.Load()
	if f == nil {
		return
	}
	s := (*f)()
	for _, m := range dnsMetrics {
		if m.label != "" {
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.value(&s), m.label)
		} else {
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.value(&s))
		}
	}
}
