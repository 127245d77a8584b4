// Package dmarc evaluates DMARC (RFC 7489) at end of message: the policy
// of the header From domain, looked up at _dmarc.DOMAIN and else at
// _dmarc of its organisational domain (the registrable domain by the
// public suffix list, golang.org/x/net/publicsuffix), and whether SPF or
// DKIM passed for a domain aligned with it (relaxed or strict, adkim and
// aspf). It also reports spoof.internal: mail from outside claiming one
// of our own domains without any authentication.
//
// # Findings
//
//   - dmarc: Value the result (pass, fail, none, temperror, permerror),
//     Where "policy=P disposition=D": P the policy that applies (p, sp for
//     a subdomain, np for a subdomain that does not exist, RFC 9091), D
//     what the policy asks for this message after pct sampling (none,
//     quarantine, reject).
//   - dmarc.reject and dmarc.quarantine: a fail whose disposition is
//     reject or quarantine, Value the From domain. Rules match finding
//     names, so these are what the default rules dmarc-reject and
//     dmarc-quarantine name.
//   - spoof.internal: see [SpoofCheck].
//
// # Inputs
//
// SPF is the spf check's result of the envelope sender, read from the
// findings of MAIL (the finding spf.RESULT, Value the domain checked:
// the MAIL FROM domain, or the HELO name for the null sender); the check
// learns from spf.* so the SPF check runs with it. DKIM is check/dkim's
// verification, shared with the dkim check. Only a DKIM "pass" aligns: a
// signature with l= is "policy" (see check/dkim), so content appended
// after a signed length never makes DMARC pass.
//
// A message with several From fields, or a From with several addresses,
// fails with disposition reject whatever the policies say
// (CVE-2019-16378: the one the reader sees may not be the one checked). A
// message without a From address (or whose From has no domain) fails with
// disposition none: it shows the reader no domain to spoof.
package dmarc

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"

	"github.com/mailwarden/mailwarden/check/dns"
)

// The results (RFC 8601 §2.7.1).
const (
	Pass      = "pass"
	Fail      = "fail"
	None      = "none"
	TempError = "temperror"
	PermError = "permerror"
)

// Evaluation is the DMARC outcome of one message.
type Evaluation struct {
	Result string
	// Domain is the From domain evaluated; PolicyDomain where the record
	// was found (the From domain or its organisational domain).
	Domain, PolicyDomain string
	Record               *Record
	// Policy is the policy that applies (p, sp or np), Disposition what it
	// asks after sampling: "none", "quarantine" or "reject".
	Policy, Disposition string
	// Sampled is false when pct left this message out of the policy.
	Sampled bool
	Reason  string
}

// Where is the finding's Where: "policy=P disposition=D".
func (e *Evaluation) Where() string {
	p, d := e.Policy, e.Disposition
	if p == "" {
		p = "none"
	}
	if d == "" {
		d = "none"
	}
	return "policy=" + p + " disposition=" + d
}

// Auth is what authenticated the message.
type Auth struct {
	// SPFResult and SPFDomain are the SPF result of the envelope sender
	// and the domain it was checked for; empty when SPF did not run.
	SPFResult, SPFDomain string
	// DKIMPass are the d= domains of the DKIM signatures that passed.
	DKIMPass []string
}

// OrgDomain is the organisational domain of d (RFC 7489 §3.2): its public
// suffix plus one label, or d itself when it is a suffix or unknown.
func OrgDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if o, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return o
	}
	return d
}

// Aligned reports whether an authenticated domain aligns with the From
// domain: the same domain under strict alignment, the same organisational
// domain under relaxed (RFC 7489 §3.1).
func Aligned(auth, from string, strict bool) bool {
	auth, from = strings.ToLower(strings.TrimSuffix(auth, ".")), strings.ToLower(strings.TrimSuffix(from, "."))
	if auth == "" || from == "" {
		return false
	}
	if strict {
		return auth == from
	}
	return OrgDomain(auth) == OrgDomain(from)
}

// Sampled decides, deterministically, whether a message keyed by key
// (its Message-ID, else its From and Date) falls in the pct percent its
// policy applies to (RFC 7489 §6.6.4): the same message always gets the
// same answer, retried or not.
func Sampled(key string, pct int) bool {
	if pct >= 100 {
		return true
	}
	if pct <= 0 {
		return false
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32()%100) < pct
}

// Lookup is how policy records are found.
type Lookup struct {
	DNS     *dns.Resolver
	Timeout time.Duration // per query
}

// errNoRecord is a domain without a DMARC record.
var errNoRecord = errors.New("dmarc: no record")

