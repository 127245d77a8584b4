package urls

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// URL is one URL found in a message, normalised.
type URL struct {
	// Raw is the URL as written (after HTML entity decoding), cut to
	// [Limits].MaxLen bytes.
	Raw string `json:"raw"`
	// Scheme is the lower-case scheme: "http" for a schemeless "www." or
	// "//" URL.
	Scheme string `json:"scheme"`
	// Host is the lower-case ASCII host: percent-decoded, IDN in punycode
	// (RFC 5891), without a final dot; for an IP host, the address in its
	// canonical form.
	Host string `json:"host"`
	// Domain is the registrable domain of Host (its public suffix and one
	// more label), or "" for an IP host or a name without a dot.
	Domain string `json:"domain,omitempty"`
	// IP is the address of an IP host, however written.
	IP netip.Addr `json:"ip,omitzero"`
	// IPForm says how an IPv4 host was written when not dotted decimal:
	// "decimal" (3221225985), "hex" (0xc0000201), "octal" (0300.0.02.01)
	// or "short" (192.1); "" otherwise.
	IPForm string `json:"ip_form,omitempty"`
	// Rest is what follows the authority: path, query and fragment.
	Rest string `json:"rest,omitempty"`
	// Where is where it was found: "body" (plain text), "html" (an HTML
	// part), or "attachment:NAME".
	Where string `json:"where"`
	// Via are the redirectors this URL was decoded from, outermost first.
	Via []string `json:"via,omitempty"`
}

// String is the normalised URL: scheme, host and what follows it.
func (u URL) String() string {
	h := u.Host
	if u.IP.Is6() && !u.IP.Is4In6() {
		h = "[" + h + "]"
	}
	return u.Scheme + "://" + h + u.Rest
}

var lookupProfile = idna.New(idna.MapForLookup(), idna.Transitional(false))

// Parse normalises one absolute URL ("scheme://...", "//...", or a
// schemeless "www." one). It reports false for anything without a host.
func Parse(raw string, maxLen int) (URL, bool) {
	if maxLen <= 0 {
		maxLen = DefaultLimits().MaxLen
	}
	raw = cutValid(strings.ToValidUTF8(strings.TrimSpace(raw), "\uFFFD"), maxLen)
	u := URL{Raw: raw}
	rest := raw
	switch i := strings.Index(rest, "://"); {
	case i > 0 && validScheme(rest[:i]):
		u.Scheme = strings.ToLower(rest[:i])
		rest = rest[i+3:]
	case strings.HasPrefix(rest, "//"):
		u.Scheme = "http"
		rest = rest[2:]
	case len(rest) > 4 && strings.EqualFold(rest[:4], "www."):
		u.Scheme = "http"
	default:
		return URL{}, false
	}
	// Browsers take a backslash for a slash in the authority of a web URL.
	end := strings.IndexAny(rest, "/?#\\")
	if end < 0 {
		end = len(rest)
	}
	auth := rest[:end]
	u.Rest = strings.ReplaceAll(rest[end:], "\\", "/")
	if i := strings.LastIndexByte(auth, '@'); i >= 0 {
		auth = auth[i+1:]
	}
	host := auth
	if strings.HasPrefix(auth, "[") {
		j := strings.IndexByte(auth, ']')
		if j < 0 {
			return URL{}, false
		}
		host = auth[1:j]
		if k := strings.IndexByte(host, '%'); k >= 0 {
			host = host[:k] // a zone
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return URL{}, false
		}
		u.IP, u.Host = a.Unmap(), a.Unmap().String()
		return u, true
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && allDigits(host[i+1:]) {
		host = host[:i]
	}
	if strings.Contains(host, "%") {
		if h, err := url.PathUnescape(host); err == nil && utf8.ValidString(h) {
			host = h
		}
	}
	host = strings.TrimRight(strings.ToLower(host), ".")
	if host == "" || strings.ContainsFunc(host, forbiddenHost) {
		return URL{}, false // browsers refuse such hosts too
	}
	if a, form, ok := parseIPv4(host); ok {
		u.IP, u.IPForm, u.Host = a, form, a.String()
		return u, true
	}
	if a, err := netip.ParseAddr(host); err == nil {
		u.IP, u.Host = a.Unmap(), a.Unmap().String()
		return u, true
	}
	if ascii, err := lookupProfile.ToASCII(host); err == nil && ascii != "" {
		host = ascii
	} else if ascii, err := idna.Punycode.ToASCII(host); err == nil && ascii != "" {
		host = strings.ToLower(ascii)
	}
	u.Host = host
	if i := strings.LastIndexByte(host, '.'); i >= 0 && !allDigits(host[i+1:]) {
		if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
			u.Domain = d
		}
	}
	return u, true
}

// forbiddenHost reports the characters no host may hold, after
// percent-decoding (the WHATWG URL standard's forbidden host code points).
func forbiddenHost(r rune) bool {
	return r <= ' ' || r == 0x7f || r == utf8.RuneError || strings.ContainsRune("#%/:<>?@[\\]^|\"'`{}", r)
}

func validScheme(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseIPv4 reads a host the way inet_aton(3), and so browsers, do: one
// to four parts, each decimal, octal (a leading 0) or hex (0x), the last
// filling the remaining bytes. It reports the form when not plain dotted
// decimal.
func parseIPv4(h string) (netip.Addr, string, bool) {
	parts := strings.Split(h, ".")
	if len(parts) > 4 || h == "" {
		return netip.Addr{}, "", false
	}
	form := ""
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case len(p) > 2 && (p[:2] == "0x"):
			base, p = 16, p[2:]
			form = "hex"
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
			if form == "" {
				form = "octal"
			}
		}
		if p == "" || len(p) > 12 {
			return netip.Addr{}, "", false
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, "", false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, "", false
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, "", false
	}
	n |= last
	if form == "" {
		switch len(parts) {
		case 1:
			form = "decimal"
		case 4:
		default:
			form = "short"
		}
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), form, true
}

// cutValid cuts s to at most n bytes, at a rune boundary.
func cutValid(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
