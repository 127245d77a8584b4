// Package recipient reports recipient.unknown for a recipient of a
// checked domain that no valid-recipient table lists, so a rule can
// refuse it at RCPT with 550 5.1.1 and the IP profiler can count
// directory-harvest attempts.
//
// Postfix can refuse unknown recipients itself (relay_recipient_maps,
// virtual_mailbox_maps, local_recipient_maps) before the milter sees the
// RCPT; then this check never fires for them, and the profiler never
// counts them. Point [recipients] files at the same tables, and leave
// Postfix's maps empty, to have mailwarden refuse and count them: see the
// README. Sendmail has no such check of its own for relayed domains.
package recipient

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
)

// Finding is reported for an unknown recipient.
const Finding = "recipient.unknown"

// Config is the [recipients] section.
type Config struct {
	// Files are the valid-recipient tables, each "list:/path" (one address
	// or @domain per line; a bare path means the same) or "postfix:/path" (a
	// Postfix lookup table source, such as the file behind
	// relay_recipient_maps: "key value" lines, the value ignored). They are
	// read again when they change.
	Files []string `toml:"files"`
	// Domains are the domains whose recipients are checked, "*.example.com"
	// for subdomains; empty means organization.internal_domains. A
	// recipient of any other domain is never unknown.
	Domains []string `toml:"domains"`
	// RecipientDelimiter are the characters that start an address
	// extension, as Postfix's recipient_delimiter (each one a delimiter,
	// e.g. "+-"): with "+", user+tag@example.com is known when
	// user@example.com is.
	RecipientDelimiter string `toml:"recipient_delimiter"`
	// OnError is "tempfail" (default) or "skip": what a table that cannot
	// be read means for the message. A table that fails to read again
	// after a change keeps its last good contents and logs the error.
	OnError string `toml:"on_error"`
}

func init() {
	config.Register("recipients", func() Config { return Config{OnError: "tempfail"} }, validate)
	check.Register(build)
}

func validate(r *config.Report, c *Config) {
	for i, f := range c.Files {
		key := fmt.Sprintf("recipients.files[%d]", i)
		format, path, err := parseSource(f)
		if err != nil {
			r.Add(key, `"list:/etc/mailwarden/recipients" or "postfix:/etc/postfix/relay_recipients"`, "%v", err)
			continue
		}
		if _, errs := readTable(format, path); len(errs) > 0 {
			for _, err := range errs {
				r.Add(key, "", "%v", err)
			}
		}
	}
	for i, d := range c.Domains {
		if _, ok := config.InternalDomain(d); !ok {
			r.Add(fmt.Sprintf("recipients.domains[%d]", i), "a domain such as example.com or *.example.com", "%q is not a domain", d)
		}
	}
	if strings.ContainsAny(c.RecipientDelimiter, "@ \t\"<>,") || len(c.RecipientDelimiter) > 8 {
		r.Add("recipients.recipient_delimiter", `characters such as "+" or "+-"`, "%q is not a delimiter", c.RecipientDelimiter)
	}
	r.OneOf("recipients.on_error", c.OnError, "tempfail", "skip")
}

// parseSource splits "format:/path".
func parseSource(s string) (format, path string, err error) {
	format, path, ok := strings.Cut(s, ":")
	if !ok {
		format, path = "list", s
	}
	if format != "list" && format != "postfix" {
		return "", "", fmt.Errorf("%q: unknown table type %q (use list: or postfix:)", s, format)
	}
	if !strings.HasPrefix(path, "/") {
		return "", "", fmt.Errorf("%q: the path must be absolute", s)
	}
	return format, path, nil
}

func readTable(format, path string) (*Table, []error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []error{err}
	}
	defer f.Close()
	t := &Table{}
	if errs := t.Parse(f, format, path); len(errs) > 0 {
		return nil, errs
	}
	return t, nil
}

