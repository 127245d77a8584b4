// Package impersonation reports mail that pretends to come from someone it
// does not, on inbound mail (neither authenticated nor from
// organization.trusted_networks):
//
//   - impersonation.display_name: the header From display name shows a
//     protected person's name ([[impersonation.people]]), or one of their
//     addresses, while the address is not one of theirs. Names are compared after normalisation (see
//     [NameKeys]): case, width (NFKC), spacing and punctuation,
//     diacritics, Unicode confusables (the UTS #39 skeleton), hiragana
//     against katakana, kanji with or without the space between family and
//     given name, and either word order ("Taro Yamada", "YAMADA, Taro").
//     Value is the person's configured name, Reason the address used.
//   - impersonation.domain: the domain of the envelope sender (at MAIL),
//     of a header From or of a Reply-To address (at end of headers) looks
//     like an internal domain (organization.internal_domains) or a
//     protected one ([impersonation] protected_domains) without being it:
//     its registrable label has the same confusable skeleton (аpple.com
//     with a Cyrillic а, xn--pple-43d.com, paypa1.com, rnicrosoft.com) or
//     is within a small Damerau-Levenshtein distance of the protected
//     one's (distance_short, distance_long). Value is the lookalike
//     domain as written, Reason the domain it imitates.
//   - reply_to.mismatch: a Reply-To address at another registrable
//     domain (public suffix list) than every From address: replies go
//     elsewhere than the message seems to come from.
//   - sender.first_time: the envelope sender never had a message
//     delivered to this recipient before, according to the tracking log
//     ([store.Correspondents]); per recipient, at RCPT.
//
// The comparisons are in memory, except sender.first_time, which is one
// indexed read of the store. No default rule uses these findings: each is
// a signal to weigh (many legitimate senders write for the first time,
// many lists set Reply-To elsewhere), so the operator writes the rules.
//
// The confusables table is Unicode 13's confusables.txt as
// github.com/mtibben/confusables ships it; characters added to Unicode
// since are compared as themselves.
package impersonation

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message/charset"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// The findings.
const (
	FindingDisplayName = "impersonation.display_name"
	FindingDomain      = "impersonation.domain"
	FindingReplyTo     = "reply_to.mismatch"
	FindingFirstTime   = "sender.first_time"
)

// maxAddrs bounds the addresses read from one From or Reply-To field, and
// maxFindings the findings of one check per message.
const (
	maxAddrs    = 20
	maxFindings = 20
)

func init() { check.Register(build) }

func build(cfg *config.Config) []check.Check {
	c := config.Section[Config](cfg, "impersonation")
	return []check.Check{newCheck(c, cfg.Organization.InternalDomains), &ReplyTo{}, &FirstTime{}}
}

// person is a protected person, ready to compare.
type person struct {
	name    string
	keys    map[string]bool
	addrs   map[string]bool // lower-cased addresses
	domains map[string]bool // lower-cased domains of "@domain" entries
}

func (p *person) owns(addr string) bool {
	a := strings.ToLower(addr)
	if p.addrs[a] {
		return true
	}
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return p.domains[a[i+1:]]
	}
	return false
}

// shownAddress reports whether a display name shows one of the person's
// own addresses ("taro.yamada@example.com" <x@freemail.example>), which
// mail clients show in place of the real one.
func (p *person) shownAddress(name string) bool {
	if !strings.Contains(name, "@") {
		return false
	}
	n := strings.ToLower(foldText(name))
	for a := range p.addrs {
		if strings.Contains(n, a) {
			return true
		}
	}
	return false
}

// Check reports impersonation.display_name and impersonation.domain.
type Check struct {
	people    []*person
	protected []Domain
	allowed   map[string]bool // registrable domains, U-labels
	short     int
	long      int
	longLabel int
}

