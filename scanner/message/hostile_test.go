package message

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// after marks content placed past the hostile part of an input, to check
// whether it is scanned (in Message.Text) or, past a limit, not.
const after = "AFTER-HOSTILE"

// want is a finding a hostile input must produce; an empty Value or Where
// matches any.
type want struct{ name, value, where string }

// hostileCase is one input built to make a naive parser quadratic, deep or
// unbounded.
type hostileCase struct {
	name string
	msg  string
	lim  Limits // zero fields: the defaults
	// findings must all be present, and no finding of another name.
	findings []want
	// exclusions are the values of every scan.exclusion reported, in any
	// order: the limits reached, each reported once.
	exclusions []string
	// bug, when set, names a known defect that keeps exclusions from
	// matching: the row is skipped there instead of failing.
	bug string
	// parts is the number of leaf parts, -1 for any; maxDepth the deepest
	// part.
	parts, maxDepth int
	// seen must be in Message.Text, unseen must not.
	seen, unseen []string
	// check asserts what else the input is about.
	check func(t *testing.T, m *Message)
}

// nested builds n levels of multipart, each with its own boundary: level k
// is a multipart at depth k holding a text leaf "[level k+1]" (at depth
// k+1) and the multipart of level k+1. ct gives the Content-Type field(s)
// of level k. The top level then has a text part holding [after].
func nested(n int, ct func(k int) string) string {
	var b strings.Builder
	b.WriteString(ct(0) + "\r\n")
	for k := range n {
		fmt.Fprintf(&b, "--b%d.\r\nContent-Type: text/plain\r\n\r\n[level %d]\r\n", k, k+1)
		fmt.Fprintf(&b, "--b%d.\r\n%s\r\n", k, ct(k+1))
	}
	fmt.Fprintf(&b, "--b%d.\r\nContent-Type: text/plain\r\n\r\n[level %d]\r\n--b%d.--\r\n", n, n+1, n)
	for k := n - 1; k > 0; k-- {
		fmt.Fprintf(&b, "--b%d.--\r\n", k)
	}
	fmt.Fprintf(&b, "--b0.\r\nContent-Type: text/plain\r\n\r\n%s\r\n--b0.--\r\n", after)
	return b.String()
}

// textPart is a part holding [after], to put after the hostile parts of a
// multipart with boundary b, closing it.
func textPart(b string) string {
	return "--" + b + "\r\nContent-Type: text/plain\r\n\r\n" + after + "\r\n--" + b + "--\r\n"
}

func subjectIs(s string) func(t *testing.T, m *Message) {
	return func(t *testing.T, m *Message) {
		t.Helper()
		if m.Subject != s {
			t.Errorf("Subject = %.60q… (%d bytes), want %.60q… (%d bytes)", m.Subject, len(m.Subject), s, len(s))
		}
	}
}

