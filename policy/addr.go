package policy

import (
	"fmt"
	"strings"
)

// AddressPattern matches an envelope address. The forms are those operators
// paste from gateway consoles:
//
//	user@example.com   exact address
//	*@example.com      any user at the domain
//	*@*.example.com    any user at any subdomain of example.com (not the domain itself)
//	user@*             the local part at any domain
//	*                  any address, including the null sender <>
//	<>                 only the null sender (bounces)
//
// The domain is compared case-insensitively (RFC 5321 §2.4). Local parts are
// compared case-insensitively too, because every mail system in practice
// treats them so and a pattern that silently misses "John@" is worse.
type AddressPattern struct {
	raw    string
	local  string // "" means any
	domain string // "" means any; leading "." means any subdomain
	null   bool
	any    bool
}

// ParseAddressPattern parses one pattern.
func ParseAddressPattern(s string) (AddressPattern, error) {
	p := AddressPattern{raw: s}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return p, fmt.Errorf("empty address pattern")
	case s == "*":
		p.any = true
		return p, nil
	case s == "<>":
		p.null = true
		return p, nil
	}
	s = strings.Trim(s, "<>") // as SplitAddress does for addresses
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return p, fmt.Errorf("address pattern %q has no @ (use user@domain, *@domain, *@*.domain or user@*)", s)
	}
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if local == "" || domain == "" {
		return p, fmt.Errorf("address pattern %q needs a local part and a domain (use * for any)", s)
	}
	if local != "*" {
		if strings.ContainsAny(local, "*") {
			return p, fmt.Errorf("address pattern %q: * is allowed only as the whole local part", s)
		}
		p.local = strings.ToLower(local)
	}
	switch {
	case domain == "*":
	case strings.HasPrefix(domain, "*."):
		p.domain = strings.TrimSuffix(domain[1:], ".")
		if len(p.domain) < 2 || strings.Contains(p.domain[1:], "*") {
			return p, fmt.Errorf("address pattern %q: use *@*.domain for subdomains", s)
		}
	case strings.Contains(domain, "*"):
		return p, fmt.Errorf("address pattern %q: * is allowed only as the whole domain or as *.domain", s)
	default:
		p.domain = strings.TrimSuffix(domain, ".")
	}
	return p, nil
}

// String returns the pattern as written.
func (p AddressPattern) String() string { return p.raw }

// Match reports whether addr (without angle brackets) matches.
func (p AddressPattern) Match(addr string) bool {
	if p.any {
		return true
	}
	if addr == "" {
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

// AddressList is a set of patterns; it matches when any pattern does.
type AddressList []AddressPattern

// Match reports whether any pattern matches addr.
func (l AddressList) Match(addr string) bool {
	for _, p := range l {
		if p.Match(addr) {
			return true
		}
	}
	return false
}

// ParseAddressList parses patterns given one per list element; each element
// may also hold several separated by commas or spaces. It returns every
// problem, not just the first.
func ParseAddressList(items []string) (AddressList, []error) {
	var l AddressList
	var errs []error
	for _, item := range items {
		for _, f := range splitList(item) {
			p, err := ParseAddressPattern(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			l = append(l, p)
		}
	}
	return l, errs
}

// splitList splits on commas and white space, the separators operators use.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}