func newCheck(c *Config, internal []string) *Check {
	k := &Check{allowed: map[string]bool{}, short: c.DistanceShort, long: c.DistanceLong, longLabel: c.LongLabel}
	if k.longLabel <= 0 {
		k.longLabel = defaults().LongLabel
	}
	seen := map[string]bool{}
	for _, d := range internal {
		dom, ok := ParseDomain(strings.TrimPrefix(d, "*."))
		if !ok {
			continue
		}
		// The internal domain itself, and everything under its
		// registrable domain, is never a lookalike.
		k.allowed[dom.Registrable] = true
		if !seen[dom.Registrable] {
			seen[dom.Registrable] = true
			k.protected = append(k.protected, dom)
		}
	}
	for _, d := range c.ProtectedDomains {
		if dom, ok := ParseDomain(d); ok && !seen[dom.Registrable] {
			seen[dom.Registrable] = true
			k.protected = append(k.protected, dom)
		}
	}
	for _, d := range c.AllowDomains {
		if dom, ok := ParseDomain(d); ok {
			k.allowed[dom.Registrable] = true
		}
	}
	for _, pc := range c.People {
		p := &person{name: pc.Name, keys: map[string]bool{}, addrs: map[string]bool{}, domains: map[string]bool{}}
		for _, n := range append([]string{pc.Name}, pc.Aliases...) {
			for _, key := range NameKeys(n) {
				p.keys[key] = true
			}
		}
		for _, a := range pc.Addresses {
			a = strings.ToLower(strings.TrimSpace(a))
			if d, ok := strings.CutPrefix(a, "@"); ok {
				p.domains[d] = true
			} else {
				p.addrs[a] = true
			}
		}
		if len(p.keys) > 0 {
			k.people = append(k.people, p)
		}
	}
	return k
}

func (*Check) Name() string          { return "impersonation" }
func (*Check) Stage() policy.Stage   { return policy.StageMail }
func (*Check) Scope() check.Scope    { return check.ScopeTransaction }
func (*Check) Budget() time.Duration { return 2 * time.Second }

// OnError is skip: the check is in memory and fails only by a bug.
func (*Check) OnError() check.OnError { return check.OnErrorSkip }

// LateStage: the header From and Reply-To are known at end of headers.
func (*Check) LateStage() policy.Stage { return policy.StageEOH }

func (*Check) Findings() []check.Declared {
	return []check.Declared{
		{Name: FindingDisplayName, Doc: "the From display name shows a protected person ([[impersonation.people]]) but the address is not theirs"},
		{Name: FindingDomain, Doc: "the envelope sender, From or Reply-To domain looks like an internal or protected domain without being it"},
	}
}

// inbound reports whether the message comes from outside: neither
// authenticated nor from a trusted network.
func inbound(in *check.Input) bool {
	if in.AuthUser != "" {
		return false
	}
	return in.Env == nil || in.Env.Trusted == nil || !in.ClientIP.IsValid() || !in.Env.Trusted(in.ClientIP)
}

// Run looks at the envelope sender's domain.
func (c *Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if !inbound(in) || in.Sender == "" {
		return nil, nil
	}
	var out []check.Finding
	if f, ok := c.lookalike(domainOf(in.Sender), "envelope", "the envelope sender "+in.Sender); ok {
		out = append(out, f)
	}
	logDone(in, c.Name(), "mail", len(out))
	return out, nil
}

// RunLate looks at the header From (display names and domains) and the
// Reply-To domains.
func (c *Check) RunLate(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if !inbound(in) {
		return nil, nil
	}
	var out []check.Finding
	seen := map[string]bool{}
	add := func(f check.Finding) {
		k := f.Name + "\x00" + f.Value + "\x00" + f.Where
		if !seen[k] && len(out) < maxFindings {
			seen[k] = true
			out = append(out, f)
		}
	}
	for _, a := range headerAddresses(in.Headers, "From") {
		var forms nameForms
		if a.Name != "" && len(c.people) > 0 {
			forms = splitName(a.Name)
		}
		for _, p := range c.people {
			if a.Name != "" && !p.owns(a.Address) && (forms.match(p.keys) || p.shownAddress(a.Name)) {
				addr := a.Address
				if addr == "" {
					addr = "no address"
				}
				add(check.Finding{Name: FindingDisplayName, Value: p.name, Where: "header:From",
					Reason: fmt.Sprintf("the From display name %q shows %s, but the address is %s, not one of theirs", cut(a.Name), p.name, addr)})
			}
		}
		if f, ok := c.lookalike(domainOf(a.Address), "header:From", "the From address "+a.Address); ok {
			add(f)
		}
	}
	for _, a := range headerAddresses(in.Headers, "Reply-To") {
		if f, ok := c.lookalike(domainOf(a.Address), "header:Reply-To", "the Reply-To address "+a.Address); ok {
			add(f)
		}
	}
	logDone(in, c.Name(), "eoh", len(out))
	return out, nil
}

