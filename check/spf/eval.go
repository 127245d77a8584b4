package spf

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"

	libspf "blitiri.com.ar/go/spf"

	"github.com/mailwarden/mailwarden/check/dns"
)

// Result is an SPF result (RFC 7208 §2.6), as the spf finding's value.
type Result string

// The results.
const (
	Pass      Result = "pass"
	Fail      Result = "fail"
	SoftFail  Result = "softfail"
	Neutral   Result = "neutral"
	None      Result = "none"
	TempError Result = "temperror"
	PermError Result = "permerror"
)

// Results are every result, in RFC 7208 §2.6 order.
var Results = []Result{None, Neutral, Pass, Fail, SoftFail, TempError, PermError}

// The identities checked, the spf finding's Where.
const (
	WhereMailFrom = "mailfrom"
	WhereHelo     = "helo"
)

// Outcome is one evaluation of check_host() (RFC 7208 §4).
type Outcome struct {
	Result Result
	// Domain is the domain checked: the envelope sender's, or the HELO
	// name for the HELO identity and for the null sender (§2.4).
	Domain string
	// Explanation says why, for the administrator: the mechanism that
	// matched, the limit reached, the DNS failure.
	Explanation string
	// Lookups counts the DNS queries the evaluation asked (cache hits
	// included).
	Lookups int
	// Offline is set when a lookup failed because the resolver is
	// offline: the result says nothing of the sender.
	Offline bool
}

// Evaluate checks whether ip may send mail for sender (an address,
// local@domain) introducing itself as helo, through r. For the HELO
// identity pass sender "postmaster@" + helo (RFC 7208 §2.3). The domain is
// sender's; a domain that is not a multi-label domain name is "none"
// without a lookup (§4.3). At most 10 DNS-querying terms and 2 void
// lookups are allowed (§4.6.4); past either the result is "permerror". ctx
// bounds the whole evaluation: a lookup it cuts short is "temperror".
func Evaluate(ctx context.Context, r *dns.Resolver, ip netip.Addr, helo, sender string) Outcome {
	domain := ""
	if i := strings.LastIndexByte(sender, '@'); i >= 0 {
		domain = sender[i+1:]
	}
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	o := Outcome{Domain: domain}
	if !validDomain(domain) {
		o.Result, o.Explanation = None, "not a domain name (RFC 7208 §4.3)"
		return o
	}
	local := sender[:strings.LastIndexByte(sender, '@')]
	if local == "" {
		local = "postmaster" // §4.3
	}
	res := &resolver{r: r}
	result, err := libspf.CheckHostWithSender(net.IP(ip.Unmap().AsSlice()), helo, local+"@"+domain,
		libspf.WithContext(ctx), libspf.WithResolver(res))
	o.Result = Result(result)
	o.Explanation = explain(o.Result, err)
	o.Lookups = int(res.lookups.Load())
	o.Offline = res.offline.Load()
	return o
}

// explain turns the library's error (set on success too: it names the
// mechanism that matched) into a few words.
func explain(res Result, err error) string {
	switch {
	case errors.Is(err, libspf.ErrLookupLimitReached):
		return "more than 10 DNS-querying terms (RFC 7208 §4.6.4)"
	case errors.Is(err, libspf.ErrVoidLookupLimitReached):
		return "more than 2 void lookups (RFC 7208 §4.6.4)"
	case errors.Is(err, libspf.ErrTooManyMXRecords):
		return "more than 10 MX records (RFC 7208 §4.6.4)"
	case errors.Is(err, libspf.ErrNoResult):
		return "no SPF record"
	case errors.Is(err, libspf.ErrMultipleRecords):
		return "more than one SPF record (RFC 7208 §4.5)"
	case err == nil && res == Neutral:
		return "no mechanism matched"
	case err == nil:
		return string(res)
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return "DNS: " + de.Err
	}
	return err.Error()
}

// validDomain reports whether d can be an SPF domain: at least two labels
// of 1 to 63 octets, at most 253 octets, not an address literal.
func validDomain(d string) bool {
	if len(d) == 0 || len(d) > 253 || strings.ContainsAny(d, "[]: \t") {
		return false
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 {
			return false
		}
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return false
	}
	return true
}
