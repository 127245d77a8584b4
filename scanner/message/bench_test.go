package message

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// benchMessage builds a realistic message: a Japanese text and HTML
// alternative and, when attach > 0, a base64 attachment of attach bytes.
func benchMessage(attach int) []byte {
	var b strings.Builder
	b.WriteString("Received: from mx.example.com (mx.example.com [192.0.2.1])\r\n\tby mail.example.net with ESMTP id 12345; Mon, 2 Jun 2025 10:00:00 +0900\r\n")
	b.WriteString("From: " + bword("ISO-2022-JP", iso, "山田 太郎") + " <yamada@example.jp>\r\n")
	b.WriteString("To: suzuki@example.jp\r\nSubject: " + bword("UTF-8", nil, "会議の件について") + "\r\n")
	b.WriteString("Message-ID: <bench@example.jp>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n")
	b.WriteString("--mixed\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n")
	text := strings.Repeat("明日の会議は10時からです。よろしくお願いいたします。\r\n", 15)
	b.WriteString("--alt\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	b.WriteString(enc(iso, text))
	b.WriteString("\r\n--alt\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	b.WriteString(strings.Join(qp([]byte("<html><body><p>"+text+"</p></body></html>")), "\r\n"))
	b.WriteString("\r\n--alt--\r\n")
	if attach > 0 {
		data := make([]byte, attach)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		b.WriteString("--mixed\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename*=UTF-8''%E5%A0%B1%E5%91%8A.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(strings.Join(b64lines(data), "\r\n"))
		b.WriteString("\r\n")
	}
	b.WriteString("--mixed--\r\n")
	return []byte(b.String())
}

func BenchmarkParse(b *testing.B) {
	for _, tc := range []struct {
		name   string
		attach int
	}{{"5KB", 0}, {"300KB", 220 << 10}} {
		msg := benchMessage(tc.attach)
		b.Run(fmt.Sprintf("%s/%dB", tc.name, len(msg)), func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				m := Parse(bytes.NewReader(msg), DefaultLimits())
				if len(m.Parts) < 2 || len(m.Findings) != 0 {
					b.Fatalf("bad bench message: %+v", m.Findings)
				}
			}
		})
		// ParseBytes skips Parse's copy of the input, as a milter that has
		// spooled the message to memory would.
		b.Run(fmt.Sprintf("%s/%dB/bytes", tc.name, len(msg)), func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				ParseBytes(msg, DefaultLimits())
			}
		})
	}
}

func BenchmarkDecodeHeader(b *testing.B) {
	v := bword("ISO-2022-JP", iso, "会議の件について") + " " + bword("UTF-8", nil, "（再送）")
	b.ReportAllocs()
	for b.Loop() {
		DecodeHeader(v)
	}
}

// BenchmarkParseAmbiguous is the cost of walking every reading: the
// 300 KB message with its top-level boundary given twice, once with the
// second boundary absent (the second reading is one opaque part) and once
// with every delimiter line doubled so that both readings find all parts.
func BenchmarkParseAmbiguous(b *testing.B) {
	base := benchMessage(220 << 10)
	twice := bytes.Replace(base, []byte(`boundary="mixed"`), []byte(`boundary="mixed"; boundary="other"`), 1)
	both := bytes.ReplaceAll(twice, []byte("--mixed\r\n"), []byte("--mixed\r\n--other\r\n"))
	both = bytes.ReplaceAll(both, []byte("--mixed--\r\n"), []byte("--mixed--\r\n--other--\r\n"))
	for _, tc := range []struct {
		name string
		msg  []byte
	}{{"one", base}, {"second-absent", twice}, {"both", both}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.msg)))
			b.ReportAllocs()
			for b.Loop() {
				ParseBytes(tc.msg, DefaultLimits())
			}
		})
	}
}

// BenchmarkDetect is the cost of guessing the charset of unlabelled text.
func BenchmarkDetect(b *testing.B) {
	ja := []byte(enc(sj, strings.Repeat("明日の会議は10時からです。よろしくお願いいたします。\r\n", 600)))
	west := []byte(enc(charmap.Windows1252, strings.Repeat("The world’s largest café serves crème brûlée for £7.\r\n", 600)))
	for _, tc := range []struct {
		name string
		text []byte
	}{{"shift_jis", ja}, {"windows-1252", west}} {
		b.Run(fmt.Sprintf("%s/%dB", tc.name, len(tc.text)), func(b *testing.B) {
			b.SetBytes(int64(len(tc.text)))
			b.ReportAllocs()
			var d Decoder
			for b.Loop() {
				d.decodeText(tc.text, false)
			}
		})
	}
}
