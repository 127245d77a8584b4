// Package url reports what the URLs of a message say about it, from the
// URLs scanner/urls finds in its text parts, HTML and text attachments:
//
//   - url.listed: a URL's registrable domain (or IPv4 host) is in a DNS
//     URI blocklist ([[uribl]], the SURBL and URIBL convention:
//     "domain.zone", reversed octets for an IP) or in the local [urls]
//     blocklist;
//   - url.mismatch: an HTML link's text shows a URL or domain whose
//     registrable domain is not the one it links to (nor one its
//     redirectors lead to);
//   - url.ip: a URL's host is an IP address, in any form a browser reads
//     (dotted, decimal, hex, octal, IPv6);
//   - url.shortener: a URL is on a URL shortener, which hides its target.
//
// Two checks report them, so that the lookups run only when a rule uses
// url.listed: "url" (local, in memory) and "uribl" (the lookups, in
// parallel with a bound, each zone with its timeout and failure mode). A
// URL blocklist answering 127.0.0.1 (URIBL's "query refused") or
// 127.255.255.252-255 fails the lookup: an error, never a listing.
//
// Values are the URL, cut to 200 bytes; Where is "body", "html" or
// "attachment:NAME". When the message has more URLs than [urls] max_urls,
// the findings' reasons say that the rest went unexamined.
package url

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"mvdan.cc/xurls/v2"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/check/dnsbl"
	"github.com/mailwarden/mailwarden/check/textscan"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/scanner/urls"
)

// The findings.
const (
	FindingListed    = "url.listed"
	FindingMismatch  = "url.mismatch"
	FindingIP        = "url.ip"
	FindingShortener = "url.shortener"
)

// maxValue bounds a finding's value; maxPerFinding the findings of one
// name per message.
const (
	maxValue      = 200
	maxPerFinding = 20
)

// Shorteners are the built-in URL shortener hosts.
var Shorteners = []string{
	"bit.ly", "bitly.com", "t.co", "tinyurl.com", "goo.gl", "ow.ly", "is.gd", "buff.ly", "rebrand.ly",
	"cutt.ly", "shorturl.at", "lnkd.in", "t.ly", "tiny.cc", "rb.gy", "v.gd", "bl.ink", "short.io",
	"s.id", "x.gd", "clck.ru", "qrco.de", "trib.al", "soo.gd", "shorte.st", "adf.ly", "bc.vc",
	"po.st", "mcaf.ee", "su.pr", "u.to", "urlz.fr", "amzn.to", "youtu.be", "dlvr.it", "ift.tt",
	"tr.im", "snip.ly", "rebrandly.com", "tinyurl.at", "0rz.tw", "reurl.cc", "00m.in", "han.gl",
}

func init() { check.Register(build) }

func build(cfg *config.Config) []check.Check {
	c := config.Section[Config](cfg, "urls")
	lim := urls.Limits{MaxURLs: c.MaxURLs}
	short := map[string]bool{}
	for _, h := range append(slices.Clone(Shorteners), c.Shorteners...) {
		if k, ok := hostKey(h); ok {
			short[k] = true
		}
	}
	out := []check.Check{&Check{lim: lim, shorteners: short}}
	bl := &Blocklist{lim: lim, parallel: max(c.Parallel, 1), maxLookups: max(c.MaxLookups, 1),
		budget: c.Budget.D, local: map[string]bool{}, onError: check.OnErrorSkip}
	if bl.budget <= 0 {
		bl.budget = defaults().Budget.D
	}
	for _, h := range c.Blocklist {
		if k, ok := hostKey(h); ok {
			bl.local[k] = true
		}
	}
	seen := map[string]bool{}
	for _, zc := range *config.Section[[]ZoneConfig](cfg, "uribl") {
		z, err := newZone(zc)
		if err != nil || seen[zc.Name] {
			continue // reported by the validator
		}
		seen[zc.Name] = true
		bl.zones = append(bl.zones, z)
		if zc.OnError == "tempfail" {
			bl.onError = check.OnErrorTempfail
		}
	}
	// Built with nothing to look up too, like [clamav] without an address,
	// so the embedded default's url-listed rule compiles everywhere.
	return append(out, bl)
}

// Check reports url.mismatch, url.ip and url.shortener: in memory, no
// lookups.
type Check struct {
	lim        urls.Limits
	shorteners map[string]bool
}

