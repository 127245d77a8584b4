package bayes

import (
	"slices"
	"strings"
	"testing"
)

func TestMarkup(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		in, want  []string
	}{
		{"tags once each, in order", `<HTML><body bgcolor=red><Font size=5>BUY</font><font>x</font><br/><IMG src=a.gif></body>`, nil, []string{"html", "body", "font", "br", "img"}},
		{"end tags and comments are not tags", `</table><!-- <b> -->text`, nil, nil},
		{"a stray < is text", `price < 5 and <3 and <$a>`, nil, nil},
		{"added to the tags of an earlier part", `<p><table>`, []string{"p"}, []string{"p", "table"}},
		{"a made-up tag counts as itself", `<o:p><xyz123>`, nil, []string{"xyz123"}},
		{"plain text has none", "hello\nworld", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Markup(tc.src, slices.Clone(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("Markup(%q) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
}

func TestMarkupBounds(t *testing.T) {
	var b strings.Builder
	for i := range 500 {
		b.WriteString("<t" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ">")
	}
	if got := Markup(b.String(), nil); len(got) != maxMarkupTags {
		t.Errorf("%d tags kept, want %d", len(got), maxMarkupTags)
	}
	late := strings.Repeat("<p>", maxMarkupBytes/3+1) + "<late>"
	if got := Markup(late, nil); slices.Contains(got, "late") {
		t.Errorf("a tag past %d bytes was read: %q", maxMarkupBytes, got)
	}
}

func FuzzMarkup(f *testing.F) {
	for _, s := range []string{"<p><b>x</b>", "<<>>", "<a href='x", "<\xff>", "<!doctype html><svg><foo:bar/>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		got := Markup(src, nil)
		if len(got) > maxMarkupTags {
			t.Fatalf("%d tags", len(got))
		}
		seen := map[string]bool{}
		for _, tag := range got {
			if !validTag([]byte(tag)) || seen[tag] {
				t.Fatalf("invalid or repeated tag %q", tag)
			}
			seen[tag] = true
		}
	})
}
