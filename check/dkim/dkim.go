// Package dkim verifies the DKIM signatures of a message (RFC 6376, RSA
// and Ed25519, RFC 8463) with github.com/emersion/go-msgauth, looking the
// keys up through the shared resolver ([dns]), and reports one finding
// `dkim` per signature.
//
// Limits: at most [Config.MaxSignatures] signatures are verified (the rest
// are the finding `dkim.limit`), each key lookup has [Config.Timeout], and
// RSA keys under 1024 bits fail (RFC 8301 §3.2). rsa-sha1 is a permerror
// (RFC 8301 §3.1).
//
// A signature with a body length tag (l=, RFC 6376 §3.5, §8.2) covers
// only the first l bytes of the canonical body: anything appended after
// them would ride on its pass. go-msgauth refuses such signatures, and so
// does mailwarden: their `dkim` finding is "policy" (RFC 8601 §2.7.1: the
// signature was not acceptable), never "pass", so DMARC never counts one
// as aligned. When l is shorter than the canonical body, the signature is
// also the finding `dkim.partial` (value "l=N of M bytes"), so a rule can
// name the appended-content case itself.
package dkim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
)

// The findings.
const (
	// Finding is one per signature: Value the result (pass, fail, policy,
	// neutral, temperror, permerror), Where "d=DOMAIN s=SELECTOR"; a
	// message without a signature has one, valued "none".
	Finding = "dkim"
	// FindingPartial is a signature whose l= covers less than the body.
	FindingPartial = "dkim.partial"
	// FindingLimit is the number of signatures past max_signatures that
	// were not verified.
	FindingLimit = "dkim.limit"
)

// The results (RFC 8601 §2.7.1).
const (
	Pass      = "pass"
	Fail      = "fail"
	Policy    = "policy"
	Neutral   = "neutral"
	TempError = "temperror"
	PermError = "permerror"
	None      = "none"
)

// Defaults of [Config].
const (
	DefaultMaxSignatures = 8
	DefaultTimeout       = 2 * time.Second
)

// Config is the [dkim] section: how signatures are verified.
type Config struct {
	// MaxSignatures bounds the signatures verified per message (8); those
	// past it are not verified and are the finding dkim.limit.
	MaxSignatures int `toml:"max_signatures"`
	// Timeout bounds each key lookup (2s); a lookup that fails or takes
	// longer makes that signature a temperror.
	Timeout config.Duration `toml:"timeout"`
}

func init() {
	config.Register("dkim", func() Config {
		return Config{MaxSignatures: DefaultMaxSignatures, Timeout: config.Dur(DefaultTimeout)}
	}, func(r *config.Report, c *Config) {
		if c.MaxSignatures < 1 || c.MaxSignatures > 64 {
			r.Add("dkim.max_signatures", "8 is the default", "must be between 1 and 64")
		}
		r.Duration("dkim.timeout", c.Timeout)
		if c.Timeout.D <= 0 || c.Timeout.D > 20*time.Second {
			r.Add("dkim.timeout", "2s is the default", "must be between 0 and 20s")
		}
	})
	check.Register(func(cfg *config.Config) []check.Check { return []check.Check{&Check{opts: OptionsFrom(cfg)}} })
}

// Options are the verification limits.
type Options struct {
	MaxSignatures int
	Timeout       time.Duration
}

// OptionsFrom reads [dkim].
func OptionsFrom(cfg *config.Config) Options {
	c := config.Section[Config](cfg, "dkim")
	return Options{MaxSignatures: c.MaxSignatures, Timeout: c.Timeout.D}
}

// Budget is the time a verification may take: the key lookups run in
// parallel, each within the timeout, then the hashing.
func (o Options) Budget() time.Duration { return o.Timeout + 3*time.Second }

// Signature is the outcome of one signature.
type Signature struct {
	Domain, Selector string
	// Identifier is the i= tag (AUID), "@d" when absent.
	Identifier string
	Algorithm  string // a=
	Result     string
	Reason     string
	// Length is the l= tag, -1 without one; BodyLength the canonical body
	// length under the signature's c= body canonicalization.
	Length, BodyLength int64
}

// Partial reports whether l= leaves part of the body unsigned.
func (s *Signature) Partial() bool { return s.Length >= 0 && s.Length < s.BodyLength }

// Where is "d=DOMAIN s=SELECTOR".
func (s *Signature) Where() string { return "d=" + s.Domain + " s=" + s.Selector }

