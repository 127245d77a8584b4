// Package textscan gives content checks (keyword lists, DLP templates) the
// texts of a message by entity: the subject, the plain and HTML body text,
// header fields, attachment names and the text of text attachments, each
// with the Where its findings name.
//
// The work is bounded by the message model: its decoded text is capped at
// limits.max_decoded_bytes (going over is scan.exclusion), and its headers
// by the header limits, so a check scans at most that much per entity.
// HTML is rendered to text here by a small tag stripper (tags, comments,
// script and style dropped, entities decoded), enough for matching.
package textscan

import (
	"fmt"
	"html"
	"strings"

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
	AttachmentText  = "attachment_text"  // text/* attachments (HTML as text)
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

// Texts returns the texts of m that s names, in message order.
func (s Set) Texts(m *message.Message) []Text {
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

// HTMLText renders HTML to text for matching: tags other than inline ones
// (b, i, span, font, a, ...) and comments become a space (block boundaries
// must not glue words together, and inline tags must not split one), the content of
// script and style elements is dropped, and character references are
// decoded. It never fails; unclosed constructs end the text.
func HTMLText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(html.UnescapeString(s))
			break
		}
		b.WriteString(html.UnescapeString(s[:i]))
		s = s[i:]
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s[4:], "-->")
			if end < 0 {
				break
			}
			s = s[4+end+3:]
			b.WriteByte(' ')
			continue
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			break
		}
		tag := strings.ToLower(s[1:end])
		s = s[end+1:]
		if !inline[tagName(tag)] {
			b.WriteByte(' ')
		}
		for _, el := range [...]string{"script", "style"} {
			if strings.HasPrefix(tag, el) && (len(tag) == len(el) || !isNameByte(tag[len(el)])) {
				// Skip to the closing tag.
				j := indexFold(s, "</"+el)
				if j < 0 {
					s = ""
				} else {
					s = s[j:]
				}
			}
		}
	}
	return b.String()
}

// inline are the elements that do not break a word when rendered: a word
// split by <b></b> or <span> still reads as one.
var inline = map[string]bool{
	"a": true, "abbr": true, "b": true, "bdi": true, "bdo": true, "cite": true, "code": true,
	"data": true, "dfn": true, "em": true, "font": true, "i": true, "kbd": true, "mark": true,
	"q": true, "s": true, "samp": true, "small": true, "span": true, "strike": true,
	"strong": true, "sub": true, "sup": true, "time": true, "u": true, "var": true, "wbr": true,
}

// tagName is the element name of a tag's inside ("/b", "span class=x").
func tagName(tag string) string {
	tag = strings.TrimPrefix(tag, "/")
	for i := 0; i < len(tag); i++ {
		if !isNameByte(tag[i]) {
			return tag[:i]
		}
	}
	return tag
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
}

// indexFold is strings.Index for an ASCII needle, ignoring ASCII case.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
