// Package ioc matches mail against lists of indicators of compromise
// ([[ioc]] tables): files of command-and-control and suspicious domains,
// URLs, IP addresses and CIDR networks, email addresses and SHA-256
// values, one per line or CSV. A match is the finding ioc, its value the
// object as listed, its reason naming the list and the file's line:
//
//	where               what is matched                                  when
//	client              the client's address                             connect
//	sender              the envelope sender, and its domain              MAIL
//	recipient           each recipient, and its domain                   RCPT, for that recipient only
//	header:From         the From and Reply-To addresses, and their       end of message
//	header:Reply-To       domains
//	url                 each URL of the message (scanner/urls): the      end of message
//	                      URL, its host or any parent domain, its IP
//	attachment:NAME     the SHA-256 of each attachment, and of each      end of message
//	                      file in its archives (scanner/archive)
//
// A listed domain matches its subdomains. Domains are compared lower
// case, IDN in punycode, without a final dot; URLs without scheme, port or
// fragment; addresses lower case. Defanged entries (evil[.]example,
// hxxps://) are read as what they stand for.
//
// Three checks report ioc, each at its stage and scope, so the one
// finding name is declared shared (see [check.Declared]): ioc-client
// (which judges the client, so on a connection from a known host it
// judges the message's first untrusted hop), ioc (the envelope sender at
// MAIL, then the content at end of message) and ioc-recipient.
//
// A list is loaded when the config is (a file that cannot be read then is
// a config error on its key), and looked at again every reload_interval:
// when two looks in a row see a new modification time or size (so that a
// file being written is not read half way) it is loaded again in the
// background and swapped in whole; until then, and when the new load
// fails or the file changed while it was read, the old entries serve. Lines that hold no entry are counted and
// logged with file:line (at startup also as config warnings), never an
// error; max_entries bounds a list's memory (some 80 bytes an entry, twice
// that while a reload builds the new snapshot; see the benchmarks).
//
// With no [[ioc]] table there are no checks, and a rule naming ioc is an
// error: the embedded default has no rule on it, since how far to trust
// a list is the operator's call (a C2 feed may warrant reject, a
// "suspicious" one a tag).
package ioc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/netip"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner/archive"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/scanner/urls"
)

// Finding is the finding every match gives.
const Finding = "ioc"

func init() { check.Register(build) }

func build(cfg *config.Config) []check.Check {
	var ls []*list
	seen := map[string]bool{}
	for _, c := range *config.Section[[]Config](cfg, "ioc") {
		if !nameRE.MatchString(c.Name) || seen[c.Name] || !strings.HasPrefix(c.File, "/") {
			continue // reported by the validator
		}
		seen[c.Name] = true
		s := takePreloaded(c)
		if s == nil {
			var err error
			s, err = load(c.File, Format(c.Format), c.maxEntries()) // nil: loaded when it can be
			if errors.Is(err, errChanged) {
				s.mod = time.Time{} // loaded again once the file is still
			}
		}
		ls = append(ls, newList(c, s))
	}
	if len(ls) == 0 {
		return nil
	}
	m := &matcher{lists: ls}
	return []check.Check{&ClientCheck{m}, &Check{m}, &RcptCheck{m}}
}

func declared(doc string) []check.Declared {
	return []check.Declared{{Name: Finding, Doc: doc, Shared: true}}
}

const declDoc = "the client, sender, a recipient, the From or Reply-To, a URL or an attachment's SHA-256 is in an [[ioc]] list; the value is the entry"

// ClientCheck matches the client's address at connect.
type ClientCheck struct{ m *matcher }

func (*ClientCheck) Name() string               { return "ioc-client" }
func (*ClientCheck) Stage() policy.Stage        { return policy.StageConnect }
func (*ClientCheck) Scope() check.Scope         { return check.ScopeConnection }
func (*ClientCheck) Budget() time.Duration      { return 2 * time.Second }
func (*ClientCheck) OnError() check.OnError     { return check.OnErrorTempfail }
func (*ClientCheck) Findings() []check.Declared { return declared(declDoc) }
func (*ClientCheck) JudgesClient() bool         { return true }
func (c *ClientCheck) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	r := c.m.start(in)
	if in.ClientIP.IsValid() {
		r.ip(in.ClientIP, "client", "the client "+in.ClientIP.Unmap().String())
	}
	return r.done("ioc-client"), nil
}

