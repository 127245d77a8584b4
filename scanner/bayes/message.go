package bayes

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/mailwarden/mailwarden/scanner/htmltext"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/scanner/urls"
)

// FromMessage is what the tokenizer reads of a parsed message: its Subject
// and From, its other header fields but those [IgnoredHeader] leaves out, the
// text of its text parts that are not attachments, and the hosts and paths
// of the URLs [urls.FromMessage] finds. A nil m is an empty Doc.
func FromMessage(m *message.Message) Doc {
	if m == nil {
		return Doc{}
	}
	return FromMessageURLs(m, urls.FromMessage(m, URLLimits))
}

// URLLimits bound the URL search of [FromMessage]: 500 URLs, 100 links,
// the first 256 KB of text, as much as the tokenizer reads.
var URLLimits = urls.Limits{MaxURLs: 500, MaxLinks: 100, MaxBytes: 256 << 10}

// FromMessageURLs is [FromMessage] with the URL search under [URLLimits]
// already done (shared with other checks of the message).
func FromMessageURLs(m *message.Message, found *urls.Collector) Doc {
	if m == nil {
		return Doc{}
	}
	d := Doc{Subject: m.Subject, From: m.From}
	for _, h := range m.Headers {
		if !IgnoredHeader(h.Name) {
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
			r := htmltext.Render(sp.Text, htmltext.Limits{MaxBytes: 1 << 20})
			text.WriteString(r.Text)
			for _, tag := range r.Tags {
				if len(d.Markup) < htmltext.MaxTags && !slices.Contains(d.Markup, tag) {
					d.Markup = append(d.Markup, tag)
				}
			}
		} else {
			text.WriteString(sp.Text)
		}
	}
	d.Text = text.String()
	for _, u := range found.URLs() {
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

// ignoredHeaders are fields whose tokens mislead (SpamAssassin's Bayes
// leaves out much the same): the date, which an old corpus makes a cue;
// mailing-list fields, which would make a list that discusses spam a ham
// sign; fields a delivery agent, a mail store or a reader adds
// (Return-Path and Delivered-To among them: the milter never sees them,
// and a message learned from a mailbox has them); other filters' and
// authentication verdicts, mailwarden's own Authentication-Results among
// them, which would teach the classifier to copy them and which a sender
// can forge; and fields of the message's own handling. Lower case.
var ignoredHeaders = map[string]bool{
	"subject": true, "from": true, // read apart
	"date": true, "delivery-date": true, "delivered-to": true, "envelope-to": true, "x-envelope-to": true,
	"sender": true, "x-sender": true, "return-receipt-to": true,
	"list-archive": true, "list-help": true, "list-id": true, "list-owner": true, "list-post": true,
	"list-subscribe": true, "list-unsubscribe": true, "list-unsubscribe-post": true, "mailing-list": true,
	"x-mailing-list": true, "x-mailman-version": true, "x-beenthere": true, "x-loop": true,
	"mail-followup-to": true, "precedence": true, "x-original-date": true, "x-original-to": true,
	"resent-from": true, "resent-to": true, "resent-date": true, "resent-message-id": true,
	"content-length": true, "lines": true, "status": true, "x-status": true, "x-keywords": true,
	"x-uid": true, "x-uidl": true, "x-flags": true, "x-imapbase": true, "xref": true,
	"thread-index": true, "thread-topic": true, "content-class": true, "x-originalarrivaltime": true,
	"x-virus-scanned": true, "x-scanned-by": true, "x-mime-autoconverted": true,
	"x-gnus-mail-source": true, "x-face": true, "face": true,
	"return-path": true, "errors-to": true, "x-envelope-from": true, "x-apparently-to": true,
	"x-forwarded-to": true, "x-forwarded-for": true, "x-original-recipient": true, "x-delivered-to": true,
	"x-rcpt-to": true, "x-resolved-to": true,
	"authentication-results": true, "received-spf": true, "x-greylist": true, "x-sieve": true,
	"x-forefront-antispam-report": true, "x-forefront-antispam-report-untrusted": true,
}

// ignoredPrefixes start the names of fields IgnoredHeader leaves out.
var ignoredPrefixes = []string{"x-spam", "x-mailwarden-", "x-virus", "x-mailscanner", "x-bogosity", "x-list-", "x-mailman-",
	"x-egroups-", "x-vm-", "x-bugzilla-", "list-", "arc-", "x-microsoft-antispam", "x-ms-exchange-organization-", "x-rspamd-",
	"x-amavis-", "x-ironport-", "x-proofpoint-", "x-barracuda-", "x-dspam", "x-policyd-", "x-spamd-", "x-quarantine-"}

// IgnoredHeader reports a header field the tokenizer does not read: those
// in ignoredHeaders, other filters' and receiving systems' (X-Spam-*,
// X-Mailwarden-*, X-Virus-*, X-MailScanner*, X-Bogosity, ARC-*,
// X-Microsoft-Antispam*, X-MS-Exchange-Organization-*, X-Rspamd-*,
// X-Amavis-*, X-IronPort-*, X-Proofpoint-*, X-Barracuda-* ...) and list
// software's (X-List-*, X-Mailman-*).
func IgnoredHeader(name string) bool {
	n := strings.ToLower(name)
	if ignoredHeaders[n] {
		return true
	}
	for _, p := range ignoredPrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}
