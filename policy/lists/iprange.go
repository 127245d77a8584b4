package lists

import (
	"net/netip"
	"strconv"
	"strings"
)

// Range is an inclusive range of addresses of one family.
type Range struct {
	From, To netip.Addr
}

// Contains reports whether ip lies in the range. IPv4-mapped IPv6 addresses
// (::ffff:192.0.2.1) are compared as IPv4, since that is how an IPv4 client
// shows up on a dual-stack socket; ranges hold them as IPv4 too (see
// [ParseRange]), so no IPv6 range holds an IPv4 client.
func (r Range) Contains(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.BitLen() == r.From.BitLen() && r.From.Compare(ip) <= 0 && ip.Compare(r.To) <= 0
}

// String returns the range in one canonical form: an address, the CIDR
// network when the range is one, or From-To. It parses back to the same
// range, and two entries that hold the same addresses have the same
// String, so a store keeps one of them.
func (r Range) String() string {
	if r.From == r.To {
		return r.From.String()
	}
	for bits := r.From.BitLen() - 1; bits >= 0; bits-- {
		p := netip.PrefixFrom(r.From, bits)
		if p.Masked().Addr() != r.From {
			break
		}
		if lastAddr(p) == r.To {
			return p.String()
		}
	}
	return r.From.String() + "-" + r.To.String()
}

// RangeForms names the forms of an IP list entry, for hints.
const RangeForms = "192.0.2.1, 192.0.2.0/24, 192.0.2.1-40, 192.0.2.1-192.0.2.40, 2001:db8::/32, 2001:db8::ac:44f2-45ff"

// ParseRange parses one entry of an IP list, in the forms operators paste
// from gateway consoles:
//
//	192.0.2.1, ::1                       one address
//	192.0.2.7/24, 2001:db8::ac:44f2/64   CIDR; host bits are allowed, as those consoles allow them
//	192.0.2.1-192.0.2.40                 a full range, both ends included
//	192.0.2.1-40, 10.0.0.0-3.255         a short range: the end replaces as many of the last
//	2001:db8::ac:44f2-45ff               octets (IPv4) or groups (IPv6) as it has
//
// IPv4-mapped forms (::ffff:192.0.2.1, ::ffff:192.0.2.0/120) are IPv4, and
// an IPv6 prefix that covers mapped space (::/0) holds no IPv4 address.
// Zones (fe80::1%eth0) name an interface, not a network, and are errors.
func ParseRange(s string) (Range, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Range{}, invalidf("%q is not a valid CIDR network", s)
		}
		p = p.Masked()
		return Range{From: p.Addr().Unmap(), To: lastAddr(p)}, nil
	}
	from, to, isRange := strings.Cut(s, "-")
	a, err := netip.ParseAddr(from)
	if err != nil || a.Zone() != "" {
		return Range{}, invalidf("%q is not an IP address, CIDR network or range", s)
	}
	a = a.Unmap()
	if !isRange {
		return Range{From: a, To: a}, nil
	}
	b, err := netip.ParseAddr(to)
	if err != nil {
		if b, err = shortEnd(a, to); err != nil {
			return Range{}, invalidf("%q: %v", s, err)
		}
	}
	if b.Zone() != "" {
		return Range{}, invalidf("%q is not an IP address, CIDR network or range", s)
	}
	b = b.Unmap()
	if a.BitLen() != b.BitLen() || b.Less(a) {
		return Range{}, invalidf("%q: the range end must be of the same family and not below its start", s)
	}
	return Range{From: a, To: b}, nil
}

// shortEnd builds the end of a short range: end's dot-separated decimal
// octets (IPv4) or colon-separated hexadecimal groups (IPv6) replace as
// many of a's last ones.
func shortEnd(a netip.Addr, end string) (netip.Addr, error) {
	if a.Is4() {
		parts := strings.Split(end, ".")
		if len(parts) > 3 {
			return netip.Addr{}, invalidf("range end %q is not an address", end)
		}
		b := a.As4()
		for i, p := range parts {
			n, err := strconv.ParseUint(p, 10, 8)
			if err != nil || strconv.FormatUint(n, 10) != p {
				if len(parts) > 1 {
					return netip.Addr{}, invalidf("range end %q must be the last octets of an address, each a number from 0 to 255", end)
				}
				return netip.Addr{}, invalidf("range end %q must be a number from 0 to 255", end)
			}
			b[4-len(parts)+i] = byte(n)
		}
		return netip.AddrFrom4(b), nil
	}
	parts := strings.Split(end, ":")
	if len(parts) > 7 {
		return netip.Addr{}, invalidf("range end %q is not an address", end)
	}
	b := a.As16()
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 16, 16)
		if err != nil || len(p) > 4 {
			if len(parts) > 1 {
				return netip.Addr{}, invalidf("range end %q must be the last groups of an address, each a hexadecimal number from 0 to ffff", end)
			}
			return netip.Addr{}, invalidf("range end %q must be a hexadecimal group from 0 to ffff", end)
		}
		j := 2 * (8 - len(parts) + i)
		b[j], b[j+1] = byte(n>>8), byte(n)
	}
	return netip.AddrFrom16(b), nil
}

// lastAddr is the last address of the masked prefix p, unmapped when p is
// IPv4-mapped.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().Unmap()
	bits := p.Bits()
	if p.Addr().Is4In6() {
		bits -= 96
	}
	b := a.AsSlice()
	for i := bits; i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	r, _ := netip.AddrFromSlice(b)
	return r
}
