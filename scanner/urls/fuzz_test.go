package urls

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzExtract feeds text and HTML to a collector: it must not panic, must
// keep its bounds, and every URL it keeps must have a host and normalise
// to itself.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"詳細はhttps://example.com/a。", "「https://例え.jp/パス」", "http://0x7f.1/ www.example.com/x",
		`<a href="https://evil.example/">https://www.paypal.com/</a>`,
		"https://www.google.com/url?q=https%3A%2F%2Fx.example%2F", "http://[::1]:80/", "http://%zz/",
		"https://a.example/、https://b.example/です", "<a href=//x.example/><img alt=y.example></a>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lim := Limits{MaxURLs: 20, MaxLinks: 5, MaxLen: 200, MaxBytes: 1 << 16}
		c := New(lim)
		c.Text(s, "body")
		c.HTML(s, "html")
		if len(c.URLs()) > lim.MaxURLs || len(c.Links()) > lim.MaxLinks {
			t.Fatalf("%d URLs, %d links: over the bounds", len(c.URLs()), len(c.Links()))
		}
		for _, u := range c.URLs() {
			if u.Host == "" || len(u.Raw) > lim.MaxLen || !utf8.ValidString(u.Raw) {
				t.Fatalf("bad URL %+v", u)
			}
			if strings.ContainsFunc(u.Raw, stopRune) && u.Where == "body" && len(u.Via) == 0 {
				t.Fatalf("text URL %q runs into a stop character", u.Raw)
			}
			again, ok := Parse(u.String(), lim.MaxLen+len(u.String()))
			if !ok || again.Host != u.Host {
				t.Fatalf("%q normalises to %q, which parses to %+v (%v)", u.Raw, u.String(), again, ok)
			}
		}
	})
}
