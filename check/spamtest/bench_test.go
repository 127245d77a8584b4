package spamtest

import (
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/scanner/message"
)

// bigMessage is a 300 KB multipart message: plain and HTML alternatives
// with hidden text, and with links on every line unless few is set.
func bigMessage(few bool) []byte {
	var b strings.Builder
	b.WriteString("Received: from a.example.net (a.example.net [192.0.2.1]) by mx.example.com with ESMTP id X; Tue, 1 Dec 2026 09:00:01 +0000\r\n")
	b.WriteString("From: a@example.net\r\nTo: b@example.com\r\nSubject: Quarterly report\r\nDate: Tue, 1 Dec 2026 09:00:00 +0000\r\nMessage-ID: <x@example.net>\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	line := "The quick brown fox jumps over the lazy dog, see http://www.example.org/page?id=1 and v.i.a.g.r.a\r\n"
	link := "http://news.example.com/x"
	if few {
		line = strings.ReplaceAll(line, "http://www.", "")
		link = "/x"
	}
	for b.Len() < 150_000 {
		b.WriteString(line)
	}
	b.WriteString("--BB\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	for b.Len() < 300_000 {
		b.WriteString("<p>The quick brown fox <a href=3D\"" + link + "\">jumps</a> <span style=3D\"display:none\">hidden words</span></p>\r\n")
	}
	b.WriteString("--BB--\r\n")
	return []byte(b.String())
}

// BenchmarkRun300K is the tests on a 300 KB message with links on every
// line, where the URL search (some 8 MB/s, in scanner/urls) is most of the
// time; BenchmarkRun300KFewURLs the same without links, where it does not
// run.
func BenchmarkRun300K(b *testing.B)        { benchRun(b, false) }
func BenchmarkRun300KFewURLs(b *testing.B) { benchRun(b, true) }

func benchRun(b *testing.B, few bool) {
	raw := bigMessage(few)
	m := message.ParseBytes(raw, message.DefaultLimits())
	c := New(Defaults())
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		c.run(newState(m, now))
	}
}
