package message

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// b64 is base64 in 76-column lines, CRLF-joined.
func b64(s string) string { return strings.Join(b64lines([]byte(s)), "\r\n") }

// TestAmbiguousReadings checks that content hidden under one reading of
// ambiguous MIME is found, whichever reading a filter would have picked.
func TestAmbiguousReadings(t *testing.T) {
	gtubePart := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64("spam:\r\n"+GTUBE+"\r\n") + "\r\n"
	exePart := "Content-Type: application/x-msdownload; name=evil.exe\r\nContent-Disposition: attachment; filename=evil.exe\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n"
	tests := []struct {
		name, msg, value, where string
		attachments             string
	}{
		{"GTUBE under the second of two boundaries (CVE-2024-28054)",
			"Subject: x\r\nContent-Type: multipart/mixed; boundary=\"AAA\"; boundary=\"BBB\"\r\n\r\n" +
				"--AAA\r\nContent-Type: text/plain\r\n\r\nharmless\r\n" +
				"--BBB\r\n" + gtubePart + "--BBB\r\n" + exePart + "--BBB--\r\n--AAA--\r\n",
			"boundary", "header:Content-Type", "evil.exe"},
		{"GTUBE under the first of two boundaries",
			"Content-Type: multipart/mixed; boundary=BBB; boundary=AAA\r\n\r\n" +
				"--AAA\r\nContent-Type: text/plain\r\n\r\nharmless\r\n" +
				"--BBB\r\n" + gtubePart + "--BBB--\r\n--AAA--\r\n",
			"boundary", "header:Content-Type", ""},
		{"boundary and RFC 2231 boundary*",
			"Content-Type: multipart/mixed; boundary=AAA; boundary*=us-ascii''BBB\r\n\r\n" +
				"--AAA\r\nContent-Type: text/plain\r\n\r\nharmless\r\n" +
				"--BBB\r\n" + gtubePart + "--BBB--\r\n--AAA--\r\n",
			"boundary", "header:Content-Type", ""},
		{"boundary in RFC 2231 sections and plain",
			"Content-Type: multipart/mixed; boundary*0=B; boundary*1=BB; boundary=AAA\r\n\r\n" +
				"--AAA\r\nContent-Type: text/plain\r\n\r\nharmless\r\n" +
				"--BBB\r\n" + gtubePart + "--BBB--\r\n--AAA--\r\n",
			"boundary", "header:Content-Type", ""},
		{"two Content-Type fields: text, then multipart",
			"Content-Type: text/plain\r\nContent-Type: multipart/mixed; boundary=BBB\r\n\r\n" +
				"--BBB\r\n" + gtubePart + "--BBB\r\n" + exePart + "--BBB--\r\n",
			"content-type", "header:Content-Type", "evil.exe"},
		{"two Content-Type fields with different boundaries, in a part",
			"Content-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n" +
				"Content-Type: multipart/alternative; boundary=AAA\r\nContent-Type: multipart/alternative; boundary=BBB\r\n\r\n" +
				"--AAA\r\nContent-Type: text/plain\r\n\r\nharmless\r\n" +
				"--BBB\r\n" + gtubePart + "--BBB--\r\n--AAA--\r\n--outer--\r\n",
			"content-type", "part:1/header:Content-Type", ""},
		{"two transfer encodings on a text part",
			"Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(GTUBE) + "\r\n",
			"content-transfer-encoding", "header:Content-Transfer-Encoding", ""},
		{"base64-encoded multipart",
			"Content-Type: multipart/mixed; boundary=BBB\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				b64("--BBB\r\n"+gtubePart+"--BBB--\r\n") + "\r\n",
			"content-transfer-encoding", "header:Content-Transfer-Encoding", ""},
		{"two transfer encodings on an attached message",
			"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: message/rfc822\r\n" +
				"Content-Transfer-Encoding: 8bit\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				b64("Subject: inner\r\nContent-Type: text/plain\r\n\r\n"+GTUBE+"\r\n") + "\r\n--o--\r\n",
			"content-transfer-encoding", "part:1/header:Content-Transfer-Encoding", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ParseBytes([]byte(tt.msg), DefaultLimits())
			if _, ok := m.GTUBE(); !ok {
				t.Errorf("GTUBE not found; text %q", m.Text)
			}
			amb := findings(m, FindingAmbiguous)
			if len(amb) != 1 || amb[0].Value != tt.value || amb[0].Where != tt.where {
				t.Errorf("ambiguity findings %+v; want one %s at %s", amb, tt.value, tt.where)
			}
			if tt.attachments != "" && strings.Join(m.Attachments, ",") != tt.attachments {
				t.Errorf("attachments %q; want %q", m.Attachments, tt.attachments)
			}
		})
	}
}