// Check matches the envelope sender at MAIL and the content at end of
// message.
type Check struct{ m *matcher }

func (*Check) Name() string        { return "ioc" }
func (*Check) Stage() policy.Stage { return policy.StageMail }
func (*Check) Scope() check.Scope  { return check.ScopeTransaction }

// Budget is also the end-of-message run's, which unpacks archives.
func (*Check) Budget() time.Duration      { return 10 * time.Second }
func (*Check) OnError() check.OnError     { return check.OnErrorTempfail }
func (*Check) Findings() []check.Declared { return declared(declDoc) }

// LateStage: the header, URLs and attachments are known at end of message.
func (*Check) LateStage() policy.Stage { return policy.StageEOM }

func (c *Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	r := c.m.start(in)
	if in.Sender != "" {
		r.email(in.Sender, "sender", "the envelope sender")
	}
	return r.done("ioc"), nil
}

// maxHeaderAddrs bounds the addresses read from the From and Reply-To.
const maxHeaderAddrs = 20

// RunLate matches the From and Reply-To, the URLs and the attachments.
func (c *Check) RunLate(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	r := c.m.start(in)
	for _, h := range in.Headers {
		name := ""
		switch {
		case strings.EqualFold(h.Name, "From"):
			name = "From"
		case strings.EqualFold(h.Name, "Reply-To"):
			name = "Reply-To"
		default:
			continue
		}
		for _, a := range headerAddresses(h.Value) {
			r.email(a, "header:"+name, "the "+name+" address")
		}
	}
	if in.Message != nil {
		if r.has(KindURL, KindDomain, KindIP) {
			for _, u := range urls.FromMessage(in.Message, urls.DefaultLimits()).URLs() {
				r.url(u)
			}
		}
		if r.has(KindSHA256) {
			if err := r.attachments(ctx, in.Message); err != nil {
				return r.done("ioc/late"), err
			}
		}
	}
	return r.done("ioc/late"), nil
}

// RcptCheck matches each recipient at RCPT; its findings hold for that
// recipient only.
type RcptCheck struct{ m *matcher }

func (*RcptCheck) Name() string               { return "ioc-recipient" }
func (*RcptCheck) Stage() policy.Stage        { return policy.StageRcpt }
func (*RcptCheck) Scope() check.Scope         { return check.ScopeRecipient }
func (*RcptCheck) Budget() time.Duration      { return 2 * time.Second }
func (*RcptCheck) OnError() check.OnError     { return check.OnErrorTempfail }
func (*RcptCheck) Findings() []check.Declared { return declared(declDoc) }
func (c *RcptCheck) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	r := c.m.start(in)
	if in.Rcpt != "" {
		r.email(in.Rcpt, "recipient", "the recipient")
	}
	return r.done("ioc-recipient"), nil
}

// matcher is the lists the three checks share.
type matcher struct{ lists []*list }

// maxFindings bounds the findings of one run.
const maxFindings = 50

// run is one check run: the lists' current snapshots and the findings.
type run struct {
	in    *check.Input
	lists []*list
	snaps []*snapshot
	out   []check.Finding
	seen  map[string]bool
	start time.Time
}

func (m *matcher) start(in *check.Input) *run {
	r := &run{in: in, lists: m.lists, snaps: make([]*snapshot, len(m.lists)), seen: map[string]bool{}, start: time.Now()}
	for i, l := range m.lists {
		r.snaps[i] = l.current(in.Env)
	}
	return r
}

// has reports whether any list has entries of one of kinds.
func (r *run) has(kinds ...Kind) bool {
	for _, s := range r.snaps {
		if s == nil {
			continue
		}
		for _, k := range kinds {
			if s.kinds[k] > 0 {
				return true
			}
		}
	}
	return false
}

func (r *run) done(name string) []check.Finding {
	if r.in.Env != nil && r.in.Env.Log != nil {
		r.in.Env.Log.Debug("check done", slog.String("check", name), slog.Duration("duration", time.Since(r.start)), slog.Int("findings", len(r.out)))
	}
	return r.out
}

