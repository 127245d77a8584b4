package lists

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestAddrListLookup(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const list = `bob@example.com          # the exact address
*@example.com                     # the domain
*@*.example.com                   # its subdomains
ann@*.example.com                 # ann at any subdomain
*@*.deep.example.com              # a closer parent
postmaster@*                      # anywhere
<>                                # bounces
tmp@example.org # expires 2026-01-01 until new year
*@example.org
*@*.example.net # expires 2026-01-01
`
	l, errs := ParseAddrList(list)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	tests := []struct {
		addr  string
		at    time.Time
		entry string // "" for no match
	}{
		{"bob@example.com", now, "bob@example.com"},
		{"BOB@Example.COM", now, "bob@example.com"},
		{"<bob@example.com.>", now, "bob@example.com"},
		{"carol@example.com", now, "*@example.com"},
		{"postmaster@example.com", now, "*@example.com"},
		{"bob@mail.example.com", now, "*@*.example.com"},
		{"ann@mail.example.com", now, "ann@*.example.com"},
		{"ann@example.com", now, "*@example.com"},
		{"ann@a.deep.example.com", now, "*@*.deep.example.com"},
		{"ann@deep.example.com", now, "ann@*.example.com"},
		{"bob@badexample.com", now, ""},
		{"bob@example.com.evil.test", now, ""},
		{"postmaster@elsewhere.test", now, "postmaster@*"},
		{"Postmaster@elsewhere.test", now, "postmaster@*"},
		{"postmaster", now, "postmaster@*"},
		{"", now, "<>"},
		{"<>", now, "<>"},
		{"someone@elsewhere.test", now, ""},
		// An expired entry stops matching; a less specific live one is
		// found instead.
		{"tmp@example.org", t1.Add(-time.Second), "tmp@example.org"},
		{"tmp@example.org", t1, "*@example.org"},
		{"tmp@example.org", now, "*@example.org"},
		{"a@b.example.net", t1.Add(-time.Second), "*@*.example.net"},
		{"a@b.example.net", t1, ""},
	}
	for _, tt := range tests {
		e, ok := l.Lookup(tt.addr, tt.at)
		if ok != (tt.entry != "") || e.Text != tt.entry {
			t.Errorf("Lookup(%q, %v) = %q, %v; want %q", tt.addr, tt.at, e.Text, ok, tt.entry)
		}
		if l.Contains(tt.addr, tt.at) != ok {
			t.Errorf("Contains(%q) disagrees with Lookup", tt.addr)
		}
	}
	if e, _ := l.Lookup("bob@example.com", now); e.Comment != "the exact address" || e.Line != 1 {
		t.Errorf("entry %+v, want its comment and line", e)
	}
	if (AddrList{}).Contains("", now) || (AddrList{}).Contains("a@b.example", now) {
		t.Error("the empty list matched")
	}
	// * matches everything, the null sender included; *@* every address.
	all, _ := ParseAddrList("*")
	anyAddr, _ := ParseAddrList("*@*")
	for _, a := range []string{"", "a@b.example", "x"} {
		if !all.Contains(a, now) {
			t.Errorf("* does not match %q", a)
		}
		if anyAddr.Contains(a, now) != (a != "") {
			t.Errorf("*@* matches %q: %v", a, anyAddr.Contains(a, now))
		}
	}
	// Bad entries are reported with their line; the rest is kept.
	l, errs = ParseAddrList("a@example.com\nbob@@example.com, *@x*y # c\n*@*.example.com")
	if l.Len() != 2 || len(errs) != 2 {
		t.Fatalf("%d entries, errors %v", l.Len(), errs)
	}
	var e *Error
	if !errors.As(errs[1], &e) || e.Line != 2 || e.Text != "*@x*y" || !errors.Is(errs[1], ErrInvalid) {
		t.Errorf("error %#v", errs[1])
	}
}

