package policy

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// IPRange is an inclusive range of addresses of one family.
type IPRange struct {
	From, To netip.Addr
}

// Contains reports whether ip lies in the range. IPv4-mapped IPv6 addresses
// (::ffff:192.0.2.1) are compared as IPv4, since that is how an IPv4 client
// shows up on a dual-stack socket.
func (r IPRange) Contains(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.BitLen() == r.From.BitLen() && r.From.Compare(ip) <= 0 && ip.Compare(r.To) <= 0
}

// NetList is a list of address ranges. It accepts every form operators paste
// from gateway consoles: single addresses ("127.0.0.1", "::1"), CIDR
// ("123.123.123.123/24", "2001:db8:10ff::ac:44f2/64", host bits allowed as
// those consoles allow them), last-group ranges ("123.123.123.123-223",
// "2001:db8:10ff::ac:44f2-45ff") and full ranges ("10.0.0.1-10.0.0.9"),
// separated by commas, semicolons or white space.
//
// A list holds one element per entry, sorted by address so that a lookup is
// a binary search: sender lists of 100,000 entries are common, and a linear
// scan of them per connection is not. Build lists with [ParseNetList] or
// [NewNetList]; a slice put together by hand is not sorted or indexed.
type NetList []NetEntry

// NetEntry is one entry of a [NetList]: its range and the text the operator
// wrote, so that a match can name the entry.
type NetEntry struct {
	IPRange
	Text string
	// reach is the index of the entry that ends last among this one and
	// those before it of the same family. Overlapping entries are kept as
	// written, so the entry found by the binary search may end before the
	// address while an earlier, wider one holds it.
	reach int
}

// NewNetList sorts and indexes entries into a [NetList].
func NewNetList(entries []NetEntry) NetList {
	return index(slices.Clone(entries))
}

// index sorts l in place by start, then end (IPv4 before IPv6, as
// [netip.Addr.Compare] orders them), and sets each entry's reach.
func index(l NetList) NetList {
	// Equal ranges keep the order written: reach holds the position until
	// it is set below.
	for i := range l {
		l[i].reach = i
	}
	slices.SortFunc(l, func(a, b NetEntry) int {
		if c := a.From.Compare(b.From); c != 0 {
			return c
		}
		if c := a.To.Compare(b.To); c != 0 {
			return c
		}
		return cmp.Compare(a.reach, b.reach)
	})
	for i := range l {
		l[i].reach = i
		if i > 0 && l[i-1].From.BitLen() == l[i].From.BitLen() {
			if r := l[i-1].reach; l[r].To.Compare(l[i].To) >= 0 {
				l[i].reach = r
			}
		}
	}
	return l
}

// Contains reports whether any entry holds ip.
func (l NetList) Contains(ip netip.Addr) bool {
	_, ok := l.Lookup(ip)
	return ok
}

// Lookup returns an entry that holds ip: of those that do, the one that
// ends last, then starts first, then was written first. An IPv4-mapped ip
// is looked up as IPv4, as [IPRange.Contains] does.
func (l NetList) Lookup(ip netip.Addr) (NetEntry, bool) {
	ip = ip.Unmap()
	// The last entry starting at or below ip.
	i := sort.Search(len(l), func(i int) bool { return l[i].From.Compare(ip) > 0 }) - 1
	if i < 0 || l[i].From.BitLen() != ip.BitLen() {
		return NetEntry{}, false
	}
	e := l[l[i].reach]
	if e.To.Compare(ip) < 0 {
		return NetEntry{}, false
	}
	return e, true
}

// ParseNetList parses list elements, each of which may hold several entries,
// into a sorted [NetList]. It returns every problem, and keeps the entries
// that parse.
func ParseNetList(items []string) (NetList, []error) {
	var entries []NetEntry
	var errs []error
	for _, item := range items {
		for _, f := range splitList(item) {
			r, err := ParseIPRange(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			entries = append(entries, NetEntry{IPRange: r, Text: f})
		}
	}
	if len(entries) == 0 {
		return nil, errs
	}
	return index(entries), errs
}

// ParseIPRange parses one entry of a [NetList].
func ParseIPRange(s string) (IPRange, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return IPRange{}, fmt.Errorf("%q is not a valid CIDR network", s)
		}
		p = p.Masked()
		return IPRange{From: p.Addr().Unmap(), To: lastAddr(p)}, nil
	}
	from, to, isRange := strings.Cut(s, "-")
	a, err := netip.ParseAddr(strings.TrimSpace(from))
	if err != nil || a.Zone() != "" {
		return IPRange{}, fmt.Errorf("%q is not an IP address, CIDR network or range", s)
	}
	a = a.Unmap()
	if !isRange {
		return IPRange{From: a, To: a}, nil
	}
	to = strings.TrimSpace(to)
	b, err := netip.ParseAddr(to)
	if err != nil {
		b, err = lastGroupRange(a, to)
		if err != nil {
			return IPRange{}, fmt.Errorf("%q: %v", s, err)
		}
	}
	if b.Zone() != "" {
		return IPRange{}, fmt.Errorf("%q is not an IP address, CIDR network or range", s)
	}
	b = b.Unmap()
	if a.BitLen() != b.BitLen() || b.Less(a) {
		return IPRange{}, fmt.Errorf("%q: the range end must be of the same family and not below its start", s)
	}
	return IPRange{From: a, To: b}, nil
}

// lastGroupRange builds the end of a range written as "a.b.c.d-e" (the last
// octet) or "x:…:y-z" (the last hexadecimal group).
func lastGroupRange(a netip.Addr, end string) (netip.Addr, error) {
	if a.Is4() {
		var n uint
		if _, err := fmt.Sscanf(end, "%d", &n); err != nil || n > 255 || fmt.Sprint(n) != end {
			return netip.Addr{}, fmt.Errorf("range end %q must be a number from 0 to 255", end)
		}
		b := a.As4()
		b[3] = byte(n)
		return netip.AddrFrom4(b), nil
	}
	n, err := strconv.ParseUint(end, 16, 16)
	if err != nil || len(end) > 4 {
		return netip.Addr{}, fmt.Errorf("range end %q must be a hexadecimal group from 0 to ffff", end)
	}
	b := a.As16()
	b[14], b[15] = byte(n>>8), byte(n)
	return netip.AddrFrom16(b), nil
}

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
