package received

import (
	"errors"
	"net/mail"
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
