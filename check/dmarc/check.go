package dmarc

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/authres"
	"github.com/mailwarden/mailwarden/check/dkim"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
)

// The findings.
const (
	Finding           = "dmarc"
	FindingPass       = "dmarc.pass"
	FindingReject     = "dmarc.reject"
	FindingQuarantine = "dmarc.quarantine"
	FindingSpoof      = "spoof.internal"
	// FindingDKIMAligned is reported for a message with one From address
	// that a passing DKIM signature aligns with (relaxed: the d= domain is
	// the From domain or shares its organisational domain), whether or
	// not the domain publishes DMARC. Value is the From domain, so a rule
	// can name the senders it knows: has("dkim.aligned", "bank.example").
	FindingDKIMAligned = "dkim.aligned"
)

// Config is the [dmarc] section.
type Config struct {
	// Timeout bounds each policy lookup (2s); a lookup that fails or
	// takes longer makes the result temperror, which no default rule
	// refuses.
	Timeout config.Duration `toml:"timeout"`
}

func init() {
	config.Register("dmarc", func() Config { return Config{Timeout: config.Dur(2 * time.Second)} },
		func(r *config.Report, c *Config) {
			r.Duration("dmarc.timeout", c.Timeout)
			if c.Timeout.D <= 0 || c.Timeout.D > 20*time.Second {
				r.Add("dmarc.timeout", "2s is the default", "must be between 0 and 20s")
			}
		})
	check.Register(build)
}

func build(cfg *config.Config) []check.Check {
	c := &Check{dkim: dkim.OptionsFrom(cfg), timeout: config.Section[Config](cfg, "dmarc").Timeout.D}
	s := &SpoofCheck{dkim: c.dkim, internal: cfg.Organization.InternalDomains}
	if authres.VerifyAlways(cfg) {
		return []check.Check{alwaysCheck{c}, s}
	}
	return []check.Check{c, s}
}

// Check evaluates DMARC at end of message.
type Check struct {
	dkim    dkim.Options
	timeout time.Duration
}

// alwaysCheck is the DMARC check under [auth] verify = "always": it runs
// on every message, and with it SPF and DKIM, so Authentication-Results
// always carries them.
type alwaysCheck struct{ *Check }

func (alwaysCheck) Always() string { return "[auth] verify = \"always\"" }

func (*Check) Name() string        { return "dmarc" }
func (*Check) Stage() policy.Stage { return policy.StageEOM }
func (*Check) Scope() check.Scope  { return check.ScopeTransaction }
func (c *Check) Budget() time.Duration {
	return max(c.dkim.Budget(), 3*c.timeout) + time.Second
}
func (*Check) OnError() check.OnError { return check.OnErrorSkip }

// LearnsFrom makes the SPF and DKIM checks run with DMARC: it aligns their
// results, and Authentication-Results reports them.
func (*Check) LearnsFrom() []string { return []string{"spf.*", dkim.Finding} }

func (*Check) Findings() []check.Declared {
	return []check.Declared{
		{Name: Finding, Doc: "DMARC result of the From domain (pass, fail, none, temperror, permerror); where: policy=P disposition=D"},
		{Name: FindingPass, Doc: "DMARC pass: an SPF or DKIM pass aligned with the From domain (value), under its DMARC policy"},
		{Name: FindingDKIMAligned, Doc: "a DKIM pass aligned (relaxed) with the one From domain (value), with or without a DMARC record; where: d=SIGNER"},
		{Name: FindingReject, Doc: "DMARC fail under a policy that asks to reject this message"},
		{Name: FindingQuarantine, Doc: "DMARC fail under a policy that asks to quarantine this message"},
	}
}

// Run evaluates DMARC. Mail from trusted networks and authenticated
// sessions is ours, outbound or internal, and is not evaluated (as SPF
// does not check it): a rule on dmarc.reject without a direction then
// never refuses our own users' mail.
func (c *Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if in.Raw == nil && in.Headers == nil || ours(in) {
		return nil, nil
	}
	e, a, from := c.evaluate(ctx, in)
	out := []check.Finding{{Name: Finding, Value: e.Result, Where: e.Where(), Reason: e.Reason}}
	if e.Result == Pass {
		out = append(out, check.Finding{Name: FindingPass, Value: e.Domain, Where: e.Where(), Reason: e.Reason})
	}
	// With one From address, e.Domain is its domain, normalised.
	if k, ok := a.alignedDKIM(e.Domain); ok && len(from) == 1 {
		out = append(out, check.Finding{Name: FindingDKIMAligned, Value: e.Domain, Where: "d=" + k,
			Reason: "DKIM passed for " + k + ", aligned with the From domain " + e.Domain})
	}
	if e.Result == Fail {
		switch e.Disposition {
		case "reject":
			out = append(out, check.Finding{Name: FindingReject, Value: e.Domain, Where: e.Where(), Reason: e.Reason})
		case "quarantine":
			out = append(out, check.Finding{Name: FindingQuarantine, Value: e.Domain, Where: e.Where(), Reason: e.Reason})
		}
	}
	return out, nil
}