func hostileCases() []hostileCase {
	const mb = 1 << 20
	lim := DefaultLimits()
	maxParts := fmt.Sprint("mime.max_parts=", lim.MaxParts)
	maxHeader := fmt.Sprint("mime.max_header_bytes=", lim.MaxHeaderBytes)
	maxFind := fmt.Sprint("message.max_findings=", maxFindings)
	return []hostileCase{
		// Encoded words (RFC 2047) that never end, or end late, are text.
		{name: "many unterminated encoded words",
			msg:   "Subject: " + strings.Repeat("=?a?b?c", mb/14) + "\r\n\r\n" + after,
			parts: 1, seen: []string{after},
			check: subjectIs(strings.Repeat("=?a?b?c", mb/14))},
		{name: "encoded words broken by spaces",
			msg:   "Subject: " + strings.Repeat("=?a?b?c ", mb/16) + "?=\r\n\r\n" + after,
			parts: 1, seen: []string{after},
			check: subjectIs(strings.Repeat("=?a?b?c ", mb/16) + "?=")},
		{name: "encoded words broken late",
			msg:   "Subject: " + strings.Repeat("=?a?q?c", mb/14) + "\x01?=\r\n\r\n" + after,
			parts: 1, seen: []string{after},
			check: subjectIs(strings.Repeat("=?a?q?c", mb/14) + "\x01?=")},
		// Adjacent encoded words join without the space between them.
		{name: "many encoded words",
			msg:   "Subject: " + strings.Repeat("=?utf-8?q?a?= ", mb/28) + "\r\n\r\n" + after,
			parts: 1, seen: []string{after},
			check: subjectIs(strings.Repeat("a", mb/28))},
		// Words in an unknown charset stay raw, the others are decoded; the
		// unknown charset is reported once.
		{name: "many unknown-charset words",
			msg:      "Subject: " + strings.Repeat("=?x-?q?a?= =?utf-8?q?a?= ", mb/50) + "\r\n\r\n" + after,
			findings: []want{{FindingMalformed, "", "header:Subject"}},
			parts:    1, seen: []string{after},
			check: func(t *testing.T, m *Message) {
				subjectIs(strings.TrimSpace(strings.Repeat("=?x-?q?a?= a ", mb/50)))(t, m)
				if n := len(findings(m, FindingMalformed)); n != 1 {
					t.Errorf("%d malformed findings, want 1", n)
				}
			}},
		// "--B" inside a line is text, not a delimiter (RFC 2046 section
		// 5.1.1): one part of 1 MiB, then the next part.
		{name: "boundary not at line start",
			msg:   "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\n" + strings.Repeat("x--B", mb/4) + "\r\n" + textPart("B"),
			parts: 2, maxDepth: 1, seen: []string{strings.Repeat("x--B", 1000), after},
			check: func(t *testing.T, m *Message) {
				if m.Parts[0].Size != mb {
					t.Errorf("part 1 is %d bytes, want %d", m.Parts[0].Size, mb)
				}
			}},
		// Parts past MaxParts are not walked.
		{name: "many empty parts",
			msg:        "Content-Type: multipart/mixed; boundary=B\r\n\r\n" + strings.Repeat("--B\r\n", mb/5) + textPart("B"),
			findings:   []want{{FindingExclusion, maxParts, fmt.Sprint("part:", lim.MaxParts+1)}},
			exclusions: []string{maxParts},
			parts:      lim.MaxParts, maxDepth: 1, unseen: []string{after}},
		{name: "exactly MaxParts parts",
			msg: "Content-Type: multipart/mixed; boundary=x\r\n\r\n" + strings.Repeat("--x\r\n\r\n", lim.MaxParts-1) + textPart("x"),
			// The last part is the last one walked, and seen.
			parts: lim.MaxParts, maxDepth: 1, seen: []string{after}},
		// The parts of a multipart at depth MaxDepth are not walked; the
		// rest of the message is.
		{name: "deep nesting",
			msg: nested(mb/120, func(k int) string {
				return fmt.Sprintf("Content-Type: multipart/mixed; boundary=b%d.\r\n", k)
			}),
			findings:   []want{{FindingExclusion, fmt.Sprint("mime.max_depth=", lim.MaxDepth), fmt.Sprintf("part:%s2", strings.Repeat("2.", lim.MaxDepth-1))}},
			exclusions: []string{fmt.Sprint("mime.max_depth=", lim.MaxDepth)},
			parts:      lim.MaxDepth + 1, maxDepth: lim.MaxDepth,
			seen:   []string{fmt.Sprintf("[level %d]", lim.MaxDepth), after},
			unseen: []string{fmt.Sprintf("[level %d]", lim.MaxDepth+1)}},
		// Every part says it is a multipart with the boundary of its parent:
		// the parent's delimiters take every line, so each part is a
		// multipart without delimiters.
		{name: "nested multiparts with one boundary",
			msg: "Content-Type: multipart/mixed; boundary=B\r\n\r\n" +
				strings.Repeat("--B\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n", mb/50) + textPart("B"),
			findings: []want{
				{FindingMalformed, "B", "part:1"},
				{FindingExclusion, maxFind, "message"},
				{FindingExclusion, maxParts, ""},
			},
			exclusions: []string{maxFind, maxParts},
			parts:      lim.MaxParts, maxDepth: 1, unseen: []string{after}},
		// A header block past MaxHeaderBytes: the fields after the limit
		// are not read, the body is scanned.
		{name: "long folded header",
			msg:        "Subject: x" + strings.Repeat("\r\n y", mb/4) + "\r\nX-After: yes\r\n\r\n" + after,
			findings:   []want{{FindingExclusion, maxHeader, "header"}},
			exclusions: []string{maxHeader},
			parts:      1, seen: []string{after},
			check: func(t *testing.T, m *Message) {
				if !strings.HasPrefix(m.Subject, "x y y y") || len(m.Subject) > lim.MaxHeaderBytes || len(m.Subject) < lim.MaxHeaderBytes/2-100 {
					t.Errorf("Subject = %.20q… (%d bytes), want the unfolded field up to the limit", m.Subject, len(m.Subject))
				}
				if len(m.Headers) != 1 {
					t.Errorf("%d header fields, want 1: the field past the limit is not read", len(m.Headers))
				}
			}},
		{name: "many parameters",
			msg:   "Content-Type: text/plain" + strings.Repeat("; a*1*=b", (mb-1024)/8) + "\r\n\r\n" + after,
			parts: 1, seen: []string{after},
			check: func(t *testing.T, m *Message) {
				if m.Parts[0].ContentType != "text/plain" {
					t.Errorf("content type %q, want text/plain", m.Parts[0].ContentType)
				}
			}},
		{name: "many parameters past the header limit",
			msg:        "Content-Type: text/plain" + strings.Repeat("; a*1*=b", mb/8) + "\r\n\r\n" + after,
			findings:   []want{{FindingExclusion, maxHeader, "header"}},
			exclusions: []string{maxHeader},
			parts:      1, seen: []string{after},
			check: func(t *testing.T, m *Message) {
				if len(m.Headers) != 0 {
					t.Errorf("%d header fields, want none: the one field ends past the limit", len(m.Headers))
				}
			}},
		// The same Content-Disposition 23,000 times is one attachment.
		{name: "many header fields",
			msg:   strings.Repeat("Content-Disposition: attachment; filename=a\r\n", mb/45) + "\r\n" + after,
			parts: 1, seen: []string{after},
			check: func(t *testing.T, m *Message) {
				if len(m.Headers) != mb/45 {
					t.Errorf("%d header fields, want %d", len(m.Headers), mb/45)
				}
				if !slices.Equal(m.Attachments, []string{"a"}) {
					t.Errorf("attachments %q, want [a]", m.Attachments)
				}
			}},
		// One boundary repeated is no ambiguity, but is flagged.
		{name: "many boundary parameters",
			msg:      "Content-Type: multipart/mixed" + strings.Repeat("; boundary=x", mb/14) + "\r\n\r\n" + strings.Repeat("--x\r\n\r\n", 998) + textPart("x"),
			findings: []want{{FindingMalformed, "", "header:Content-Type"}},
			parts:    999, maxDepth: 1, seen: []string{after}},
		// Two boundaries are two readings, sharing MaxParts.
		{name: "many different boundaries",
			msg: "Content-Type: multipart/mixed" + strings.Repeat("; boundary*=a; boundary=b", 64) + "\r\n\r\n" +
				strings.Repeat("--b\r\n\r\n--a\r\n", mb/10) + textPart("a"),
			findings: []want{
				{FindingAmbiguous, "boundary", "header:Content-Type"},
				{FindingMalformed, "--b", "part:1/header"},
				{FindingExclusion, maxFind, "message"},
				{FindingExclusion, maxParts, ""},
			},
			exclusions: []string{maxFind, maxParts},
			parts:      lim.MaxParts, maxDepth: 1, unseen: []string{after}},
		{name: "many Content-Type fields",
			msg: strings.Repeat("Content-Type: multipart/mixed; boundary=q\r\nContent-Type: text/plain\r\n", mb/70) + "\r\n" +
				strings.Repeat("--q\r\n", mb/5) + textPart("q"),
			findings: []want{
				{FindingAmbiguous, "content-type", "header:Content-Type"},
				{FindingExclusion, maxParts, fmt.Sprint("part:", lim.MaxParts+1)},
			},
			exclusions: []string{maxParts},
			parts:      lim.MaxParts, maxDepth: 1, unseen: []string{after}},
		// Every level is ambiguous (two Content-Type fields with the same
		// boundary), so every reading nests another ambiguous level:
		// 2^depth readings without MaxReadings. The RFC reading of each
		// level is walked to the bottom.
		{name: "nested ambiguity",
			msg: nested(15, func(k int) string {
				return fmt.Sprintf("Content-Type: multipart/mixed; boundary=b%d.\r\nContent-Type: multipart/related; boundary=b%d.\r\n", k, k)
			}),
			findings: []want{
				{FindingAmbiguous, "content-type", "header:Content-Type"},
				{FindingAmbiguous, "content-type", "part:2/header:Content-Type"},
				{FindingExclusion, fmt.Sprint("mime.max_readings=", lim.MaxReadings), ""},
			},
			exclusions: []string{fmt.Sprint("mime.max_readings=", lim.MaxReadings)},
			parts:      -1, maxDepth: 16, seen: []string{"[level 16]", after},
			check: func(t *testing.T, m *Message) {
				if n := len(readingNames(m)); n != lim.MaxReadings {
					t.Errorf("%d further readings walked, want %d: %v", n, lim.MaxReadings, readingNames(m))
				}
			}},
		// The same two boundaries at every level: the top level's
		// delimiters take every line.
		{name: "ambiguous boundaries at every level",
			msg: strings.Repeat("Content-Type: multipart/mixed; boundary=a; boundary=b\r\n\r\n--a\r\n--b\r\n", mb/70) + textPart("a"),
			findings: []want{
				{FindingAmbiguous, "boundary", "header:Content-Type"},
				{FindingMalformed, "--b", "part:1/header"},
				{FindingExclusion, maxFind, "message"},
				{FindingExclusion, maxParts, ""},
			},
			exclusions: []string{maxFind, maxParts},
			parts:      lim.MaxParts, maxDepth: 1, unseen: []string{after}},
		// Bare CRs in the header are line ends; there is no LF, so there
		// is no other reading.
		{name: "bare CR lines",
			msg:      strings.Repeat("X: y\r", mb/5) + "\r" + strings.Repeat("body\r", mb/5) + after,
			findings: []want{{FindingMalformed, "bare-cr", "message"}},
			parts:    1, seen: []string{strings.Repeat("body\n", 1000) + after},
			check: func(t *testing.T, m *Message) {
				if len(m.Headers) != mb/5 {
					t.Errorf("%d header fields, want %d", len(m.Headers), mb/5)
				}
			}},
		// A bare CR inside a header field: the main reading takes it as a
		// line end ("z" then is not a field and starts the body), the
		// "~cr" reading as text.
		{name: "mixed bare CR",
			msg: strings.Repeat("X: y\rz\r\n", mb/8) + "\r\n" + strings.Repeat("--b\r", mb/4) + after,
			findings: []want{
				{FindingMalformed, "bare-cr", "message"},
				{FindingMalformed, "z", "header"},
			},
			parts: 2, seen: []string{after},
			check: func(t *testing.T, m *Message) {
				if m.Parts[1].Where != "part:~cr" {
					t.Errorf("second part is %q, want the ~cr reading", m.Parts[1].Where)
				}
			}},
		{name: "raw 8-bit header",
			msg: "Subject: " + strings.Repeat("\x89\xef\xa3 ", mb/5) + "\r\n\r\n" + after,
			findings: []want{
				{FindingMalformed, "", "header:Subject"},
				{FindingCharsetGuessed, "shift_jis", "header:Subject"},
			},
			parts: 1, seen: []string{after},
			check: subjectIs(strings.TrimSpace(strings.Repeat("会｣ ", mb/5)))},
		{name: "raw 8-bit words",
			msg: "Subject: " + strings.Repeat("\x89\xef =?utf-8?q?a?= ", mb/20) + "\r\n\r\n" + after,
			findings: []want{
				{FindingMalformed, "", "header:Subject"},
				{FindingCharsetGuessed, "shift_jis", "header:Subject"},
			},
			parts: 1, seen: []string{after},
			check: subjectIs(strings.TrimSpace(strings.Repeat("会 a ", mb/20)))},
		{name: "unlabelled 8-bit body",
			msg:      "Subject: x\r\n\r\n" + strings.Repeat("\x82\xa0\xb0\xa1 \x92s ", 4*mb/9) + after,
			findings: []want{{FindingCharsetGuessed, "shift_jis", "body"}},
			parts:    1, seen: []string{"あｰ｡ 痴 あｰ｡ 痴 ", after}},
		// The same with a smaller text budget: the text is cut there.
		{name: "unlabelled 8-bit body past MaxDecodedBytes",
			msg: "Subject: x\r\n\r\n" + strings.Repeat("\x82\xa0\xb0\xa1 \x92s ", 4*mb/9) + after,
			lim: Limits{MaxDecodedBytes: mb},
			findings: []want{
				{FindingCharsetGuessed, "shift_jis", "body"},
				{FindingExclusion, fmt.Sprint("mime.max_decoded_bytes=", mb), "body"},
			},
			exclusions: []string{fmt.Sprint("mime.max_decoded_bytes=", mb)},
			parts:      1, seen: []string{"あｰ｡ 痴 あｰ｡ 痴 "}, unseen: []string{after},
			check: func(t *testing.T, m *Message) {
				if len(m.Text) < mb-100 {
					t.Errorf("text is %d bytes, want up to the limit %d", len(m.Text), mb)
				}
			}},
		// Base64 decoding skips bad bytes and goes on: the text after the
		// garbage is scanned.
		{name: "huge base64 garbage",
			msg:      "Content-Transfer-Encoding: base64\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("!@#$", mb/4) + b64(after),
			findings: []want{{FindingMalformed, "", "body"}},
			parts:    1, seen: []string{after},
			check: func(t *testing.T, m *Message) {
				if m.Parts[0].Size != int64(len(after)) {
					t.Errorf("decoded size %d, want %d", m.Parts[0].Size, len(after))
				}
			}},
	}
}

