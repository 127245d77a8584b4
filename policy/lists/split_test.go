package lists

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSplit: the separators, comments, quotes and expiries of the text
// form, shown as text|comment|expiry@source:line per entry.
func TestSplit(t *testing.T) {
	tests := []struct {
		name  string
		in    []string
		want  []string
		probs []string // source:line text
	}{
		{"nothing", []string{"", " \t", "\n\n", "# only a comment", ",;,"}, nil, nil},
		{"separators", []string{"a,b;c d\te\r\nf,,g"}, []string{"a||@0:1", "b||@0:1", "c||@0:1", "d||@0:1", "e||@0:1", "f||@0:2", "g||@0:2"}, nil},
		{"sources", []string{"a", "b\nc"}, []string{"a||@0:1", "b||@1:1", "c||@1:2"}, nil},
		{"comment for the line", []string{"a b # two of them\nc"}, []string{"a|two of them|@0:1", "b|two of them|@0:1", "c||@0:2"}, nil},
		{"comment after a separator", []string{"a,#c"}, []string{"a|c|@0:1"}, nil},
		{"# inside a field", []string{"a#b@example.com # c"}, []string{"a#b@example.com|c|@0:1"}, nil},
		{"comment line", []string{"# x\na"}, []string{"a||@0:2"}, nil},
		{"empty comment", []string{"a #"}, []string{"a||@0:1"}, nil},
		{"quotes keep separators", []string{`"john smith, jr"@example.com b`}, []string{`"john smith, jr"@example.com||@0:1`, "b||@0:1"}, nil},
		{"quoted #", []string{`"#x"@example.com`}, []string{`"#x"@example.com||@0:1`}, nil},
		{"escaped quote", []string{`"a\" b"@x c`}, []string{`"a\" b"@x||@0:1`, "c||@0:1"}, nil},
		{"unterminated quote runs to the line's end", []string{"\"a b\nc"}, []string{"\"a b||@0:1", "c||@0:2"}, nil},
		{"expires date", []string{"a # expires 2026-01-31 host"}, []string{"a|host|2026-01-31T00:00:00Z@0:1"}, nil},
		{"expires RFC 3339", []string{"a # Expires 2026-01-31T12:00:00+09:00"}, []string{"a||2026-01-31T03:00:00Z@0:1"}, nil},
		{"expires colon", []string{"a # expires: 2026-01-31T12:00, host"}, []string{"a|host|2026-01-31T12:00:00Z@0:1"}, nil},
		{"expires equals", []string{"a #expires=2026-01-31T12:00:05\tnote"}, []string{"a|note|2026-01-31T12:00:05Z@0:1"}, nil},
		{"expires without a date", []string{"a # expires"}, nil, []string{"0:1 # expires"}},
		{"expires bad date", []string{"a b # expires tomorrow\nc"}, []string{"c||@0:2"}, []string{"0:1 # expires tomorrow"}},
		{"a word starting with expires", []string{"a # expiresoon"}, []string{"a|expiresoon|@0:1"}, nil},
		{"expires later in the note", []string{"a # it expires 2026-01-31"}, []string{"a|it expires 2026-01-31|@0:1"}, nil},
		{"expires on a comment line", []string{"# expires never"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, errs := split(tt.in)
			var got []string
			for _, it := range items {
				x := ""
				if !it.Expires.IsZero() {
					x = it.Expires.UTC().Format(time.RFC3339)
				}
				got = append(got, fmt.Sprintf("%s|%s|%s@%d:%d", it.Text, it.Comment, x, it.Source, it.Line))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("split(%q) =\n%q\nwant\n%q", tt.in, got, tt.want)
			}
			var probs []string
			for _, err := range errs {
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v is not an *Error matching ErrInvalid", err)
				}
				probs = append(probs, fmt.Sprintf("%d:%d %s", e.Source, e.Line, e.Text))
			}
			if !slices.Equal(probs, tt.probs) {
				t.Errorf("split(%q) problems %q, want %q", tt.in, probs, tt.probs)
			}
		})
	}
}

func TestParseExpiry(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2026-01-31", "2026-01-31T00:00:00Z"},
		{"2026-01-31T23:59", "2026-01-31T23:59:00Z"},
		{"2026-01-31T23:59:59", "2026-01-31T23:59:59Z"},
		{"2026-01-31T23:59:59Z", "2026-01-31T23:59:59Z"},
		{"2026-01-31T23:59:59.5-05:00", "2026-02-01T04:59:59.5Z"},
		{"2026-02-30", ""},
		{"31.01.2026", ""},
		{"", ""},
		{"24h", ""},
	} {
		got, err := ParseExpiry(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseExpiry(%q) = %v, want an error", tc.in, got)
		case tc.want == "":
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)) {
				t.Errorf("ParseExpiry(%q) error %v", tc.in, err)
			}
		case err != nil || got.UTC().Format(time.RFC3339Nano) != tc.want:
			t.Errorf("ParseExpiry(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// FuzzSplit checks the tokenizer on any input: it never panics, every
// entry is a non-empty piece of its line with no separator outside quotes
// and no leading #, and a comment never spans lines.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"", "a,b;c d", "a # c", `"x y"@z #c`, "a # expires 2026-01-31 n", "a#b", "\"\\", "#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		items, errs := split([]string{s})
		lines := strings.Split(s, "\n")
		for _, it := range items {
			if it.Text == "" || it.Text[0] == '#' || it.Line < 1 || it.Line > len(lines) || !strings.Contains(lines[it.Line-1], it.Text) {
				t.Fatalf("%q: entry %q at line %d", s, it.Text, it.Line)
			}
			if !strings.Contains(it.Text, `"`) && strings.ContainsAny(it.Text, ",; \t\r\n") {
				t.Fatalf("%q: entry %q holds a separator", s, it.Text)
			}
			if strings.Contains(it.Comment, "\n") {
				t.Fatalf("%q: comment %q spans lines", s, it.Comment)
			}
		}
		for _, err := range errs {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: error %v", s, err)
			}
		}
	})
}
