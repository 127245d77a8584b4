package message

import (
	"strings"
	"testing"
)

func TestBareCR(t *testing.T) {
	cr := func(s string) string { return strings.ReplaceAll(s, "\n", "\r") }
	multipart := "From: a@example.com\nSubject: hello\nContent-Type: multipart/mixed; boundary=Z\n\n" +
		"--Z\nContent-Type: text/plain\n\nfirst\n--Z\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" +
		strings.Join(b64lines([]byte(GTUBE)), "\n") + "\n--Z--\n"
	tests := []struct {
		name, msg string
		parts     int    // parts of every reading
		reason    string // in the bare-cr finding
	}{
		{"all bare CR", cr("From: a@example.com\nSubject: hello\nContent-Type: text/plain\n\nbody " + GTUBE + "\n"), 1,
			"line ends are a bare CR (no LF); they were read as line ends"},
		{"all bare CR, multipart", cr(multipart), 2, "they were read as line ends"},
		{"CRLF trace header, then bare CR, as a milter rebuilds it",
			"Received: from x\r\n\tby y; Mon, 2 Jun 2025 10:00:00 +0900\r\n" + cr(multipart) + "\r\n", 3,
			"they were read as line ends, and the message was also scanned with them read as text"},
		{"bare CR in one header field hides Content-Type from a CR-as-line-end reader",
			"From: a@example.com\r\nSubject: hello\r\nX-Junk: a\rb\r\n" + strings.ReplaceAll(multipart[strings.Index(multipart, "Content-Type"):], "\n", "\r\n"), 3,
			"they were read as line ends, and the message was also scanned with them read as text"},
		{"bare CR before a boundary",
			strings.ReplaceAll(strings.Replace(multipart, "first\n", "first\r", 1), "\n", "\r\n"), 3,
			"inside lines; they were read as text, and the message was also scanned with them read as line ends"},
		{"bare CR inside body text only",
			strings.ReplaceAll(strings.Replace(multipart, "first", "fi\rrst", 1), "\n", "\r\n"), 2,
			"inside lines; they were read as text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ParseBytes([]byte(tt.msg), DefaultLimits())
			if m.Subject != "hello" || m.From != "a@example.com" {
				t.Errorf("From %q, Subject %q", m.From, m.Subject)
			}
			if _, ok := m.GTUBE(); !ok {
				t.Errorf("GTUBE not found in %q", m.Text)
			}
			main := 0
			for _, p := range m.Parts {
				if !strings.Contains(p.Where, "~") {
					main++
				}
			}
			if len(m.Parts) != tt.parts {
				t.Errorf("%d parts, want %d: %+v", len(m.Parts), tt.parts, m.Parts)
			}
			f := findings(m, FindingMalformed)
			if len(f) == 0 || f[0].Value != "bare-cr" || f[0].Where != "message" || !strings.Contains(f[0].Reason, tt.reason) {
				t.Errorf("findings %+v; want first a bare-cr one with %q", m.Findings, tt.reason)
			}
			if strings.Contains(tt.reason, "also scanned") == (len(m.Parts) == main) {
				t.Errorf("second reading walked: %v, want %v: %+v", len(m.Parts) != main, strings.Contains(tt.reason, "also scanned"), m.Parts)
			}
		})
	}
}

func TestCRCRLFIsOneLineEnd(t *testing.T) {
	msg := "From: a@example.com\r\r\nSubject: hello\r\r\nContent-Type: text/plain\r\r\n\r\r\nbody\r\r\n"
	m := ParseBytes([]byte(msg), DefaultLimits())
	if m.Subject != "hello" || len(m.Headers) != 3 || len(m.Findings) != 0 {
		t.Errorf("subject %q, %d headers, findings %+v", m.Subject, len(m.Headers), m.Findings)
	}
}

func TestNormalizeBareCR(t *testing.T) {
	tests := []struct {
		in, want string
		cr, lf   int
	}{
		{"a\r\nb\n", "", 0, 0},
		{"a\rb\r", "a\nb\n", 2, 0},
		{"a\r\r\nb\r\rc", "a\r\r\nb\n\nc", 2, 1},
		{"\r", "\n", 1, 0},
		{"", "", 0, 0},
	}
	for _, tt := range tests {
		norm, cr, lf := normalizeBareCR([]byte(tt.in))
		if string(norm) != tt.want || cr != tt.cr || lf != tt.lf {
			t.Errorf("normalizeBareCR(%q) = %q, %d, %d; want %q, %d, %d", tt.in, norm, cr, lf, tt.want, tt.cr, tt.lf)
		}
	}
}
