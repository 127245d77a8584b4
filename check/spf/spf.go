// Package spf checks the Sender Policy Framework (RFC 7208) at MAIL, for
// the HELO identity and for the MAIL FROM identity, with
// blitiri.com.ar/go/spf over the shared resolver ([dns]: its servers,
// timeouts and cache). It is decided at MAIL, so a rule can refuse there,
// before the body is sent.
//
// # Findings
//
//   - spf: one per identity checked. Value is the result (pass, fail,
//     softfail, neutral, none, temperror, permerror), Where is "mailfrom"
//     or "helo", Reason "IDENTITY DOMAIN: RESULT for IP (EXPLANATION)".
//   - spf.RESULT (spf.fail, spf.pass, ...): exactly one per checked
//     transaction, the result of the envelope sender: the MAIL FROM
//     identity, or for the null sender the HELO identity (RFC 7208 §2.4).
//     Value is the domain checked, Where the identity ("mailfrom" or
//     "helo"). Rules name these, since rules match finding names:
//     findings = ["spf.fail"] refuses what the sender's domain says must
//     be refused (RFC 7372 gives 550 5.7.23 for it).
//   - spf.helo.RESULT: the result of the HELO identity (with [spf] helo
//     on), Value the HELO name, Where "helo".
//
// # The contract with DMARC
//
// DMARC (RFC 7489 §4.1) aligns the domain SPF authenticated: the MAIL
// FROM domain, or the HELO name for the null sender. That is the finding
// spf.RESULT of the transaction: its name gives the result, its Value the
// domain, its Where the identity. [SenderResult] reads it from a
// session's findings. A check that reads it at end of message should
// implement check.LearnsFrom with "spf.*", so the SPF check runs even
// when no rule names its findings (the default has no SPF rule: DMARC
// decides).
//
// # What is not checked
//
// Sessions from organization.trusted_networks and authenticated (SMTP
// AUTH) sessions are outbound: they are not checked unless [spf] outbound
// = true. A client without an address (a pipe) is not checked. On a
// connection from a known host ([known_hosts]) the client is a relay,
// not the sender's host: the check then runs at end of headers on the
// message's first untrusted hop, for the MAIL FROM identity only (the
// hop's HELO name is not known reliably), and not at all for the null
// sender.
//
// Limits (RFC 7208 §4.6.4): 10 DNS-querying terms (include, a, mx, ptr,
// exists, redirect), 2 void lookups, 10 MX and 10 PTR names; past one the
// result is permerror. A DNS failure or timeout is temperror, which is
// not a fail. The whole evaluation of an identity is bounded by [spf]
// timeout, within the check's budget; the explanation of an exp= modifier
// is not fetched (a sender-controlled text belongs in no reply).
package spf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
)

// Section is the config table, [spf].
const Section = "spf"

// The finding names.
const (
	FindingSPF  = "spf"       // one per identity; value: the result
	prefix      = "spf."      // spf.RESULT: the envelope sender's result
	prefixHelo  = "spf.helo." // spf.helo.RESULT: the HELO identity's result
	checkName   = "spf"
	budgetSlack = time.Second
)

// Config is the [spf] table.
type Config struct {
	// Enabled makes the check available to rules (it runs only when a rule
	// names its findings, or a check learns from them).
	Enabled bool `toml:"enabled"`
	// Helo also checks the HELO identity (RFC 7208 §2.3), as the finding
	// spf with Where "helo" and spf.helo.RESULT. The null sender's check
	// is the HELO identity's whatever this says (§2.4).
	Helo bool `toml:"helo"`
	// Outbound also checks trusted networks and authenticated sessions,
	// which are not checked by default: their mail is ours.
	Outbound bool `toml:"outbound"`
	// Timeout bounds the evaluation of one identity, all its lookups
	// together; what it cuts short is temperror. RFC 7208 §4.6.4 suggests
	// at least 20s, but Sendmail waits only 10s for a milter's reply.
	Timeout config.Duration `toml:"timeout"`
	// OnError is what a failure of the check itself (no resolver, an
	// offline dry run, its budget spent) means: "skip" (default) or
	// "tempfail". A temperror result is not such a failure: it is a
	// finding.
	OnError string `toml:"on_error"`
}

// Defaults are the [spf] values a config does not set.
func Defaults() Config {
	return Config{Enabled: true, Helo: true, Timeout: config.Dur(8 * time.Second), OnError: string(check.OnErrorSkip)}
}

func init() {
	config.Register(Section, Defaults, validate)
	check.Register(build)
}

func validate(r *config.Report, c *Config) {
	n := len(r.Problems)
	r.Duration(Section+".timeout", c.Timeout)
	if len(r.Problems) == n && (c.Timeout.D <= 0 || c.Timeout.D > 25*time.Second) {
		r.Add(Section+".timeout", "8s; Sendmail waits 10s for a reply, Postfix 30s", "must be between 0 and 25s")
	}
	r.OneOf(Section+".on_error", c.OnError, "skip", "tempfail")
}

