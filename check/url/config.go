package url

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/mailwarden/mailwarden/check/dnsbl"
	"github.com/mailwarden/mailwarden/config"
)

// Config is the [urls] section.
type Config struct {
	// MaxURLs bounds the distinct URLs examined per message (default
	// 1000); past it the findings' reasons say that some went unexamined.
	MaxURLs int `toml:"max_urls"`
	// MaxLookups bounds the distinct domains and IP addresses asked of
	// each [[uribl]] zone per message (default 20).
	MaxLookups int `toml:"max_lookups"`
	// Parallel is how many URI blocklist lookups of one message run at
	// once (default 8).
	Parallel int `toml:"parallel"`
	// Budget bounds the URI blocklist lookups of one message (default
	// 5s); each lookup also has its zone's timeout.
	Budget config.Duration `toml:"budget"`
	// Shorteners are URL shortener hosts added to the built-in list
	// (bit.ly, t.co, tinyurl.com, ...): a URL on one gives url.shortener.
	Shorteners []string `toml:"shorteners"`
	// Blocklist is a local list of domains (each with its subdomains) and
	// IP addresses whose URLs give url.listed.
	Blocklist []string `toml:"blocklist"`
}

// ZoneConfig is one [[uribl]] table: a DNS URI blocklist (SURBL and
// URIBL style), asked for the registrable domain of each URL as
// "domain.zone" and for an IPv4 host as its reversed octets under the
// zone.
type ZoneConfig struct {
	// Name names the list in url.listed's reason and in check.error.
	Name string `toml:"name"`
	// Zone is the list's DNS zone, e.g. "multi.uribl.example".
	Zone string `toml:"zone"`
	// Codes maps return codes to their meanings, as in [[dnsbl]]
	// ("127.0.0.2" = "black", ranges, prefixes and bitmasks such as "&8").
	Codes map[string]string `toml:"codes"`
	// CodesOnly counts only the answers Codes names as a listing.
	CodesOnly bool `toml:"codes_only"`
	// Timeout bounds each lookup in the zone (default 2s).
	Timeout config.Duration `toml:"timeout"`
	// OnError is what a failed lookup (timeout, SERVFAIL, 127.0.0.1 for a
	// refused query, 127.255.255.252-255) means: "skip" (default; the
	// failure is the finding check.error naming uribl.NAME) or
	// "tempfail".
	OnError string `toml:"on_error"`
}

// DefaultTimeout is a zone's timeout when it gives none.
const DefaultTimeout = 2 * time.Second

func defaults() Config {
	return Config{MaxURLs: 1000, MaxLookups: 20, Parallel: 8, Budget: config.Dur(5 * time.Second)}
}

func init() {
	config.Register("urls", defaults, validate)
	config.Register("uribl", func() []ZoneConfig { return nil }, validateZones)
}

func validate(r *config.Report, c *Config) {
	if c.MaxURLs < 1 || c.MaxURLs > 100000 {
		r.Add("urls.max_urls", "1000 is the default", "must be between 1 and 100000")
	}
	if c.MaxLookups < 1 || c.MaxLookups > 1000 {
		r.Add("urls.max_lookups", "20 is the default", "must be between 1 and 1000")
	}
	if c.Parallel < 1 || c.Parallel > 64 {
		r.Add("urls.parallel", "8 is the default", "must be between 1 and 64")
	}
	r.Duration("urls.budget", c.Budget)
	if c.Budget.D <= 0 || c.Budget.D > 60*time.Second {
		r.Add("urls.budget", "5s is the default; Postfix waits 300s for the milter at end of message, Sendmail 10s", "must be between 0 and 60s")
	}
	for i, h := range c.Shorteners {
		if _, ok := hostKey(h); !ok {
			r.Add(fmt.Sprintf("urls.shorteners[%d]", i), "a host name such as \"sho.rt\"", "%q is not a host name", h)
		}
	}
	for i, h := range c.Blocklist {
		if _, ok := hostKey(h); !ok {
			r.Add(fmt.Sprintf("urls.blocklist[%d]", i), "a domain such as \"evil.example\" or an IP address", "%q is neither a domain nor an IP address", h)
		}
	}
}

// hostKey is the lower-case form of a configured host, domain or IP.
func hostKey(h string) (string, bool) {
	h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().String(), true
	}
	if _, ok := mdns.IsDomainName(h); !ok || h == "" || strings.ContainsAny(h, "/:@ ") {
		return "", false
	}
	return h, true
}

func validateZones(r *config.Report, zs *[]ZoneConfig) {
	names := map[string]int{}
	for i, z := range *zs {
		key := fmt.Sprintf("uribl[%d]", i)
		if _, err := newZone(z); err != nil {
			for _, e := range strings.Split(err.Error(), "\n") {
				r.Add(key, "", "%s", strings.TrimPrefix(e, "url: "))
			}
		}
		if first, dup := names[z.Name]; dup {
			r.Add(key+".name", fmt.Sprintf("uribl[%d] has the same name", first), "duplicate list %q", z.Name)
		}
		names[z.Name] = i
		r.Duration(key+".timeout", z.Timeout)
		if z.OnError != "" {
			r.OneOf(key+".on_error", z.OnError, "skip", "tempfail")
		}
	}
}

// zone is a validated [[uribl]] table.
type zone struct {
	cfg     ZoneConfig
	zone    string // lower case, no final dot
	codes   []dnsbl.Code
	meaning []string
	timeout time.Duration
}

func newZone(c ZoneConfig) (*zone, error) {
	var errs []string
	if c.Name == "" {
		errs = append(errs, "name is empty")
	} else if strings.Trim(c.Name, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		errs = append(errs, fmt.Sprintf("name %q: use lower-case letters, digits, '-' and '_'", c.Name))
	}
	z := &zone{cfg: c, zone: strings.ToLower(strings.TrimSuffix(c.Zone, ".")), timeout: c.Timeout.D}
	// A query name is a registrable domain (up to 127 bytes here), a dot
	// and the zone, within 253 (RFC 1035 §2.3.4).
	if _, ok := mdns.IsDomainName(z.zone); !ok || z.zone == "" || len(z.zone) > 253-128 {
		errs = append(errs, fmt.Sprintf("zone %q is not a domain name", c.Zone))
	}
	if z.timeout < 0 {
		errs = append(errs, fmt.Sprintf("timeout %s is negative", c.Timeout.D))
	}
	if z.timeout == 0 {
		z.timeout = DefaultTimeout
	}
	for _, k := range slices.Sorted(maps.Keys(c.Codes)) {
		v := c.Codes[k]
		code, err := dnsbl.ParseCode(k)
		if err != nil {
			errs = append(errs, strings.TrimPrefix(err.Error(), "dnsbl: "))
			continue
		}
		z.codes = append(z.codes, code)
		z.meaning = append(z.meaning, v)
	}
	if c.CodesOnly && len(c.Codes) == 0 {
		errs = append(errs, "codes_only without codes would never list")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("url: %s", strings.Join(errs, "\nurl: "))
	}
	return z, nil
}