// Results are the outcomes of a message's signatures, in header order.
type Results struct {
	Signatures []Signature
	Skipped    int // signatures past the limit, not verified
}

// Passing returns the d= domains of the signatures that passed.
func (r *Results) Passing() []string {
	var out []string
	for _, s := range r.Signatures {
		if s.Result == Pass {
			out = append(out, s.Domain)
		}
	}
	return out
}

// ErrNoResolver is a lookup without the shared resolver.
var ErrNoResolver = errors.New("dkim: no resolver")

// Verify checks the signatures of raw, the whole message, with keys looked
// up through r. It never fails as a whole: each signature carries its own
// result.
func Verify(ctx context.Context, r *dns.Resolver, raw []byte, o Options) *Results {
	if o.MaxSignatures <= 0 {
		o.MaxSignatures = DefaultMaxSignatures
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	head, body := splitMessage(raw)
	tags := signatureTags(head)
	res := &Results{}
	if len(tags) == 0 {
		return res
	}
	verifs, err := msgdkim.VerifyWithOptions(bytes.NewReader(raw), &msgdkim.VerifyOptions{
		LookupTXT: lookupTXT(ctx, r, o.Timeout), MaxVerifications: o.MaxSignatures,
	})
	if len(verifs) == 0 && err != nil && !errors.Is(err, msgdkim.ErrTooManySignatures) {
		// The header or body did not read at all: every signature is
		// a permerror, none verified.
		verifs = nil
		for range min(len(tags), o.MaxSignatures) {
			verifs = append(verifs, &msgdkim.Verification{Err: err})
		}
	}
	for i, t := range tags {
		if i >= len(verifs) {
			res.Skipped = len(tags) - i
			break
		}
		v := verifs[i]
		s := Signature{Domain: strings.ToLower(t["d"]), Selector: t["s"], Identifier: v.Identifier,
			Algorithm: t["a"], Length: -1}
		if s.Identifier == "" {
			s.Identifier = "@" + s.Domain
		}
		s.Result, s.Reason = classify(v.Err)
		if l, ok := t["l"]; ok {
			n, perr := strconv.ParseInt(l, 10, 64)
			if perr != nil || n < 0 {
				s.Result, s.Reason = PermError, "malformed body length tag l="+l
			} else {
				s.Length = n
				_, bodyCan, _ := strings.Cut(t["c"], "/")
				s.BodyLength = canonicalBodyLength(body, bodyCan == "relaxed")
				if s.Result == Fail || s.Result == Pass {
					s.Result = Policy
					s.Reason = fmt.Sprintf("the body length tag l= signs %d of the body's %d bytes; such signatures are not accepted", n, s.BodyLength)
				}
			}
		}
		res.Signatures = append(res.Signatures, s)
	}
	return res
}

// classify maps a go-msgauth verification error to a result.
func classify(err error) (result, reason string) {
	switch {
	case err == nil:
		return Pass, "signature verified"
	case msgdkim.IsTempFail(err):
		return TempError, err.Error()
	case strings.Contains(err.Error(), "key is too short"):
		// RFC 8301 §3.2: not a valid signature, whatever the math says.
		return Fail, err.Error()
	case msgdkim.IsPermFail(err):
		return PermError, err.Error()
	}
	return Fail, err.Error()
}

// lookupTXT adapts the shared resolver to go-msgauth, which tells a
// temporary failure by net.Error.Temporary.
func lookupTXT(ctx context.Context, r *dns.Resolver, timeout time.Duration) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		if r == nil {
			return nil, &net.DNSError{Err: ErrNoResolver.Error(), Name: name, IsTemporary: true}
		}
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		txt, _, err := r.LookupTXT(c, name)
		switch {
		case errors.Is(err, dns.ErrNotFound):
			return nil, &net.DNSError{Err: err.Error(), Name: name, IsNotFound: true}
		case err != nil:
			return nil, &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true}
		}
		return txt, nil
	}
}

// splitMessage cuts raw at the empty line ending the header.
func splitMessage(raw []byte) (head, body []byte) {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		if j := bytes.Index(raw, []byte("\n\n")); j < 0 || j > i {
			return raw[:i+2], raw[i+4:]
		}
	}
	if j := bytes.Index(raw, []byte("\n\n")); j >= 0 {
		return raw[:j+1], raw[j+2:]
	}
	return raw, nil
}

