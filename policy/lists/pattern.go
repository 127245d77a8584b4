package lists

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pattern matches an envelope address. The forms are those operators
// paste from gateway consoles:
//
//	user@example.com   exact address
//	*@example.com      any user at the domain
//	*@*.example.com    any user at any subdomain of example.com (not the domain itself)
//	user@*             the local part at any domain
//	user@*.example.com the local part at any subdomain of example.com
//	*                  any address, including the null sender <>
//	<>                 only the null sender (bounces)
//
// One pair of angle brackets around a pattern is ignored, as consoles show
// addresses that way. Anything else must read as an address, so that a typo
// (bob@@example.com, @example.com, "bob smith@example.com") is a config
// error rather than a pattern that silently matches nothing:
//
//   - exactly one @ outside a quoted local part;
//   - a local part that is *, a quoted string ("john smith"), or atext and
//     dots (RFC 5321 §4.1.2), UTF-8 included (RFC 6531). Consecutive and
//     trailing dots are accepted, because old Japanese mobile addresses have
//     them and are delivered every day;
//   - a domain that is *, *.domain, an address literal ([192.0.2.1] or
//     [IPv6:2001:db8::1], RFC 5321 §4.1.3), or dot-separated labels of
//     letters, digits, hyphens and underscores, none empty, none starting or
//     ending with a hyphen. One trailing dot is allowed.
//
// The domain is compared case-insensitively (RFC 5321 §2.4). Local parts are
// compared case-insensitively too, because every mail system in practice
// treats them so and a pattern that silently misses "John@" is worse.
// Internationalised domains are compared in the form written, lower-cased:
// the Unicode form (bücher.example) and the ASCII form (xn--bcher-kva.example) are two
// domains to a pattern, since golang.org/x/net/idna is no dependency yet;
// list both where senders use both.
type Pattern struct {
	raw    string
	local  string // "" means any
	domain string // "" means any; leading "." means any subdomain
	null   bool
	any    bool
}

// PatternForms names the pattern forms, for hints.
const PatternForms = "user@example.com, *@example.com, *@*.example.com, user@*, * or <>"

// ParsePattern parses one pattern.
func ParsePattern(s string) (Pattern, error) {
	p := Pattern{raw: s}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return p, invalidf("empty address pattern")
	case s == "*":
		p.any = true
		return p, nil
	case s == "<>":
		p.null = true
		return p, nil
	case !utf8.ValidString(s):
		return p, invalidf("address pattern %q is not valid UTF-8", s)
	}
	if inner, ok := strings.CutPrefix(s, "<"); ok {
		if s, ok = strings.CutSuffix(inner, ">"); !ok || strings.ContainsAny(s, "<>") {
			return p, invalidf("address pattern %q: angle brackets go around the whole address, once", p.raw)
		}
	} else if strings.HasSuffix(s, ">") {
		return p, invalidf("address pattern %q: angle brackets go around the whole address, once", s)
	}
	local, domain, err := splitPattern(s)
	if err != nil {
		return p, invalidf("address pattern %q %v", s, err)
	}
	if local != "*" {
		if err := checkLocal(local); err != nil {
			return p, invalidf("address pattern %q: %v", s, err)
		}
		p.local = strings.ToLower(local)
	}
	domain = strings.ToLower(domain)
	switch {
	case domain == "*":
	case strings.HasPrefix(domain, "*."):
		d := strings.TrimSuffix(domain[2:], ".")
		if d == "" || strings.Contains(d, "*") || strings.HasPrefix(d, "[") {
			return p, invalidf("address pattern %q: use *@*.domain for subdomains", s)
		}
		if err := checkDomain(d); err != nil {
			return p, invalidf("address pattern %q: %v", s, err)
		}
		p.domain = "." + d
	case strings.Contains(domain, "*"):
		return p, invalidf("address pattern %q: * is allowed only as the whole domain or as *.domain", s)
	default:
		p.domain = strings.TrimSuffix(domain, ".")
		if err := checkDomain(p.domain); err != nil {
			return p, invalidf("address pattern %q: %v", s, err)
		}
	}
	return p, nil
}

