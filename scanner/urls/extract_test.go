package urls

import (
	"slices"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/scanner/message"
)

func texts(c *Collector) []string {
	var out []string
	for _, u := range c.URLs() {
		out = append(out, u.String())
	}
	return out
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"cjk full stop", "詳細はhttps://example.com/a。", []string{"https://example.com/a"}},
		{"corner brackets", "「https://example.com/b」です", []string{"https://example.com/b"}},
		{"full-width parens", "（https://example.com/c）", []string{"https://example.com/c"}},
		{"ideographic comma", "https://example.com/d、次はhttps://example.org/e", []string{"https://example.com/d", "https://example.org/e"}},
		{"kana after path", "https://example.com/aです", []string{"https://example.com/a"}},
		{"kana after host", "https://example.comです", []string{"https://example.com"}},
		{"full-width letters", "http://example.com/ａｂｃ", []string{"http://example.com/"}},
		{"idn host", "https://例え.jp/x", []string{"https://xn--r8jz45g.jp/x"}},
		{"ascii sentence", "See http://example.com/x. Or (http://example.net/y).", []string{"http://example.com/x", "http://example.net/y"}},
		{"www without scheme", "go to www.Example.COM/path now", []string{"http://www.example.com/path"}},
		{"bare domain ignored", "readme.md and example.org", nil},
		{"www glued to a word", "xwww.example.com/a foo.www.example.net/b", nil},
		{"other schemes ignored", "mailto:a@example.com hxxp://evil[.]com", nil},
		{"upper case host", "HTTPS://WWW.EXAMPLE.COM/A", []string{"https://www.example.com/A"}},
		{"percent host", "http://%65xample.com/", []string{"http://example.com/"}},
		{"userinfo and port", "http://paypal.com@evil.example:8080/login", []string{"http://evil.example/login"}},
		{"duplicates once", "http://a.example/ http://a.example/", []string{"http://a.example/"}},
		{"ipv6", "http://[2001:DB8::1]/x", []string{"http://[2001:db8::1]/x"}},
		{"decimal ip", "http://3221225985/", []string{"http://192.0.2.1/"}},
		{"an ip written two ways kept twice", "http://127.0.0.1/a http://0x7f.1/a http://127.0.0.1/a", []string{"http://127.0.0.1/a", "http://127.0.0.1/a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Limits{})
			c.Text(tc.in, "body")
			if got := texts(c); !slices.Equal(got, tc.want) {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, host, domain, ip, form string
	}{
		{"https://mail.example.co.uk/x", "mail.example.co.uk", "example.co.uk", "", ""},
		{"https://ＥＸＡＭＰＬＥ.com/", "example.com", "example.com", "", ""},
		{"https://bücher.example/", "xn--bcher-kva.example", "xn--bcher-kva.example", "", ""},
		{"http://192.0.2.1/", "192.0.2.1", "", "192.0.2.1", ""},
		{"http://0xc0000201/", "192.0.2.1", "", "192.0.2.1", "hex"},
		{"http://0300.0.02.01/", "192.0.2.1", "", "192.0.2.1", "octal"},
		{"http://192.513/", "192.0.2.1", "", "192.0.2.1", "short"},
		{"http://[::ffff:192.0.2.1]/", "192.0.2.1", "", "192.0.2.1", ""},
		{"http://example.com.:80/", "example.com", "example.com", "", ""},
		{"http://localhost/", "localhost", "", "", ""},
		{"http://999.1.1.1/", "999.1.1.1", "", "", ""},
	} {
		u, ok := Parse(tc.in, 0)
		if !ok {
			t.Errorf("Parse(%q) failed", tc.in)
			continue
		}
		ip := ""
		if u.IP.IsValid() {
			ip = u.IP.String()
		}
		if u.Host != tc.host || u.Domain != tc.domain || ip != tc.ip || u.IPForm != tc.form {
			t.Errorf("Parse(%q) = host %q domain %q ip %q form %q, want %q %q %q %q", tc.in, u.Host, u.Domain, ip, u.IPForm,
				tc.host, tc.domain, tc.ip, tc.form)
		}
	}
	for _, bad := range []string{"", "example.com", "http://", "http://[zz]/", "http://a b/"} {
		if u, ok := Parse(bad, 0); ok {
			t.Errorf("Parse(%q) = %+v, want failure", bad, u)
		}
	}
}

func TestRedirectors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"https://www.google.com/url?q=https%3A%2F%2Fevil.example%2Fx&sa=D", []string{"https://www.google.com/url?q=https%3A%2F%2Fevil.example%2Fx&sa=D", "https://evil.example/x"}},
		{"https://www.google.co.jp/url?sa=t&url=http://evil.example/", []string{"https://www.google.co.jp/url?sa=t&url=http://evil.example/", "http://evil.example/"}},
		{"https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fevil.example%2F&data=x", []string{"https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fevil.example%2F&data=x", "https://evil.example/"}},
		{"https://l.facebook.com/l.php?u=http%3A%2F%2Fevil.example%2F", []string{"https://l.facebook.com/l.php?u=http%3A%2F%2Fevil.example%2F", "http://evil.example/"}},
		// Not a redirector: a look-alike host, and a non-web target.
		{"https://google.evil.example/url?q=http://x.example/", []string{"https://google.evil.example/url?q=http://x.example/"}},
		{"https://www.google.com/url?q=javascript:alert(1)", []string{"https://www.google.com/url?q=javascript:alert(1)"}},
	} {
		c := New(Limits{})
		c.Text(tc.in, "body")
		if got := texts(c); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.in, got, tc.want)
		}
	}
	// A redirector nested in itself is followed MaxRedirects deep, then
	// the bound is noted.
	u := "http://evil.example/"
	for range 5 {
		u = "https://www.google.com/url?q=" + strings.NewReplacer(":", "%3A", "/", "%2F", "?", "%3F", "=", "%3D", "&", "%26", "%", "%25").Replace(u)
	}
	c := New(Limits{MaxRedirects: 3})
	c.Text(u, "body")
	if len(c.URLs()) != 4 || !slices.Contains(c.Exclusions(), "urls.max_redirects=3") {
		t.Errorf("nested redirects: %d URLs, exclusions %q; want 4 and urls.max_redirects=3", len(c.URLs()), c.Exclusions())
	}
	if got := c.URLs()[3].Via; len(got) != 3 {
		t.Errorf("via %q, want three hops", got)
	}
}

