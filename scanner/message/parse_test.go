package message

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mailwarden/mailwarden/scanner"
)

// findings returns the findings named name.
func findings(m *Message, name string) []scanner.Finding {
	var out []scanner.Finding
	for _, f := range m.Findings {
		if f.Name == name {
			out = append(out, f)
		}
	}
	return out
}

func hasFinding(m *Message, name, value, reasonPart string) bool {
	for _, f := range findings(m, name) {
		if (value == "" || f.Value == value) && strings.Contains(f.Reason, reasonPart) {
			return true
		}
	}
	return false
}

func multipartMsg(nparts int, partBody string) string {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n")
	for i := 0; i < nparts; i++ {
		fmt.Fprintf(&b, "--B\r\nContent-Type: text/plain\r\n\r\n%s %d\r\n", partBody, i)
	}
	b.WriteString("--B--\r\n")
	return b.String()
}

func TestLimits(t *testing.T) {
	t.Run("max parts", func(t *testing.T) {
		m := Parse(strings.NewReader(multipartMsg(50, "part")), Limits{MaxParts: 10})
		if len(m.Parts) != 10 {
			t.Errorf("got %d parts, want 10", len(m.Parts))
		}
		if !hasFinding(m, FindingExclusion, "mime.max_parts=10", "") {
			t.Errorf("no max_parts exclusion: %+v", m.Findings)
		}
	})
	t.Run("max depth", func(t *testing.T) {
		msg := "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\ndeep\r\n--c--\r\n--b--\r\n--a--\r\n"
		m := Parse(strings.NewReader(msg), Limits{MaxDepth: 2})
		if !hasFinding(m, FindingExclusion, "mime.max_depth=2", "") || len(m.Parts) != 0 {
			t.Errorf("MaxDepth 2: parts %+v, findings %+v", m.Parts, m.Findings)
		}
		m = Parse(strings.NewReader(msg), Limits{MaxDepth: 3})
		if len(m.Findings) != 0 || len(m.Parts) != 1 || m.Parts[0].Depth != 3 || m.Text != "deep" {
			t.Errorf("MaxDepth 3: parts %+v, findings %+v, text %q", m.Parts, m.Findings, m.Text)
		}
	})
	t.Run("max header bytes", func(t *testing.T) {
		msg := "From: a@example.com\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("x", 90)+"\r\n", 20) +
			"Subject: after the limit\r\n\r\nbody " + GTUBE + "\r\n"
		m := Parse(strings.NewReader(msg), Limits{MaxHeaderBytes: 500})
		if !hasFinding(m, FindingExclusion, "mime.max_header_bytes=500", "") {
			t.Errorf("no max_header_bytes exclusion: %+v", m.Findings)
		}
		if m.Subject != "" || len(m.Headers) > 6 {
			t.Errorf("headers past the limit were read: %d headers, subject %q", len(m.Headers), m.Subject)
		}
		if _, ok := m.GTUBE(); !ok {
			t.Errorf("body after an oversized header was not scanned: %q", m.Text)
		}
	})
	t.Run("max decoded bytes", func(t *testing.T) {
		m := Parse(strings.NewReader(multipartMsg(20, strings.Repeat("日本語", 100))), Limits{MaxDecodedBytes: 2000})
		if len(m.Text) > 2000 {
			t.Errorf("Text is %d bytes, limit 2000", len(m.Text))
		}
		if len(m.Parts) != 20 {
			t.Errorf("parts after the text limit were not listed: %d", len(m.Parts))
		}
		if !hasFinding(m, FindingExclusion, "mime.max_decoded_bytes=2000", "") {
			t.Errorf("no max_decoded_bytes exclusion: %+v", m.Findings)
		}
	})
	t.Run("max findings", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("Content-Type: multipart/mixed; boundary=B\r\n\r\n")
		for i := 0; i < 300; i++ {
			fmt.Fprintf(&b, "--B\r\nContent-Transfer-Encoding: x-bogus-%d\r\n\r\nx\r\n", i)
		}
		m := Parse(strings.NewReader(b.String()), DefaultLimits())
		if len(m.Findings) != maxFindings+1 || !hasFinding(m, FindingExclusion, "message.max_findings=100", "") {
			t.Errorf("got %d findings", len(m.Findings))
		}
	})
}

func TestParseLineEnds(t *testing.T) {
	for _, c := range corpus {
		crlf := bytes.ReplaceAll(c.bytes(), []byte("\r\n"), []byte("\n"))
		crlf = bytes.ReplaceAll(crlf, []byte("\n"), []byte("\r\n"))
		lf := bytes.ReplaceAll(crlf, []byte("\r\n"), []byte("\n"))
		a := ParseBytes(crlf, DefaultLimits())
		b := ParseBytes(lf, DefaultLimits())
		norm := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
		if a.Subject != b.Subject || a.From != b.From || norm(a.Text) != norm(b.Text) ||
			len(a.Parts) != len(b.Parts) || len(a.Findings) != len(b.Findings) ||
			strings.Join(a.Attachments, "|") != strings.Join(b.Attachments, "|") {
			t.Errorf("%s: CRLF and LF parse differently:\nCRLF %+v\nLF   %+v", c.name, a, b)
		}
	}
}