// record finds the one DMARC record at _dmarc.domain (§6.6.3 steps 1-5).
func (l Lookup) record(ctx context.Context, domain string) (*Record, error) {
	if l.DNS == nil {
		return nil, fmt.Errorf("%w: no resolver", dns.ErrOffline)
	}
	c, cancel := context.WithTimeout(ctx, l.Timeout)
	defer cancel()
	txts, _, err := l.DNS.LookupTXT(c, "_dmarc."+domain)
	if errors.Is(err, dns.ErrNotFound) {
		return nil, errNoRecord
	}
	if err != nil {
		return nil, err
	}
	var recs []*Record
	var syntax error
	for _, t := range txts {
		r, err := ParseRecord(t)
		switch {
		case errors.Is(err, ErrNotDMARC):
			continue
		case err != nil:
			syntax = err
			continue
		}
		recs = append(recs, r)
	}
	switch {
	case len(recs) == 1 && syntax == nil:
		return recs[0], nil
	case len(recs)+btoi(syntax != nil) > 1:
		return nil, fmt.Errorf("%w: several DMARC records at _dmarc.%s", ErrSyntax, domain)
	case syntax != nil:
		return nil, syntax
	}
	return nil, errNoRecord
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// exists reports whether domain exists in the DNS (RFC 9091 §2.1: a
// query answered NXDOMAIN says it does not).
func (l Lookup) exists(ctx context.Context, domain string) (bool, error) {
	c, cancel := context.WithTimeout(ctx, l.Timeout)
	defer cancel()
	_, err := l.DNS.Query(c, domain, mdns.TypeA)
	switch {
	case errors.Is(err, dns.ErrNXDomain):
		return false, nil
	case err == nil, errors.Is(err, dns.ErrNotFound):
		return true, nil
	}
	return true, err
}

// Evaluate runs DMARC for a message whose From domains are from (one
// element for a well-formed message), with sampleKey for pct.
func Evaluate(ctx context.Context, l Lookup, from []string, a Auth, sampleKey string) *Evaluation {
	if len(from) == 0 {
		// Nothing is shown to the reader, so nothing is spoofed: a fail
		// with no disposition.
		return &Evaluation{Result: Fail, Policy: "none", Disposition: "none", Sampled: true,
			Reason: "the message has no From address (RFC 7489 §6.6.1)"}
	}
	if len(from) > 1 {
		// CVE-2019-16378: the reader may see another From than the one
		// checked, so the message fails and is refused whatever the
		// domains' policies say; Policy is the strictest of the first few.
		e := &Evaluation{Result: Fail, Domain: strings.ToLower(from[0]), Policy: "none", Disposition: "reject", Sampled: true}
		for _, d := range from[:min(len(from), 4)] {
			if rec, _, err := l.discover(ctx, strings.ToLower(strings.TrimSuffix(d, "."))); err == nil && strictness(rec.P) > strictness(e.Policy) {
				e.Policy = rec.P
			}
		}
		e.Reason = fmt.Sprintf("%d From addresses (%s): DMARC needs exactly one (RFC 7489 §6.6.1, CVE-2019-16378)", len(from), strings.Join(from, ", "))
		return e
	}
	domain := strings.ToLower(strings.TrimSuffix(from[0], "."))
	e := &Evaluation{Domain: domain}
	rec, at, err := l.discover(ctx, domain)
	switch {
	case errors.Is(err, errNoRecord):
		e.Result, e.Reason = None, "no DMARC record for "+domain
	case errors.Is(err, ErrSyntax):
		e.Result, e.Reason = PermError, err.Error()
	case err != nil:
		e.Result, e.Reason = TempError, "policy lookup for "+domain+": "+err.Error()
	}
	if rec == nil {
		return e
	}
	e.Record, e.PolicyDomain = rec, at
	e.Policy = rec.P
	if at != domain {
		e.Policy = rec.P
		if rec.SP != "" {
			e.Policy = rec.SP
		}
		if rec.NP != "" {
			ok, err := l.exists(ctx, domain)
			if err != nil {
				e.Result, e.Reason = TempError, "whether "+domain+" exists: "+err.Error()
				return e
			}
			if !ok {
				e.Policy = rec.NP
			}
		}
	}
	var why []string
	switch {
	case a.SPFResult == "pass" && Aligned(a.SPFDomain, domain, rec.ASPF == 's'):
		e.Result, e.Reason = Pass, "SPF passed for "+a.SPFDomain+", aligned with "+domain
		e.Disposition = "none"
		return e
	case a.SPFResult == "pass":
		why = append(why, "SPF passed for "+a.SPFDomain+", not aligned")
	case a.SPFResult != "":
		why = append(why, "SPF "+a.SPFResult)
	default:
		why = append(why, "SPF not checked")
	}
	for _, d := range a.DKIMPass {
		if Aligned(d, domain, rec.ADKIM == 's') {
			e.Result, e.Reason = Pass, "DKIM passed for "+d+", aligned with "+domain
			e.Disposition = "none"
			return e
		}
	}
	if len(a.DKIMPass) > 0 {
		why = append(why, "DKIM passed for "+strings.Join(a.DKIMPass, ", ")+", not aligned")
	} else {
		why = append(why, "no DKIM pass")
	}
	e.Result = Fail
	e.Sampled = Sampled(sampleKey, rec.Pct)
	e.Disposition = e.Policy
	if !e.Sampled {
		// §6.6.4: the next policy down applies to the mail left out.
		switch e.Policy {
		case "reject":
			e.Disposition = "quarantine"
		case "quarantine":
			e.Disposition = "none"
		}
		why = append(why, fmt.Sprintf("outside pct=%d", rec.Pct))
	}
	e.Reason = domain + ": " + strings.Join(why, "; ")
	return e
}

func strictness(p string) int {
	switch p {
	case "reject":
		return 2
	case "quarantine":
		return 1
	}
	return 0
}

// discover finds the policy record of domain, at the domain or at its
// organisational domain (§6.6.3).
func (l Lookup) discover(ctx context.Context, domain string) (*Record, string, error) {
	rec, err := l.record(ctx, domain)
	if !errors.Is(err, errNoRecord) {
		return rec, domain, err
	}
	org := OrgDomain(domain)
	if org == domain {
		return nil, "", err
	}
	rec, err = l.record(ctx, org)
	return rec, org, err
}