// evaluate returns the evaluation, what authenticated the message and its
// From domains.
func (c *Check) evaluate(ctx context.Context, in *check.Input) (*Evaluation, Auth, []string) {
	addrs := FromAddresses(in.Headers)
	var domains []string
	for _, a := range addrs {
		domains = append(domains, Domain(a))
	}
	if len(domains) == 1 && domains[0] == "" {
		return &Evaluation{Result: Fail, Policy: "none", Disposition: "none", Sampled: true,
			Reason: fmt.Sprintf("the From address %q has no domain", addrs[0])}, Auth{}, domains
	}
	l := Lookup{Timeout: c.timeout}
	if in.Env != nil {
		l.DNS = in.Env.DNS
	}
	a := authOf(ctx, in, c.dkim)
	return Evaluate(ctx, l, domains, a, sampleKey(in)), a, domains
}

// alignedDKIM is the first passing DKIM domain aligned (relaxed) with
// the domain d.
func (a Auth) alignedDKIM(d string) (string, bool) {
	for _, k := range a.DKIMPass {
		if d != "" && Aligned(k, d, false) {
			return k, true
		}
	}
	return "", false
}

// authOf gathers the SPF result of MAIL and the DKIM verification.
func authOf(ctx context.Context, in *check.Input, o dkim.Options) Auth {
	var a Auth
	a.SPFResult, a.SPFDomain, _ = SPF(in.Findings)
	if in.Raw != nil {
		a.DKIMPass = dkim.Shared(ctx, in, o).Passing()
	}
	return a
}

// SPF is the SPF result of the envelope sender among findings: the
// finding spf.RESULT the spf check reports once per transaction, Value
// the domain it checked (the MAIL FROM domain, or the HELO name for the
// null sender). ok is false when SPF did not run.
func SPF(findings []check.Finding) (result, domain string, ok bool) {
	for _, f := range findings {
		r, isSPF := strings.CutPrefix(f.Name, "spf.")
		if !isSPF || strings.HasPrefix(f.Name, "spf.helo.") || strings.Contains(r, ".") {
			continue
		}
		return r, f.Value, true
	}
	return "", "", false
}

// sampleKey identifies a message for pct: its Message-ID, else its From
// and Date.
func sampleKey(in *check.Input) string {
	var from, date string
	for _, h := range in.Headers {
		switch strings.ToLower(h.Name) {
		case "message-id":
			return strings.TrimSpace(h.Value)
		case "from":
			from = h.Value
		case "date":
			date = h.Value
		}
	}
	return from + "\x00" + date
}

// SpoofCheck reports spoof.internal: inbound mail (not from trusted
// networks, not authenticated) whose header From or envelope sender is
// in organization.internal_domains, with neither an SPF pass for the
// envelope sender nor a DKIM pass aligned (relaxed) with that domain. Such
// mail claims to be ours and nothing vouches for it. Value is the
// address, Where "header:From" or "envelope".
type SpoofCheck struct {
	dkim     dkim.Options
	internal []string
}

func (*SpoofCheck) Name() string            { return "spoof" }
func (*SpoofCheck) Stage() policy.Stage     { return policy.StageEOM }
func (*SpoofCheck) Scope() check.Scope      { return check.ScopeTransaction }
func (s *SpoofCheck) Budget() time.Duration { return s.dkim.Budget() + time.Second }
func (*SpoofCheck) OnError() check.OnError  { return check.OnErrorSkip }
func (*SpoofCheck) LearnsFrom() []string    { return []string{"spf.*"} }
func (*SpoofCheck) Findings() []check.Declared {
	return []check.Declared{{Name: FindingSpoof, Doc: "inbound mail with an internal From or envelope sender, and no SPF pass, aligned DKIM pass or authenticated session"}}
}

func (s *SpoofCheck) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if ours(in) {
		return nil, nil
	}
	type claim struct{ addr, where string }
	var claims []claim
	for _, a := range FromAddresses(in.Headers) {
		if s.isInternal(Domain(a)) {
			claims = append(claims, claim{a, "header:From"})
		}
	}
	if s.isInternal(Domain(in.Sender)) {
		claims = append(claims, claim{in.Sender, "envelope"})
	}
	if len(claims) == 0 {
		return nil, nil
	}
	a := authOf(ctx, in, s.dkim)
	var out []check.Finding
	for _, c := range claims {
		d := Domain(c.addr)
		if a.SPFResult == "pass" && Aligned(a.SPFDomain, d, false) {
			continue
		}
		if _, ok := a.alignedDKIM(d); ok {
			continue
		}
		spf := a.SPFResult
		if spf == "" {
			spf = "not checked"
		}
		out = append(out, check.Finding{Name: FindingSpoof, Value: c.addr, Where: c.where,
			Reason: fmt.Sprintf("%s is an internal domain, but this inbound mail has no SPF pass (SPF %s), no aligned DKIM pass and no authenticated session", d, spf)})
	}
	return out, nil
}

// ours reports whether the session is ours: authenticated, or from
// organization.trusted_networks.
func ours(in *check.Input) bool {
	return in.AuthUser != "" || (in.Env != nil && in.Env.Trusted != nil && in.ClientIP.IsValid() && in.Env.Trusted(in.ClientIP))
}

// isInternal matches organization.internal_domains: "example.com", or
// "*.example.com" for its subdomains.
func (s *SpoofCheck) isInternal(d string) bool {
	if d == "" {
		return false
	}
	for _, p := range s.internal {
		p = strings.ToLower(strings.TrimSuffix(p, "."))
		if sub, ok := strings.CutPrefix(p, "*"); ok {
			if strings.HasSuffix(d, sub) {
				return true
			}
		} else if d == p {
			return true
		}
	}
	return false
}
