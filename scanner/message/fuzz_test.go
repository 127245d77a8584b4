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