// signatureTags returns the tags of each DKIM-Signature field of head, in
// order, values with white space removed (RFC 6376 §3.2).
func signatureTags(head []byte) []map[string]string {
	var out []map[string]string
	for _, f := range unfold(head) {
		name, value, ok := strings.Cut(f, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "DKIM-Signature") {
			continue
		}
		out = append(out, ParseTags(value))
	}
	return out
}

// ParseTags reads a tag list (RFC 6376 §3.2): "tag=value" separated by
// ";", white space folded away. A later duplicate tag is ignored.
func ParseTags(s string) map[string]string {
	m := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, dup := m[k]; dup || k == "" {
			continue
		}
		m[k] = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, v)
	}
	return m
}

// unfold splits a header block into its fields, continuation lines joined.
func unfold(head []byte) []string {
	var out []string
	for _, line := range strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			out[len(out)-1] += "\r\n" + line
			continue
		}
		out = append(out, line)
	}
	return out
}

// canonicalBodyLength is the length of body under the simple or relaxed
// body canonicalization (RFC 6376 §3.4.3, §3.4.4), lines ending in CRLF
// (a bare LF counts as CRLF).
func canonicalBodyLength(body []byte, relaxed bool) int64 {
	lines := strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1] // the final line end, not a line
	}
	var n int64
	pending := int64(0) // empty lines, counted only if a non-empty one follows
	for _, l := range lines {
		if relaxed {
			l = relaxLine(l)
		}
		if l == "" {
			pending += 2
			continue
		}
		n += pending + int64(len(l)) + 2
		pending = 0
	}
	if n == 0 && !relaxed {
		return 2 // an empty body is one CRLF under simple
	}
	return n
}

// relaxLine reduces runs of WSP to one space and drops trailing WSP.
func relaxLine(l string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(l); i++ {
		if c := l[i]; c == ' ' || c == '\t' {
			space = true
			continue
		} else {
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Shared returns the verification of in's message, computed once per
// stage for every check that asks (the dkim and dmarc checks).
func Shared(ctx context.Context, in *check.Input, o Options) *Results {
	return in.Shared.Do("dkim", func() any {
		var r *dns.Resolver
		if in.Env != nil {
			r = in.Env.DNS
		}
		return Verify(ctx, r, in.Raw, o)
	}).(*Results)
}

// Check reports the signatures' results at end of message.
type Check struct{ opts Options }

func (*Check) Name() string            { return "dkim" }
func (*Check) Stage() policy.Stage     { return policy.StageEOM }
func (*Check) Scope() check.Scope      { return check.ScopeTransaction }
func (c *Check) Budget() time.Duration { return c.opts.Budget() }
func (*Check) OnError() check.OnError  { return check.OnErrorSkip }
func (*Check) Findings() []check.Declared {
	return []check.Declared{
		{Name: Finding, Doc: "one per DKIM signature: its result (pass, fail, policy, neutral, temperror, permerror), or none"},
		{Name: FindingPartial, Doc: "a DKIM signature whose l= leaves part of the body unsigned"},
		{Name: FindingLimit, Doc: "DKIM signatures past [dkim] max_signatures, not verified"},
	}
}

func (c *Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if in.Raw == nil {
		return nil, nil
	}
	return Findings(Shared(ctx, in, c.opts)), nil
}

// Findings turns results into the check's findings.
func Findings(r *Results) []check.Finding {
	if len(r.Signatures) == 0 && r.Skipped == 0 {
		return []check.Finding{{Name: Finding, Value: None, Where: "message", Reason: "the message has no DKIM signature"}}
	}
	var out []check.Finding
	for i := range r.Signatures {
		s := &r.Signatures[i]
		out = append(out, check.Finding{Name: Finding, Value: s.Result, Where: s.Where(), Reason: s.Reason})
		if s.Partial() {
			out = append(out, check.Finding{Name: FindingPartial, Value: fmt.Sprintf("l=%d of %d bytes", s.Length, s.BodyLength),
				Where: s.Where(), Reason: "the signature covers only the start of the body; the rest is unsigned"})
		}
	}
	if r.Skipped > 0 {
		out = append(out, check.Finding{Name: FindingLimit, Value: strconv.Itoa(r.Skipped), Where: "message",
			Reason: fmt.Sprintf("%d DKIM signatures past [dkim] max_signatures were not verified", r.Skipped)})
	}
	return out
}
