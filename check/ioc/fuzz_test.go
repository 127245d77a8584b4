package ioc

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse: any file parses without a panic; every line reported is a
// line of the file, in order, with an entry whose key normalises to
// itself, or an error wrapping ErrUnrecognised.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"\xef\xbb\xbf# c2\r\nevil.example\r\n192.0.2.0/24 # net\nhxxps://evil[.]example/a\nx@evil.example\n" + strings.Repeat("ab", 32) + "\n",
		"type,value\ndomain,evil.example\nurl,\"http://a.example/x,y\"\nmd5,00\n",
		"id,indicator,type\n1,evil.example,domain\n2,,\n",
		"2025-01-01,evil.example,c2\n\"unterminated,\n",
		"bücher.example\n::ffff:192.0.2.1\n[2001:db8::1]\nmailto:A@B.example\n",
	} {
		f.Add([]byte(s), "list.txt", uint8(0))
		f.Add([]byte(s), "feed.csv", uint8(2))
	}
	formats := []Format{FormatAuto, FormatLines, FormatCSV}
	f.Fuzz(func(t *testing.T, src []byte, name string, fi uint8) {
		lines := strings.Count(string(src), "\n") + 1
		last := 0
		err := Parse(strings.NewReader(string(src)), name, formats[int(fi)%len(formats)], func(p Parsed) bool {
			if p.Line <= last || p.Line > lines {
				t.Fatalf("line %d after %d, in a file of %d lines", p.Line, last, lines)
			}
			last = p.Line
			if p.Err != nil {
				if !errors.Is(p.Err, ErrUnrecognised) || p.Entry.Kind != KindNone {
					t.Fatalf("line %d: error %v with entry %+v", p.Line, p.Err, p.Entry)
				}
				return true
			}
			e := p.Entry
			if e.Kind == KindNone || e.Key == "" || !utf8.ValidString(e.Key) {
				t.Fatalf("line %d: entry %+v", p.Line, e)
			}
			// Keys are normal forms: normalising one again gives it back.
			var again Entry
			var err error
			switch e.Kind {
			case KindURL:
				again, err = Normalise("http://"+e.Key, KindURL)
			default:
				again, err = Normalise(e.Key, e.Kind)
			}
			if err != nil || again.Key != e.Key {
				t.Fatalf("line %d: key %q (%v) normalises to %q, %v", p.Line, e.Key, e.Kind, again.Key, err)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