func build(cfg *config.Config) []check.Check {
	c := *config.Section[Config](cfg, Section)
	if !c.Enabled {
		return nil
	}
	return []check.Check{New(c)}
}

// New is the check with validated settings c.
func New(c Config) *Check {
	if c.Timeout.D <= 0 {
		c.Timeout = Defaults().Timeout
	}
	return &Check{c: c}
}

// Check is the SPF check.
type Check struct{ c Config }

func (*Check) Name() string            { return checkName }
func (*Check) Stage() policy.Stage     { return policy.StageMail }
func (*Check) Scope() check.Scope      { return check.ScopeTransaction }
func (c *Check) Budget() time.Duration { return c.c.Timeout.D + budgetSlack }
func (*Check) JudgesClient() bool      { return true }
func (c *Check) OnError() check.OnError {
	if c.c.OnError == string(check.OnErrorTempfail) {
		return check.OnErrorTempfail
	}
	return check.OnErrorSkip
}

// Findings declares spf, spf.RESULT and spf.helo.RESULT for every result.
func (*Check) Findings() []check.Declared {
	out := []check.Declared{{Name: FindingSPF, Doc: "SPF result of an identity (value), where: mailfrom or helo"}}
	for _, r := range Results {
		out = append(out, check.Declared{Name: prefix + string(r), Doc: "SPF " + string(r) + " for the envelope sender (the HELO name for the null sender); value: the domain"})
	}
	for _, r := range Results {
		out = append(out, check.Declared{Name: prefixHelo + string(r), Doc: "SPF " + string(r) + " for the HELO name"})
	}
	return out
}

// Errors of the check itself (see [Config.OnError]).
var (
	ErrNoResolver = errors.New("spf: no resolver")
	ErrOffline    = errors.New("spf: not checked, DNS is offline")
)

type identity struct {
	where, helo, sender string
	out                 Outcome
}

func (c *Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	ip := in.ClientIP.Unmap()
	if !ip.IsValid() {
		return nil, nil
	}
	if !c.c.Outbound && outbound(in) {
		return nil, nil
	}
	if in.Env == nil || in.Env.DNS == nil {
		return nil, ErrNoResolver
	}
	if in.Env.Offline {
		return nil, ErrOffline
	}
	// At end of headers (headers known) this is a run on the first
	// untrusted hop behind a known host, whose HELO name is not known.
	origin := len(in.Headers) > 0
	helo := strings.TrimSuffix(strings.TrimSpace(in.Helo), ".")
	sender := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(in.Sender), "<"), ">")
	var ids []*identity
	switch {
	case sender == "" && origin:
		return nil, nil
	case sender == "":
		ids = append(ids, &identity{where: WhereHelo, helo: helo, sender: "postmaster@" + helo})
	default:
		ids = append(ids, &identity{where: WhereMailFrom, helo: helo, sender: sender})
		if c.c.Helo && !origin {
			ids = append(ids, &identity{where: WhereHelo, helo: helo, sender: "postmaster@" + helo})
		}
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.c.Timeout.D)
	defer cancel()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { id.out = Evaluate(ctx, in.Env.DNS, ip, id.helo, id.sender) })
	}
	wg.Wait()

	var out []check.Finding
	log := []any{"client", ip.String(), "duration", time.Since(start)}
	for i, id := range ids {
		o := id.out
		if o.Offline {
			return nil, fmt.Errorf("%w: %s", ErrOffline, o.Explanation)
		}
		log = append(log, id.where, string(o.Result)+" "+o.Domain, id.where+"_lookups", o.Lookups)
		reason := fmt.Sprintf("%s %s: %s for %s (%s)", id.where, o.Domain, o.Result, ip, o.Explanation)
		out = append(out, check.Finding{Name: FindingSPF, Value: string(o.Result), Where: id.where, Reason: reason})
		if i == 0 {
			out = append(out, check.Finding{Name: prefix + string(o.Result), Value: o.Domain, Where: id.where, Reason: reason})
		}
		if id.where == WhereHelo && (i > 0 || c.c.Helo) {
			out = append(out, check.Finding{Name: prefixHelo + string(o.Result), Value: o.Domain, Where: id.where, Reason: reason})
		}
	}
	logger := in.Env.Log
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger.Debug("spf", log...)
	return out, nil
}

// outbound reports whether the session is ours: authenticated, or from
// organization.trusted_networks.
func outbound(in *check.Input) bool {
	return in.AuthUser != "" || in.Env != nil && in.Env.Trusted != nil && in.Env.Trusted(in.ClientIP)
}

// SenderResult is the SPF result of the envelope sender among a session's
// findings, for DMARC: the finding spf.RESULT. ok is false when SPF was
// not checked (not active, outbound, no client address, failed).
func SenderResult(findings []check.Finding) (res Result, domain, where string, ok bool) {
	for _, f := range findings {
		r, isSPF := strings.CutPrefix(f.Name, prefix)
		if !isSPF || strings.HasPrefix(f.Name, prefixHelo) {
			continue
		}
		return Result(r), f.Value, f.Where, true
	}
	return "", "", "", false
}