func TestParseReadError(t *testing.T) {
	r := iotest.DataErrReader(&errAfter{data: []byte("Subject: hi\r\n\r\nbody " + GTUBE), err: errors.New("connection reset")})
	m := Parse(r, DefaultLimits())
	if m.Subject != "hi" || !hasFinding(m, FindingMalformed, "", "connection reset") {
		t.Errorf("read error: subject %q, findings %+v", m.Subject, m.Findings)
	}
	if _, ok := m.GTUBE(); !ok {
		t.Errorf("what was read before the error was not scanned")
	}
}

type errAfter struct {
	data []byte
	err  error
}

func (e *errAfter) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestPartBody(t *testing.T) {
	msg := "Content-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n" +
		"--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nraw\r\n--B--\r\n"
	m := Parse(strings.NewReader(msg), DefaultLimits())
	want := []string{"hello world", "café", "raw"}
	if len(m.Parts) != len(want) {
		t.Fatalf("got %d parts", len(m.Parts))
	}
	for i, w := range want {
		if got := string(m.Parts[i].Body()); got != w || m.Parts[i].Size != int64(len(w)) {
			t.Errorf("part %d: Body() = %q, Size %d; want %q", i, got, m.Parts[i].Size, w)
		}
	}
}

func TestParseAmbiguous(t *testing.T) {
	tests := []struct {
		name, msg, finding, value, reason string
	}{
		{"two content types",
			"Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\nx\r\n",
			FindingAmbiguous, "content-type", "Content-Type given 2 times"},
		{"two transfer encodings",
			"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\nContent-Transfer-Encoding: 7bit\r\n\r\nx\r\n",
			FindingAmbiguous, "content-transfer-encoding", "Content-Transfer-Encoding given 2 times"},
		{"boundary and boundary*",
			"Content-Type: multipart/mixed; boundary=a; boundary*=UTF-8''b\r\n\r\n--a\r\n\r\nx\r\n--a--\r\n",
			FindingAmbiguous, "boundary", "2 different boundary parameters"},
		{"two filenames",
			"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a.txt; filename=a.exe\r\n\r\nx\r\n",
			FindingMalformed, "", "filename parameter given more than once"},
		{"base64 multipart",
			"Content-Type: multipart/mixed; boundary=a\r\nContent-Transfer-Encoding: base64\r\n\r\n--a\r\n\r\nx\r\n--a--\r\n",
			FindingAmbiguous, "content-transfer-encoding", "multipart with a Content-Transfer-Encoding"},
		{"no delimiter",
			"Content-Type: multipart/mixed; boundary=a\r\n\r\nno parts here " + GTUBE + "\r\n", FindingMalformed, "", "without any boundary delimiter"},
		{"no boundary", "Content-Type: multipart/mixed\r\n\r\nx\r\n", FindingMalformed, "", "without a boundary parameter"},
		{"same boundary twice",
			"Content-Type: multipart/mixed; boundary=a; boundary=\"a\"\r\n\r\n--a\r\n\r\nx\r\n--a--\r\n",
			FindingMalformed, "", "boundary parameter given 2 times, with the same value"},
		{"nul in body", "Subject: x\r\n\r\na\x00b\r\n", FindingMalformed, "", "NUL byte in body"},
		{"unknown encoding", "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a\r\n", FindingMalformed, "", "unknown Content-Transfer-Encoding"},
		{"8-bit part header",
			"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nX-Raw: \x89\xef\r\n\r\nx\r\n--a--\r\n", FindingMalformed, "", "8-bit bytes in header"},
		{"two subjects", "Subject: a\r\nSubject: b\r\n\r\nx\r\n", FindingMalformed, "", "Subject header appears 2 times"},
	}
	for _, tt := range tests {
		m := Parse(strings.NewReader(tt.msg), DefaultLimits())
		if !hasFinding(m, tt.finding, tt.value, tt.reason) {
			t.Errorf("%s: no %s finding with %q: %+v", tt.name, tt.finding, tt.reason, m.Findings)
		}
		if amb := findings(m, FindingAmbiguous); len(amb) > 0 && tt.finding != FindingAmbiguous {
			t.Errorf("%s: unexpected %+v", tt.name, amb)
		}
	}
	m := Parse(strings.NewReader(tests[3].msg), DefaultLimits())
	if strings.Join(m.Attachments, ",") != "a.txt,a.exe" {
		t.Errorf("two filenames: attachments %q, want both names", m.Attachments)
	}
	m = Parse(strings.NewReader(tests[5].msg), DefaultLimits())
	if _, ok := m.GTUBE(); !ok {
		t.Errorf("opaque multipart body was not scanned: %q", m.Text)
	}
}

func TestParseDigest(t *testing.T) {
	msg := "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--d--\r\n"
	m := Parse(strings.NewReader(msg), DefaultLimits())
	if len(m.Parts) != 1 || m.Parts[0].Depth != 2 || m.Text != "inner text" {
		t.Errorf("digest: parts %+v text %q findings %+v", m.Parts, m.Text, m.Findings)
	}
}
