package lists

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// now is the zero time, which lookups read as the current time.
var now time.Time

func TestIPList(t *testing.T) {
	l, errs := ParseIPList("127.0.0.1, ::1", "10.0.0.0/8 192.0.2.10-20;2001:db8::/32", "\t")
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if l.Len() != 5 {
		t.Fatalf("got %d entries %v, want 5", l.Len(), l.Entries())
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
		if got := l.Contains(netip.MustParseAddr(tt.ip), now); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
	if l.Contains(netip.Addr{}, now) {
		t.Error("the list contains the invalid address (a unix-socket client)")
	}
	if (IPList{}).Contains(netip.MustParseAddr("127.0.0.1"), now) {
		t.Error("an empty list contains 127.0.0.1")
	}

	// An IPv4 client on a dual-stack socket.
	l, _ = ParseIPList("192.0.2.0/24")
	if !l.Contains(netip.MustParseAddr("::ffff:192.0.2.1"), now) {
		t.Error("192.0.2.0/24 does not contain ::ffff:192.0.2.1")
	}

	// Every bad entry is reported; the good ones are kept.
	l, errs = ParseIPList("1.2.3.4, bad, 1.2.3.4-300", "10.0.0.9-10.0.0.1 ::1")
	if len(errs) != 3 {
		t.Errorf("got %d errors %v, want 3", len(errs), errs)
	}
	if l.Len() != 2 {
		t.Errorf("kept %d entries %v, want 2", l.Len(), l.Entries())
	}
}

// TestIPListText: comments, expiries and the place of each entry and of
// each problem, in a file as operators write them.
func TestIPListText(t *testing.T) {
	const file = `# office networks, and the hosts of ticket 42
192.0.2.0/24, 198.51.100.7   # spam run
203.0.113.9 # expires 2026-01-31 compromised host
bad # note
  2001:db8::/32;2001:db8:1::ac:44f2-45ff
10.0.0.1 10.0.0.2 # expires 2026-13-01 never an entry without its expiry
10.0.0.3#not a comment
10.0.0.4 #expires=2026-02-01T10:00:00+09:00
`
	l, errs := ParseIPList("10.9.9.9", file)
	type pos struct {
		text, comment string
		expires       string
		item, line    int
	}
	var got []pos
	for _, e := range l.Entries() {
		x := ""
		if !e.Expires.IsZero() {
			x = e.Expires.UTC().Format(time.RFC3339)
		}
		got = append(got, pos{e.Text, e.Comment, x, e.Source, e.Line})
	}
	want := []pos{
		{"10.9.9.9", "", "", 0, 1},
		{"192.0.2.0/24", "spam run", "", 1, 2},
		{"198.51.100.7", "spam run", "", 1, 2},
		{"203.0.113.9", "compromised host", "2026-01-31T00:00:00Z", 1, 3},
		{"2001:db8::/32", "", "", 1, 5},
		{"2001:db8:1::ac:44f2-45ff", "", "", 1, 5},
		{"10.0.0.4", "", "2026-02-01T01:00:00Z", 1, 8},
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries\n%v\nwant\n%v", got, want)
	}
	var probs []string
	for _, err := range errs {
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v is not an *Error matching ErrInvalid", err)
		}
		probs = append(probs, fmt.Sprintf("%d:%d %s: %v", e.Source, e.Line, e.Text, e))
	}
	wantProbs := []string{
		`1:4 bad: "bad" is not an IP address, CIDR network or range`,
		`1:6 # expires 2026-13-01 never an entry without its expiry: expiry "2026-13-01" is not a date (2026-01-31, 2026-01-31T12:00:00Z)`,
		`1:7 10.0.0.3#not: "10.0.0.3#not" is not an IP address, CIDR network or range`,
		`1:7 a: "a" is not an IP address, CIDR network or range`,
		`1:7 comment: "comment" is not an IP address, CIDR network or range`,
	}
	if !slices.Equal(probs, wantProbs) {
		t.Errorf("errors\n%s\nwant\n%s", strings.Join(probs, "\n"), strings.Join(wantProbs, "\n"))
	}
	// A match names the entry and its comment.
	e, ok := l.Lookup(netip.MustParseAddr("192.0.2.77"), now)
	if !ok || e.Text != "192.0.2.0/24" || e.Comment != "spam run" {
		t.Errorf("Lookup(192.0.2.77) = %+v, %v", e, ok)
	}
}

