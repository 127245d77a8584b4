package dns

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/mailwarden/mailwarden/config"
)

// Config is the [dns] section: the one resolver every DNS lookup of
// mailwarden goes through (DNSBL now; SPF, DKIM, DMARC and URI lists
// later), and its cache.
type Config struct {
	// Servers are the resolvers to ask, "IP:port", in order; empty means
	// the nameservers of /etc/resolv.conf. Use a local caching resolver:
	// public DNSBLs refuse queries through big public resolvers.
	Servers []string `toml:"servers"`
	// Timeout bounds one query to one server (1s: a DNSBL zone has 1.5s,
	// so a dead first server still leaves time to ask the next).
	Timeout config.Duration `toml:"timeout"`
	// CacheEntries bounds the answers kept, positive and negative, each
	// for its TTL.
	CacheEntries int `toml:"cache_entries"`
	// ConnectBudget bounds the DNS lookups of the connect stage (DNSBL
	// zones are asked in parallel, each within the smaller of its own
	// timeout and this).
	ConnectBudget config.Duration `toml:"connect_budget"`
}

func init() {
	config.Register("dns", func() Config {
		return Config{Timeout: config.Dur(time.Second), CacheEntries: DefaultCacheEntries, ConnectBudget: config.Dur(2 * time.Second)}
	}, func(r *config.Report, c *Config) {
		for i, s := range c.Servers {
			if _, err := netip.ParseAddrPort(s); err != nil {
				r.Add(fmt.Sprintf("dns.servers[%d]", i), `"IP:port", e.g. "127.0.0.1:53" or "[::1]:53"`, "%q is not IP:port", s)
			}
		}
		r.Duration("dns.timeout", c.Timeout)
		r.Duration("dns.connect_budget", c.ConnectBudget)
		if c.Timeout.D <= 0 {
			r.Add("dns.timeout", "e.g. 2s", "must be positive")
		}
		if c.ConnectBudget.D <= 0 || c.ConnectBudget.D > 30*time.Second {
			r.Add("dns.connect_budget", "2s is the default; Postfix waits 30s for the milter at connect", "must be between 0 and 30s")
		}
		if c.CacheEntries < 1 {
			r.Add("dns.cache_entries", "", "must be at least 1")
		}
	})
}

// FromConfig makes the resolver [dns] describes; offline makes every
// lookup fail at once (`mailwarden check --offline`).
func FromConfig(cfg *config.Config, offline bool) (*Resolver, error) {
	c := config.Section[Config](cfg, "dns")
	return New(Options{Servers: c.Servers, Timeout: c.Timeout.D, CacheEntries: c.CacheEntries, Offline: offline})
}

// ConnectBudget is [dns] connect_budget.
func ConnectBudget(cfg *config.Config) time.Duration {
	return config.Section[Config](cfg, "dns").ConnectBudget.D
}