// splitPattern splits at the one @ outside a quoted local part. Its errors
// continue a sentence that starts with the pattern.
func splitPattern(s string) (local, domain string, err error) {
	if s[0] == '"' {
		end := 1
		for ; end < len(s) && s[end] != '"'; end++ {
			if s[end] == '\\' {
				end++
			}
		}
		if end >= len(s) {
			if strings.Contains(s, "@") {
				return "", "", fmt.Errorf("has an unterminated quoted local part")
			}
			return "", "", fmt.Errorf("has no @")
		}
		local, rest := s[:end+1], s[end+1:]
		if rest == "" {
			return "", "", fmt.Errorf("has no @")
		}
		if rest[0] != '@' {
			return "", "", fmt.Errorf("must have @ right after the quoted local part")
		}
		if domain = rest[1:]; domain == "" {
			return "", "", fmt.Errorf("needs a local part and a domain (use * for any)")
		}
		if strings.Contains(domain, "@") {
			return "", "", fmt.Errorf("has more than one @ (quote a local part that holds one: \"a@b\"@example.com)")
		}
		return local, domain, nil
	}
	switch strings.Count(s, "@") {
	case 0:
		return "", "", fmt.Errorf("has no @")
	case 1:
	default:
		return "", "", fmt.Errorf("has more than one @ (quote a local part that holds one: \"a@b\"@example.com)")
	}
	local, domain, _ = strings.Cut(s, "@")
	if local == "" || domain == "" {
		return "", "", fmt.Errorf("needs a local part and a domain (use * for any)")
	}
	return local, domain, nil
}

// atextSpecials are the characters besides letters and digits that RFC 5322
// §3.2.3 allows in an unquoted local part; * is left out, being the wildcard.
const atextSpecials = "!#$%&'+-/=?^_`{|}~."

// checkLocal checks a local part other than *.
func checkLocal(local string) error {
	if local[0] == '"' {
		for _, r := range local {
			if unicode.IsControl(r) {
				return fmt.Errorf("local part holds a control character")
			}
		}
		return nil
	}
	for _, r := range local {
		switch {
		case r == '*':
			return fmt.Errorf("* is allowed only as the whole local part")
		case unicode.IsSpace(r):
			return fmt.Errorf("local part holds white space")
		case unicode.IsControl(r):
			return fmt.Errorf("local part holds a control character")
		case r >= utf8.RuneSelf, 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9',
			strings.ContainsRune(atextSpecials, r):
		default:
			return fmt.Errorf("local part holds %q, which an address has only inside quotes", string(r))
		}
	}
	return nil
}

// checkDomain checks a domain without wildcard or trailing dot.
func checkDomain(d string) error {
	if lit, ok := strings.CutPrefix(d, "["); ok {
		lit, ok = strings.CutSuffix(lit, "]")
		v6, isV6 := strings.CutPrefix(lit, "ipv6:")
		a, err := netip.ParseAddr(v6)
		if !ok || err != nil || a.Is6() != isV6 || a.Zone() != "" {
			return fmt.Errorf("[%s is not an address literal like [192.0.2.1] or [IPv6:2001:db8::1]", strings.TrimPrefix(d, "["))
		}
		return nil
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" {
			return fmt.Errorf("domain %q has an empty label", d)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("domain label %q starts or ends with -", label)
		}
		for _, r := range label {
			switch {
			case unicode.IsSpace(r):
				return fmt.Errorf("domain holds white space")
			case unicode.IsControl(r):
				return fmt.Errorf("domain holds a control character")
			case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '-', r == '_',
				r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)):
			default:
				return fmt.Errorf("domain holds %q (letters, digits, hyphens and dots only)", string(r))
			}
		}
	}
	return nil
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.raw }

// Canonical returns the pattern in one form for all its spellings: lower
// case, without angle brackets or a trailing dot ("<Bob@Example.COM.>" is
// "bob@example.com"). It parses back to a pattern that matches the same
// addresses, so a store keeps one of several spellings.
func (p Pattern) Canonical() string {
	switch {
	case p.any:
		return "*"
	case p.null:
		return "<>"
	}
	local, domain := p.local, p.domain
	if local == "" {
		local = "*"
	}
	switch {
	case domain == "":
		domain = "*"
	case domain[0] == '.':
		domain = "*" + domain
	}
	return local + "@" + domain
}

// MatchesAll reports whether the pattern is *, which matches every address
// and the null sender.
func (p Pattern) MatchesAll() bool { return p.any }

// Match reports whether addr matches; the null sender is "" (or <>).
func (p Pattern) Match(addr string) bool {
	if p.any {
		return true
	}
	if addr == "" || addr == "<>" {
		return p.null
	}
	if p.null {
		return false
	}
	local, domain := SplitAddress(addr)
	if p.local != "" && strings.ToLower(local) != p.local {
		return false
	}
	switch {
	case p.domain == "":
		return true
	case p.domain[0] == '.':
		return strings.HasSuffix(domain, p.domain)
	default:
		return domain == p.domain
	}
}

// SplitAddress splits an address into its local part and its lower-cased
// domain, without a trailing dot. An address without @ has an empty domain.
func SplitAddress(addr string) (local, domain string) {
	addr = strings.Trim(addr, "<>")
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr, ""
	}
	return addr[:at], strings.TrimSuffix(strings.ToLower(addr[at+1:]), ".")
}