// add records a match of list i for what (a phrase: "the client
// 192.0.2.1"), shown, at where.
func (r *run) add(i int, h hit, where, what string, via string) {
	if len(r.out) >= maxFindings {
		return
	}
	k := h.text + "\x00" + where
	if r.seen[k] {
		return
	}
	r.seen[k] = true
	l, s := r.lists[i], r.snaps[i]
	reason := fmt.Sprintf("%s is in IOC list %s (%s:%d)", what, l.cfg.Name, s.path, h.line)
	if via != "" {
		reason = fmt.Sprintf("%s is %s %s, in IOC list %s (%s:%d)", what, via, h.text, l.cfg.Name, s.path, h.line)
	}
	r.out = append(r.out, check.Finding{Name: Finding, Value: h.text, Where: where, Reason: reason})
}

func (r *run) ip(a netip.Addr, where, what string) {
	for i, s := range r.snaps {
		if s == nil {
			continue
		}
		if h, ok := s.ip(a); ok {
			r.add(i, h, where, what, "")
		}
	}
}

func (r *run) email(addr, where, what string) {
	addr = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(addr), "<"), ">")
	for i, s := range r.snaps {
		if s == nil {
			continue
		}
		if h, ok := s.email(addr); ok {
			via := ""
			if !strings.Contains(h.text, "@") {
				via = "at"
			}
			r.add(i, h, where, what+" "+addr, via)
		}
	}
}

func (r *run) url(u urls.URL) {
	shown := cut(u.String())
	what := "the URL " + shown + " (" + u.Where + ")"
	key := URLKey(u)
	for i, s := range r.snaps {
		if s == nil {
			continue
		}
		if line, ok := s.urls[key]; ok {
			r.add(i, hit{s.text(line, key), line}, "url", what, "")
			continue
		}
		if u.IP.IsValid() {
			if h, ok := s.ip(u.IP); ok {
				r.add(i, h, "url", what, "on")
			}
			continue
		}
		if h, ok := s.domain(u.Host); ok {
			r.add(i, h, "url", what, "under")
		}
	}
}

// attachments hashes every attachment and every file inside its
// archives.
func (r *run) attachments(ctx context.Context, m *message.Message) error {
	match := func(sum [32]byte, where, name string) {
		for i, s := range r.snaps {
			if s == nil {
				continue
			}
			if line, ok := s.hashes[sum]; ok {
				r.add(i, hit{s.text(line, fmt.Sprintf("%x", sum)), line}, where, "the SHA-256 of "+name, "")
			}
		}
	}
	for i := range m.Parts {
		p := &m.Parts[i]
		if p.Filename == "" && p.Disposition != "attachment" && (p.ContentType == "text/plain" || p.ContentType == "text/html") {
			continue
		}
		name := p.Filename
		if name == "" {
			name = p.Where
		}
		data := p.Body()
		match(sha256.Sum256(data), "attachment:"+name, "attachment "+name)
		archive.Walk(ctx, name, data, archive.Limits{}, func(e *archive.Entry) {
			if e.Encrypted {
				return
			}
			match(sha256.Sum256(e.Data), "attachment:"+e.Path, "file "+e.Path)
		})
		if ctx.Err() != nil {
			return fmt.Errorf("ioc: %w", ctx.Err())
		}
	}
	return nil
}

// headerAddresses reads the addresses of a From or Reply-To field
// leniently: as an address list, or failing that, what stands in angle
// brackets, or the whole value when it looks like an address.
func headerAddresses(v string) []string {
	v = strings.TrimSpace(v)
	if as, err := mail.ParseAddressList(v); err == nil {
		var out []string
		for _, a := range as[:min(len(as), maxHeaderAddrs)] {
			out = append(out, a.Address)
		}
		return out
	}
	var out []string
	for rest := v; len(out) < maxHeaderAddrs; {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			break
		}
		out = append(out, strings.TrimSpace(rest[i+1:i+j]))
		rest = rest[i+j+1:]
	}
	if len(out) == 0 && strings.Contains(v, "@") && !strings.ContainsAny(v, " \t") {
		out = append(out, v)
	}
	return out
}

var (
	_ check.ClientJudge = (*ClientCheck)(nil)
	_ check.Late        = (*Check)(nil)
)