var readingRE = regexp.MustCompile(`~(cr|[0-9]+)`)

// readingNames returns the further readings that parts were found under.
func readingNames(m *Message) []string {
	var out []string
	for _, p := range m.Parts {
		for _, r := range readingRE.FindAllString(p.Where, -1) {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// TestHostileInputs feeds inputs built to make a naive parser quadratic,
// deep or unbounded, and checks the answer: the findings each one must
// produce (the limit reached as a scan.exclusion, malformed and ambiguous
// MIME), that every limit held, and which content past the hostile part
// was scanned. BenchmarkHostileInputs watches their speed.
func TestHostileInputs(t *testing.T) {
	for _, tt := range hostileCases() {
		t.Run(tt.name, func(t *testing.T) {
			lim := tt.lim.withDefaults()
			m := ParseBytes([]byte(tt.msg), lim)

			// The limits held.
			if len(m.Parts) > lim.MaxParts {
				t.Errorf("%d parts, more than MaxParts %d", len(m.Parts), lim.MaxParts)
			}
			depth := 0
			for _, p := range m.Parts {
				depth = max(depth, p.Depth)
			}
			if depth > lim.MaxDepth {
				t.Errorf("a part at depth %d, deeper than MaxDepth %d", depth, lim.MaxDepth)
			}
			if int64(len(m.Text)) > lim.MaxDecodedBytes {
				t.Errorf("%d bytes of text, more than MaxDecodedBytes %d", len(m.Text), lim.MaxDecodedBytes)
			}
			for _, h := range m.Headers {
				if len(h.Raw) > lim.MaxHeaderBytes {
					t.Errorf("header %s of %d bytes, more than MaxHeaderBytes %d", h.Name, len(h.Raw), lim.MaxHeaderBytes)
				}
			}
			if r := readingNames(m); len(r) > lim.MaxReadings {
				t.Errorf("%d further readings, more than MaxReadings %d", len(r), lim.MaxReadings)
			}
			if n := len(m.Findings) - len(findings(m, FindingExclusion)); n > maxFindings {
				t.Errorf("%d findings, more than %d", n, maxFindings)
			}
			seenLimit := map[string]bool{}
			for _, f := range findings(m, FindingExclusion) {
				if seenLimit[f.Value] {
					t.Errorf("limit %s reported twice", f.Value)
				}
				seenLimit[f.Value] = true
			}

			// What was seen.
			if tt.parts >= 0 && len(m.Parts) != tt.parts {
				t.Errorf("%d parts, want %d", len(m.Parts), tt.parts)
			}
			if depth != tt.maxDepth {
				t.Errorf("deepest part at %d, want %d", depth, tt.maxDepth)
			}
			for _, s := range tt.seen {
				if !strings.Contains(m.Text, s) {
					t.Errorf("%.40q… is not in the text; it should have been scanned", s)
				}
			}
			for _, s := range tt.unseen {
				if strings.Contains(m.Text, s) {
					t.Errorf("%.40q… is in the text; it lies past a limit", s)
				}
			}
			if m.Subject == "" && strings.HasPrefix(tt.msg, "Subject:") {
				t.Error("subject not read")
			}
			if tt.check != nil {
				tt.check(t, m)
			}

			// The findings.
			names := map[string]bool{}
			for _, w := range tt.findings {
				names[w.name] = true
			}
			var excl []string
			for _, f := range m.Findings {
				if f.Name == FindingExclusion {
					excl = append(excl, f.Value)
					continue
				}
				if !names[f.Name] {
					t.Errorf("unexpected finding %s %q at %s: %s", f.Name, f.Value, f.Where, f.Reason)
					names[f.Name] = true // once per name
				}
			}
			var problems []string // about exclusions, which tt.bug may excuse
			for _, w := range tt.findings {
				switch {
				case hasWant(m, w):
				case w.name == FindingExclusion:
					problems = append(problems, fmt.Sprintf("no exclusion %q at %q", w.value, w.where))
				default:
					t.Errorf("no finding %s %q at %q", w.name, w.value, w.where)
				}
			}
			slices.Sort(excl)
			if want := slices.Sorted(slices.Values(tt.exclusions)); !slices.Equal(excl, want) {
				problems = append(problems, fmt.Sprintf("exclusions %q, want %q", excl, want))
			}
			if t.Failed() || len(problems) > 0 && tt.bug == "" {
				t.Logf("findings: %s", summary(m))
			}
			switch {
			case len(problems) > 0 && tt.bug != "":
				t.Skipf("BUG: %s: %s", tt.bug, strings.Join(problems, "; "))
			case len(problems) > 0:
				t.Error(strings.Join(problems, "; "))
			case tt.bug != "":
				t.Errorf("row marked as a bug now passes; remove its bug text: %s", tt.bug)
			}
		})
	}
}

// summary lists the first findings of each name and how many there are.
func summary(m *Message) string {
	var out []string
	n := map[string]int{}
	for _, f := range m.Findings {
		if n[f.Name]++; n[f.Name] <= 3 {
			out = append(out, fmt.Sprintf("%s %.40q at %s", f.Name, f.Value, f.Where))
		}
	}
	return fmt.Sprintf("%v; %s", n, strings.Join(out, "; "))
}

func hasWant(m *Message, w want) bool {
	for _, f := range m.Findings {
		if f.Name == w.name && (w.value == "" || f.Value == w.value) && (w.where == "" || f.Where == w.where) {
			return true
		}
	}
	return false
}

// BenchmarkHostileInputs is the parse time of each hostile input; none
// should take more than a few times a normal message of its size.
func BenchmarkHostileInputs(b *testing.B) {
	for _, tc := range hostileCases() {
		b.Run(strings.ReplaceAll(tc.name, " ", "-"), func(b *testing.B) {
			msg := []byte(tc.msg)
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				ParseBytes(msg, tc.lim)
			}
		})
	}
}