func (*Check) Name() string          { return "url" }
func (*Check) Stage() policy.Stage   { return policy.StageEOM }
func (*Check) Scope() check.Scope    { return check.ScopeTransaction }
func (*Check) Budget() time.Duration { return 5 * time.Second }

// OnError is skip: the check is in memory and fails only by a bug.
func (*Check) OnError() check.OnError { return check.OnErrorSkip }

func (*Check) Findings() []check.Declared {
	return []check.Declared{
		{Name: FindingMismatch, Doc: "an HTML link's text shows another domain than the one it links to"},
		{Name: FindingIP, Doc: "a URL's host is an IP address (dotted, decimal, hex, octal or IPv6)"},
		{Name: FindingShortener, Doc: "a URL is on a URL shortener ([urls] shorteners add to the built-in list)"},
	}
}

// findings gathers findings, one per name and value, at most
// maxPerFinding per name.
type findings struct {
	out   []check.Finding
	seen  map[string]bool
	count map[string]int
	note  string // appended to every reason
}

func newFindings(c *urls.Collector) *findings {
	f := &findings{seen: map[string]bool{}, count: map[string]int{}}
	if c.Full() {
		f.note = " (some URLs were not examined: " + strings.Join(c.Exclusions(), ", ") + ")"
	}
	return f
}

func (f *findings) add(name string, u urls.URL, reason string) {
	v := cut(u.String())
	if f.seen[name+"\x00"+v] || f.count[name] >= maxPerFinding {
		return
	}
	f.seen[name+"\x00"+v] = true
	f.count[name]++
	f.out = append(f.out, check.Finding{Name: name, Value: v, Where: u.Where, Reason: reason + f.note})
}

