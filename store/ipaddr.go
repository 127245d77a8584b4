package store

import (
	"database/sql/driver"
	"net/netip"
	"strings"

	"modernc.org/sqlite"
)

// ip16 returns an event's client IP as the 16 bytes stored in
// events.client_addr, IPv4 as IPv4-mapped IPv6, so that a network is one
// range of the index; nil (NULL) when s is not an IP address.
func ip16(s string) []byte {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return nil
	}
	b := a.As16()
	return b[:]
}

// prefixRange returns the first and the last address of p in ip16 form. An
// IPv4 network is matched as the IPv4-mapped one, so it finds both spellings
// of an IPv4 client.
func prefixRange(p netip.Prefix) (lo, hi []byte) {
	p = p.Masked()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	a := p.Addr().As16()
	lo = append([]byte(nil), a[:]...)
	hi = append([]byte(nil), a[:]...)
	for i := range 16 {
		switch {
		case bits >= 8*(i+1):
		case bits <= 8*i:
			hi[i] = 0xff
		default:
			hi[i] |= 0xff >> (bits - 8*i)
		}
	}
	return lo, hi
}

// ipv4Mapped is the IPv6 range where ip16 keeps IPv4 addresses.
var ipv4Mapped = netip.MustParsePrefix("::ffff:0.0.0.0/96")

// overlapsMapped reports whether the IPv6 network p (written IPv6, not
// IPv4-mapped) takes in ipv4Mapped, so that a filter on it must leave the
// IPv4 clients out.
func overlapsMapped(p netip.Prefix) bool {
	a := p.Addr()
	return a.Is6() && !a.Is4In6() && p.Bits() <= ipv4Mapped.Bits() && p.Contains(ipv4Mapped.Addr())
}

// ip16Func is the SQL name of ip16, which migration 6 uses to fill
// client_addr for the rows written before it. SQLite-specific: another
// backend keeps the client address in its own type (PostgreSQL's inet).
const ip16Func = "mailwarden_ip16"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(ip16Func, 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			var s string
			switch v := args[0].(type) {
			case string:
				s = v
			case []byte:
				s = string(v)
			default:
				return nil, nil
			}
			if b := ip16(s); b != nil {
				return b, nil
			}
			return nil, nil
		})
}
