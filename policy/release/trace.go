package release

import (
	"bytes"
	"strings"
	"time"
)

// Trace is the hop by which a quarantined message first came in. The MTA
// does not show a milter its own Received: field, so the quarantined copy
// lacks it, and without a trace the released copy would seem to come from
// the release alone.
type Trace struct {
	ClientIP   string    // the original SMTP client
	ClientName string    // its reverse name, "unknown" or "" when none
	Helo       string    // the name it gave in HELO
	QueueID    string    // the MTA's queue ID for the original transaction
	Time       time.Time // when the message was quarantined
	Entry      string    // the quarantine entry
	Rule       string    // the rule that quarantined it
	By         string    // the name the trace gives the receiving host
}

// Received returns the trace as the value of a Received: field (RFC 5321
// §4.4), folded, for example:
//
//	from mx.example.net (mx.example.net [192.0.2.1])
//		by mailwarden.localhost (mailwarden quarantine 0f3a…, rule gtube)
//		id 4XyZ1; Mon, 23 Nov 2026 10:00:00 +0000
//
// Every part comes from the original session and may be hostile, so each is
// cut down to printable ASCII that cannot end a comment or the field.
func (t Trace) Received() string {
	var b strings.Builder
	b.WriteString("from ")
	helo := traceToken(t.Helo)
	ip := traceToken(t.ClientIP)
	switch {
	case helo != "":
		b.WriteString(helo)
	case ip != "":
		b.WriteString("[" + ip + "]")
	default:
		b.WriteString("unknown")
	}
	if ip != "" {
		name := traceToken(t.ClientName)
		if name == "" {
			name = "unknown"
		}
		b.WriteString(" (" + name + " [" + ip + "])")
	}
	by := traceToken(t.By)
	if by == "" {
		by = "localhost"
	}
	b.WriteString("\r\n\tby " + by + " (mailwarden quarantine " + traceToken(t.Entry))
	if r := traceToken(t.Rule); r != "" {
		b.WriteString(", rule " + r)
	}
	b.WriteString(")")
	if q := traceToken(t.QueueID); q != "" {
		b.WriteString("\r\n\tid " + q)
	}
	tm := t.Time
	if tm.IsZero() {
		tm = time.Now()
	}
	b.WriteString("; " + tm.Format(time.RFC1123Z))
	return b.String()
}

// traceToken keeps the bytes of s that may stand in a Received: field
// word or comment: printable ASCII other than parentheses, backslash,
// semicolon, quotes and angle brackets. Others become '?'; spaces and
// control characters end the token, so nothing can fold or end the field.
func traceToken(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 255 {
		s = s[:255]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x21 || c > 0x7e || strings.IndexByte(`()\;"<>`, c) >= 0 {
			b[i] = '?'
		}
	}
	return string(b)
}

// StripHeaders removes every release header field, folded lines included,
// from the header of raw, and returns the rest with how many it removed.
// The body and every other field stay byte for byte.
func StripHeaders(raw []byte) ([]byte, int) {
	var out []byte
	n := 0
	skipping := false
	rest := raw
header:
	for len(rest) > 0 {
		end := bytes.IndexByte(rest, '\n')
		if end < 0 {
			end = len(rest) - 1
		}
		line := rest[:end+1]
		content := bytes.TrimRight(line, "\r\n")
		if len(content) == 0 {
			break // the empty line: the body follows
		}
		switch {
		case content[0] == ' ' || content[0] == '\t':
			// a folded line of the field before
		case isReleaseField(content):
			if out == nil {
				out = append(make([]byte, 0, len(raw)), raw[:len(raw)-len(rest)]...)
			}
			skipping = true
			n++
		case bytes.IndexByte(content, ':') > 0:
			skipping = false
		default:
			break header // not a header field: the body starts here
		}
		if out != nil && !skipping {
			out = append(out, line...)
		}
		rest = rest[len(line):]
	}
	if out == nil {
		return raw, 0
	}
	return append(out, rest...), n
}

func isReleaseField(line []byte) bool {
	name, _, ok := bytes.Cut(line, []byte(":"))
	return ok && strings.EqualFold(strings.TrimRight(string(name), " \t"), Header)
}
