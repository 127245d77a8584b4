package message

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/mailwarden/mailwarden/scanner"
)

// Finding names this package reports.
const (
	// FindingMalformed marks a structural or encoding anomaly. Where says
	// where ("header:Subject", "body", "part:1.2", "part:1.2/header:Content-Type"),
	// Reason says what.
	FindingMalformed = "message.malformed"
	// FindingExclusion marks content left unscanned because a [Limits] bound
	// was reached; Value names the limit, e.g. "mime.max_depth=20".
	FindingExclusion = "scan.exclusion"
	// FindingGTUBE is reported by [Message.GTUBE].
	FindingGTUBE = "content.gtube"
	// FindingAmbiguous marks MIME that readers can take apart in different
	// ways (CVE-2024-28054): every reading was scanned, and Value says what
	// is ambiguous: "boundary" (two boundary parameters with different
	// values), "content-type" (two different Content-Type fields) or
	// "content-transfer-encoding" (two different encodings, or an encoded
	// multipart). Where names the header field.
	FindingAmbiguous = "mime.ambiguous"
	// FindingCharsetGuessed marks 8-bit text whose charset had to be
	// guessed: raw header text that is not UTF-8, text without a charset
	// parameter, or text in an unknown charset. Value is the charset chosen
	// (a WHATWG name such as "windows-1252" or "shift_jis"), Where the
	// header or part, Reason how it was chosen: a charset declared
	// elsewhere in the message, or the byte patterns.
	FindingCharsetGuessed = "charset.guessed"
)

// GTUBE is the Generic Test for Unsolicited Bulk Email, a string that spam
// filters treat as spam so that a setup can be tested end to end.
const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// Limits bounds the work and memory of [Parse]. Going over a limit is not an
// error: the content beyond it is left unscanned and a [FindingExclusion]
// finding says so. A zero or negative field means its default.
type Limits struct {
	// MaxDepth is the deepest MIME nesting walked; the top-level message is
	// depth 0 and its parts depth 1. Default 20.
	MaxDepth int
	// MaxParts is the most body parts (leaves and containers, the top-level
	// message not counted) walked. Default 1000.
	MaxParts int
	// MaxHeaderBytes bounds each header block, the top-level one and every
	// part's. Default 1 MiB.
	MaxHeaderBytes int
	// MaxDecodedBytes bounds [Message.Text], the decoded text kept for
	// content checks. Default 20 MiB.
	MaxDecodedBytes int64
	// MaxReadings is the most alternative readings of ambiguous MIME (and
	// of bare CR line ends) walked per message; the first reading of each
	// entity is not counted. Default 8.
	MaxReadings int
}

