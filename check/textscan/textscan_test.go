package textscan

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailwarden/mailwarden/scanner/message"
)

// TestHTMLText: the entities see HTML as scanner/htmltext renders it.
func TestHTMLText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<p>one</p><p>two</p>", "one\ntwo"},
		{"con<b>fi</b>den<span class=x>tial</span>", "confidential"},
		{"a<br>b", "a\nb"},
		{"x <script type=text/javascript>var s = '<p>';</script>y", "x y"},
		{"x<STYLE>p{}</style >y", "xy"},
		{"x <scripts>kept</scripts> y", "x kept y"},
		{"a <!-- <p>hidden</p> --> b", "a b"},
		{"&lt;tag&gt; &amp; &#x41;&#66;", "<tag> & AB"},
		{"unclosed <p class=", "unclosed"},
		{"unclosed <!-- comment", "unclosed"},
		{"<script>never closed", ""},
		{"<head><title>t</title></head><body><img alt=\"free gift\"> card</body>", "free gift card"},
	} {
		if got := HTMLText(tc.in); got != tc.want {
			t.Errorf("HTMLText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, n := range []string{"subject", "body", "html", "headers", "header:X-Foo", "attachment_names", "attachment_text"} {
		if err := Check(n); err != nil {
			t.Errorf("Check(%q): %v", n, err)
		}
	}
	for _, n := range []string{"", "Body", "header:", "header:a b", "header:a:b", "attachments"} {
		if err := Check(n); err == nil {
			t.Errorf("Check(%q) accepted", n)
		}
	}
}

func TestTexts(t *testing.T) {
	msg := "Subject: s\r\nX-A: a\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n" +
		"--c\r\nContent-Type: text/plain\r\n\r\nplain\r\n--c\r\nContent-Type: text/html\r\n\r\n<i>html</i>\r\n--c--\r\n" +
		"--b\r\nContent-Type: text/html; name=a.html\r\n\r\n<p>att</p>\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=b.bin\r\n\r\nbinary\r\n--b--\r\n"
	m := message.ParseBytes([]byte(msg), message.DefaultLimits())
	s, err := Parse([]string{"subject", "header:x-a", "body", "html", "attachment_names", "attachment_text"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, x := range s.Texts(m) {
		b.WriteString(x.Where + "=" + strings.TrimSpace(x.Text) + "\n")
	}
	want := "subject=s\nheader:X-A=a\nbody=plain\nhtml=html\nattachment:a.html=att\nattachment_name=a.html\nattachment_name=b.bin\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if got := (Set{}).Texts(m); got != nil {
		t.Errorf("no entities: %v", got)
	}
}

// FuzzHTMLText: no panic, valid UTF-8 in gives valid UTF-8 out.
func FuzzHTMLText(f *testing.F) {
	for _, s := range []string{"<p>a</p>", "<script>x</script>", "<!--", "&amp;&#1234567;", "<b>x<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := HTMLText(s)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("HTMLText(%q) = %q, not UTF-8", s, out)
		}
	})
}