func cut(s string) string {
	if len(s) <= maxValue {
		return s
	}
	n := maxValue
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

func (c *Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if in.Message == nil {
		return nil, nil
	}
	col := sharedURLs(ctx, in, c.lim)
	f := newFindings(col)
	for _, u := range col.URLs() {
		if ctx.Err() != nil {
			return f.out, ctx.Err()
		}
		if u.IP.IsValid() {
			form := ""
			if u.IPForm != "" {
				form = ", written in " + u.IPForm + " form as " + cut(u.Raw)
			}
			f.add(FindingIP, u, fmt.Sprintf("the URL's host is the IP address %s%s", u.IP, form))
		}
		if c.shortener(u.Host) {
			f.add(FindingShortener, u, fmt.Sprintf("%s is a URL shortener, which hides where the link leads", u.Host))
		}
	}
	for _, l := range col.Links() {
		if shown, ok := Mismatch(l); ok {
			f.add(FindingMismatch, l.Href, fmt.Sprintf("the link text shows %s but the link leads to %s", shown, site(l.Href)))
		}
	}
	logDone(in, "url", len(col.URLs()), len(f.out))
	return f.out, nil
}

func (c *Check) shortener(host string) bool {
	return c.shorteners[host] || c.shorteners[strings.TrimPrefix(host, "www.")]
}

// site is what a URL's domain is compared by: its registrable domain, or
// its host when it has none (an IP, a single label).
func site(u urls.URL) string {
	if u.Domain != "" {
		return u.Domain
	}
	return u.Host
}

var shownExp = xurls.Relaxed()

// Mismatch reports the domain a link's text shows when it is neither the
// href's nor that of a target its redirectors lead to (url.mismatch, and
// check/spamtest's url_text_mismatch). Text counts as
// showing a domain when it holds a URL with a scheme or "www.", or is a
// domain name and nothing else ("paypal.com").
func Mismatch(l urls.Link) (string, bool) {
	if l.Href.Host == "" {
		return "", false
	}
	sites := []string{site(l.Href)}
	for _, t := range l.Targets {
		sites = append(sites, site(t))
	}
	text := strings.TrimSpace(l.Text)
	if !strings.ContainsAny(text, ".。．｡") {
		// No domain without a dot (ideographic ones included, which
		// xurls reads too): most link texts, and the search is costly.
		return "", false
	}
	for _, m := range shownExp.FindAllString(text, 8) {
		m = urls.Trim(m)
		low := strings.ToLower(m)
		hasScheme := strings.HasPrefix(low, "http://") || strings.HasPrefix(low, "https://")
		if !hasScheme && !strings.HasPrefix(low, "www.") {
			if !strings.EqualFold(strings.TrimRight(text, "./"), strings.TrimRight(m, "./")) || strings.Contains(m, "@") {
				continue
			}
			m = "http://" + m
		} else if !hasScheme {
			m = "http://" + m
		}
		shown, ok := urls.Parse(m, 0)
		if !ok || (shown.Domain == "" && !shown.IP.IsValid()) {
			continue
		}
		if !slices.Contains(sites, site(shown)) {
			return site(shown), true
		}
	}
	return "", false
}

func logDone(in *check.Input, name string, n, found int) {
	if in.Env == nil || in.Env.Log == nil {
		return
	}
	in.Env.Log.Debug("check done", slog.String("check", name), slog.Int("urls", n), slog.Int("findings", found))
}

// Blocklist reports url.listed: the local blocklist, then every
// [[uribl]] zone for the distinct domains and IPv4 hosts of the message.
type Blocklist struct {
	lim        urls.Limits
	zones      []*zone
	local      map[string]bool
	parallel   int
	maxLookups int
	budget     time.Duration
	onError    check.OnError
}

func (*Blocklist) Name() string             { return "uribl" }
func (*Blocklist) Stage() policy.Stage      { return policy.StageEOM }
func (*Blocklist) Scope() check.Scope       { return check.ScopeTransaction }
func (b *Blocklist) Budget() time.Duration  { return b.budget }
func (b *Blocklist) OnError() check.OnError { return b.onError }
func (b *Blocklist) Findings() []check.Declared {
	return []check.Declared{{Name: FindingListed, Doc: "a URL's domain or IP is in a [[uribl]] zone or the [urls] blocklist (nothing without either)"}}
}

// Errors of a URI blocklist lookup.
var (
	// ErrNoResolver: the check ran without the shared resolver.
	ErrNoResolver = errors.New("url: no resolver")
	// ErrLookup: a lookup failed (timeout, SERVFAIL, offline).
	ErrLookup = errors.New("url: lookup failed")
	// ErrErrorCode: the zone answered an error code: 127.0.0.1 (a refused
	// query, as URIBL answers), 127.255.255.252-255, or an address
	// outside 127.0.0.0/8.
	ErrErrorCode = errors.New("url: zone answered an error code")
)

// target is one name to ask: a registrable domain or an IPv4 address,
// with the first URL that gave it.
type target struct {
	key string // the domain or the address
	ip  netip.Addr
	url urls.URL
}

func (b *Blocklist) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if in.Message == nil || len(b.zones) == 0 && len(b.local) == 0 {
		return nil, nil
	}
	col := sharedURLs(ctx, in, b.lim)
	f := newFindings(col)
	var targets []target
	seen := map[string]bool{}
	skipped := 0
	for _, u := range col.URLs() {
		if k := b.localMatch(u); k != "" {
			f.add(FindingListed, u, fmt.Sprintf("%s is in the [urls] blocklist", k))
		}
		t := target{url: u}
		switch {
		case u.IP.Is4():
			t.key, t.ip = u.IP.String(), u.IP
		case u.Domain != "":
			t.key = u.Domain
		default:
			continue
		}
		if seen[t.key] {
			continue
		}
		seen[t.key] = true
		if len(targets) >= b.maxLookups {
			skipped++
			continue
		}
		targets = append(targets, t)
	}
	if skipped > 0 {
		f.note += fmt.Sprintf(" (%d more domains were not looked up: urls.max_lookups=%d)", skipped, b.maxLookups)
	}
	if len(b.zones) == 0 || len(targets) == 0 {
		return f.out, nil
	}
	if in.Env == nil || in.Env.DNS == nil {
		return f.out, ErrNoResolver
	}
	type job struct {
		z *zone
		t target
	}
	type result struct {
		job
		listed string // the answers and their meanings
		err    error
	}
	var jobs []job
	for _, z := range b.zones {
		for _, t := range targets {
			jobs = append(jobs, job{z, t})
		}
	}
	results := make([]result, len(jobs))
	sem := make(chan struct{}, b.parallel)
	var wg sync.WaitGroup
	for i, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[i] = result{job: j, err: fmt.Errorf("%w: %s: %w", ErrLookup, j.z.cfg.Name, ctx.Err())}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			listed, err := j.z.lookup(ctx, in.Env.DNS, j.t)
			results[i] = result{job: j, listed: listed, err: err}
		})
	}
	wg.Wait()
	var errs []error
	failed := map[string]error{}
	for _, r := range results {
		switch {
		case r.err != nil:
			if failed[r.z.cfg.Name] == nil {
				failed[r.z.cfg.Name] = r.err
				if r.z.cfg.OnError == "tempfail" {
					errs = append(errs, r.err)
				}
			}
		case r.listed != "":
			f.add(FindingListed, r.t.url, fmt.Sprintf("%s is listed in %s (%s): %s", r.t.key, r.z.cfg.Name, r.z.zone, r.listed))
		}
	}
	// A zone that fails is a check.error naming it, whatever its on_error;
	// only a tempfail zone's failure fails the check.
	for _, z := range b.zones {
		if err := failed[z.cfg.Name]; err != nil {
			f.out = append(f.out, check.Finding{Name: check.FindingError, Value: "uribl." + z.cfg.Name,
				Where: "check:uribl." + z.cfg.Name, Reason: err.Error()})
		}
	}
	if in.Env.Log != nil {
		in.Env.Log.Debug("check done", slog.String("check", "uribl"), slog.Int("lookups", len(jobs)),
			slog.Int("failed_zones", len(failed)), slog.Int("findings", len(f.out)))
	}
	return f.out, errors.Join(errs...)
}

