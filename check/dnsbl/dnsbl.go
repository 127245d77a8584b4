// Package dnsbl looks an IP address up in DNS block and allow lists
// (RFC 5782) through the shared resolver of check/dns, and classifies each
// answer: not listed, listed (with the returned codes and their meanings),
// or failed.
//
// An answer outside 127.0.0.0/8, and the codes 127.255.255.252-255 that
// some lists return to resolvers they refuse to serve, are errors, never
// listings (the trap of taking "you are blocked" for "everyone is
// listed"). As in Postfix's postscreen, each listed zone adds its weight to
// a score, so two weak lists together can count for more than one.
//
// It is the library part: the check that turns results into findings
// (dnsbl.<name>, dnswl.<name>) is wired separately.
package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/mailwarden/mailwarden/check/dns"
)

// Errors of a lookup; a [Result] with [Failed] wraps one of them.
var (
	// ErrTimeout: the zone did not answer within its timeout or the
	// overall budget.
	ErrTimeout = errors.New("dnsbl: timeout")
	// ErrLookup: the lookup failed (SERVFAIL, REFUSED, network, offline).
	ErrLookup = errors.New("dnsbl: lookup failed")
	// ErrErrorCode: the zone answered 127.255.255.252-255, its way of
	// saying the query itself is wrong or refused.
	ErrErrorCode = errors.New("dnsbl: zone answered an error code")
	// ErrNotLoopback: the zone answered an address outside 127.0.0.0/8,
	// which no list uses for a listing (RFC 5782 §2.3): a hijacked or
	// expired zone.
	ErrNotLoopback = errors.New("dnsbl: answer outside 127.0.0.0/8")
	// ErrBadAddress: the address to look up is not valid.
	ErrBadAddress = errors.New("dnsbl: invalid address")
)

// DefaultTimeout is a zone's timeout when its config gives none: under the
// connect stage's 2 s budget, with time left for the rules.
const DefaultTimeout = 1500 * time.Millisecond

// Resolver is what a lookup needs; *dns.Resolver has it. Not-found answers
// must wrap dns.ErrNotFound, timeouts dns.ErrTimeout.
type Resolver interface {
	LookupIP(ctx context.Context, network, host string) ([]netip.Addr, time.Duration, error)
	LookupTXT(ctx context.Context, name string) ([]string, time.Duration, error)
}

var _ Resolver = (*dns.Resolver)(nil)

// Config describes one zone.
type Config struct {
	// Name names the finding: dnsbl.<Name>, or dnswl.<Name> for an allow
	// list. Lower-case letters, digits, '-' and '_'.
	Name string
	// Zone is the list's DNS zone, such as "zen.example.org".
	Zone string
	// Codes maps return codes to their meanings, such as "127.0.0.2" to
	// "spam source"; see [ParseCode] for ranges, prefixes and bitmasks.
	Codes map[string]string
	// CodesOnly counts only answers matching a key of Codes as a listing;
	// other answers are then "not listed". Without it they are listings
	// without a meaning.
	CodesOnly bool
	// Weight is added to the score when the zone lists the address;
	// usually negative for an allow list.
	Weight int
	// Allow marks an allow list (DNSWL): a listing is good news.
	Allow bool
	// Timeout bounds this zone's lookup ([DefaultTimeout] when zero).
	Timeout time.Duration
	// TXT also fetches the zone's TXT record of a listing, for the reason.
	TXT bool
}

// Zone is a validated zone, ready for lookups. Make it with [New].
type Zone struct {
	cfg     Config
	zone    string // lower case, without the final dot
	codes   []Code
	meaning []string
}

