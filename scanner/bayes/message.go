package bayes

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"strings"

	"github.com/mailwarden/mailwarden/scanner/htmltext"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/scanner/urls"
)

// docHeaders are the header fields besides Subject and From whose values
// the tokenizer reads, lower case.
var docHeaders = map[string]bool{"received": true, "content-type": true, "x-mailer": true, "user-agent": true}

// FromMessage is what the tokenizer reads of a parsed message: its Subject
// and From, the Received, Content-Type, X-Mailer and User-Agent fields, the
// text of its text parts that are not attachments, and the hosts and paths
// of the URLs [urls.FromMessage] finds. A nil m is an empty Doc.
func FromMessage(m *message.Message) Doc {
	if m == nil {
		return Doc{}
	}
	d := Doc{Subject: m.Subject, From: m.From}
	for _, h := range m.Headers {
		if docHeaders[strings.ToLower(h.Name)] {
			d.Headers = append(d.Headers, [2]string{h.Name, h.Decoded})
		}
	}
	var text strings.Builder
	for _, sp := range m.TextSpans() {
		if strings.HasPrefix(sp.Where, "attachment:") {
			continue
		}
		if text.Len() > 0 {
			text.WriteByte('\n')
		}
		if sp.HTML {
			// Rendered as a reader sees it; the tokenizer reads no more
			// than its MaxTextBytes of the whole text anyway.
			text.WriteString(htmltext.Render(sp.Text, htmltext.Limits{MaxBytes: 1 << 20}).Text)
		} else {
			text.WriteString(sp.Text)
		}
	}
	d.Text = text.String()
	for _, u := range urls.FromMessage(m, urls.DefaultLimits()).URLs() {
		path, _, _ := strings.Cut(u.Rest, "?")
		path, _, _ = strings.Cut(path, "#")
		d.URLs = append(d.URLs, URL{Host: u.Host, Path: path})
	}
	return d
}

// Hash is a token's 64-bit FNV-1a hash, as token databases store it: a
// fixed 8 bytes a token, whatever its length (SpamAssassin and rspamd keep
// hashes too). At a million tokens a collision between two is unlikely
// (about 3·10⁻⁸), and would only merge their counts.
func Hash(tok string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(tok))
	return h.Sum64()
}

// Digest identifies a message for learning, so that learning it again
// counts once: the SHA-256 of its Message-ID, Date and From fields and
// its decoded text, in hex. Fields a later hop adds or changes (Received,
// a release header, a tag in the Subject) leave it alone, so the
// quarantined copy and the delivered one are one message.
func Digest(m *message.Message) string {
	h := sha256.New()
	if m != nil {
		var date string
		for _, f := range m.Headers {
			if strings.EqualFold(f.Name, "Date") {
				date = f.Raw
				break
			}
		}
		for _, s := range []string{m.MessageID, date, m.From, m.Text} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