func TestHTML(t *testing.T) {
	doc := `<html><body><p>Dear customer, <a href="https://evil.example/login">https://www.paypal.com/</a>
<a href="https://www.example.com/a">example.com</a>
<a HREF="http://track.example.net/c?id=1"><img src="https://cdn.example.org/logo.png" alt="www.bank.example"></a>
<a href="mailto:x@example.com">mail</a> <a href="/relative">rel</a>
<script>var u = "https://script.example/";</script>
text URL https://text.example/t &amp; <form action="https://form.example/post"></form>
split https://spl<b>it.exa</b>mple/x</p></body></html>`
	c := New(Limits{})
	c.HTML(doc, "html")
	// Attributes first, then the text as rendered: the alt text of an
	// image is text a reader sees, and a URL split by inline tags is one.
	want := []string{"https://evil.example/login", "https://www.example.com/a",
		"http://track.example.net/c?id=1", "https://cdn.example.org/logo.png", "https://form.example/post",
		"https://www.paypal.com/", "http://www.bank.example", "https://text.example/t", "https://split.example/x"}
	if got := texts(c); !slices.Equal(got, want) {
		t.Errorf("URLs %q\nwant %q", got, want)
	}
	var links []string
	for _, l := range c.Links() {
		links = append(links, l.Href.Host+" "+l.Text)
	}
	wantLinks := []string{"evil.example https://www.paypal.com/", "www.example.com example.com",
		"track.example.net www.bank.example"}
	if !slices.Equal(links, wantLinks) {
		t.Errorf("links %q\nwant %q", links, wantLinks)
	}
}

func TestLimits(t *testing.T) {
	var b strings.Builder
	for i := range 50 {
		b.WriteString("http://h" + itoa(i) + ".example/ ")
	}
	c := New(Limits{MaxURLs: 10})
	c.Text(b.String(), "body")
	if len(c.URLs()) != 10 || !slices.Equal(c.Exclusions(), []string{"urls.max_urls=10"}) {
		t.Errorf("%d URLs, exclusions %q; want 10 and urls.max_urls=10", len(c.URLs()), c.Exclusions())
	}
	c = New(Limits{MaxBytes: 100})
	c.Text(b.String(), "body")
	if len(c.URLs()) == 0 || len(c.URLs()) > 6 || !slices.Equal(c.Exclusions(), []string{"urls.max_bytes=100"}) {
		t.Errorf("%d URLs, exclusions %q; want a few and urls.max_bytes=100", len(c.URLs()), c.Exclusions())
	}
	long := "http://long.example/" + strings.Repeat("a", 10000)
	c = New(Limits{MaxLen: 100})
	c.Text(long, "body")
	if len(c.URLs()) != 1 || len(c.URLs()[0].Raw) != 100 {
		t.Errorf("a long URL: %d URLs", len(c.URLs()))
	}
}

func TestFromMessage(t *testing.T) {
	msg := "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n" +
		"\x1b$B>\\:Y$O\x1b(Bhttps://plain.example/a\x1b$B!#\x1b(B\r\n" +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<a href=\"https://html.example/\">x</a>\r\n" +
		"--b\r\nContent-Type: text/plain; name=n.txt\r\nContent-Disposition: attachment; filename=n.txt\r\n\r\nhttp://att.example/\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\n\r\nhttp://binary.example/\r\n--b--\r\n"
	c := FromMessage(message.ParseBytes([]byte(msg), message.DefaultLimits()), Limits{})
	var got []string
	for _, u := range c.URLs() {
		got = append(got, u.Where+" "+u.String())
	}
	want := []string{"body https://plain.example/a", "html https://html.example/", "attachment:n.txt http://att.example/"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
