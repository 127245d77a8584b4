package htmltext

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name, in, want string
		hidden         bool
	}{
		{"plain", "hello world", "hello world", false},
		{"entities", "caf&eacute; &amp; cr&#xE8;me &lt;b&gt; &yen;100 &#x5186;", "café & crème <b> ¥100 円", false},
		{"inline tags keep a word", "fr<b>ee</b> mo<span style=\"color:red\">ne</span>y", "free money", false},
		{"blocks break lines", "<p>one</p><p>two</p><div>three</div>four<br>five<br><br><br>six",
			"one\ntwo\nthree\nfour\nfive\n\nsix", false},
		{"lists and tables", "<ul><li>a</li><li>b</li></ul><table><tr><td>c</td><td>d</td></tr><tr><th>e</th></tr></table>",
			"a\nb\nc d\ne", false},
		{"whitespace collapsed", "  a \r\n\t b&nbsp;&nbsp;c  ", "a b c", false},
		{"head, script, style, comments dropped",
			"<html><head><title>T</title><style>p{color:red}</style><meta name=x content=secret></head>" +
				"<body><script>var s='<p>no</p>';</script>yes<!-- hidden comment --><!--[if mso]>mso<![endif]-->!</body></html>",
			"yes!", false},
		{"unclosed head does not hide the body", "<head><title>t</title><p>shown text", "shown text", false},
		{"template dropped", "a<template>b</template>c", "ac", false},
		{"alt text in place", "see <img src=x.png alt=\"free gift\">now", "see free gift now", false},
		{"display none", "shown <div style=\"display: none\">secret words</div> more", "shown\nsecret words\nmore", true},
		{"font-size 0", "a <span style='FONT-SIZE:0px'>x</span> b", "a x b", true},
		{"same color", "a <font style=\"color:#fff;background-color:#fff\">x</font>", "a x", true},
		{"hidden attribute", "a <p hidden>x</p>", "a\nx", true},
		{"visibility hidden, important", "a <span style=\"visibility:hidden !important\">x</span>", "a x", true},
		{"hiding ends with its element", "<div style=display:none><b>x</b></div>y", "x\ny", true},
		{"not hidden", "<span style=\"color:#000;background:#fff;font-size:10px\">x</span>", "x", false},
		{"CJK", "<p>お世話に<b>なって</b>おります</p><p>請求書</p>", "お世話になっております\n請求書", false},
		{"broken HTML", "<p>a<b>b<i>c</p>d</b>e<", "abc\nde<", false},
		{"unclosed script swallows the rest", "a<script>b", "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Render(tt.in, Limits{})
			if r.Text != tt.want || r.Hidden != tt.hidden || r.Truncated {
				t.Errorf("Render(%q) = %q hidden %v truncated %v; want %q hidden %v", tt.in, r.Text, r.Hidden, r.Truncated, tt.want, tt.hidden)
			}
			if r.Hidden && r.HiddenBytes == 0 || !r.Hidden && r.HiddenBytes != 0 {
				t.Errorf("HiddenBytes %d, Hidden %v", r.HiddenBytes, r.Hidden)
			}
		})
	}
}

func TestRenderLimits(t *testing.T) {
	doc := strings.Repeat("<p>日本語 text</p>", 1000)
	r := Render(doc, Limits{MaxBytes: 100})
	if !r.Truncated || len(r.Text) > 100 || !utf8.ValidString(r.Text) || !strings.HasPrefix(r.Text, "日本語 text\n日本語") {
		t.Errorf("MaxBytes: %d bytes %q truncated %v", len(r.Text), r.Text, r.Truncated)
	}
	r = Render(doc, Limits{MaxTokens: 30})
	if !r.Truncated || strings.Count(r.Text, "text") != 10 {
		t.Errorf("MaxTokens: %q truncated %v", r.Text, r.Truncated)
	}
	r = Render("a<p x=\""+strings.Repeat("y", 2<<20)+"\">b", Limits{})
	if !r.Truncated || r.Text != "a" {
		t.Errorf("long token: %q truncated %v", r.Text, r.Truncated)
	}
	r = Render(doc, Limits{})
	if r.Truncated {
		t.Error("truncated under default limits")
	}
	// Nesting deeper than the stack still renders, and a hiding element
	// deeper than it hides nothing.
	deep := strings.Repeat("<div>", 300) + "<span style=display:none>x</span>" + strings.Repeat("</div>", 300) + "y"
	if r := Render(deep, Limits{}); r.Text != "x\ny" {
		t.Errorf("deep: %q", r.Text)
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{"<p>a</p>", "<div style=display:none>x</div>", "<head><p>x", "a<!--b-->c", "<img alt=\"x\">",
		"<table><td>a<td>b</table>", "&#0;&#xD800;&amp", "<script>", "<b>fr</b>ee"} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 4096
		if max < 0 {
			max = -max
		}
		max++
		r := Render(s, Limits{MaxBytes: max, MaxTokens: 10000})
		if len(r.Text) > max {
			t.Fatalf("%d bytes over MaxBytes %d", len(r.Text), max)
		}
		if utf8.ValidString(s) && !utf8.ValidString(r.Text) {
			t.Fatalf("invalid UTF-8 from valid input: %q", r.Text)
		}
		if r.HiddenBytes > len(r.Text) {
			t.Fatalf("HiddenBytes %d > %d", r.HiddenBytes, len(r.Text))
		}
		if len(r.Tags) > MaxTags {
			t.Fatalf("%d tags", len(r.Tags))
		}
		seen := map[string]bool{}
		for _, tag := range r.Tags {
			if !plainTag(tag) || seen[tag] {
				t.Fatalf("invalid or repeated tag %q in %q", tag, r.Tags)
			}
			seen[tag] = true
		}
	})
}

func TestRenderTags(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"once each, in order, lower case", `<HTML><body bgcolor=red><Font size=5>BUY</font><font>x</font><br/><IMG src=a.gif></body>`, []string{"html", "body", "font", "br", "img"}},
		{"inside dropped elements too", `<style>p{}</style><script>x</script><p>`, []string{"style", "script", "p"}},
		{"end tags and comments are not tags", `</table><!-- <b> -->text`, nil},
		{"a stray < is text", `price < 5 and <3 and <$a>`, nil},
		{"namespaced names are left out", `<o:p><xyz123>`, []string{"xyz123"}},
		{"plain text has none", "hello\nworld", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Render(tc.src, Limits{}).Tags; !slices.Equal(got, tc.want) {
				t.Errorf("Tags of %q = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
	var b strings.Builder
	for i := range 500 {
		b.WriteString("<t" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ">")
	}
	if got := Render(b.String(), Limits{}).Tags; len(got) != MaxTags {
		t.Errorf("%d tags kept, want %d", len(got), MaxTags)
	}
}