func TestIPListLookup(t *testing.T) {
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
			l, errs := ParseIPList(tt.list)
			if len(errs) != 0 {
				t.Fatalf("errors: %v", errs)
			}
			var ip netip.Addr
			if tt.ip != "" {
				ip = netip.MustParseAddr(tt.ip)
			}
			e, ok := l.Lookup(ip, now)
			if ok != (tt.entry != "") || e.Text != tt.entry {
				t.Errorf("Lookup(%s) in %q = %q, %v; want %q", tt.ip, tt.list, e.Text, ok, tt.entry)
			}
			if got := l.Contains(ip, now); got != ok {
				t.Errorf("Contains(%s) = %v, Lookup says %v", tt.ip, got, ok)
			}
			if ok && !e.Contains(ip) {
				t.Errorf("Lookup(%s) names %q, %v-%v, which does not hold it", tt.ip, e.Text, e.From, e.To)
			}
		})
	}
}

// TestIPListExpiry: an expired entry stops matching, and an entry that
// holds the address and is still live is found instead.
func TestIPListExpiry(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(24 * time.Hour)
	tests := []struct {
		name, list, ip string
		at             time.Time
		entry          string // "" for no match
	}{
		{"live", "192.0.2.1 # expires 2026-01-01", "192.0.2.1", t1.Add(-time.Nanosecond), "192.0.2.1"},
		{"expired at its instant", "192.0.2.1 # expires 2026-01-01", "192.0.2.1", t1, ""},
		{"expired after", "192.0.2.1 # expires 2026-01-01", "192.0.2.1", t2, ""},
		{"never expires", "192.0.2.1", "192.0.2.1", t2, "192.0.2.1"},
		{"now, long expired", "192.0.2.1 # expires 2000-01-01", "192.0.2.1", now, ""},
		{"now, far future", "192.0.2.1 # expires 2999-01-01", "192.0.2.1", now, "192.0.2.1"},
		// A permanent entry outlives any other and names the address.
		{"permanent wide, expiring narrow", "10.0.0.0/8\n10.0.0.1 # expires 2026-01-02", "10.0.0.1", t1, "10.0.0.0/8"},
		{"permanent narrow, expiring wide", "10.0.0.0/8 # expires 2026-01-02\n10.0.0.1", "10.0.0.1", t1, "10.0.0.1"},
		{"expiring wide, live", "10.0.0.0/8 # expires 2026-01-02\n10.0.0.1", "10.0.0.2", t1, "10.0.0.0/8"},
		{"expiring wide, expired", "10.0.0.0/8 # expires 2026-01-02\n10.0.0.1", "10.0.0.2", t2, ""},
		{"expiring wide, expired, narrow stays", "10.0.0.0/8 # expires 2026-01-02\n10.0.0.1", "10.0.0.1", t2, "10.0.0.1"},
		// Of two expiring entries the one that lasts longer names it.
		{"later expiry first", "10.0.0.0/24 # expires 2026-01-02\n10.0.0.0/16 # expires 2026-01-01", "10.0.0.1", t1.Add(-time.Hour), "10.0.0.0/24"},
		{"between expiries", "10.0.0.0/24 # expires 2026-01-02\n10.0.0.0/16 # expires 2026-01-01", "10.0.0.1", t1.Add(time.Hour), "10.0.0.0/24"},
		{"between expiries, outside the longer", "10.0.0.0/24 # expires 2026-01-02\n10.0.0.0/16 # expires 2026-01-01", "10.0.1.1", t1.Add(time.Hour), ""},
		{"after both", "10.0.0.0/24 # expires 2026-01-02\n10.0.0.0/16 # expires 2026-01-01", "10.0.0.1", t2, ""},
		{"same range twice, the longer", "10.0.0.0/24 # expires 2026-01-01\n10.0.0.0-255 # expires 2026-01-02", "10.0.0.1", t1, "10.0.0.0-255"},
		{"IPv6", "2001:db8::/32 # expires 2026-01-01\n2001:db8::/64", "2001:db8:0:1::1", t1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, errs := ParseIPList(tt.list)
			if len(errs) != 0 {
				t.Fatalf("errors: %v", errs)
			}
			e, ok := l.Lookup(netip.MustParseAddr(tt.ip), tt.at)
			if ok != (tt.entry != "") || e.Text != tt.entry {
				t.Errorf("Lookup(%s, %v) = %q, %v; want %q", tt.ip, tt.at, e.Text, ok, tt.entry)
			}
		})
	}
}

