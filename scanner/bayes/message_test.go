package bayes

import (
	"slices"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/scanner/message"
)

func TestFromMessage(t *testing.T) {
	raw := "Received: from relay.example.net (relay.example.net [192.0.2.1]) by mx.example.org\r\n" +
		"From: Shop <deals@shop.example>\r\nSubject: =?utf-8?q?Gro=C3=9Fe?= offer\r\nX-Mailer: BulkMail 5.1\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n" +
		"--b\r\nContent-Type: text/html\r\n\r\n<html><style>.x{color:red}</style><p>html&amp;words <a href=\"https://www.Shop.example/sale/now?id=1\">go</a></p><!-- hidden --></html>\r\n" +
		"--b\r\nContent-Type: text/plain; name=a.txt\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nattached words\r\n--b--\r\n"
	d := FromMessage(message.ParseBytes([]byte(raw), message.DefaultLimits()))
	if d.Subject != "Große offer" || d.From != "Shop <deals@shop.example>" {
		t.Errorf("subject %q, from %q", d.Subject, d.From)
	}
	var names []string
	for _, h := range d.Headers {
		names = append(names, strings.ToLower(h[0]))
	}
	if want := []string{"received", "x-mailer", "mime-version", "content-type"}; !slices.Equal(names, want) {
		t.Errorf("headers %v, want %v", names, want)
	}
	for _, w := range []string{"plain words", "html&words", "go"} {
		if !strings.Contains(d.Text, w) {
			t.Errorf("text %q lacks %q", d.Text, w)
		}
	}
	for _, w := range []string{"attached", "color", "hidden", "<p>"} {
		if strings.Contains(d.Text, w) {
			t.Errorf("text %q has %q", d.Text, w)
		}
	}
	if len(d.URLs) != 1 || d.URLs[0] != (URL{Host: "www.shop.example", Path: "/sale/now"}) {
		t.Errorf("urls %+v", d.URLs)
	}
	toks := Tokenize(d, DefaultLimits())
	if want := []string{"html", "style", "p", "a"}; !slices.Equal(d.Markup, want) {
		t.Errorf("markup %v, want %v", d.Markup, want)
	}
	for _, want := range []string{"h:rcvd:relay.example.net", "h:x-mailer:bulkmail", "u:shop.example", "u:/sale", "f:@shop.example", "s:offer", "m:style"} {
		if !slices.Contains(toks, want) {
			t.Errorf("tokens lack %q", want)
		}
	}
	if FromMessage(nil).Text != "" {
		t.Error("nil message")
	}
}

func TestDigest(t *testing.T) {
	a := message.ParseBytes([]byte("Message-ID: <1@x>\r\nSubject: hi\r\n\r\nbody\r\n"), message.DefaultLimits())
	b := message.ParseBytes([]byte("Received: by relay\r\nMessage-ID: <1@x>\r\nSubject: [SPAM] hi\r\n\r\nbody\r\n"), message.DefaultLimits())
	c := message.ParseBytes([]byte("Message-ID: <1@x>\r\nSubject: hi\r\n\r\nother body\r\n"), message.DefaultLimits())
	if Digest(a) != Digest(b) {
		t.Error("a later hop's header changed the digest")
	}
	if Digest(a) == Digest(c) {
		t.Error("another body, same digest")
	}
	if Hash("a") == Hash("b") || Hash("a") != 0xaf63dc4c8601ec8c {
		t.Errorf("Hash(a) = %#x", Hash("a"))
	}
}
