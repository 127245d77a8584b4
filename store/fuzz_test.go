package store

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzQuarantineRoundTrip checks that any message bytes come back exactly and
// that any subject is found again by a substring of itself.
func FuzzQuarantineRoundTrip(f *testing.F) {
	f.Add(rawMessage, "Hello", "ell")
	f.Add([]byte{}, "", "")
	f.Add([]byte("\x00\xff\r\n"), "【重要】請求書", "請求")
	f.Add([]byte("x"), "ÜBER", "über")
	f.Add([]byte("x"), "caf\xe9", "\xe9")
	f.Add([]byte("x"), "a\x00b", "\x00")
	s := openTest(f, "")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte, subject, part string) {
		q := &QuarantineEntry{Raw: raw, Subject: subject, Recipients: []string{"a@example.com"}}
		id, err := s.AddQuarantine(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetQuarantine(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Raw, raw) {
			t.Fatalf("raw: got %q, want %q", got.Raw, raw)
		}
		if got.Subject != subject {
			t.Fatalf("subject: got %q, want %q", got.Subject, subject)
		}
		// A substring found by Go must be found by the store. Invalid UTF-8
		// is left out: SQLite's instr counts characters and may step over
		// a match that starts inside a broken sequence.
		if part == "" || !utf8.ValidString(subject) || !utf8.ValidString(part) ||
			!strings.Contains(foldText(subject), foldText(part)) {
			return
		}
		list, err := s.ListQuarantine(ctx, QuarantineQuery{Subject: part, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list {
			if e.ID == id {
				return
			}
		}
		t.Fatalf("subject %q not found by substring %q", subject, part)
	})
}

// FuzzClientNet checks the client network filter's byte ranges against
// netip: an address is in the SQL range of a network exactly when the
// documented EventQuery.ClientNet rule says it matches.
func FuzzClientNet(f *testing.F) {
	for _, s := range [][2]string{
		{"192.0.2.1", "192.0.2.0/24"}, {"192.0.2.200", "192.0.2.0/25"}, {"::ffff:192.0.2.1", "192.0.2.0/24"},
		{"192.0.2.1", "::ffff:192.0.2.0/120"}, {"192.0.2.1", "::/0"}, {"2001:db8::1", "::/0"},
		{"2001:db8::1", "2001:db8::/32"}, {"2001:db8:1::", "2001:db8::/48"}, {"::ffff:0:0", "::/80"},
		{"10.0.0.1", "0.0.0.0/0"}, {"fe80::1%eth0", "fe80::/10"}, {"::1", "::1/128"}, {"1.2.3.4", "1.2.3.4/32"},
		{"::fffe:1:2", "::fffe:0:0/95"}, {"::ffff:1.2.3.4", "::fffe:0:0/95"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, addr, prefix string) {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return
		}
		p, err := netip.ParsePrefix(prefix)
		if err != nil {
			return
		}
		var want bool
		switch u := a.Unmap().WithZone(""); {
		case p.Addr().Is4():
			want = u.Is4() && p.Contains(u)
		case p.Addr().Is4In6():
			want = p.Contains(netip.AddrFrom16(a.As16()))
		default:
			want = u.Is6() && p.Contains(u)
		}
		in := func(b, lo, hi []byte) bool { return bytes.Compare(b, lo) >= 0 && bytes.Compare(b, hi) <= 0 }
		b := ip16(addr)
		lo, hi := prefixRange(p)
		got := in(b, lo, hi)
		if overlapsMapped(p) {
			mlo, mhi := prefixRange(ipv4Mapped)
			got = got && !in(b, mlo, mhi)
		}
		if got != want {
			t.Errorf("%s in %s: filter says %t, want %t (range %x..%x)", addr, prefix, got, want, lo, hi)
		}
	})
}
