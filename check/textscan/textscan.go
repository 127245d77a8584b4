// Package textscan gives content checks (keyword lists, DLP templates) the
// texts of a message by entity: the subject, the plain and HTML body text,
// header fields, attachment names and the text of text attachments, each
// with the Where its findings name.
//
// The work is bounded by the message model: its decoded text is capped at
// limits.max_decoded_bytes (going over is scan.exclusion), and its headers
// by the header limits, so a check scans at most that much per entity.
// HTML is rendered to text by scanner/htmltext. The attachment_text entity
// also holds the text of PDF, DOCX, XLSX and PPTX attachments, extracted
// by scanner/doctext once per message however many checks ask for it (see
// [Documents]).
package textscan

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailwarden/mailwarden/scanner/htmltext"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// The entities, as config names them.
const (
	Subject         = "subject"          // the decoded Subject
	Body            = "body"             // text/plain parts that are not attachments
	HTML            = "html"             // text/html parts that are not attachments, as text
	Headers         = "headers"          // every header field, decoded
	HeaderPrefix    = "header:"          // header:NAME, one header field by name
	AttachmentNames = "attachment_names" // attachment file names
	AttachmentText  = "attachment_text"  // text/* attachments (HTML as text), and PDF, DOCX, XLSX, PPTX text
)

// Names lists the entity names without the header: form, for hints.
var Names = []string{Subject, Body, HTML, Headers, HeaderPrefix + "NAME", AttachmentNames, AttachmentText}

// Set is a parsed list of entities.
type Set struct {
	subject, body, html, allHeaders, names, attText bool
	headers                                         []string // lower-case names
}

// Parse reads entity names; it reports the first it does not know.
func Parse(names []string) (Set, error) {
	var s Set
	for _, n := range names {
		if err := s.add(n); err != nil {
			return Set{}, err
		}
	}
	return s, nil
}

// Check reports whether name is an entity.
func Check(name string) error {
	var s Set
	return s.add(name)
}

func (s *Set) add(n string) error {
	switch n {
	case Subject:
		s.subject = true
	case Body:
		s.body = true
	case HTML:
		s.html = true
	case Headers:
		s.allHeaders = true
	case AttachmentNames:
		s.names = true
	case AttachmentText:
		s.attText = true
	default:
		h, ok := strings.CutPrefix(n, HeaderPrefix)
		if !ok || h == "" || strings.ContainsAny(h, ": \t") {
			return fmt.Errorf("textscan: unknown entity %q", n)
		}
		s.headers = append(s.headers, strings.ToLower(h))
	}
	return nil
}

// Text is one text to match, and where it came from: "subject", "body",
// "html", "header:Name", "attachment_name", "attachment:NAME".
type Text struct {
	Where string
	Text  string
}

// Texts is [Set.TextsContext] without a deadline.
func (s Set) Texts(m *message.Message) []Text {
	return s.TextsContext(context.Background(), m)
}

// TextsContext returns the texts of m that s names, in message order, the
// text of document attachments last; ctx bounds their extraction.
func (s Set) TextsContext(ctx context.Context, m *message.Message) []Text {
	if m == nil {
		return nil
	}
	var out []Text
	if s.subject && m.Subject != "" {
		out = append(out, Text{Where: Subject, Text: m.Subject})
	}
	if s.allHeaders || len(s.headers) > 0 {
		for _, h := range m.Headers {
			if s.allHeaders || contains(s.headers, strings.ToLower(h.Name)) {
				out = append(out, Text{Where: "header:" + h.Name, Text: h.Decoded})
			}
		}
	}
	for _, sp := range m.TextSpans() {
		att := strings.HasPrefix(sp.Where, "attachment:")
		switch {
		case att && s.attText:
			t := sp.Text
			if sp.HTML {
				t = HTMLText(t)
			}
			out = append(out, Text{Where: sp.Where, Text: t})
		case !att && sp.HTML && s.html:
			out = append(out, Text{Where: HTML, Text: HTMLText(sp.Text)})
		case !att && !sp.HTML && s.body:
			out = append(out, Text{Where: Body, Text: sp.Text})
		}
	}
	if s.names {
		for _, n := range m.Attachments {
			if n != "" {
				out = append(out, Text{Where: "attachment_name", Text: n})
			}
		}
	}
	if s.attText {
		for _, d := range Documents(ctx, m) {
			if d.Text != "" {
				out = append(out, Text{Where: d.Where, Text: d.Text})
			}
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// HTMLText renders HTML to the text a reader sees, through
// [htmltext.Render] with its default bounds, so that keyword lists, DLP
// templates and URL extraction all match the same text.
func HTMLText(s string) string {
	return htmltext.Render(s, htmltext.Limits{}).Text
}