// New validates c and returns its zone. The error lists every problem.
func New(c Config) (*Zone, error) {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("dnsbl: name is empty"))
	} else if strings.Trim(c.Name, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		errs = append(errs, fmt.Errorf("dnsbl: name %q: use lower-case letters, digits, '-' and '_'", c.Name))
	}
	zone := strings.ToLower(strings.TrimSuffix(c.Zone, "."))
	// A query name is up to 64 bytes of reversed IPv6 nibbles, a dot and
	// the zone, within 253 (RFC 1035 §2.3.4).
	if _, ok := mdns.IsDomainName(zone); !ok || zone == "" || len(zone) > 253-64 {
		errs = append(errs, fmt.Errorf("dnsbl: zone %q is not a domain name", c.Zone))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("dnsbl: timeout %s is negative", c.Timeout))
	}
	z := &Zone{cfg: c, zone: zone}
	if z.cfg.Timeout == 0 {
		z.cfg.Timeout = DefaultTimeout
	}
	for _, k := range slices.Sorted(maps.Keys(c.Codes)) {
		code, err := ParseCode(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		z.codes = append(z.codes, code)
		z.meaning = append(z.meaning, c.Codes[k])
	}
	if c.CodesOnly && len(c.Codes) == 0 {
		errs = append(errs, errors.New("dnsbl: codes_only without codes would never list"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return z, nil
}

// Config returns the zone's config, with the default timeout filled in.
func (z *Zone) Config() Config { return z.cfg }

// QueryName is the name asked for ip (RFC 5782 §2.1, §2.4): the reversed
// octets of an IPv4 address, or the reversed nibbles of an IPv6 one,
// under the zone, absolute.
func (z *Zone) QueryName(ip netip.Addr) string {
	return dns.Reverse(ip) + "." + z.zone + "."
}

// Status is the outcome of one zone's lookup.
type Status int

// The statuses.
const (
	NotListed Status = iota
	Listed
	Failed
)

func (s Status) String() string {
	switch s {
	case NotListed:
		return "not listed"
	case Listed:
		return "listed"
	default:
		return "failed"
	}
}

// Result is one zone's answer for one address.
type Result struct {
	Zone   *Zone
	Status Status
	// Addrs are the addresses the zone answered (for Failed, the answer
	// that made it an error, if any).
	Addrs []netip.Addr
	// Reason says what the listing means: each address with its meanings,
	// "127.0.0.2: spam source; 127.0.0.4: exploited host", then the TXT
	// record if fetched. For Failed it is the error's text.
	Reason string
	// TTL is how long the answer holds (not for Failed).
	TTL time.Duration
	// Err wraps one of the package's errors when Status is Failed.
	Err      error
	Duration time.Duration
}

// Lookup asks z about ip within z's timeout (and ctx's deadline).
func (z *Zone) Lookup(ctx context.Context, r Resolver, ip netip.Addr) Result {
	start := time.Now()
	res := z.lookup(ctx, r, ip)
	res.Zone = z
	res.Duration = time.Since(start)
	if res.Err != nil {
		res.Status, res.Reason = Failed, res.Err.Error()
	}
	return res
}

func (z *Zone) lookup(ctx context.Context, r Resolver, ip netip.Addr) Result {
	if !ip.IsValid() {
		return Result{Err: ErrBadAddress}
	}
	ctx, cancel := context.WithTimeout(ctx, z.cfg.Timeout)
	defer cancel()
	name := z.QueryName(ip)
	addrs, ttl, err := r.LookupIP(ctx, "ip4", name)
	switch {
	case errors.Is(err, dns.ErrNotFound):
		return Result{Status: NotListed, TTL: ttl}
	case errors.Is(err, dns.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return Result{Err: fmt.Errorf("%w: %s: %w", ErrTimeout, z.cfg.Name, err)}
	case err != nil:
		return Result{Err: fmt.Errorf("%w: %s: %w", ErrLookup, z.cfg.Name, err)}
	}
	for _, a := range addrs {
		switch {
		case !a.Is4() || a.As4()[0] != 127:
			return Result{Addrs: addrs, Err: fmt.Errorf("%w: %s answered %s", ErrNotLoopback, z.cfg.Name, a)}
		case u32(a) >= errLo:
			return Result{Addrs: addrs, Err: fmt.Errorf("%w: %s answered %s (%s)", ErrErrorCode, z.cfg.Name, a, errorCodes[a.As4()[3]])}
		}
	}
	var reasons []string
	var listed []netip.Addr
	for _, a := range addrs {
		var m []string
		matched := false
		for i, c := range z.codes {
			if c.Match(a) {
				matched = true
				if z.meaning[i] != "" && !slices.Contains(m, z.meaning[i]) {
					m = append(m, z.meaning[i])
				}
			}
		}
		if z.cfg.CodesOnly && !matched {
			continue
		}
		listed = append(listed, a)
		if len(m) > 0 {
			reasons = append(reasons, a.String()+": "+strings.Join(m, ", "))
		} else {
			reasons = append(reasons, a.String())
		}
	}
	if len(listed) == 0 {
		return Result{Status: NotListed, TTL: ttl}
	}
	res := Result{Status: Listed, Addrs: listed, Reason: strings.Join(reasons, "; "), TTL: ttl}
	if z.cfg.TXT {
		// The TXT record only adds words; failing to get it changes nothing.
		if txt, _, err := r.LookupTXT(ctx, name); err == nil && len(txt) > 0 {
			res.Reason += " (" + strings.Join(txt, " ") + ")"
		}
	}
	return res
}

// errorCodes are the meanings of the error answers, as Spamhaus documents
// them.
var errorCodes = map[byte]string{
	252: "typing error in the zone name",
	253: "error",
	254: "query through a public or unidentified resolver",
	255: "excessive number of queries",
}

// Results are every zone's answer for one address.
type Results struct {
	Zones []Result // in the order of the zones asked
	// Score is the sum of the weights of the zones that list the address,
	// allow lists included.
	Score int
}

// LookupAll asks every zone about ip at once, each within its own timeout;
// ctx's deadline is the overall budget. A zone that runs out of time is
// Failed with [ErrTimeout] while the others still answer.
func LookupAll(ctx context.Context, r Resolver, zones []*Zone, ip netip.Addr) Results {
	res := Results{Zones: make([]Result, len(zones))}
	var wg sync.WaitGroup
	for i, z := range zones {
		wg.Go(func() { res.Zones[i] = z.Lookup(ctx, r, ip) })
	}
	wg.Wait()
	for _, zr := range res.Zones {
		if zr.Status == Listed {
			res.Score += zr.Zone.cfg.Weight
		}
	}
	return res
}
