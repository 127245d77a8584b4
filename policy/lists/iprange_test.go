package lists

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
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
		// Short ranges that replace more than the last octet or group.
		{in: "10.0.0.0-3.255", from: "10.0.0.0", to: "10.0.3.255",
			inside: []string{"10.0.1.7", "10.0.3.255"}, outside: []string{"10.0.4.0", "9.255.255.255"}},
		{in: "10.0.0.0-1.2.3", from: "10.0.0.0", to: "10.1.2.3", inside: []string{"10.0.255.255", "10.1.2.3"}, outside: []string{"10.1.2.4"}},
		{in: "2001:db8::1:0-2:ffff", from: "2001:db8::1:0", to: "2001:db8::2:ffff",
			inside: []string{"2001:db8::1:ffff", "2001:db8::2:0"}, outside: []string{"2001:db8::3:0", "2001:db8::ffff"}},
		{in: "2001:db8:1:2:3:4:5:6-db9:8:9:a:b:c:d", from: "2001:db8:1:2:3:4:5:6", to: "2001:db9:8:9:a:b:c:d",
			inside: []string{"2001:db9::", "2001:db8:ffff::"}, outside: []string{"2001:db8::", "2001:db9:8:9:a:b:c:e"}},
		// White space around an entry is not part of it.
		{in: " 192.0.2.1\t", from: "192.0.2.1", to: "192.0.2.1", inside: []string{"192.0.2.1"}},
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
			r, err := ParseRange(tt.in)
			if err != nil {
				t.Fatalf("ParseRange(%q): %v", tt.in, err)
			}
			if r.From != netip.MustParseAddr(tt.from) || r.To != netip.MustParseAddr(tt.to) {
				t.Errorf("ParseRange(%q) = %v-%v, want %s-%s", tt.in, r.From, r.To, tt.from, tt.to)
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

func TestRangeString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"192.0.2.7/24", "192.0.2.0/24"},
		{"192.0.2.0-255", "192.0.2.0/24"},
		{"192.0.2.0-192.0.3.255", "192.0.2.0/23"},
		{"192.0.2.1-40", "192.0.2.1-192.0.2.40"},
		{"192.0.2.0/32", "192.0.2.0"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"2001:db8::ac:44f2-45ff", "2001:db8::ac:44f2-2001:db8::ac:45ff"},
		{"2001:db8::-ffff", "2001:db8::/112"},
		{"2001:DB8::/32", "2001:db8::/32"},
		{"::/0", "::/0"},
		{"::ffff:0:0/95", "::fffe:0:0/95"},
	} {
		r, err := ParseRange(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.String(); got != tc.want {
			t.Errorf("ParseRange(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseRangeErrors(t *testing.T) {
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
		{in: "10.0.1.0-0.5"},       // short end below the start
		{in: "10.0.0.0-1..2"},      // empty octet
		{in: "10.0.0.0-1.2.3.4.5"}, // more octets than an address has
		{in: "1.2.3.4-5.300"},      // an octet over 255
		{in: "1.2.3.4-5.06"},       // a leading zero
		{in: "2001:db8::5-:5"},     // empty group
		{in: "2001:db8::1-1::2"},   // a full address below the start
		{in: "2001:db8::5-1:2:3:4:5:6:7:8:9"},
		{in: "2001:db8::5-0x6"},
		{in: "2001:db8::5-1_0"},
		{in: "1.2.3.4-1_0"},
		{in: "1.2.3.4 - 1.2.3.9"}, // spaces inside: a list splits there
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRange(tt.in)
			switch {
			case err == nil && tt.bug != "":
				t.Skip("BUG: " + tt.bug)
			case err == nil:
				t.Errorf("ParseRange(%q) = %v-%v, want an error", tt.in, r.From, r.To)
			case tt.bug != "":
				t.Errorf("row marked as a bug now passes; remove its bug text: %s", tt.bug)
			case !strings.Contains(err.Error(), strings.TrimSpace(tt.in)):
				t.Errorf("error %q does not quote the entry %q", err, tt.in)
			case !errors.Is(err, ErrInvalid):
				t.Errorf("error %q is not ErrInvalid", err)
			}
		})
	}
}

// FuzzParseRange checks that whatever parses is a well-formed range: one
// family, no zone, From <= To, both ends inside, and "From-To" parsing back
// to the same range.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::1", "123.123.123.123/24", "123.123.123.123-223",
		"2001:db8:10ff::ac:44f2/64", "2001:db8:10ff::ac:44f2-45ff", "10.0.0.1-10.0.0.9", "::ffff:192.0.2.1",
		"::ffff:192.0.2.0/120", "1.2.3.4-300", "fe80::1%eth0", "0.0.0.0/0", "::/0", "", "-", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
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
		if back, err := ParseRange(r.String()); err != nil || back != r {
			t.Fatalf("%q: String %q parses back as %v-%v, %v", s, r.String(), back.From, back.To, err)
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
		back, err := ParseRange(r.From.String() + "-" + r.To.String())
		if err != nil || back != r {
			t.Fatalf("%q: %v-%v parses back as %v-%v, %v", s, r.From, r.To, back.From, back.To, err)
		}
		if back, err := ParseRange(r.String()); err != nil || back != r {
			t.Fatalf("%q: String %q parses back as %v-%v, %v", s, r.String(), back.From, back.To, err)
		}
	})
}