// DefaultLimits returns the default [Limits].
func DefaultLimits() Limits {
	return Limits{
		MaxDepth:        20,
		MaxParts:        1000,
		MaxHeaderBytes:  1 << 20,
		MaxDecodedBytes: 20 << 20,
		MaxReadings:     8,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxDecodedBytes <= 0 {
		l.MaxDecodedBytes = d.MaxDecodedBytes
	}
	if l.MaxReadings <= 0 {
		l.MaxReadings = d.MaxReadings
	}
	return l
}

// Header is one header field.
type Header struct {
	// Name is the field name as written.
	Name string `json:"name"`
	// Raw is the value as in the message, unfolded (RFC 5322 section 2.2.3)
	// and trimmed.
	Raw string `json:"raw"`
	// Decoded is Raw with RFC 2047 encoded words and raw legacy charsets
	// decoded to UTF-8; see [DecodeHeader].
	Decoded string `json:"decoded"`
}

// Part is one leaf body part: a part that is neither multipart nor an
// encapsulated message.
type Part struct {
	// ContentType is the lower-case media type, e.g. "text/plain". A
	// missing or unparsable Content-Type gives "text/plain" (RFC 2045
	// section 5.2).
	ContentType string `json:"content_type"`
	// Charset is the lower-case charset parameter, if any.
	Charset string `json:"charset,omitempty"`
	// Filename is the decoded UTF-8 file name, from the Content-Disposition
	// filename parameter or else the Content-Type name parameter, in
	// RFC 2231 or RFC 2047 form.
	Filename string `json:"filename,omitempty"`
	// Disposition is "attachment", "inline" or "" (none given). Unknown
	// dispositions count as "attachment" (RFC 2183 section 2.8).
	Disposition string `json:"disposition,omitempty"`
	// Size is the size after transfer decoding (base64, quoted-printable).
	Size int64 `json:"size"`
	// Depth is the MIME nesting depth: 0 for the body of a single-part
	// message, 1 for the parts of a top-level multipart.
	Depth int `json:"depth"`
	// Where names the part as findings do: "body" for the body of a
	// single-part message, else "part:" and its IMAP-style section number
	// ("part:1.2"). Under ambiguous MIME, "~N" marks a further reading of
	// the entity before it ("part:1~2.1" is part 1 of the second reading
	// of part 1; "part:~2" the second reading of the whole body), and
	// "~cr" the reading of bare CRs the other way.
	Where string `json:"where"`

	raw    []byte // the encoded body, a slice of the parsed message
	cte    string // the transfer encoding to undo for Body
	opaque bool   // unparsable multipart: Body gives raw bytes
}

// TransferEncoding is the part's Content-Transfer-Encoding, lower-case
// without comments ("base64", "quoted-printable", "7bit", ...; "" when
// none was given), for checks that judge how text was encoded.
func (p *Part) TransferEncoding() string { return p.cte }

// Encoded returns the part's body as it is in the message, transfer
// encoding not undone. The bytes alias the parsed message; do not modify
// them.
func (p *Part) Encoded() []byte { return p.raw }

// Body returns the part's content with its transfer encoding undone (no
// charset conversion). It decodes leniently, like [Parse]. The bytes alias
// the parsed message for unencoded parts; do not modify them.
func (p *Part) Body() []byte {
	switch {
	case p.opaque:
		return p.raw
	case p.cte == "base64":
		out := make([]byte, 0, len(p.raw)/4*3+3)
		decodeBase64(p.raw, func(b []byte) { out = append(out, b...) })
		return out
	case p.cte == "quoted-printable":
		out := make([]byte, 0, len(p.raw))
		decodeQP(p.raw, func(b []byte) { out = append(out, b...) })
		return out
	}
	return p.raw
}

// Message is the parsed model of one message that content checks work on.
type Message struct {
	// From, To, Subject and MessageID are the first such top-level header,
	// decoded to UTF-8 and unfolded; From and To as display text, e.g.
	// `山田 <yamada@example.jp>`.
	From      string `json:"from"`
	To        string `json:"to"`
	Subject   string `json:"subject"`
	MessageID string `json:"message_id"`
	// Headers holds every top-level header field, in order.
	Headers []Header `json:"headers"`
	// Parts holds every leaf part, in order, including those of attached
	// messages (message/rfc822) and those of every reading of ambiguous
	// MIME.
	Parts []Part `json:"parts"`
	// Attachments holds the file names of parts with a file name or with
	// disposition "attachment", attached messages included. A part whose
	// Content-Disposition and Content-Type give different names, or that
	// repeats a name parameter, contributes every name, so that a name check
	// sees what any mail client might show. A name seen under several
	// readings of ambiguous MIME is listed once. A nameless attachment
	// gives "".
	Attachments []string `json:"attachments"`
	// Text is the decoded text of the text/plain and text/html parts (HTML
	// tags kept), in UTF-8, parts separated by "\n", at most
	// Limits.MaxDecodedBytes long. Content checks such as [Message.GTUBE]
	// search it.
	Text string `json:"text"`
	// Findings lists the anomalies found: [FindingMalformed],
	// [FindingAmbiguous], [FindingCharsetGuessed] and [FindingExclusion].
	Findings []scanner.Finding `json:"findings"`

	spans []textSpan
}

// textSpan says where a stretch of Text came from.
type textSpan struct {
	start, end int
	where      string // "body", "attachment:NAME", "part:1.2"
	part       string // the part's Where
}

// TextSpan is one part's stretch of [Message.Text], for checks that match
// text by where it came from (keyword lists, DLP templates).
type TextSpan struct {
	// Where is "body", or "attachment:NAME" for a text part that is an
	// attachment, as findings name it.
	Where string
	// Part is the part's [Part.Where] ("body", "part:1.2").
	Part string
	// HTML is set for a text/html part, whose Text keeps its tags.
	HTML bool
	// Text is the part's decoded text.
	Text string
}

// TextSpans returns [Message.Text] split by part, in order.
func (m *Message) TextSpans() []TextSpan {
	html := map[string]bool{}
	for _, p := range m.Parts {
		if p.ContentType == "text/html" {
			html[p.Where] = true
		}
	}
	out := make([]TextSpan, 0, len(m.spans))
	for _, s := range m.spans {
		out = append(out, TextSpan{Where: s.where, Part: s.part, HTML: html[s.part], Text: m.Text[s.start:s.end]})
	}
	return out
}

// Parse reads a whole RFC 5322 message, with CRLF or LF line ends (and bare
// CR ones, flagged), and builds its [Message]. It never fails: what it
// cannot understand becomes a finding, and a read error ends the input
// (with a finding) rather than the parse. Parse keeps the bytes read for [Part.Body]; use [ParseBytes] to
// avoid the copy when the message is already in memory.
func Parse(r io.Reader, lim Limits) *Message {
	var buf []byte
	var err error
	if br, ok := r.(*bytes.Reader); ok {
		buf = make([]byte, br.Len())
		_, err = io.ReadFull(br, buf)
	} else {
		buf, err = io.ReadAll(r)
	}
	m := ParseBytes(buf, lim)
	if err != nil {
		m.Findings = append(m.Findings, scanner.Finding{
			Name: FindingMalformed, Where: "message",
			Reason: "reading the message failed; only what was read was scanned: " + err.Error(),
		})
	}
	return m
}

// recoverPanics makes Parse turn an internal panic into a finding. Fuzz
// tests switch it off so that panics are seen.
var recoverPanics = true

// ParseBytes is [Parse] on a message already in memory. The [Message] keeps
// references into msg; do not modify msg while the Message is in use.
func ParseBytes(msg []byte, lim Limits) (m *Message) {
	m = &Message{}
	w := walker{m: m, lim: lim.withDefaults()}
	if recoverPanics {
		defer func() {
			if r := recover(); r != nil {
				m.Findings = append(m.Findings, scanner.Finding{
					Name: FindingMalformed, Where: "message", Value: truncate(fmt.Sprint(r), 200),
					Reason: "internal parser error; the message was only partly scanned",
				})
				// The header and some text are decoded after the walk:
				// save what can be.
				func() {
					defer func() { _ = recover() }()
					if m.Headers == nil {
						w.decodeTop()
					}
					w.text.finish(&w)
				}()
				m.Text = w.text.b.String()
				m.spans = w.text.spans
			}
		}()
	}
	w.message(msg)
	return m
}

// GTUBE reports whether the decoded text contains the [GTUBE] string, with a
// [FindingGTUBE] finding whose Where is "body", or "attachment:NAME" when the
// text came from a text part that is an attachment.
func (m *Message) GTUBE() (scanner.Finding, bool) {
	i := strings.Index(m.Text, GTUBE)
	if i < 0 {
		return scanner.Finding{}, false
	}
	where := "body"
	for _, s := range m.spans {
		if i >= s.start && i < s.end {
			where = s.where
			break
		}
	}
	return scanner.Finding{
		Name:   FindingGTUBE,
		Value:  GTUBE,
		Where:  where,
		Reason: "message contains the GTUBE test string",
	}, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