// lookalike reports impersonation.domain when domain looks like a
// protected domain without being it.
func (c *Check) lookalike(domain, where, what string) (check.Finding, bool) {
	if domain == "" || len(c.protected) == 0 {
		return check.Finding{}, false
	}
	d, ok := ParseDomain(domain)
	if !ok || c.allowed[d.Registrable] {
		return check.Finding{}, false
	}
	var (
		best    *Domain
		bestD   = -1
		whyBest string
	)
	for i := range c.protected {
		p := &c.protected[i]
		if d.Registrable == p.Registrable {
			return check.Finding{}, false
		}
		dist, why := c.compare(&d, p)
		if dist >= 0 && (bestD < 0 || dist < bestD) {
			best, bestD, whyBest = p, dist, why
		}
	}
	if best == nil {
		return check.Finding{}, false
	}
	shown := strings.ToLower(strings.TrimSuffix(domain, "."))
	if d.Unicode != shown {
		shown += " (" + d.Unicode + ")"
	}
	return check.Finding{Name: FindingDomain, Value: cut(strings.ToLower(domain)), Where: where,
		Reason: fmt.Sprintf("%s is at %s, which imitates %s: %s", cut(what), cut(shown), best.Registrable, whyBest)}, true
}

// compare returns how far d's registrable label is from p's (0 for an
// equal skeleton) and why it is a lookalike, or -1 when it is none.
func (c *Check) compare(d, p *Domain) (int, string) {
	if d.Skeleton == p.Skeleton {
		switch {
		case d.Label != p.Label:
			return 0, fmt.Sprintf("%q and %q look the same (Unicode confusables)", d.Label, p.Label)
		case d.Suffix != p.Suffix:
			return 0, fmt.Sprintf("the same name under .%s instead of .%s", d.Suffix, p.Suffix)
		}
		return -1, "" // the same registrable domain, as U-labels
	}
	n := len([]rune(p.Label))
	limit := c.short
	if n >= c.longLabel {
		limit = c.long
	}
	if n < 4 {
		limit = 0
	}
	if limit == 0 {
		return -1, ""
	}
	// The distance of the labels as written, or of their skeletons if
	// less: exmaple is one transposition from example, but its skeleton
	// (exrnaple against exarnple) two edits.
	dist := min(Distance(d.Label, p.Label, limit), Distance(d.Skeleton, p.Skeleton, limit))
	if dist <= limit {
		return dist, fmt.Sprintf("%q is %d edit%s from %q", d.Label, dist, plural(dist), p.Label)
	}
	return -1, ""
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// ReplyTo reports reply_to.mismatch.
type ReplyTo struct{}

func (*ReplyTo) Name() string           { return "reply-to" }
func (*ReplyTo) Stage() policy.Stage    { return policy.StageEOH }
func (*ReplyTo) Scope() check.Scope     { return check.ScopeTransaction }
func (*ReplyTo) Budget() time.Duration  { return 2 * time.Second }
func (*ReplyTo) OnError() check.OnError { return check.OnErrorSkip }

func (*ReplyTo) Findings() []check.Declared {
	return []check.Declared{
		{Name: FindingReplyTo, Doc: "on inbound mail, a Reply-To address is at another registrable domain than the From"},
	}
}

func (r *ReplyTo) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if !inbound(in) {
		return nil, nil
	}
	from := map[string]bool{}
	var fromDoms []string
	for _, a := range headerAddresses(in.Headers, "From") {
		if reg := registrable(domainOf(a.Address)); reg != "" && !from[reg] {
			from[reg] = true
			fromDoms = append(fromDoms, reg)
		}
	}
	if len(from) == 0 {
		return nil, nil // no From domain to compare with: another finding's business
	}
	var out []check.Finding
	seen := map[string]bool{}
	for _, a := range headerAddresses(in.Headers, "Reply-To") {
		reg := registrable(domainOf(a.Address))
		if reg == "" || from[reg] || seen[reg] || len(out) >= maxFindings {
			continue
		}
		seen[reg] = true
		out = append(out, check.Finding{Name: FindingReplyTo, Value: cut(strings.ToLower(a.Address)), Where: "header:Reply-To",
			Reason: fmt.Sprintf("replies go to %s, at %s, but the message is from %s", cut(a.Address), reg, strings.Join(fromDoms, ", "))})
	}
	logDone(in, r.Name(), "eoh", len(out))
	return out, nil
}