// TestNewIPList checks that a list built from entries in any order looks
// up like the list parsed, that NewIPList leaves its argument alone, and
// that ranges built by hand are taken as documented.
func TestNewIPList(t *testing.T) {
	entries := []IPEntry{}
	for _, s := range []string{"192.0.2.9", "10.0.0.0/8", "2001:db8::/32", "10.1.0.0-10.1.0.5", "::1"} {
		r, err := ParseRange(s)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, IPEntry{Range: r, Item: Item{Text: s}})
	}
	a := netip.MustParseAddr
	entries = append(entries,
		IPEntry{Range: Range{a("::ffff:198.51.100.0"), a("::ffff:198.51.100.9")}, Item: Item{Text: "mapped"}},
		IPEntry{Range: Range{a("203.0.113.9"), a("203.0.113.1")}, Item: Item{Text: "reversed"}},
		IPEntry{Range: Range{a("203.0.113.20"), a("2001:db8::1")}, Item: Item{Text: "two families"}},
		IPEntry{Range: Range{To: a("203.0.113.30")}, Item: Item{Text: "no start"}},
	)
	l := NewIPList(entries)
	if entries[0].Text != "192.0.2.9" || entries[4].Text != "::1" || entries[5].From != a("::ffff:198.51.100.0") {
		t.Errorf("NewIPList changed its argument: %v", entries)
	}
	for _, s := range []string{"10.2.0.0", "192.0.2.9", "::1", "2001:db8::5", "192.0.2.8", "::2", "10.1.0.3"} {
		ip := a(s)
		if got, want := l.Contains(ip, now), linearContains(entries[:5], ip); got != want {
			t.Errorf("Contains(%s) = %v, want %v", s, got, want)
		}
	}
	if e, ok := l.Lookup(a("198.51.100.5"), now); !ok || e.Text != "mapped" || !e.From.Is4() {
		t.Errorf("mapped range: %+v, %v", e, ok)
	}
	for _, s := range []string{"203.0.113.1", "203.0.113.5", "203.0.113.9", "203.0.113.20", "203.0.113.30", "::"} {
		if e, ok := l.Lookup(a(s), now); ok {
			t.Errorf("Lookup(%s) = %q, want no match: malformed ranges match nothing", s, e.Text)
		}
	}
}

// linearContains is the reference lookup: a scan of every entry.
func linearContains(entries []IPEntry, ip netip.Addr) bool {
	for _, e := range entries {
		if e.Range.Contains(ip) {
			return true
		}
	}
	return false
}