func TestAmbiguousPartNames(t *testing.T) {
	msg := "Content-Type: multipart/mixed; boundary=AAA; boundary=BBB\r\n\r\n" +
		"--AAA\r\nContent-Type: text/plain\r\n\r\nfirst\r\n" +
		"--BBB\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--BBB\r\nContent-Type: text/html\r\n\r\nthird\r\n--BBB--\r\n--AAA--\r\n"
	m := ParseBytes([]byte(msg), DefaultLimits())
	var got []string
	for _, p := range m.Parts {
		got = append(got, p.Where+"="+p.ContentType)
	}
	want := "part:1=text/plain part:~2.1=text/plain part:~2.2=text/html"
	if strings.Join(got, " ") != want {
		t.Errorf("parts %q; want %q", got, want)
	}
}

// TestAmbiguousBounded nests ambiguity: every level has two boundaries, so
// walking every reading of every level would take 2^depth walks.
func TestAmbiguousBounded(t *testing.T) {
	const depth = 18
	var b strings.Builder
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=a%d; boundary=b%d\r\n\r\n--a%d\r\n", i, i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\n" + GTUBE + "\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--a%d--\r\n", i)
	}
	start := time.Now()
	m := ParseBytes([]byte(b.String()), DefaultLimits())
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	if !hasFinding(m, FindingExclusion, "mime.max_readings=8", "") {
		t.Errorf("no max_readings exclusion: %+v", m.Findings)
	}
	if _, ok := m.GTUBE(); !ok {
		t.Errorf("the first reading was not walked to the bottom")
	}

	// Many different Content-Type fields on one part.
	var c strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&c, "Content-Type: multipart/mixed; boundary=x%d\r\n", i)
	}
	c.WriteString("\r\n--x1\r\n\r\nbody\r\n--x1--\r\n")
	m = ParseBytes([]byte(c.String()), Limits{MaxReadings: 3})
	if !hasFinding(m, FindingExclusion, "mime.max_readings=3", "") {
		t.Errorf("no max_readings exclusion: %+v", m.Findings)
	}
	if n := len(m.Parts); n > 5 {
		t.Errorf("%d parts from 4 readings", n)
	}
	if !strings.Contains(m.Text, "body") {
		t.Errorf("the reading with boundary x1 was not walked: %q", m.Text)
	}
}

// TestGTUBEEncoded checks GTUBE in encoded text parts, including a
// quoted-printable soft line break inside the string.
func TestGTUBEEncoded(t *testing.T) {
	half := len(GTUBE) / 2
	tests := []struct{ name, part string }{
		{"base64", "Content-Transfer-Encoding: base64\r\n\r\n" + b64("x "+GTUBE+" y")},
		{"base64 without line breaks", "Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte(GTUBE))},
		{"quoted-printable", "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.Join(qp([]byte("x "+GTUBE)), "\r\n")},
		{"quoted-printable soft break", "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + GTUBE[:half] + "=\r\n" + GTUBE[half:]},
		{"quoted-printable escapes", "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.ReplaceAll(GTUBE, "*", "=2A")},
		{"html base64", "Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64("<p>"+GTUBE+"</p>")},
	}
	for _, tt := range tests {
		for _, wrap := range []string{"single", "multipart"} {
			msg := "Subject: t\r\n" + tt.part + "\r\n"
			if wrap == "multipart" {
				msg = "Content-Type: multipart/mixed; boundary=Z\r\n\r\n--Z\r\nContent-Type: text/plain\r\n\r\nhello\r\n--Z\r\n" + tt.part + "\r\n--Z--\r\n"
			}
			m := ParseBytes([]byte(msg), DefaultLimits())
			if _, ok := m.GTUBE(); !ok {
				t.Errorf("%s, %s: GTUBE not found in %q (findings %+v)", tt.name, wrap, m.Text, m.Findings)
			}
		}
	}
}
