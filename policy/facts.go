package policy

import (
	"net/netip"
	"strings"

	"github.com/mailwarden/mailwarden/scanner"
)

// Facts is what is known about a session and its current message. The milter
// fills it stage by stage; `mailwarden check` fills it from the command line.
type Facts struct {
	ClientIP   netip.Addr // invalid for a non-IP client (unix socket, pipe)
	ClientName string     // verified reverse name, "unknown" when none
	Helo       string
	AuthUser   string // SMTP AUTH user ({auth_authen}); set means outbound
	Sender     string // envelope sender without <>; "" is the null sender
	Recipients []string
	Headers    []HeaderField // decoded values, in message order
	Subject    string        // decoded to UTF-8
	Size       int64
	Findings   []scanner.Finding
	// Bypass holds, per rule name, the recipients a verified release header
	// lets past that rule.
	Bypass map[string][]string
}

// HeaderField is a header field name and its decoded value.
type HeaderField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Organization decides what is internal.
type Organization struct {
	domains []string // "example.com" or "*.example.com"
	trusted NetList
}

// Direction of a recipient's copy.
const (
	Inbound  = "inbound"
	Outbound = "outbound"
	Internal = "internal"
)

// InternalDomain reports whether domain is one of ours.
func (o *Organization) InternalDomain(domain string) bool {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	for _, d := range o.domains {
		if sub, ok := strings.CutPrefix(d, "*"); ok {
			if strings.HasSuffix(domain, sub) {
				return true
			}
		} else if domain == d {
			return true
		}
	}
	return false
}

// TrustedClient reports whether ip is in trusted_networks.
func (o *Organization) TrustedClient(ip netip.Addr) bool {
	return ip.IsValid() && o.trusted.Contains(ip)
}

// TrustedOrigin reports whether the session comes from our side: a trusted
// network or an authenticated user.
func (o *Organization) TrustedOrigin(f *Facts) bool {
	return f.AuthUser != "" || (f.ClientIP.IsValid() && o.trusted.Contains(f.ClientIP))
}

// Direction of the copy for rcpt: mail from outside is inbound; mail from our
// side is internal to our domains and outbound to anyone else.
func (o *Organization) Direction(f *Facts, rcpt string) string {
	if !o.TrustedOrigin(f) {
		return Inbound
	}
	if _, d := SplitAddress(rcpt); o.InternalDomain(d) {
		return Internal
	}
	return Outbound
}

// MessageDirection summarises the directions of all recipients: one of the
// three, or "mixed".
func (o *Organization) MessageDirection(f *Facts) string {
	if !o.TrustedOrigin(f) {
		return Inbound
	}
	dir := ""
	for _, r := range f.Recipients {
		d := o.Direction(f, r)
		if dir != "" && d != dir {
			return "mixed"
		}
		dir = d
	}
	if dir == "" {
		return Outbound
	}
	return dir
}

// rcptOrdinal is the 1-based position of rcpt among the recipients, or 0.
func (f *Facts) rcptOrdinal(rcpt string) int {
	for i, r := range f.Recipients {
		if r == rcpt {
			return i + 1
		}
	}
	return 0
}

// FindingReleased is a verified release header (check/release): its value
// names the rule the released message passes, for the recipients it is
// limited to.
const FindingReleased = "release.verified"

// bypassed reports whether a verified release lets rcpt's copy past rule.
func (f *Facts) bypassed(rule, rcpt string) bool {
	for i := range f.Findings {
		if fd := &f.Findings[i]; fd.Name == FindingReleased && fd.Value == rule && fd.For(rcpt) {
			return true
		}
	}
	for _, r := range f.Bypass[rule] {
		if strings.EqualFold(r, rcpt) {
			return true
		}
	}
	return false
}