// registrable is the registrable domain of d in U-labels, or "".
func registrable(d string) string {
	if dom, ok := ParseDomain(d); ok {
		return dom.Registrable
	}
	return ""
}

// FirstTime reports sender.first_time.
type FirstTime struct{}

func (*FirstTime) Name() string          { return "first-time-sender" }
func (*FirstTime) Stage() policy.Stage   { return policy.StageRcpt }
func (*FirstTime) Scope() check.Scope    { return check.ScopeRecipient }
func (*FirstTime) Budget() time.Duration { return 2 * time.Second }

// OnError is skip: a sender's novelty is a signal to weigh, not worth a
// retry of the message when the log cannot be read.
func (*FirstTime) OnError() check.OnError { return check.OnErrorSkip }

func (*FirstTime) Findings() []check.Declared {
	return []check.Declared{
		{Name: FindingFirstTime, Doc: "on inbound mail, no message from the envelope sender was delivered to this recipient before (tracking log)"},
	}
}

func (f *FirstTime) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if !inbound(in) || in.Sender == "" || in.Rcpt == "" || in.Env == nil || in.Env.Correspondents == nil {
		return nil, nil
	}
	known, err := in.Env.Correspondents.Corresponded(ctx, in.Sender, in.Rcpt)
	if err != nil {
		return nil, fmt.Errorf("impersonation: first-time sender: %w", err)
	}
	var out []check.Finding
	if !known {
		out = append(out, check.Finding{Name: FindingFirstTime, Value: cut(strings.ToLower(in.Sender)), Where: "envelope",
			Reason: fmt.Sprintf("no message from %s was delivered to %s before", cut(in.Sender), cut(in.Rcpt))})
	}
	logDone(in, f.Name(), "rcpt", len(out))
	return out, nil
}

// Address is an address of a header field with its decoded display name.
type Address struct {
	Name, Address string
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// headerAddresses reads the addresses of every field called name, at most
// maxAddrs from each.
func headerAddresses(hs []check.RawHeader, name string) []Address {
	var out []Address
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			out = append(out, ParseAddresses(h.Value)...)
		}
	}
	return out
}

// ParseAddresses reads an address list leniently: as RFC 5322 says, with
// RFC 2047 display names decoded; failing that, the field decoded as
// mailwarden decodes any header, and the address taken from the last
// angle brackets with the text before them as the display name.
func ParseAddresses(v string) []Address {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	if as, err := p.ParseList(v); err == nil {
		out := make([]Address, 0, min(len(as), maxAddrs))
		for _, a := range as[:min(len(as), maxAddrs)] {
			out = append(out, Address{Name: a.Name, Address: a.Address})
		}
		return out
	}
	dec, _ := message.DecodeHeader(v)
	if i := strings.LastIndexByte(dec, '<'); i >= 0 {
		if j := strings.IndexByte(dec[i:], '>'); j > 0 {
			name := strings.Trim(strings.TrimSpace(dec[:i]), `"' `)
			return []Address{{Name: name, Address: strings.TrimSpace(dec[i+1 : i+j])}}
		}
	}
	if strings.Contains(dec, "@") && !strings.ContainsAny(dec, " \t") {
		return []Address{{Address: dec}}
	}
	return nil
}

// domainOf is the domain of an address, or "".
func domainOf(addr string) string {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// maxValue bounds what a finding quotes.
const maxValue = 200

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

func logDone(in *check.Input, name, stage string, n int) {
	if in.Env == nil || in.Env.Log == nil {
		return
	}
	in.Env.Log.Debug("check done", slog.String("check", name), slog.String("stage", stage), slog.Int("findings", n))
}