// refLookup is the reference of [IPList.Lookup]: of the entries that hold
// ip, the one that stays live longest, then ends last, starts first, and
// was written first; none when that one has expired at at.
func refLookup(entries []IPEntry, ip netip.Addr, at time.Time) (IPEntry, bool) {
	best := -1
	for i, e := range entries {
		if !e.Range.Contains(ip) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := entries[best]
		switch {
		case !e.Expires.Equal(b.Expires):
			if outlives(e.Expires, b.Expires) {
				best = i
			}
		case e.To != b.To:
			if b.To.Less(e.To) {
				best = i
			}
		case e.From != b.From:
			if e.From.Less(b.From) {
				best = i
			}
		}
	}
	if best < 0 || !entries[best].Live(at) {
		return IPEntry{}, false
	}
	return entries[best], true
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

// expiries are the expiries the random lists use, zero for none, and
// probeTimes the times they are looked up at.
var (
	exp0       = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	expiries   = []time.Time{{}, {}, exp0, exp0.Add(time.Hour), exp0.Add(2 * time.Hour)}
	probeTimes = []time.Time{exp0.Add(-time.Hour), exp0, exp0.Add(90 * time.Minute), exp0.Add(3 * time.Hour)}
)

// checkIPList parses a list built from data, lines of one to three entries
// with an optional expiry, and compares every lookup with the reference.
func checkIPList(t *testing.T, data []byte) {
	t.Helper()
	c := &netListCase{data: data}
	var b strings.Builder
	var entries []IPEntry
	for n := int(c.next()%48) + 1; n > 0; n-- {
		x := expiries[int(c.next())%len(expiries)]
		for k := int(c.next()%3) + 1; k > 0; k-- {
			s := c.entry()
			b.WriteString(s)
			b.WriteByte(", ;\t"[c.next()%4])
			if r, err := ParseRange(s); err == nil {
				entries = append(entries, IPEntry{Range: r, Item: Item{Text: s, Expires: x}})
			}
		}
		if !x.IsZero() {
			b.WriteString(" # expires " + x.Format(time.RFC3339))
		}
		b.WriteByte('\n')
	}
	l, _ := ParseIPList(b.String())
	if l.Len() != len(entries) {
		t.Fatalf("%q: %d entries, want %d", b.String(), l.Len(), len(entries))
	}
	for len(c.data) > 0 {
		ip := c.probe()
		at := probeTimes[int(c.next())%len(probeTimes)]
		want, wok := refLookup(entries, ip, at)
		e, ok := l.Lookup(ip, at)
		if ok != wok || e.Text != want.Text || e.Range != want.Range || !e.Expires.Equal(want.Expires) {
			t.Fatalf("%s\nLookup(%s, %v) = %q %v, %v; want %q %v, %v", b.String(), ip, at, e.Text, e.Expires, ok, want.Text, want.Expires, wok)
		}
		if ok != (l.Contains(ip, at)) {
			t.Fatalf("Contains(%s) disagrees with Lookup", ip)
		}
	}
}

func TestIPListRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		data := make([]byte, 16+r.IntN(400))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		checkIPList(t, data)
	}
}

// FuzzIPList compares [IPList.Lookup] with the reference on lists, times
// and addresses built from the input.
func FuzzIPList(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 1, 0, 0, 24, 2, 0, 5, 9, 0, 0, 0, 4, 0, 0, 7, 1, 2, 3, 4, 5, 6})
	f.Add([]byte("wide lists and narrow ones, IPv4 and IPv6, mapped and not"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkIPList(t, data)
	})
}

// FuzzParseIPList checks the text parser on any input: it never panics,
// every entry is a piece of its line that parses on its own to the same
// range and holds its start until it expires, and every problem is an
// [*Error] at a line of the text.
func FuzzParseIPList(f *testing.F) {
	for _, s := range []string{"", "192.0.2.1", "# only a comment", "192.0.2.0/24, 2001:db8::/32 # c\n10.0.0.1-9",
		"10.0.0.1 # expires 2026-01-31 n", "10.0.0.1 # expires soon", "\"10.0.0.1 #\" x", "a\\\"b", "1.2.3.4\r\n::1;;,,\t",
		"10.0.0.0-3.255 2001:db8::1:0-2:ffff", "#expires=2026-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, errs := ParseIPList(s)
		lines := strings.Split(s, "\n")
		for _, e := range l.Entries() {
			if e.Line < 1 || e.Line > len(lines) || !strings.Contains(lines[e.Line-1], e.Text) || e.Text == "" {
				t.Fatalf("%q: entry %q at line %d is not on that line", s, e.Text, e.Line)
			}
			if strings.ContainsAny(e.Text, ", ;\t\r\n") || e.Text[0] == '#' {
				t.Fatalf("%q: entry %q holds a separator or starts a comment", s, e.Text)
			}
			r, err := ParseRange(e.Text)
			if err != nil || r != e.Range {
				t.Fatalf("%q: entry %q is %v, on its own %v, %v", s, e.Text, e.Range, r, err)
			}
			at := e.Expires.Add(-time.Nanosecond)
			if e.Expires.IsZero() {
				at = now
			}
			if !l.Contains(e.From, at) {
				t.Fatalf("%q: entry %q does not hold its start %v at %v", s, e.Text, e.From, at)
			}
		}
		for _, err := range errs {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) || e.Line < 1 || e.Line > len(lines) {
				t.Fatalf("%q: error %#v", s, err)
			}
		}
	})
}
