package milter

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the daemon's Prometheus metrics, on a registry of the
// server's own, so several servers (tests) never collide.
type metrics struct {
	reg         *prometheus.Registry
	messages    *prometheus.CounterVec
	recipients  *prometheus.CounterVec
	ruleMatches *prometheus.CounterVec
	quarantined *prometheus.CounterVec
	scanSeconds prometheus.Histogram
	internal    *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailwarden_transactions_total",
			Help: "Tracking-log rows written, by final action and the stage where the transaction ended."}, []string{"action", "stage"}),
		recipients: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailwarden_recipients_total",
			Help: "Recipients by outcome."}, []string{"outcome"}),
		ruleMatches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailwarden_rule_matches_total",
			Help: "Rules that matched, by rule name."}, []string{"rule"}),
		quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailwarden_quarantined_total",
			Help: "Messages committed to the quarantine, by area."}, []string{"area"}),
		scanSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mailwarden_eom_seconds",
			Help: "Time to scan and decide a message at end of message.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		internal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailwarden_internal_errors_total",
			Help: "Internal errors and recovered panics, answered with the on_error action, by stage."}, []string{"stage"}),
	}
	m.reg.MustRegister(m.messages, m.recipients, m.ruleMatches, m.quarantined, m.scanSeconds, m.internal,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mailwarden_sessions_active",
			Help: "Open milter sessions."}, func() float64 { return float64(s.active.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailwarden_sessions_refused_total",
			Help: "Sessions answered 421 over server.max_sessions."}, func() float64 { return float64(s.Refused.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailwarden_panics_total",
			Help: "Panics recovered in sessions."}, func() float64 { return float64(s.Panics.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailwarden_accept_errors_total",
			Help: "Failed accepts of MTA connections (e.g. too many open files), retried with back-off."}, func() float64 { return float64(s.acceptErrors.Load()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is the server's metrics registry, for the /metrics endpoint.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }
