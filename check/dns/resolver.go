// Package dns is the one DNS resolver every check shares: DNSBL, SPF,
// DKIM, DMARC and URI blocklist lookups. It is a dependency of checks, not
// a check itself.
//
// A [Resolver] sends recursive queries to the configured servers (or those
// of /etc/resolv.conf) over UDP, retries over TCP when an answer is
// truncated, and tries the next server on a timeout or a failure. It
// caches answers in bounded memory: positive answers for their lowest TTL,
// negative ones for the SOA minimum (RFC 2308 §5), both within
// [Options.MinTTL] and [Options.MaxTTL]. Identical queries in flight at the
// same time are sent once.
//
// Not found is an answer, not a failure: lookups return an error wrapping
// [ErrNotFound] ([ErrNXDomain] or [ErrNoData]) for it, and one of the other
// sentinel errors ([ErrTimeout], [ErrServFail], ...) when there is no
// answer to go by, so a DNSBL can tell "not listed" from "lookup failed".
// Failures are not cached.
//
// Every name is absolute: there is no search list and no ndots.
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// RR is a resource record of github.com/miekg/dns.
type RR = mdns.RR

// MX is one mail exchanger (RFC 1035 §3.3.9).
type MX struct {
	Host string // absolute, with the final dot; "." is a null MX (RFC 7505)
	Pref uint16
}

// Defaults for the zero values of [Options].
const (
	DefaultResolvConf   = "/etc/resolv.conf"
	DefaultTimeout      = 2 * time.Second
	DefaultCacheEntries = 65536
	DefaultCacheBytes   = 16 << 20
	DefaultMinTTL       = 5 * time.Second
	DefaultMaxTTL       = time.Hour
)

// udpSize is the EDNS0 buffer size offered, the DNS Flag Day 2020 value
// that avoids IP fragmentation.
const udpSize = 1232

// maxCNAMEs bounds the CNAME chain followed inside one answer.
const maxCNAMEs = 16

// Options configure a [Resolver]. The zero value reads /etc/resolv.conf
// and uses the defaults above.
type Options struct {
	// Servers are "IP:port" addresses, tried in order. Empty means the
	// nameserver lines of ResolvConf.
	Servers []string
	// ResolvConf is the file read when Servers is empty
	// ([DefaultResolvConf]). A missing file means 127.0.0.1:53, as in
	// glibc.
	ResolvConf string
	// Timeout is how long one query waits for one server's answer; the
	// caller's context bounds the whole lookup.
	Timeout time.Duration
	// CacheEntries and CacheBytes bound the cache; the least recently used
	// answers go first. CacheBytes is an estimate of the memory held.
	CacheEntries int
	CacheBytes   int
	// MinTTL and MaxTTL clamp how long an answer is cached, positive or
	// negative.
	MinTTL, MaxTTL time.Duration
	// Offline makes every lookup fail at once with [ErrOffline], for dry
	// runs that must not touch the network.
	Offline bool
	// Logger gets one debug line per failed query to a server.
	Logger *slog.Logger
	// Now is the clock for cache expiry (time.Now when nil).
	Now func() time.Time
}

// Resolver is a caching stub resolver, safe for concurrent use. Make it
// with [New].
type Resolver struct {
	servers  []string
	timeout  time.Duration
	minTTL   time.Duration
	maxTTL   time.Duration
	offline  bool
	log      *slog.Logger
	now      func() time.Time
	udp, tcp *mdns.Client
	stats    counters
	mu       sync.Mutex // guards cache and flights
	cache    *cache
	flights  map[key]*flight
}

// flight is a query in progress that identical lookups wait for.
type flight struct {
	done chan struct{}
	e    *entry
	err  error
}

// New returns a resolver for opts. It reads ResolvConf when Servers is
// empty and opts.Offline is false.
func New(opts Options) (*Resolver, error) {
	r := &Resolver{
		timeout: opts.Timeout, minTTL: opts.MinTTL, maxTTL: opts.MaxTTL,
		offline: opts.Offline, log: opts.Logger, now: opts.Now,
		flights: make(map[key]*flight),
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.minTTL <= 0 {
		r.minTTL = DefaultMinTTL
	}
	if r.maxTTL <= 0 {
		r.maxTTL = DefaultMaxTTL
	}
	if r.maxTTL < r.minTTL {
		return nil, fmt.Errorf("dns: max TTL %s is below min TTL %s", r.maxTTL, r.minTTL)
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	entries, bytes := opts.CacheEntries, opts.CacheBytes
	if entries <= 0 {
		entries = DefaultCacheEntries
	}
	if bytes <= 0 {
		bytes = DefaultCacheBytes
	}
	r.cache = newCache(entries, bytes)
	r.udp = &mdns.Client{Net: "udp", UDPSize: udpSize}
	r.tcp = &mdns.Client{Net: "tcp"}

	var errs []error
	for _, s := range opts.Servers {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("dns: server %q: want IP:port", s))
			continue
		}
		r.servers = append(r.servers, ap.String())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(r.servers) == 0 && !r.offline {
		path := opts.ResolvConf
		if path == "" {
			path = DefaultResolvConf
		}
		f, err := os.Open(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			r.log.Warn("dns: no resolv.conf; using 127.0.0.1:53", "path", path)
		case err != nil:
			return nil, fmt.Errorf("dns: %w", err)
		default:
			r.servers, err = ParseResolvConf(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("dns: reading %s: %w", path, err)
			}
		}
		if len(r.servers) == 0 {
			r.servers = []string{"127.0.0.1:53"}
		}
	}
	return r, nil
}

// Servers returns the servers the resolver asks, in order.
func (r *Resolver) Servers() []string { return slices.Clone(r.servers) }

// Answer is the result of [Resolver.Query].
type Answer struct {
	// Records are the answer's records of the type asked, at the end of
	// any CNAME chain. They are shared with the cache: do not modify them.
	Records []RR
	// TTL is how much longer the answer (or the negative answer) holds.
	TTL time.Duration
}

// Query looks up records of type qtype (mdns.TypeA, ...) for name. For a
// name that does not exist or has no such records the error wraps
// [ErrNotFound] and the answer's TTL says how long that holds.
func (r *Resolver) Query(ctx context.Context, name string, qtype uint16) (Answer, error) {
	e, ttl, err := r.lookup(ctx, name, qtype)
	if e == nil {
		return Answer{}, err
	}
	return Answer{Records: e.records, TTL: ttl}, err
}

// LookupIP returns the addresses of host: network "ip4" asks A, "ip6"
// AAAA, "ip" both at once (found if either has addresses; then the TTL is
// the shorter of the two).
func (r *Resolver) LookupIP(ctx context.Context, network, host string) ([]netip.Addr, time.Duration, error) {
	switch network {
	case "ip4":
		return r.lookupAddrs(ctx, host, mdns.TypeA)
	case "ip6":
		return r.lookupAddrs(ctx, host, mdns.TypeAAAA)
	case "ip":
	default:
		return nil, 0, fmt.Errorf("dns: LookupIP: unknown network %q", network)
	}
	type res struct {
		addrs []netip.Addr
		ttl   time.Duration
		err   error
	}
	ch := make(chan res, 1)
	go func() {
		a, t, err := r.lookupAddrs(ctx, host, mdns.TypeAAAA)
		ch <- res{a, t, err}
	}()
	a4, t4, err4 := r.lookupAddrs(ctx, host, mdns.TypeA)
	six := <-ch
	switch {
	case len(a4) > 0 && len(six.addrs) > 0:
		return append(a4, six.addrs...), min(t4, six.ttl), nil
	case len(a4) > 0:
		return a4, t4, nil
	case len(six.addrs) > 0:
		return six.addrs, six.ttl, nil
	}
	// Neither has addresses: a failure beats not found, and NXDOMAIN
	// beats NODATA.
	for _, err := range []error{err4, six.err} {
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, 0, err
		}
	}
	if errors.Is(err4, ErrNXDomain) {
		return nil, t4, err4
	}
	return nil, six.ttl, six.err
}

func (r *Resolver) lookupAddrs(ctx context.Context, host string, qtype uint16) ([]netip.Addr, time.Duration, error) {
	e, ttl, err := r.lookup(ctx, host, qtype)
	if e == nil || err != nil {
		return nil, ttl, err
	}
	return slices.Clone(e.addrs), ttl, nil
}

// LookupTXT returns the TXT records of name, each record's strings joined
// into one (RFC 7208 §3.3), as SPF, DKIM and DMARC read them.
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, time.Duration, error) {
	e, ttl, err := r.lookup(ctx, name, mdns.TypeTXT)
	if e == nil || err != nil {
		return nil, ttl, err
	}
	return slices.Clone(e.strs), ttl, nil
}

// LookupMX returns the mail exchangers of name, by preference, lowest
// first.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]MX, time.Duration, error) {
	e, ttl, err := r.lookup(ctx, name, mdns.TypeMX)
	if e == nil || err != nil {
		return nil, ttl, err
	}
	return slices.Clone(e.mx), ttl, nil
}

// LookupPTR returns the names ip points back to (its in-addr.arpa or
// ip6.arpa PTR records), absolute, with the final dot.
func (r *Resolver) LookupPTR(ctx context.Context, ip netip.Addr) ([]string, time.Duration, error) {
	if !ip.IsValid() {
		return nil, 0, fmt.Errorf("%w: no address", ErrBadName)
	}
	suffix := ".in-addr.arpa"
	if ip.Unmap().Is6() {
		suffix = ".ip6.arpa"
	}
	e, ttl, err := r.lookup(ctx, Reverse(ip)+suffix, mdns.TypePTR)
	if e == nil || err != nil {
		return nil, ttl, err
	}
	return slices.Clone(e.strs), ttl, nil
}

// lookup answers (name, qtype) from the cache, from a flight in progress,
// or by starting one. The entry is nil only on a failure.
func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16) (*entry, time.Duration, error) {
	r.stats.lookups.Add(1)
	if r.offline {
		r.stats.offline.Add(1)
		return nil, 0, fmt.Errorf("%w: %s %s", ErrOffline, name, mdns.TypeToString[qtype])
	}
	k := key{canonical(name), qtype}
	now := r.now()
	r.mu.Lock()
	if e := r.cache.get(k, now); e != nil {
		r.mu.Unlock()
		r.stats.hits.Add(1)
		r.countNotFound(e.notFound)
		return e, e.expires.Sub(now), e.notFound
	}
	f := r.flights[k]
	if f != nil {
		r.stats.coalesced.Add(1)
	} else if err := ctx.Err(); err != nil {
		// No new query for a caller that has already given up.
		r.mu.Unlock()
		return nil, 0, r.ctxError(err, name, qtype)
	} else {
		if _, ok := mdns.IsDomainName(k.name + "."); !ok || k.name == "" {
			r.mu.Unlock()
			r.stats.badNames.Add(1)
			return nil, 0, fmt.Errorf("%w: %q", ErrBadName, name)
		}
		f = &flight{done: make(chan struct{})}
		r.flights[k] = f
		// The flight outlives a caller that gives up, so its answer still
		// reaches the cache; it has its own deadline.
		go r.fly(context.WithoutCancel(ctx), k, f)
	}
	r.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, 0, r.ctxError(ctx.Err(), name, qtype)
	}
	if f.err != nil {
		r.countFailure(f.err)
		return nil, 0, f.err
	}
	r.countNotFound(f.e.notFound)
	return f.e, max(f.e.expires.Sub(r.now()), 0), f.e.notFound
}

// ctxError is the error of a lookup its caller gave up on: a timeout when
// the deadline passed.
func (r *Resolver) ctxError(err error, name string, qtype uint16) error {
	if errors.Is(err, context.DeadlineExceeded) {
		r.stats.timeouts.Add(1)
		return fmt.Errorf("%w: %s %s: %w", ErrTimeout, name, mdns.TypeToString[qtype], err)
	}
	return fmt.Errorf("dns: %s %s: %w", name, mdns.TypeToString[qtype], err)
}

// fly runs one flight: asks the servers, caches the answer, and wakes
// everyone waiting.
func (r *Resolver) fly(ctx context.Context, k key, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, 2*r.timeout*time.Duration(len(r.servers)))
	defer cancel()
	f.e, f.err = r.resolve(ctx, k)
	r.mu.Lock()
	if f.err == nil {
		r.cache.put(f.e)
	}
	delete(r.flights, k)
	r.mu.Unlock()
	close(f.done)
}

// canonical is name in lower case without the final dot, the cache key.
// It allocates only when name has upper-case letters.
func canonical(name string) string {
	name = strings.TrimSuffix(name, ".")
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(name)
		}
	}
	return name
}

// Reverse returns the reversed form of ip used under in-addr.arpa,
// ip6.arpa and DNSBL zones (RFC 5782 §2.1, §2.4): "4.3.2.1" for 1.2.3.4,
// 32 dot-separated nibbles, lowest first, for an IPv6 address. An
// IPv4-mapped IPv6 address is treated as IPv4.
func Reverse(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is4() {
		b := ip.As4()
		buf := make([]byte, 0, 15)
		for i := 3; i >= 0; i-- {
			buf = appendUint8(buf, b[i])
			if i > 0 {
				buf = append(buf, '.')
			}
		}
		return string(buf)
	}
	const hex = "0123456789abcdef"
	b := ip.As16()
	buf := make([]byte, 0, 63)
	for i := 15; i >= 0; i-- {
		buf = append(buf, hex[b[i]&0xf], '.', hex[b[i]>>4])
		if i > 0 {
			buf = append(buf, '.')
		}
	}
	return string(buf)
}

func appendUint8(buf []byte, v uint8) []byte {
	if v >= 100 {
		buf = append(buf, '0'+v/100)
	}
	if v >= 10 {
		buf = append(buf, '0'+v/10%10)
	}
	return append(buf, '0'+v%10)
}
