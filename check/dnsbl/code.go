package dnsbl

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Code matches addresses a zone answers with, to give them a meaning. See
// [ParseCode] for the forms.
type Code struct {
	kind   codeKind
	lo, hi uint32 // exact (lo == hi), range and prefix: lo..hi inclusive
	mask   uint32 // bitmask
}

type codeKind uint8

const (
	codeExact codeKind = iota
	codeRange
	codePrefix
	codeMask
)

// ParseCode parses one key of a zone's code map:
//
//	127.0.0.2              that address
//	127.0.0.4-127.0.0.7    an inclusive range (also 127.0.0.4-7)
//	127.0.0.8/29           a prefix
//	&4, &0x0c, &0.0.0.12   a bitmask: any bit in common with the answer
//	                       (the SURBL and URIBL convention)
//
// Addresses must lie in 127.0.0.0/8, and not only in 127.255.255.252-255:
// other answers are errors (see [Lookup]) and never match a code.
func ParseCode(s string) (Code, error) {
	switch {
	case strings.HasPrefix(s, "&"):
		m, err := parseMask(s[1:])
		if err != nil {
			return Code{}, err
		}
		if m == 0 {
			return Code{}, fmt.Errorf("dnsbl: code %q: a zero mask matches nothing", s)
		}
		return Code{kind: codeMask, mask: m}, nil
	case strings.Contains(s, "/"):
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return Code{}, fmt.Errorf("dnsbl: code %q: not an IPv4 prefix", s)
		}
		p = p.Masked()
		lo := u32(p.Addr())
		hi := lo | (1<<(32-p.Bits()) - 1)
		if err := checkRange(s, lo, hi); err != nil {
			return Code{}, err
		}
		return Code{kind: codePrefix, lo: lo, hi: hi}, nil
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		lo, err := parse4(a)
		if err != nil {
			return Code{}, fmt.Errorf("dnsbl: code %q: %w", s, err)
		}
		var hi uint32
		if n, err := strconv.ParseUint(b, 10, 8); err == nil && !strings.HasPrefix(b, "+") {
			hi = lo&^0xff | uint32(n) // a.b.c.d-e
		} else if hi, err = parse4(b); err != nil {
			return Code{}, fmt.Errorf("dnsbl: code %q: %w", s, err)
		}
		if hi < lo {
			return Code{}, fmt.Errorf("dnsbl: code %q: the range ends before it starts", s)
		}
		if err := checkRange(s, lo, hi); err != nil {
			return Code{}, err
		}
		return Code{kind: codeRange, lo: lo, hi: hi}, nil
	default:
		a, err := parse4(s)
		if err != nil {
			return Code{}, fmt.Errorf("dnsbl: code %q: %w", s, err)
		}
		if err := checkRange(s, a, a); err != nil {
			return Code{}, err
		}
		return Code{kind: codeExact, lo: a, hi: a}, nil
	}
}

// Match reports whether addr, an answer of the zone, has this code.
func (c Code) Match(addr netip.Addr) bool {
	if !addr.Is4() {
		return false
	}
	v := u32(addr)
	if c.kind == codeMask {
		return v&c.mask != 0
	}
	return c.lo <= v && v <= c.hi
}

// String is the code in the canonical form of [ParseCode].
func (c Code) String() string {
	switch c.kind {
	case codeMask:
		return "&" + addr4(c.mask).String()
	case codePrefix:
		bits := 32
		for n := c.hi - c.lo; n > 0; n >>= 1 {
			bits--
		}
		return netip.PrefixFrom(addr4(c.lo), bits).String()
	case codeRange:
		return addr4(c.lo).String() + "-" + addr4(c.hi).String()
	default:
		return addr4(c.lo).String()
	}
}

var (
	loopLo = u32(netip.AddrFrom4([4]byte{127, 0, 0, 0}))
	// errLo is the first of the error answers, 127.255.255.252.
	errLo = u32(netip.AddrFrom4([4]byte{127, 255, 255, 252}))
)

// checkRange refuses codes that can never match: outside 127.0.0.0/8 or
// wholly among the error answers.
func checkRange(s string, lo, hi uint32) error {
	if lo < loopLo || hi > loopLo|0xffffff || lo >= errLo {
		return fmt.Errorf("dnsbl: code %q: not in 127.0.0.0-127.255.255.251; other answers are errors, never listings", s)
	}
	return nil
}

func parse4(s string) (uint32, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("%q is not an IPv4 address", s)
	}
	return u32(a), nil
}

func parseMask(s string) (uint32, error) {
	if strings.Contains(s, ".") {
		return parse4(s)
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("dnsbl: code %q: a mask is &N, &0xN or &a.b.c.d", "&"+s)
	}
	return uint32(n), nil
}

func u32(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func addr4(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}
