package message

import (
	"strings"
	"testing"
	"time"
)

// TestHostileInputs feeds inputs built to make a naive parser quadratic or
// deep, and checks that each parses quickly with its limits reported.
func TestHostileInputs(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name string
		msg  string
	}{
		{"many unterminated encoded words", "Subject: " + strings.Repeat("=?a?b?c", mb/14) + "\r\n\r\nx"},
		{"encoded words broken by spaces", "Subject: " + strings.Repeat("=?a?b?c ", mb/16) + "?=\r\n\r\nx"},
		{"encoded words broken late", "Subject: " + strings.Repeat("=?a?q?c", mb/14) + "\x01?=\r\n\r\nx"},
		{"many encoded words", "Subject: " + strings.Repeat("=?utf-8?q?a?= ", mb/28) + "\r\n\r\nx"},
		{"many unknown-charset words", "Subject: " + strings.Repeat("=?x-?q?a?= =?utf-8?q?a?= ", mb/50) + "\r\n\r\nx"},
		{"boundary not at line start", "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\n" + strings.Repeat("x--B", mb/4) + "\r\n--B--\r\n"},
		{"many empty parts", "Content-Type: multipart/mixed; boundary=B\r\n\r\n" + strings.Repeat("--B\r\n", mb/5)},
		{"deep nesting", "Content-Type: multipart/mixed; boundary=B\r\n\r\n" + strings.Repeat("--B\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n", mb/50)},
		{"long folded header", "Subject: x" + strings.Repeat("\r\n y", mb/4) + "\r\n\r\nbody"},
		{"many parameters", "Content-Type: text/plain" + strings.Repeat("; a*1*=b", mb/8) + "\r\n\r\nbody"},
		{"many header fields", strings.Repeat("Content-Disposition: attachment; filename=a\r\n", mb/45) + "\r\nbody"},
		{"many boundary parameters", "Content-Type: multipart/mixed" + strings.Repeat("; boundary=x", mb/14) + "\r\n\r\n" + strings.Repeat("--x\r\n\r\n", 1000)},
		{"many different boundaries", "Content-Type: multipart/mixed" + strings.Repeat("; boundary*=a; boundary=b", 64) + "\r\n\r\n" + strings.Repeat("--b\r\n\r\n--a\r\n", mb/10)},
		{"many Content-Type fields", strings.Repeat("Content-Type: multipart/mixed; boundary=q\r\nContent-Type: text/plain\r\n", mb/70) + "\r\n" + strings.Repeat("--q\r\n", mb/5)},
		{"nested ambiguity", strings.Repeat("Content-Type: multipart/mixed; boundary=a; boundary=b\r\n\r\n--a\r\n--b\r\n", mb/70)},
		{"bare CR lines", strings.Repeat("X: y\r", mb/5) + "\r" + strings.Repeat("body\r", mb/5)},
		{"mixed bare CR", strings.Repeat("X: y\rz\r\n", mb/8) + "\r\n" + strings.Repeat("--b\r", mb/4)},
		{"raw 8-bit header", "Subject: " + strings.Repeat("\x89\xef\xa3 ", mb/5) + "\r\n\r\nx"},
		{"raw 8-bit words", "Subject: " + strings.Repeat("\x89\xef =?utf-8?q?a?= ", mb/20) + "\r\n\r\nx"},
		{"unlabelled 8-bit body", "Subject: x\r\n\r\n" + strings.Repeat("\x82\xa0\xb0\xa1 \x92s ", 4*mb/9)},
		{"huge base64 garbage", "Content-Transfer-Encoding: base64\r\nContent-Type: application/octet-stream\r\n\r\n" + strings.Repeat("!@#$", mb/4)},
	}
	for _, tt := range tests {
		start := time.Now()
		m := ParseBytes([]byte(tt.msg), DefaultLimits())
		d := time.Since(start)
		if d > 2*time.Second {
			t.Errorf("%s: took %v", tt.name, d)
		}
		if m.Subject == "" && strings.HasPrefix(tt.msg, "Subject:") {
			t.Errorf("%s: subject not read", tt.name)
		}
		if testing.Verbose() {
			t.Logf("%s: %v, %d parts, %d findings", tt.name, d, len(m.Parts), len(m.Findings))
		}
	}
}
