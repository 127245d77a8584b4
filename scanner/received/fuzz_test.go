package received

import (
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

// seeds are the golden samples and a few hostile shapes.
func seeds(f *testing.F) []string {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no samples in %s: %v", goldenDir, err)
	}
	var out []string
	for _, file := range files {
		for _, s := range readSamples(f, file) {
			out = append(out, s.Value)
		}
	}
	return append(out,
		"", ";", "(", ")", `"`, `\`, "from", "from (", "from x (\\", "from x (y [1.2.3.4]\\)",
		"from x ([::ffff:1.2.3.4%eth0]:65535 helo=[1.2.3.4]) by y",
		"from x (u@[IPv6:::1]) by y; 1 Jan 2000 00:00:00 +0000 id z",
		strings.Repeat("(", MaxDepth)+strings.Repeat(")", MaxDepth),
	)
}

func FuzzParse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		p, err := Parse(v)
		if err != nil && p.IP.IsValid() {
			t.Fatalf("error %v with IP %s", err, p.IP)
		}
		if len(v) > MaxFieldLen && !errors.Is(err, ErrLimit) {
			t.Fatalf("%d-byte field: error %v, want ErrLimit", len(v), err)
		}
		if p.IP.IsValid() && (p.IP.Zone() != "" || p.IP.Is4In6()) {
			t.Fatalf("IP %s not normalised", p.IP)
		}
		// Every name is a piece of the field, give or take white space.
		flat := collapse(v)
		for _, s := range []string{p.From, p.HELO, p.ReverseName, p.By, p.Via, p.With, p.ID, p.For} {
			if !strings.Contains(flat, s) {
				t.Fatalf("%q is not in the field %q", s, v)
			}
		}
		// The fast date path agrees with net/mail wherever net/mail reads
		// the date.
		if toks, lerr := lex(v, nil); err == nil && lerr == nil {
			for k, tk := range toks {
				if tk.kind != tSemi || k+1 == len(toks) {
					continue
				}
				if d, derr := mail.ParseDate(collapse(v[toks[k+1].start:])); derr == nil && !d.Equal(p.Date) {
					t.Fatalf("date %v, net/mail reads %v", p.Date, d)
				}
				break
			}
		}
		// The IP is written in the field (in some form) and inside a comment.
		if p.IP.IsValid() && !strings.Contains(v, "(") {
			t.Fatalf("IP %s from a field without comments", p.IP)
		}
	})
}

// FuzzFirstUntrusted checks the walk's invariants on arbitrary chains:
// the answer is the client or an address a field at or above it recorded,
// every field above the answer was written by a known host and names one,
// and nothing below the last field read changes the answer.
func FuzzFirstUntrusted(f *testing.F) {
	us := pf("filter1", "filter1", "192.0.2.10", "mx")
	snd := pf("snd", "snd", "203.0.113.5", "filter1")
	fk := pf("f2", "f2", "192.0.2.20", "snd")
	// Fields are separated by a blank line, as folded fields hold CRLF.
	const sep = "\n\n"
	f6 := pf("f6", "f6", "2001:db8:ffff::9", "snd")
	f.Add(strings.Join([]string{us, snd, fk}, sep), uint8(0), "")
	f.Add(strings.Join([]string{us, snd, f6, fk}, sep), uint8(0), f6)
	f.Add(strings.Join([]string{snd, f6}, sep), uint8(1), fk)
	f.Add(strings.Join([]string{us, fk, snd}, sep), uint8(1), fk)
	f.Add(strings.Join([]string{us, pf("lo", "lo", "127.0.0.1", "filter1"), snd}, sep), uint8(0), snd)
	f.Add(strings.Join(seeds(f), sep), uint8(2), us)
	f.Add(strings.Repeat(us+sep, MaxHops+2), uint8(0), "junk")
	clients := []netip.Addr{
		netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8:1::25"),
		netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("::ffff:192.0.2.10"), {},
	}
	f.Fuzz(func(t *testing.T, chain string, c uint8, tail string) {
		fields := strings.Split(chain, sep)
		client := clients[int(c)%len(clients)]
		h := FirstUntrusted(fields, client, known)
		if h.Reason == "" {
			t.Fatal("no reason")
		}
		if h.Index < -1 || h.Index >= len(fields) || h.Index >= MaxHops {
			t.Fatalf("index %d of %d fields", h.Index, len(fields))
		}
		if h.Err != nil && h.IP.IsValid() {
			t.Fatalf("error %v with IP %s", h.Err, h.IP)
		}
		cl := client.Unmap()
		if h.Err == nil {
			if !h.IP.IsValid() || known(h.IP) {
				t.Fatalf("answer %v is no address or a known host", h.IP)
			}
			if h.Index == -1 && h.IP != cl {
				t.Fatalf("index -1 but IP %s is not the client %s", h.IP, cl)
			}
		}
		if h.Index >= 0 || (h.Err == nil && h.IP != cl) {
			if !known(cl) {
				t.Fatalf("fields read although the client %s is not known", cl)
			}
		}
		// Every field above the one that gave the answer was readable and
		// recorded a known host.
		for j := 0; j < h.Index; j++ {
			p, err := Parse(fields[j])
			if err != nil || !p.IP.IsValid() || !known(p.IP) {
				t.Fatalf("walked past field %d: %+v, %v", j, p, err)
			}
		}
		if h.Err == nil && h.Index >= 0 {
			if p, err := Parse(fields[h.Index]); err != nil || p.IP != h.IP {
				t.Fatalf("answer %s not what field %d records: %+v, %v", h.IP, h.Index, p, err)
			}
		}
		// Whatever stands below the last field read (which the sender
		// controls) changes nothing, as long as something stands there.
		if n := h.Index + 1; n < len(fields) {
			other := append(append([]string{}, fields[:n]...), strings.Split(tail+sep+us, sep)...)
			h2 := FirstUntrusted(other, client, known)
			if h2.IP != h.IP || h2.Index != h.Index || h2.HELO != h.HELO || h2.ReverseName != h.ReverseName ||
				h2.Reason != h.Reason || fmt.Sprint(h2.Err) != fmt.Sprint(h.Err) {
				t.Fatalf("fields below %d changed the answer:\n%+v\n%+v", h.Index, h, h2)
			}
		}
	})
}
