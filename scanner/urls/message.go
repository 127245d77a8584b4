package urls

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"

	"github.com/mailwarden/mailwarden/scanner/message"
)

// FromMessage collects the URLs of every text part of m: text/plain as
// plain text ("body"), text/html as HTML ("html"), and text attachments
// as either ("attachment:NAME"). Parts are decoded from their charset;
// bytes that do not decode end a URL, as they cannot be part of one.
func FromMessage(m *message.Message, lim Limits) *Collector {
	c := New(lim)
	if m == nil {
		return c
	}
	for i := range m.Parts {
		p := &m.Parts[i]
		isHTML := p.ContentType == "text/html" || p.ContentType == "application/xhtml+xml"
		if !isHTML && !strings.HasPrefix(p.ContentType, "text/") {
			continue
		}
		where := "body"
		if isHTML {
			where = "html"
		}
		if p.Disposition == "attachment" || p.Filename != "" {
			where = "attachment:" + p.Filename
		}
		if c.scanned >= c.lim.MaxBytes {
			c.reach("urls.max_bytes=" + itoa(c.lim.MaxBytes))
			break
		}
		s := decode(p, c.lim.MaxBytes-c.scanned)
		if isHTML {
			c.HTML(s, where)
		} else {
			c.Text(s, where)
		}
	}
	return c
}

// decode returns at most max bytes of a part's text in UTF-8.
func decode(p *message.Part, max int) string {
	b := p.Body()
	if len(b) > max {
		b = b[:max]
	}
	if p.Charset != "" && !strings.EqualFold(p.Charset, "utf-8") && !strings.EqualFold(p.Charset, "us-ascii") {
		if r, err := charset.Reader(p.Charset, bytes.NewReader(b)); err == nil {
			if out, err := io.ReadAll(io.LimitReader(r, int64(max))); err == nil || len(out) > 0 {
				b = out
			}
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