// localMatch is the blocklist entry a URL's host (or a parent domain of
// it) matches, or "".
func (b *Blocklist) localMatch(u urls.URL) string {
	if len(b.local) == 0 {
		return ""
	}
	h := u.Host
	for {
		if b.local[h] {
			return h
		}
		i := strings.IndexByte(h, '.')
		if i < 0 || u.IP.IsValid() {
			return ""
		}
		h = h[i+1:]
	}
}

// lookup asks z about t within z's timeout: the listing's answers with
// their meanings, "" when not listed.
func (z *zone) lookup(ctx context.Context, r dnsbl.Resolver, t target) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, z.timeout)
	defer cancel()
	name := t.key + "." + z.zone + "."
	if t.ip.IsValid() {
		name = dns.Reverse(t.ip) + "." + z.zone + "."
	}
	addrs, _, err := r.LookupIP(ctx, "ip4", name)
	switch {
	case errors.Is(err, dns.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("%w: %s: %s: %w", ErrLookup, z.cfg.Name, t.key, err)
	}
	for _, a := range addrs {
		if !a.Is4() || a.As4()[0] != 127 || a == refused || a.As4() == [4]byte{127, 0, 1, 255} || a.As4()[1] == 255 && a.As4()[2] == 255 && a.As4()[3] >= 252 {
			return "", fmt.Errorf("%w: %s answered %s for %s", ErrErrorCode, z.cfg.Name, a, t.key)
		}
	}
	var reasons []string
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
		if len(m) > 0 {
			reasons = append(reasons, a.String()+": "+strings.Join(m, ", "))
		} else {
			reasons = append(reasons, a.String())
		}
	}
	return strings.Join(reasons, "; "), nil
}

// refused is URIBL's answer to a query it refuses to serve.
var refused = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// sharedURLs is [fromMessage] once per message for the url and uribl
// checks, which run side by side at end of message with the same limits:
// the search is the costliest part of both (about 0.13 s a MB of text).
// The collector is only read after it is built.
func sharedURLs(ctx context.Context, in *check.Input, lim urls.Limits) *urls.Collector {
	return in.Shared.Do(fmt.Sprintf("url.collector %+v", lim), func() any {
		return fromMessage(ctx, in.Message, lim)
	}).(*urls.Collector)
}

// fromMessage collects the URLs of m's text parts and of the text of its
// document attachments (PDF, DOCX, XLSX, PPTX), read once per message by
// check/textscan for the keyword and DLP checks too.
func fromMessage(ctx context.Context, m *message.Message, lim urls.Limits) *urls.Collector {
	col := urls.FromMessage(m, lim)
	for _, d := range textscan.Documents(ctx, m) {
		col.Text(d.Text, d.Where)
	}
	return col
}
