package milter

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mailwarden/mailwarden/check/profiler"
	"github.com/mailwarden/mailwarden/check/throttle"
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
	checkTime   *prometheus.HistogramVec
	checkErrors *prometheus.CounterVec
	dns         *dnsCollector
}

// observeCheck records one check run (check.Runner.Observe).
func (m *metrics) observeCheck(name string, d time.Duration, err error) {
	m.checkTime.WithLabelValues(name).Observe(d.Seconds())
	if err != nil {
		m.checkErrors.WithLabelValues(name).Inc()
	}
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
		checkTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mailwarden_check_seconds",
			Help: "Time each check took, by check.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"check"}),
		checkErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailwarden_check_errors_total",
			Help: "Checks that failed (an error, their time budget spent, a panic), by check."}, []string{"check"}),
		dns: &dnsCollector{},
	}
	m.reg.MustRegister(m.checkTime, m.checkErrors, m.dns, m.messages, m.recipients, m.ruleMatches, m.quarantined, m.scanSeconds, m.internal,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mailwarden_sessions_active",
			Help: "Open milter sessions."}, func() float64 { return float64(s.active.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailwarden_sessions_refused_total",
			Help: "Sessions answered 421 over server.max_sessions."}, func() float64 { return float64(s.Refused.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailwarden_panics_total",
			Help: "Panics recovered in sessions."}, func() float64 { return float64(s.Panics.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailwarden_accept_errors_total",
			Help: "Failed accepts of MTA connections (e.g. too many open files), retried with back-off."}, func() float64 { return float64(s.acceptErrors.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailwarden_throttle_blocks_total",
			Help: "Keys a throttle blocked for going over its limit."}, func() float64 { return float64(throttle.Blocks()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailwarden_profiler_blocks_total",
			Help: "Client networks the IP profiler blocked."}, func() float64 { return float64(profiler.Blocks()) }),
		// The tracking-log writer and the store's WAL (events.go).
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailwarden_tracking_rows_journaled_total",
			Help: "Tracking-log rows made durable in the journal before the session's reply."}, func() float64 { return float64(s.events.journaled.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailwarden_tracking_rows_direct_total",
			Help: "Tracking-log rows the journal could not take, written to the store directly."}, func() float64 { return float64(s.events.direct.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailwarden_tracking_rows_lost_total",
			Help: "Tracking-log rows neither the journal nor the store could take (logged in full instead)."}, func() float64 { return float64(s.events.lost.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mailwarden_tracking_queue_rows",
			Help: "Tracking-log rows in the journal, not yet in the store."}, func() float64 { n, _ := s.events.queued(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mailwarden_tracking_journal_bytes",
			Help: "Bytes of those rows, bounded by store.journal_max."}, func() float64 { _, b := s.events.queued(); return float64(b) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailwarden_store_checkpoint_failures_total",
			Help: "WAL checkpoints that failed or left frames behind (a reader holding an old snapshot)."}, func() float64 { return float64(s.events.ckptFailed.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mailwarden_store_wal_bytes",
			Help: "Size of the store's write-ahead log file."}, func() float64 { return float64(s.events.st.WALBytes()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is the server's metrics registry, for the /metrics endpoint.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }
