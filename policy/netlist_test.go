package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func TestParseIPRange(t *testing.T) {
	type tc struct {
		in              string
		from, to        string
		inside, outside []string // addresses that must be inside and outside
	}
	tests := []tc{
		{in: "127.0.0.1", from: "127.0.0.1", to: "127.0.0.1",
			inside: []string{"127.0.0.1", "::ffff:127.0.0.1"}, outside: []string{"127.0.0.2", "127.0.0.0", "::1", "::127.0.0.1"}},
		{in: "::1", from: "::1", to: "::1",
			inside: []string{"::1"}, outside: []string{"::2", "::", "127.0.0.1", "::ffff:0.0.0.1"}},
		// Host bits set, as gateway consoles accept them.
		{in: "123.123.123.123/24", from: "123.123.123.0", to: "123.123.123.255",
			inside:  []string{"123.123.123.0", "123.123.123.255", "123.123.123.123", "::ffff:123.123.123.7"},
			outside: []string{"123.123.122.255", "123.123.124.0", "::ffff:123.123.124.0"}},
		{in: "10.0.0.0/8", from: "10.0.0.0", to: "10.255.255.255",
			inside: []string{"10.0.0.0", "10.255.255.255"}, outside: []string{"9.255.255.255", "11.0.0.0"}},
		{in: "0.0.0.0/0", from: "0.0.0.0", to: "255.255.255.255",
			inside: []string{"0.0.0.0", "255.255.255.255", "::ffff:8.8.8.8"}, outside: []string{"::", "2001:db8::1"}},
		{in: "192.0.2.7/32", from: "192.0.2.7", to: "192.0.2.7",
			inside: []string{"192.0.2.7"}, outside: []string{"192.0.2.6", "192.0.2.8"}},
		// The last octet.
		{in: "123.123.123.123-223", from: "123.123.123.123", to: "123.123.123.223",
			inside:  []string{"123.123.123.123", "123.123.123.200", "123.123.123.223"},
			outside: []string{"123.123.123.122", "123.123.123.224", "123.123.124.123"}},
		{in: "10.0.0.5-5", from: "10.0.0.5", to: "10.0.0.5", inside: []string{"10.0.0.5"}, outside: []string{"10.0.0.4", "10.0.0.6"}},
		{in: "10.0.0.0-255", from: "10.0.0.0", to: "10.0.0.255", inside: []string{"10.0.0.0", "10.0.0.255"}, outside: []string{"10.0.1.0"}},
		// IPv6 with host bits set.
		{in: "2001:db8:10ff::ac:44f2/64", from: "2001:db8:10ff::", to: "2001:db8:10ff:0:ffff:ffff:ffff:ffff",
			inside:  []string{"2001:db8:10ff::", "2001:db8:10ff::1", "2001:db8:10ff:0:ffff:ffff:ffff:ffff"},
			outside: []string{"2001:db8:10fe:ffff:ffff:ffff:ffff:ffff", "2001:db8:10ff:1::", "10.0.0.1"}},
		// The last hexadecimal group.
		{in: "2001:db8:10ff::ac:44f2-45ff", from: "2001:db8:10ff::ac:44f2", to: "2001:db8:10ff::ac:45ff",
			inside:  []string{"2001:db8:10ff::ac:44f2", "2001:db8:10ff::ac:4500", "2001:db8:10ff::ac:45ff"},
			outside: []string{"2001:db8:10ff::ac:44f1", "2001:db8:10ff::ac:4600", "2001:db8:10ff::ad:44f2"}},
		{in: "2001:db8::1-FFFF", from: "2001:db8::1", to: "2001:db8::ffff", inside: []string{"2001:db8::ffff"}, outside: []string{"2001:db8::1:0"}},
		// Full ranges.
		{in: "10.0.0.1-10.0.0.9", from: "10.0.0.1", to: "10.0.0.9",
			inside: []string{"10.0.0.1", "10.0.0.5", "10.0.0.9", "::ffff:10.0.0.9"}, outside: []string{"10.0.0.0", "10.0.0.10", "10.0.1.5"}},
		{in: "10.0.0.250-10.0.1.3", from: "10.0.0.250", to: "10.0.1.3",
			inside: []string{"10.0.0.255", "10.0.1.0", "10.0.1.3"}, outside: []string{"10.0.0.249", "10.0.1.4"}},
		{in: "2001:db8::1-2001:db8::1:0", from: "2001:db8::1", to: "2001:db8::1:0",
			inside: []string{"2001:db8::ffff", "2001:db8::1:0"}, outside: []string{"2001:db8::", "2001:db8::1:1"}},
		// IPv4-mapped forms are IPv4.
		{in: "::ffff:192.0.2.1", from: "192.0.2.1", to: "192.0.2.1", inside: []string{"192.0.2.1", "::ffff:192.0.2.1"}, outside: []string{"192.0.2.2"}},
		{in: "::ffff:192.0.2.0/120", from: "192.0.2.0", to: "192.0.2.255", inside: []string{"192.0.2.255", "::ffff:192.0.2.1"}, outside: []string{"192.0.3.0"}},
		{in: "::ffff:192.0.2.1-9", from: "192.0.2.1", to: "192.0.2.9", inside: []string{"192.0.2.9"}, outside: []string{"192.0.2.10"}},
		// IPv4-mapped clients are IPv4, so an IPv6 range never holds them,
		// not even one that covers ::ffff:0:0/96.
		{in: "::/0", from: "::", to: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
			inside: []string{"::", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, outside: []string{"1.2.3.4", "::ffff:1.2.3.4"}},
		{in: "::ffff:0:0/95", from: "::fffe:0:0", to: "::ffff:255.255.255.255",
			inside: []string{"::fffe:0:0", "::fffe:ffff:ffff"}, outside: []string{"1.2.3.4", "::ffff:1.2.3.4"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseIPRange(tt.in)
			if err != nil {
				t.Fatalf("ParseIPRange(%q): %v", tt.in, err)
			}
			if r.From != netip.MustParseAddr(tt.from) || r.To != netip.MustParseAddr(tt.to) {
				t.Errorf("ParseIPRange(%q) = %v-%v, want %s-%s", tt.in, r.From, r.To, tt.from, tt.to)
			}
			for _, a := range tt.inside {
				if !r.Contains(netip.MustParseAddr(a)) {
					t.Errorf("%q does not contain %s", tt.in, a)
				}
			}
			for _, a := range tt.outside {
				if r.Contains(netip.MustParseAddr(a)) {
					t.Errorf("%q contains %s", tt.in, a)
				}
			}
		})
	}
}

func TestParseIPRangeErrors(t *testing.T) {
	tests := []struct {
		in  string
		bug string
	}{
		{in: ""},
		{in: "garbage"},
		{in: "1.2.3"},
		{in: "1.2.3.4.5"},
		{in: "256.1.1.1"},
		{in: "1.2.3.4-300"},
		{in: "1.2.3.4-256"},
		{in: "1.2.3.4--5"},
		{in: "1.2.3.4-+5"},
		{in: "1.2.3.4-05"},
		{in: "1.2.3.4-"},
		{in: "-1.2.3.4"},
		{in: "1.2.3.4-x"},
		{in: "1.2.3.9-1.2.3.4"}, // reversed
		{in: "1.2.3.9-4"},       // reversed last octet
		{in: "2001:db8::9-2001:db8::1"},
		{in: "2001:db8::9-1"},
		{in: "1.2.3.4-2001:db8::1"}, // mixed families
		{in: "2001:db8::1-1.2.3.4"},
		{in: "2001:db8::1-10000"},
		{in: "2001:db8::1-fffff"},
		{in: "2001:db8::1-xyz"},
		{in: "1.2.3.4/33"},
		{in: "1.2.3.4/"},
		{in: "1.2.3.4/-1"},
		{in: "2001:db8::/129"},
		{in: "1.2.3.0/24-30"},
		{in: "1.2.3.4 /24"},
		{in: "fe80::1%eth0"}, // zone ids name an interface, not a network
		{in: "fe80::1%eth0-2"},
		{in: "fe80::/64%eth0"},
		{in: "fe80::%eth0/64"},
		{in: "fe80::1-fe80::2%eth0"},
		{in: "2001:db8::1-1g"},
		{in: "2001:db8::1-f%x"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseIPRange(tt.in)
			switch {
			case err == nil && tt.bug != "":
				t.Skip("BUG: " + tt.bug)
			case err == nil:
				t.Errorf("ParseIPRange(%q) = %v-%v, want an error", tt.in, r.From, r.To)
			case tt.bug != "":
				t.Errorf("row marked as a bug now passes; remove its bug text: %s", tt.bug)
			case !strings.Contains(err.Error(), tt.in):
				t.Errorf("error %q does not quote the entry %q", err, tt.in)
			}
		})
	}
}

func TestNetList(t *testing.T) {
	l, errs := ParseNetList([]string{"127.0.0.1, ::1", "10.0.0.0/8 192.0.2.10-20;2001:db8::/32", "\t"})
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(l) != 5 {
		t.Fatalf("got %d ranges %v, want 5", len(l), l)
	}
	tests := []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.0.0.2", false},
		{"::1", true},
		{"10.20.30.40", true},
		{"::ffff:10.20.30.40", true},
		{"192.0.2.9", false},
		{"192.0.2.10", true},
		{"192.0.2.20", true},
		{"192.0.2.21", false},
		{"::ffff:192.0.2.1", false},
		{"2001:db8:ffff::1", true},
		{"2001:db9::1", false},
	}
	for _, tt := range tests {
		if got := l.Contains(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
	if l.Contains(netip.Addr{}) {
		t.Error("the list contains the invalid address (a unix-socket client)")
	}
	if (NetList{}).Contains(netip.MustParseAddr("127.0.0.1")) {
		t.Error("an empty list contains 127.0.0.1")
	}

	// An IPv4 client on a dual-stack socket.
	l, _ = ParseNetList([]string{"192.0.2.0/24"})
	if !l.Contains(netip.MustParseAddr("::ffff:192.0.2.1")) {
		t.Error("192.0.2.0/24 does not contain ::ffff:192.0.2.1")
	}

	// Every bad entry is reported; the good ones are kept.
	l, errs = ParseNetList([]string{"1.2.3.4, bad, 1.2.3.4-300", "10.0.0.9-10.0.0.1 ::1"})
	if len(errs) != 3 {
		t.Errorf("got %d errors %v, want 3", len(errs), errs)
	}
	if len(l) != 2 {
		t.Errorf("kept %d ranges %v, want 2", len(l), l)
	}
}

// FuzzParseIPRange checks that whatever parses is a well-formed range: one
// family, no zone, From <= To, both ends inside, and "From-To" parsing back
// to the same range.
func FuzzParseIPRange(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::1", "123.123.123.123/24", "123.123.123.123-223",
		"2001:db8:10ff::ac:44f2/64", "2001:db8:10ff::ac:44f2-45ff", "10.0.0.1-10.0.0.9", "::ffff:192.0.2.1",
		"::ffff:192.0.2.0/120", "1.2.3.4-300", "fe80::1%eth0", "0.0.0.0/0", "::/0", "", "-", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseIPRange(s)
		if err != nil {
			return
		}
		if !r.From.IsValid() || !r.To.IsValid() {
			t.Fatalf("%q: invalid end in %v-%v", s, r.From, r.To)
		}
		if r.From.Zone() != "" || r.To.Zone() != "" {
			t.Fatalf("%q: zone in %v-%v", s, r.From, r.To)
		}
		if r.From.BitLen() != r.To.BitLen() {
			t.Fatalf("%q: mixed families %v-%v", s, r.From, r.To)
		}
		if r.To.Less(r.From) {
			t.Fatalf("%q: To %v below From %v", s, r.To, r.From)
		}
		if r.From.Is4In6() {
			t.Fatalf("%q: From %v is IPv4-mapped; it should have been unmapped", s, r.From)
		}
		if !r.Contains(r.From) {
			t.Fatalf("%q: %v-%v does not contain its start", s, r.From, r.To)
		}
		if r.To.Is4In6() {
			// An IPv6 prefix that covers ::ffff:0:0/96 ends in the mapped
			// space, which Contains treats as IPv4 by design; the full-range
			// form rejects such an end as another family.
			if r.Contains(r.To) {
				t.Fatalf("%q: IPv6 range %v-%v contains the IPv4 address %v", s, r.From, r.To, r.To)
			}
			return
		}
		if !r.Contains(r.To) {
			t.Fatalf("%q: %v-%v does not contain its end", s, r.From, r.To)
		}
		back, err := ParseIPRange(r.From.String() + "-" + r.To.String())
		if err != nil || back != r {
			t.Fatalf("%q: %v-%v parses back as %v-%v, %v", s, r.From, r.To, back.From, back.To, err)
		}
	})
}

func TestNetListLookup(t *testing.T) {
	tests := []struct {
		name  string
		list  string
		ip    string
		entry string // the entry Lookup names; "" for no match
	}{
		{"single", "192.0.2.1", "192.0.2.1", "192.0.2.1"},
		{"empty", "", "192.0.2.1", ""},
		{"below all", "192.0.2.1 192.0.2.5", "192.0.2.0", ""},
		{"above all", "192.0.2.1 192.0.2.5", "192.0.2.6", ""},
		{"between", "192.0.2.1 192.0.2.5", "192.0.2.3", ""},
		// The entry that starts last below the address ends before it; an
		// earlier, wider one holds it.
		{"wide before narrow", "10.0.0.0/8, 10.1.0.0-10.1.0.5", "10.2.0.0", "10.0.0.0/8"},
		{"wide before several narrow", "10.0.0.0/8 10.0.0.1 10.0.0.3 10.0.0.5-9", "10.0.0.10", "10.0.0.0/8"},
		{"narrow inside wide", "10.0.0.0/8 10.0.0.1", "10.0.0.1", "10.0.0.0/8"},
		{"the one ending last", "10.0.0.0-10.0.0.9 10.0.0.0-10.0.0.20 10.0.0.5-10.0.0.15", "10.0.0.7", "10.0.0.0-10.0.0.20"},
		{"same range, first written", "10.0.0.0/24 10.0.0.0-255", "10.0.0.7", "10.0.0.0/24"},
		{"same range, first written, reversed", "10.0.0.0-255 10.0.0.0/24", "10.0.0.7", "10.0.0.0-255"},
		{"written out of order", "192.0.2.9 10.0.0.1 192.0.2.0-3", "192.0.2.2", "192.0.2.0-3"},
		// Families never mix: IPv4 sorts before IPv6, and the widest IPv4
		// entry does not reach into IPv6.
		{"all IPv4, IPv6 address", "0.0.0.0/0", "::1", ""},
		{"all IPv6, IPv4 address", "::/0", "1.2.3.4", ""},
		{"all IPv6, mapped address", "::/0", "::ffff:1.2.3.4", ""},
		{"last IPv4 and first IPv6", "255.255.255.255 ::", "::", "::"},
		{"last IPv4 and first IPv6, IPv4", "255.255.255.255 ::", "255.255.255.255", "255.255.255.255"},
		{"IPv4 then IPv6 beyond", "0.0.0.0/0 ::5", "::6", ""},
		{"IPv4 then IPv6 below", "0.0.0.0/0 ::5", "::1", ""},
		{"mapped client", "192.0.2.0/24 2001:db8::/32", "::ffff:192.0.2.77", "192.0.2.0/24"},
		{"mapped entry", "::ffff:192.0.2.0/120", "192.0.2.77", "::ffff:192.0.2.0/120"},
		{"IPv6 wide before narrow", "2001:db8::/32 2001:db8::ac:44f2-45ff", "2001:db8::ac:4600", "2001:db8::/32"},
		{"IPv6 last group", "2001:db8::/48 2001:db8:1::ac:44f2-45ff", "2001:db8:1::ac:4500", "2001:db8:1::ac:44f2-45ff"},
		{"invalid address", "0.0.0.0/0 ::/0", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, errs := ParseNetList([]string{tt.list})
			if len(errs) != 0 {
				t.Fatalf("errors: %v", errs)
			}
			var ip netip.Addr
			if tt.ip != "" {
				ip = netip.MustParseAddr(tt.ip)
			}
			e, ok := l.Lookup(ip)
			if ok != (tt.entry != "") || e.Text != tt.entry {
				t.Errorf("Lookup(%s) in %q = %q, %v; want %q", tt.ip, tt.list, e.Text, ok, tt.entry)
			}
			if got := l.Contains(ip); got != ok {
				t.Errorf("Contains(%s) = %v, Lookup says %v", tt.ip, got, ok)
			}
			if ok && !e.Contains(ip) {
				t.Errorf("Lookup(%s) names %q, %v-%v, which does not hold it", tt.ip, e.Text, e.From, e.To)
			}
		})
	}
}

// TestNewNetList checks that a list built from entries in any order looks
// up like the list parsed, and that NewNetList leaves its argument alone.
func TestNewNetList(t *testing.T) {
	entries := []NetEntry{}
	for _, s := range []string{"192.0.2.9", "10.0.0.0/8", "2001:db8::/32", "10.1.0.0-10.1.0.5", "::1"} {
		r, err := ParseIPRange(s)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, NetEntry{IPRange: r, Text: s})
	}
	l := NewNetList(entries)
	if entries[0].Text != "192.0.2.9" || entries[4].Text != "::1" {
		t.Errorf("NewNetList reordered its argument: %v", entries)
	}
	for _, s := range []string{"10.2.0.0", "192.0.2.9", "::1", "2001:db8::5", "192.0.2.8", "::2"} {
		ip := netip.MustParseAddr(s)
		if got, want := l.Contains(ip), linearContains(entries, ip); got != want {
			t.Errorf("Contains(%s) = %v, want %v", s, got, want)
		}
	}
}

// linearContains is the reference lookup: a scan of every entry.
func linearContains(entries []NetEntry, ip netip.Addr) bool {
	for _, e := range entries {
		if e.IPRange.Contains(ip) {
			return true
		}
	}
	return false
}

// netListCase turns bytes into list entries and probe addresses in a small
// address space (10.0.0.0/22 and 2001:db8::/118, with IPv4-mapped forms),
// so that entries overlap and probes hit and miss them.
type netListCase struct {
	data []byte
}

func (c *netListCase) next() byte {
	if len(c.data) == 0 {
		return 0
	}
	b := c.data[0]
	c.data = c.data[1:]
	return b
}

func (c *netListCase) v4() netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, c.next() % 4, c.next()})
}

func (c *netListCase) v6() netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: c.next() % 4, 15: c.next()})
}

// entry returns one entry's text in one of the forms a list takes.
func (c *netListCase) entry() string {
	switch c.next() % 12 {
	case 0:
		return c.v4().String()
	case 1:
		return fmt.Sprintf("%s/%d", c.v4(), 22+c.next()%11)
	case 2:
		a := c.v4()
		end := int(a.As4()[3]) + int(c.next())%(256-int(a.As4()[3]))
		return fmt.Sprintf("%s-%d", a, end)
	case 3:
		a, b := c.v4(), c.v4()
		if b.Less(a) {
			a, b = b, a
		}
		return a.String() + "-" + b.String()
	case 4:
		return c.v6().String()
	case 5:
		return fmt.Sprintf("%s/%d", c.v6(), 118+c.next()%11)
	case 6:
		a := c.v6()
		end := int(a.As16()[15]) + int(c.next())%(256-int(a.As16()[15]))
		return fmt.Sprintf("%s-%x", a, int(a.As16()[14])<<8|end)
	case 7:
		a, b := c.v6(), c.v6()
		if b.Less(a) {
			a, b = b, a
		}
		return a.String() + "-" + b.String()
	case 8:
		return "::ffff:" + c.v4().String()
	case 9:
		return fmt.Sprintf("::ffff:%s/%d", c.v4(), 118+c.next()%11)
	case 10:
		return [...]string{"0.0.0.0/0", "::/0", "10.0.0.0/8", "2001:db8::/32", "::ffff:0:0/96", "::/80"}[c.next()%6]
	default:
		return "bad-entry"
	}
}

func (c *netListCase) probe() netip.Addr {
	switch c.next() % 4 {
	case 0, 1:
		return c.v4()
	case 2:
		return netip.AddrFrom16(c.v4().As16())
	default:
		return c.v6()
	}
}

// checkNetList parses a list built from data and compares every lookup
// with the linear reference.
func checkNetList(t *testing.T, data []byte) {
	t.Helper()
	c := &netListCase{data: data}
	var texts []string
	var entries []NetEntry
	for n := int(c.next()%64) + 1; n > 0; n-- {
		s := c.entry()
		texts = append(texts, s)
		if r, err := ParseIPRange(s); err == nil {
			entries = append(entries, NetEntry{IPRange: r, Text: s})
		}
	}
	l, _ := ParseNetList([]string{strings.Join(texts, ", ")})
	if len(l) != len(entries) {
		t.Fatalf("%q: %d entries, want %d", texts, len(l), len(entries))
	}
	for len(c.data) > 0 {
		ip := c.probe()
		want := linearContains(entries, ip)
		e, ok := l.Lookup(ip)
		if ok != want {
			t.Fatalf("%q: Lookup(%s) = %v, linear scan says %v", texts, ip, ok, want)
		}
		if !ok {
			continue
		}
		if !e.IPRange.Contains(ip) {
			t.Fatalf("%q: Lookup(%s) names %q, which does not hold it", texts, ip, e.Text)
		}
		// It is the containing entry that ends last.
		for _, o := range entries {
			if o.IPRange.Contains(ip) && e.To.Less(o.To) {
				t.Fatalf("%q: Lookup(%s) names %q; %q holds it and ends later", texts, ip, e.Text, o.Text)
			}
		}
	}
}

func TestNetListRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		data := make([]byte, 16+r.IntN(400))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		checkNetList(t, data)
	}
}

// FuzzNetList compares [NetList.Lookup] with a linear scan of the entries
// on lists and addresses built from the input.
func FuzzNetList(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 1, 0, 0, 24, 2, 0, 5, 9, 0, 0, 0, 4, 0, 0, 7, 1, 2, 3, 4, 5, 6})
	f.Add([]byte("wide lists and narrow ones, IPv4 and IPv6, mapped and not"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkNetList(t, data)
	})
}

// TestClientReasonNamesEntry: a client.network finding names the entry the
// client is in, not the whole list (which may have 100,000 entries).
func TestClientReasonNamesEntry(t *testing.T) {
	_, pol := mustLoad(t, "[[rule]]\nname = \"r\"\nclients = [\"198.51.100.0/24\", \"192.0.2.10-20\", \"2001:db8::/32\"]\naction = \"reject\"\n")
	f := &Facts{ClientIP: netip.MustParseAddr("192.0.2.15")}
	v := pol.Evaluate(StageConnect, f, "")
	if len(v.Matches) != 1 || len(v.Matches[0].Findings) != 1 {
		t.Fatalf("matches %+v", v.Matches)
	}
	if got := v.Matches[0].Findings[0].Reason; got != "client 192.0.2.15 is in 192.0.2.10-20" {
		t.Errorf("reason %q", got)
	}
}