func build(cfg *config.Config) []check.Check {
	c := config.Section[Config](cfg, "recipients")
	domains := c.Domains
	if len(domains) == 0 {
		domains = cfg.Organization.InternalDomains
	}
	ch := &Check{delim: c.RecipientDelimiter, onError: check.OnError(c.OnError)}
	for _, d := range domains {
		if d, ok := config.InternalDomain(d); ok {
			ch.domains = append(ch.domains, d)
		}
	}
	for _, f := range c.Files {
		if format, path, err := parseSource(f); err == nil {
			ch.tables = append(ch.tables, &source{format: format, path: path})
		}
	}
	return []check.Check{ch}
}

// Check is the valid-recipient check.
type Check struct {
	domains []string
	tables  []*source
	delim   string
	onError check.OnError
}

func (*Check) Name() string          { return "recipient" }
func (*Check) Stage() policy.Stage   { return policy.StageRcpt }
func (*Check) Scope() check.Scope    { return check.ScopeRecipient }
func (*Check) Budget() time.Duration { return 2 * time.Second }
func (c *Check) OnError() check.OnError {
	return c.onError
}

func (*Check) Findings() []check.Declared {
	return []check.Declared{{Name: Finding, Doc: "a recipient of a checked domain that no [recipients] table lists"}}
}

// checked reports whether addr's domain is one this check judges.
func (c *Check) checked(domain string) bool {
	for _, d := range c.domains {
		if sub, ok := strings.CutPrefix(d, "*."); ok {
			if domain == sub || strings.HasSuffix(domain, "."+sub) {
				return true
			}
		} else if domain == d {
			return true
		}
	}
	return false
}

func (c *Check) Run(_ context.Context, in *check.Input) ([]check.Finding, error) {
	if len(c.tables) == 0 {
		return nil, nil
	}
	addr := strings.ToLower(strings.Trim(in.Rcpt, "<>"))
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || !c.checked(addr[at+1:]) {
		return nil, nil
	}
	keys := []string{addr}
	if c.delim != "" {
		if i := strings.IndexAny(addr[:at], c.delim); i > 0 {
			keys = append(keys, addr[:i]+addr[at:])
		}
	}
	var log *slog.Logger
	if in.Env != nil {
		log = in.Env.Log
	}
	for _, s := range c.tables {
		t, err := s.table(log)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if t.Has(k) {
				return nil, nil
			}
		}
	}
	return []check.Finding{{Name: Finding, Value: in.Rcpt, Where: "envelope",
		Reason: "no valid-recipient table lists " + in.Rcpt}}, nil
}

// source is one table file, read again when its size or modification time
// changes, looked at no more than once a second.
type source struct {
	format, path string

	mu      sync.Mutex
	t       *Table
	mod     time.Time
	size    int64
	checked time.Time
}

// statEvery is how often a table file is looked at for a change.
const statEvery = time.Second

func (s *source) table(log *slog.Logger) (*Table, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.t != nil && now.Sub(s.checked) < statEvery {
		return s.t, nil
	}
	s.checked = now
	fi, err := os.Stat(s.path)
	if err != nil {
		if s.t != nil {
			return s.t, nil // keep the last good one
		}
		return nil, fmt.Errorf("recipient: %w", err)
	}
	if s.t != nil && fi.ModTime().Equal(s.mod) && fi.Size() == s.size {
		return s.t, nil
	}
	t, errs := readTable(s.format, s.path)
	if len(errs) > 0 {
		if s.t != nil {
			if log != nil {
				log.Error("recipient table did not load; keeping its last good contents", "path", s.path, "err", errs[0], "problems", len(errs))
			}
			s.mod, s.size = fi.ModTime(), fi.Size() // do not retry until it changes again
			return s.t, nil
		}
		return nil, fmt.Errorf("recipient: %w", errs[0])
	}
	s.t, s.mod, s.size = t, fi.ModTime(), fi.Size()
	return t, nil
}
