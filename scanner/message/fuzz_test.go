package message

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, c := range corpus {
		f.Add(c.bytes())
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQ==\n--a--\n"))
	f.Add([]byte("From x\nSubject: =?x?q?a?= =?utf-8?b?4g==?=\n\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a; boundary*=b\n\n--a\n\nx\n--b\nContent-Transfer-Encoding: base64\n\neA==\n--b--\n--a--\n"))
	f.Add([]byte("Content-Type: text/plain\nContent-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\nContent-Transfer-Encoding: 7bit\n\nLS1iDQoNCngNCi0tYi0t\n"))
	f.Add([]byte("Subject: a\rContent-Type: multipart/mixed; boundary=b\r\r--b\r\rx\r--b--\r"))
	f.Add([]byte("Received: x\r\nSubject: a\rb\r\nContent-Type: text/plain; charset=x\r\n\r\n\xa37 \x92s \x89\xef\r\r\n"))
	f.Add([]byte("Subject: \xb0\xa1\r\nContent-Type: text/plain; charset=euc-kr; charset=big5\r\n\r\n\xb0\xa1\r\n"))
	small := Limits{MaxDepth: 4, MaxParts: 16, MaxHeaderBytes: 512, MaxDecodedBytes: 1024}
	f.Fuzz(func(t *testing.T, msg []byte) {
		old := recoverPanics
		recoverPanics = false // let the fuzzer see panics
		defer func() { recoverPanics = old }()
		for _, lim := range []Limits{small, DefaultLimits()} {
			m := ParseBytes(msg, lim)
			if len(m.Parts) > lim.MaxParts {
				t.Fatalf("%d parts > MaxParts %d", len(m.Parts), lim.MaxParts)
			}
			for _, p := range m.Parts {
				if p.Depth > lim.MaxDepth {
					t.Fatalf("part depth %d > MaxDepth %d", p.Depth, lim.MaxDepth)
				}
				if p.Size < 0 || p.Size > int64(len(msg)) {
					t.Fatalf("part size %d of a %d-byte message", p.Size, len(msg))
				}
			}
			if int64(len(m.Text)) > lim.MaxDecodedBytes {
				t.Fatalf("Text %d bytes > MaxDecodedBytes %d", len(m.Text), lim.MaxDecodedBytes)
			}
			if !utf8.ValidString(m.Text) {
				t.Fatalf("Text is not valid UTF-8: %q", m.Text)
			}
			if len(m.Findings) > maxFindings+2 {
				t.Fatalf("%d findings", len(m.Findings))
			}
			for _, h := range m.Headers {
				if !utf8.ValidString(h.Decoded) {
					t.Fatalf("header %s decoded to invalid UTF-8 %q", h.Name, h.Decoded)
				}
			}
			m.GTUBE()
		}
	})
}

func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{
		"=?UTF-8?B?5pel5pys?=", "=?ISO-2022-JP?B?GyRCMnE1RCRON28bKEI=?=", "=?x?q?a?= =?utf-8?q?=E6=97?= =?utf-8?q?=A5?=",
		"a\r\n b", "\x1b$B2q5D\x1b(B", "\x89\xef\x8b\x63", "=?utf-8?B?!!?=", `"=?UTF-8?Q?a?=" <x@y>`,
		"Gambler wins \xa37,000", "=?iso-8859-1?q?a=99?= \x92s \x1b$B", "\xe3\x81\x82\x82\xa0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, _ := DecodeHeader(s)
		if !utf8.ValidString(d) {
			t.Fatalf("DecodeHeader(%q) = %q: invalid UTF-8", s, d)
		}
	})
}

func FuzzEncodeRoundTrip(f *testing.F) {
	for _, s := range []string{"", "Hello", "会議の件", "[SPAM] 会議の件", " lead", "trail ", "a =?utf-8?q?x?= b",
		strings.Repeat("日本語 ", 30), "😀😀😀", "x\ty"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip()
		}
		for _, r := range s {
			if unicode.IsControl(r) && r != '\t' {
				t.Skip()
			}
		}
		checkEncoded(t, "Subject", s, EncodeHeader("Subject", s))
	})
}