// TestNewAddrList: a list built from entries (as from the store) with
// duplicates keeps, per value, the one that stays live longest.
func TestNewAddrList(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var entries []AddrEntry
	for _, x := range []struct {
		v       string
		expires time.Time
	}{{"a@example.com", t1}, {"A@Example.com", t1.Add(time.Hour)}, {"*@*", t1}, {"*@*", t1.Add(2 * time.Hour)}, {"<>", t1}} {
		p, err := ParsePattern(x.v)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, AddrEntry{Pattern: p, Item: Item{Text: x.v, Expires: x.expires}})
	}
	entries = append(entries, AddrEntry{Item: Item{Text: "zero pattern"}})
	l := NewAddrList(entries)
	for _, tc := range []struct {
		addr  string
		at    time.Time
		entry string
	}{
		{"a@example.com", t1.Add(-time.Minute), "A@Example.com"},
		{"a@example.com", t1.Add(time.Minute), "A@Example.com"},
		{"a@example.com", t1.Add(90 * time.Minute), "*@*"},
		{"a@example.com", t1.Add(3 * time.Hour), ""},
		{"", t1.Add(-time.Minute), "<>"},
		{"", t1, ""},
	} {
		if e, ok := l.Lookup(tc.addr, tc.at); ok != (tc.entry != "") || e.Text != tc.entry {
			t.Errorf("Lookup(%q, %v) = %q, %v; want %q", tc.addr, tc.at, e.Text, ok, tc.entry)
		}
	}
	if l.Len() != 6 || entries[1].Text != "A@Example.com" {
		t.Errorf("Len %d; entries %v", l.Len(), entries)
	}
}

// addrRank orders patterns that match one address as [AddrList.Lookup]
// documents: lower is more specific.
func addrRank(p Pattern) int {
	sub, isSub := strings.CutPrefix(p.domain, ".")
	// Closer parents have longer suffixes; a domain is at most this long
	// in the tests.
	const far = 1000
	switch {
	case p.null:
		return 0
	case p.any:
		return 5 * far
	case p.local == "" && p.domain == "":
		return 4 * far
	case p.domain == "":
		return 3 * far
	case isSub && p.local != "":
		return 2*far - 2*len(sub)
	case isSub:
		return 2*far - 2*len(sub) + 1
	case p.local == "":
		return 1
	}
	return 0
}

// refAddrLookup is the reference of [AddrList.Lookup]: a scan of every
// entry for the most specific live match, then the one that stays live
// longest, then the first written.
func refAddrLookup(entries []AddrEntry, addr string, at time.Time) (AddrEntry, bool) {
	best := -1
	for i, e := range entries {
		if !e.Match(addr) || !e.Live(at) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := entries[best]
		ri, rb := addrRank(e.Pattern), addrRank(b.Pattern)
		if ri < rb || ri == rb && outlives(e.Expires, b.Expires) {
			best = i
		}
	}
	if best < 0 {
		return AddrEntry{}, false
	}
	return entries[best], true
}

var (
	fuzzLocals  = []string{"a", "B", "ann", `"q x"`, "*"}
	fuzzDomains = []string{"example.com", "Sub.example.com", "x.sub.example.com", "example.com.", "com", "other.test", "[192.0.2.1]", "*"}
)

// checkAddrList parses a list built from data and compares every lookup
// with the reference.
func checkAddrList(t *testing.T, data []byte) {
	t.Helper()
	c := &netListCase{data: data}
	pick := func(s []string) string { return s[int(c.next())%len(s)] }
	var b strings.Builder
	var entries []AddrEntry
	for n := int(c.next()%32) + 1; n > 0; n-- {
		x := expiries[int(c.next())%len(expiries)]
		var s string
		switch c.next() % 8 {
		case 0:
			s = "*"
		case 1:
			s = "<>"
		case 2:
			s = "bad@@x"
		case 3, 4:
			s = pick(fuzzLocals) + "@*." + strings.TrimSuffix(pick(fuzzDomains[:6]), ".")
		default:
			s = pick(fuzzLocals) + "@" + pick(fuzzDomains)
		}
		b.WriteString(s)
		if !x.IsZero() {
			b.WriteString(" # expires " + x.Format(time.RFC3339))
		}
		b.WriteByte('\n')
		if p, err := ParsePattern(s); err == nil {
			entries = append(entries, AddrEntry{Pattern: p, Item: Item{Text: s, Expires: x}})
		}
	}
	l, _ := ParseAddrList(b.String())
	if l.Len() != len(entries) {
		t.Fatalf("%q: %d entries, want %d", b.String(), l.Len(), len(entries))
	}
	for len(c.data) > 0 {
		var addr string
		switch c.next() % 6 {
		case 0:
			addr = ""
		case 1:
			addr = "<" + pick(fuzzLocals[:4]) + "@" + pick(fuzzDomains[:7]) + ">"
		case 2:
			addr = strings.ToUpper(pick(fuzzLocals[:4]) + "@" + pick(fuzzDomains[:7]))
		default:
			addr = pick(fuzzLocals[:4]) + "@" + pick(fuzzDomains[:7])
		}
		at := probeTimes[int(c.next())%len(probeTimes)]
		want, wok := refAddrLookup(entries, addr, at)
		e, ok := l.Lookup(addr, at)
		if ok != wok || e.Text != want.Text || !e.Expires.Equal(want.Expires) {
			t.Fatalf("%s\nLookup(%q, %v) = %q %v, %v; want %q %v, %v", b.String(), addr, at, e.Text, e.Expires, ok, want.Text, want.Expires, wok)
		}
	}
}

func TestAddrListRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		data := make([]byte, 16+r.IntN(300))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		checkAddrList(t, data)
	}
}

// FuzzAddrList compares [AddrList.Lookup] with the reference on lists,
// times and addresses built from the input.
func FuzzAddrList(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("exact, domain, subdomain, local, any, null"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAddrList(t, data)
	})
}

// FuzzParseAddrList checks the text parser on any input: it never panics,
// every entry parses on its own to the same pattern, an exact entry
// matches its own address while it is live, and every problem is an
// [*Error] at a line of the text.
func FuzzParseAddrList(f *testing.F) {
	for _, s := range []string{"", "a@example.com", "*@example.com, *@*.example.com # c\n<>", `"a b"@x.example`,
		"a@x # expires 2026-01-31", "a#b@x #c", "bob@@x", "*", "postmaster@*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, errs := ParseAddrList(s)
		lines := strings.Split(s, "\n")
		for _, e := range l.Entries() {
			if e.Line < 1 || e.Line > len(lines) || !strings.Contains(lines[e.Line-1], e.Text) {
				t.Fatalf("%q: entry %q at line %d is not on that line", s, e.Text, e.Line)
			}
			p, err := ParsePattern(e.Text)
			if err != nil || p != e.Pattern {
				t.Fatalf("%q: entry %q is %+v, on its own %+v, %v", s, e.Text, e.Pattern, p, err)
			}
			at := e.Expires.Add(-time.Nanosecond)
			if e.Expires.IsZero() {
				at = now
			}
			if !strings.Contains(e.Text, "*") && e.Text != "<>" && !l.Contains(e.Text, at) {
				t.Fatalf("%q: exact entry %q does not match itself at %v", s, e.Text, at)
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

// benchAddrList returns n entries: 60% exact addresses, 25% *@domain, 10%
// *@*.domain and 5% user@*, over 20,000 domains.
func benchAddrList(n int) []string {
	r := rand.New(rand.NewPCG(9, 9))
	out := make([]string, n)
	for i := range out {
		d := fmt.Sprintf("d%d.example%d.test", r.IntN(20000), r.IntN(10))
		switch k := r.IntN(100); {
		case k < 60:
			out[i] = fmt.Sprintf("user%d@%s", r.IntN(1_000_000), d)
		case k < 85:
			out[i] = "*@" + d
		case k < 95:
			out[i] = "*@*." + d
		default:
			out[i] = fmt.Sprintf("role%d@*", r.IntN(1_000_000))
		}
	}
	return out
}

// BenchmarkAddrList measures loading a 100,000-entry address list and
// looking addresses up in it: an exact hit, a hit on a subdomain entry
// (which walks the labels), and a miss.
func BenchmarkAddrList(b *testing.B) {
	const n = 100_000
	entries := benchAddrList(n)
	text := strings.Join(entries, "\n")
	b.Run("load-100000", func(b *testing.B) {
		for b.Loop() {
			if l, errs := ParseAddrList(text); len(errs) != 0 || l.Len() != n {
				b.Fatalf("%d entries, errors %v", l.Len(), errs)
			}
		}
	})
	l, _ := ParseAddrList(text)
	var exact, sub string
	for _, e := range entries {
		switch {
		case exact == "" && !strings.Contains(e, "*"):
			exact = strings.ToUpper(e)
		case sub == "" && strings.HasPrefix(e, "*@*."):
			sub = "someone@a.b." + e[4:]
		}
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, bc := range []struct{ name, addr string }{
		{"lookup-100000-exact", exact},
		{"lookup-100000-subdomain", sub},
		{"lookup-100000-miss", "nobody@mail.elsewhere.example.org"},
	} {
		if _, ok := l.Lookup(bc.addr, at); ok != (bc.name != "lookup-100000-miss") {
			b.Fatalf("%s: Lookup(%q) = %v", bc.name, bc.addr, ok)
		}
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				l.Lookup(bc.addr, at)
			}
		})
	}
}
