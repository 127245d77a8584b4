package spamtest

import (
	"fmt"
	"net/mail"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/scanner/htmltext"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/scanner/urls"
)

// The bounds of what the tests examine.
const (
	maxHeader      = 1 << 10   // bytes of one header value
	maxReceived    = 64        // Received fields parsed
	manyHops       = 25        // more Received fields than this is received_many_hops
	maxTextParts   = 16        // body text parts examined
	maxPartText    = 256 << 10 // decoded text of one part examined
	maxHTMLSource  = 1 << 20   // HTML source rendered per part
	maxObfuscation = 256 << 10 // text scanned for obfuscated words, all parts together
	manyDomains    = 12        // more distinct registrable domains than this is many_domains
)

// test is one spam test.
type test struct {
	name  string
	score float64
	doc   string
	fn    func(*state) (hit, bool)
}

// hit is what a test found.
type hit struct {
	value, where, reason string
	// scale multiplies the test's score when not 0: a phrase family
	// found more than it needs to hold counts half again.
	scale float64
}

// tests are every test, in the order they run and report.
var tests = []test{
	{"missing_date", 1.4, "the message has no Date field", missingDate},
	{"invalid_date", 1.5, "the Date field is not an RFC 5322 date-time, or has no time zone", invalidDate},
	{"date_future", 2.2, "Date is more than 12 hours after the session's time", dateFuture},
	{"date_past", 1.5, "Date is more than 96 hours before the session's time", datePast},
	{"missing_message_id", 0.5, "the message has no Message-ID field", missingMessageID},
	{"invalid_message_id", 1.5, "the Message-ID is not <left@right.domain>", invalidMessageID},
	{"forged_mua_outlook", 2.5, "X-Mailer claims Microsoft Outlook without Outlook's Thread-Index", forgedOutlook},
	{"forged_mua_apple", 2.0, "X-Mailer claims Apple Mail without Apple's UUID Message-ID", forgedApple},
	{"received_helo_ip", 2.0, "a Received hop's HELO is an IP literal other than the client's address", receivedHeloIP},
	{"received_many_hops", 1.0, fmt.Sprintf("more than %d Received fields", manyHops), receivedManyHops},
	{"subject_all_caps", 2.0, "the subject is in capitals only", subjectAllCaps},
	{"subject_punctuation", 0.5, "the subject is full of punctuation or has !!!, ??? or $$$", subjectPunctuation},
	{"subject_8bit", 0.5, "the raw Subject has 8-bit bytes and no RFC 2047 encoding", subject8bit},
	{"charset_mismatch", 1.3, "a text part's declared charset does not fit its bytes, or had to be guessed", charsetMismatch},
	{"html_only_short", 2.0, "HTML without a text/plain part, showing fewer than 200 characters", htmlOnlyShort},
	{"image_only", 2.0, "HTML with images and fewer than 100 characters of text", imageOnly},
	{"invisible_text", 1.5, "the HTML hides at least 200 bytes of text", invisibleText},
	{"obfuscated_words", 1.0, "words with mixed scripts, zero-width characters or letters spaced out", obfuscatedWords},
	{"base64_text", 2.0, "a body text part is base64-encoded though it is 7-bit ASCII", base64Text},
	{"qp_letters", 1.5, "a quoted-printable text part escapes letters or digits", qpLetters},
	{"many_domains", 0.2, fmt.Sprintf("URLs name more than %d registrable domains", manyDomains), manyDomainsTest},
}

// state is one message as the tests see it; the body view is built once,
// on first use.
type state struct {
	m    *message.Message
	now  time.Time
	body *bodyView
	// phrases is what the phrase tests found, once per message.
	phrases phraseHits
	// rcvd is the parsed Received fields, once per message.
	rcvd []rcvdField
	// urls is the URL search of the URL tests, once per message.
	urls *urls.Collector
	// shared is the stage's memo, where the URL search is shared with
	// the classifier.
	shared *check.Shared
}

func newState(m *message.Message, now time.Time) *state { return &state{m: m, now: now} }

// header returns the first top-level field named name, cut to maxHeader
// bytes, and whether there is one.
func (s *state) header(name string) (string, bool) {
	for _, h := range s.m.Headers {
		if strings.EqualFold(h.Name, name) {
			return cut(h.Raw, maxHeader), true
		}
	}
	return "", false
}

// headerCut reports whether the top-level header block was larger than the
// parser reads, so that a field may be missing only from what was read.
func (s *state) headerCut() bool {
	for _, f := range s.m.Findings {
		if f.Name == message.FindingExclusion && strings.HasPrefix(f.Value, "mime.max_header_bytes=") && !strings.HasPrefix(f.Where, "part:") {
			return true
		}
	}
	return false
}

// cut cuts s to at most n bytes at a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// --- Date

func missingDate(s *state) (hit, bool) {
	if _, ok := s.header("Date"); ok || s.headerCut() {
		return hit{}, false
	}
	return hit{where: "header:Date", reason: "the message has no Date field (RFC 5322 section 3.6 requires one)"}, true
}

// zoneComment is a trailing comment after the zone: "+0000 (UTC)".
var zoneComment = regexp.MustCompile(`\s*\([^()]*\)\s*$`)

// dateLayouts are what parseDate accepts besides net/mail's forms.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon, 2 Jan 06 15:04:05 MST",
	"2 Jan 06 15:04:05 -0700",
	"Mon, 2-Jan-2006 15:04:05 -0700",
	"Mon, 02 Jan 2006 15:04:05 -0700 MST",
	time.UnixDate,
}

// zonelessLayouts are the dates without a zone that scripts write: read
// as UTC, for the skew tests, but not RFC 5322 date-times.
var zonelessLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04:05",
	time.ANSIC,
}

// parseDate reads an RFC 5322 date-time (section 3.3) leniently, as mail
// clients write it: the obsolete forms (two-digit years, zone names),
// optional day name and seconds, a trailing comment, odd spacing. zoned
// is false for a date without a zone (a comment is not one), which RFC
// 5322 requires.
func parseDate(v string) (t time.Time, zoned, ok bool) {
	v = strings.Join(strings.Fields(v), " ")
	if t, err := mail.ParseDate(v); err == nil {
		return t, true, true
	}
	v = zoneComment.ReplaceAllString(v, "")
	if strings.HasSuffix(v, " UT") {
		v += "C"
	}
	if t, err := mail.ParseDate(v); err == nil {
		return t, true, true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, true, true
		}
	}
	for _, l := range zonelessLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, false, true
		}
	}
	return time.Time{}, false, false
}

func invalidDate(s *state) (hit, bool) {
	v, ok := s.header("Date")
	if !ok {
		return hit{}, false
	}
	_, zoned, ok := parseDate(v)
	switch {
	case !ok:
		return hit{value: v, where: "header:Date", reason: "the Date field is not an RFC 5322 date-time"}, true
	case !zoned:
		return hit{value: v, where: "header:Date", reason: "the Date field has no time zone, which an RFC 5322 date-time requires"}, true
	}
	return hit{}, false
}

func dateSkew(s *state) (time.Duration, string, bool) {
	v, ok := s.header("Date")
	if !ok {
		return 0, "", false
	}
	t, _, ok := parseDate(v)
	if !ok {
		return 0, "", false
	}
	return t.Sub(s.now), v, true
}

func dateFuture(s *state) (hit, bool) {
	d, v, ok := dateSkew(s)
	if !ok || d <= 12*time.Hour {
		return hit{}, false
	}
	return hit{value: v, where: "header:Date", reason: fmt.Sprintf("the Date is %s after the time the message was received", roundDur(d))}, true
}

func datePast(s *state) (hit, bool) {
	d, v, ok := dateSkew(s)
	if !ok || -d <= 96*time.Hour {
		return hit{}, false
	}
	return hit{value: v, where: "header:Date", reason: fmt.Sprintf("the Date is %s before the time the message was received", roundDur(-d))}, true
}

// roundDur says d in hours, or in days when longer than two.
func roundDur(d time.Duration) string {
	if h := d.Hours(); h < 48 {
		return fmt.Sprintf("%.0f hours", h)
	}
	return fmt.Sprintf("%.0f days", d.Hours()/24)
}

// --- Message-ID

func missingMessageID(s *state) (hit, bool) {
	if _, ok := s.header("Message-ID"); ok || s.headerCut() {
		return hit{}, false
	}
	return hit{where: "header:Message-ID", reason: "the message has no Message-ID field, which every mail client and MTA writes"}, true
}

// msgIDLeft and msgIDRight are the lenient sides of a msg-id
// (RFC 5322 section 3.6.4): printable ASCII without space, angle brackets
// or "@"; the right side is a dot-atom (a host name, qualified or not, as
// many mail clients write it) or an address literal.
var (
	msgIDLeft  = regexp.MustCompile(`^[!-?A-~]+$`)
	msgIDRight = regexp.MustCompile(`^(?:[!-\-/-?A-Z\^-~]+(?:\.[!-\-/-?A-Z\^-~]+)*|\[[!-Z\^-~]+\])$`)
)

// validMessageID reports whether v is one <left@right> msg-id.
func validMessageID(v string) bool {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "<") || !strings.HasSuffix(v, ">") {
		return false
	}
	left, right, ok := strings.Cut(v[1:len(v)-1], "@")
	return ok && msgIDLeft.MatchString(left) && msgIDRight.MatchString(right) && !strings.Contains(right, "@")
}

func invalidMessageID(s *state) (hit, bool) {
	v, ok := s.header("Message-ID")
	if !ok || validMessageID(v) {
		return hit{}, false
	}
	return hit{value: v, where: "header:Message-ID", reason: "the Message-ID is not of the form <left@right> (RFC 5322 section 3.6.4)"}, true
}

// --- forged mailers

func forgedOutlook(s *state) (hit, bool) {
	xm, ok := s.header("X-Mailer")
	if !ok {
		return hit{}, false
	}
	l := strings.ToLower(xm)
	if !strings.HasPrefix(l, "microsoft outlook") && !strings.HasPrefix(l, "microsoft office outlook") ||
		strings.Contains(l, "express") {
		return hit{}, false
	}
	// Outlook writes Thread-Index from Outlook 2003 (version 11) on;
	// Outlook 97 to 2002 (8.x to 10.0) did not always. A claim without a
	// version is judged as a current Outlook.
	if v := outlookMajor(l); v >= 8 && v <= 10 {
		return hit{}, false
	}
	if _, ok := s.header("Thread-Index"); ok {
		return hit{}, false
	}
	return hit{value: xm, where: "header:X-Mailer", reason: "X-Mailer claims Microsoft Outlook 2003 or later, but the message has no Thread-Index field, which those versions always write"}, true
}

// outlookMajor is the major version in an Outlook X-Mailer (lower case):
// the first number after "outlook", 0 for none.
func outlookMajor(l string) int {
	_, rest, _ := strings.Cut(l, "outlook")
	i := strings.IndexAny(rest, "0123456789")
	if i < 0 {
		return 0
	}
	n := 0
	for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9' && n < 1000; i++ {
		n = n*10 + int(rest[i]-'0')
	}
	return n
}

// appleMsgID is the left side of the Message-ID Apple's mail clients
// write: an upper-case UUID.
var appleMsgID = regexp.MustCompile(`^<[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}@`)

func forgedApple(s *state) (hit, bool) {
	xm, ok := s.header("X-Mailer")
	if !ok {
		return hit{}, false
	}
	if !strings.HasPrefix(xm, "Apple Mail (") && !strings.HasPrefix(xm, "iPhone Mail (") && !strings.HasPrefix(xm, "iPad Mail (") {
		return hit{}, false
	}
	id, _ := s.header("Message-ID")
	if appleMsgID.MatchString(strings.TrimSpace(id)) {
		return hit{}, false
	}
	return hit{value: xm + "; Message-ID " + id, where: "header:X-Mailer", reason: "X-Mailer claims Apple's mail client, but the Message-ID is not the upper-case UUID it writes"}, true
}

// --- Received

// heloLiteral reads a HELO that is an address: "[192.0.2.1]",
// "[IPv6:2001:db8::1]" or a bare "192.0.2.1".
func heloLiteral(h string) (netip.Addr, bool) {
	h = strings.TrimSpace(h)
	if i := strings.IndexByte(h, ' '); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if len(h) > 5 && strings.EqualFold(h[:5], "ipv6:") {
		h = h[5:]
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func receivedHeloIP(s *state) (hit, bool) {
	for _, r := range s.receivedFields() {
		f := r.f
		if !f.IP.IsValid() {
			continue
		}
		if authenticated(r) {
			continue // an authenticated submission: the client is a person's computer
		}
		helo, ok := heloLiteral(f.HELO)
		if !ok || helo == f.IP.Unmap() {
			continue
		}
		if helo.IsPrivate() || helo.IsLoopback() || helo.IsLinkLocalUnicast() || cgnat.Contains(helo) {
			continue // a client behind NAT names its own inside address
		}
		return hit{value: fmt.Sprintf("helo=%s ip=%s", f.HELO, f.IP), where: "header:Received",
			reason: fmt.Sprintf("Received field %d: the client said HELO %s but connected from %s", r.n, f.HELO, f.IP)}, true
	}
	return hit{}, false
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func receivedManyHops(s *state) (hit, bool) {
	n := 0
	for _, h := range s.m.Headers {
		if strings.EqualFold(h.Name, "Received") {
			n++
		}
	}
	if n <= manyHops {
		return hit{}, false
	}
	return hit{value: fmt.Sprint(n), where: "header:Received", reason: fmt.Sprintf("the message has %d Received fields, more than any ordinary relay chain", n)}, true
}

// --- Subject

// subjectText is the decoded subject without reply and forward prefixes.
func (s *state) subjectText() string {
	v := cut(s.m.Subject, maxHeader)
	for {
		t := strings.TrimSpace(v)
		l := strings.ToLower(t)
		cut := false
		for _, p := range []string{"re:", "fw:", "fwd:", "aw:", "wg:", "tr:", "sv:", "vs:"} {
			if strings.HasPrefix(l, p) {
				t, cut = t[len(p):], true
				break
			}
		}
		v = t
		if !cut {
			return v
		}
	}
}

func subjectAllCaps(s *state) (hit, bool) {
	v := s.subjectText()
	upper := 0
	for _, r := range v {
		if unicode.IsLower(r) {
			return hit{}, false
		}
		if unicode.IsUpper(r) {
			upper++
		}
	}
	if upper < 10 {
		return hit{}, false
	}
	return hit{value: v, where: "subject", reason: "the subject is written in capital letters only"}, true
}

// punctRun finds a run of three or more "!", "?" or "$".
var punctRun = regexp.MustCompile(`[!?$]{3,}`)

func subjectPunctuation(s *state) (hit, bool) {
	v := s.subjectText()
	if m := punctRun.FindString(v); m != "" {
		return hit{value: v, where: "subject", reason: fmt.Sprintf("the subject has %q", clip(m, 20))}, true
	}
	punct, other := 0, 0
	for _, r := range v {
		switch {
		case unicode.IsSpace(r):
		case unicode.IsPunct(r) || r < 0x80 && unicode.IsSymbol(r):
			punct++
		default:
			other++
		}
	}
	if punct >= 6 && punct*2 > other {
		return hit{value: v, where: "subject", reason: fmt.Sprintf("%d of the subject's %d characters are punctuation", punct, punct+other)}, true
	}
	return hit{}, false
}

func subject8bit(s *state) (hit, bool) {
	v, ok := s.header("Subject")
	if !ok || strings.Contains(v, "=?") {
		return hit{}, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] >= 0x80 {
			return hit{value: s.m.Subject, where: "header:Subject", reason: "the Subject has 8-bit characters without RFC 2047 encoding"}, true
		}
	}
	return hit{}, false
}

// --- charset

// isBodyText reports whether p is body text: text/plain or text/html that
// is not an attachment.
func isBodyText(p *message.Part) bool {
	return (p.ContentType == "text/plain" || p.ContentType == "text/html") &&
		p.Disposition != "attachment" && p.Filename == ""
}

func charsetMismatch(s *state) (hit, bool) {
	n := 0
	for i := range s.m.Parts {
		p := &s.m.Parts[i]
		if !isBodyText(p) {
			continue
		}
		if n++; n > maxTextParts {
			break
		}
		if p.Charset != "us-ascii" && p.Charset != "utf-8" && p.Charset != "utf8" {
			continue
		}
		b := p.Body()
		if len(b) > maxPartText {
			b = b[:maxPartText]
		}
		if p.Charset == "us-ascii" {
			for _, c := range b {
				if c >= 0x80 {
					return hit{value: p.Charset, where: p.Where, reason: "the part declares us-ascii but has 8-bit bytes"}, true
				}
			}
			continue
		}
		if !validUTF8Cut(b, len(b) < len(p.Body())) {
			return hit{value: p.Charset, where: p.Where, reason: "the part declares utf-8 but its bytes are not UTF-8"}, true
		}
	}
	for _, f := range s.m.Findings {
		if f.Name == message.FindingCharsetGuessed && (f.Where == "body" || strings.HasPrefix(f.Where, "part:")) && !strings.Contains(f.Where, "/header:") {
			return hit{value: f.Value, where: f.Where, reason: "the part's charset had to be guessed: " + f.Reason}, true
		}
	}
	return hit{}, false
}

// validUTF8Cut is utf8.Valid, forgiving an incomplete rune at the end of
// a cut text.
func validUTF8Cut(b []byte, cut bool) bool {
	if cut {
		for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
			if utf8.Valid(b) {
				return true
			}
			b = b[:len(b)-1]
		}
	}
	return utf8.Valid(b)
}

// --- body

// bodySpan reports whether a text span is body text the reader sees: a
// body part, or the message's only entity when it is not an attachment
// though it has a file name (Content-Disposition: inline;
// filename="x.html"), which mail clients show as the body and which
// would otherwise hide the text from the body tests.
func (s *state) bodySpan(sp message.TextSpan) bool {
	if sp.Where == "body" {
		return true
	}
	if sp.Part != "body" {
		return false
	}
	for i := range s.m.Parts {
		if p := &s.m.Parts[i]; p.Where == "body" {
			return p.Disposition != "attachment" && (p.ContentType == "text/plain" || p.ContentType == "text/html")
		}
	}
	return false
}

// bodyView is the body text the body tests read.
type bodyView struct {
	plain      []string // text/plain body parts, each cut to maxPartText
	html       []string // text/html body parts' rendered text
	plainChars int      // characters of text/plain, spaces not counted
	shownChars int      // characters the HTML shows, spaces and hidden text not counted
	hidden     int      // bytes of hidden HTML text
	images     int      // <img> tags and image parts
}

func (s *state) bodyView() *bodyView {
	if s.body != nil {
		return s.body
	}
	b := &bodyView{}
	s.body = b
	html := map[string]bool{}
	n := 0
	for _, sp := range s.m.TextSpans() {
		if !s.bodySpan(sp) {
			continue
		}
		if n++; n > maxTextParts {
			break
		}
		if sp.HTML {
			html[sp.Part] = true
			src := cut(sp.Text, maxHTMLSource)
			b.images += remoteImages(src)
			r := htmltext.Render(src, htmltext.Limits{MaxBytes: maxPartText, MaxTokens: 200_000})
			b.html = append(b.html, r.Text)
			b.hidden += r.HiddenBytes
			b.shownChars += max(0, nonSpace(r.Text)-r.HiddenBytes)
			continue
		}
		t := cut(sp.Text, maxPartText)
		b.plain = append(b.plain, t)
		b.plainChars += nonSpace(t)
	}
	for _, p := range s.m.Parts {
		if strings.HasPrefix(p.ContentType, "image/") && p.Disposition != "attachment" && p.Filename == "" {
			b.images++
		}
	}
	return b
}

// remoteImages counts the <img> tags of src whose src attribute is an
// http or https URL: images a mail client fetches, as image spam shows
// them. A person's photo is a part with a file name, referenced by cid:.
func remoteImages(src string) int {
	n := 0
	for i := 0; i+4 <= len(src); i++ {
		if src[i] != '<' || !strings.EqualFold(src[i+1:i+4], "img") {
			continue
		}
		tag := src[i:min(len(src), i+1024)]
		if j := strings.IndexByte(tag, '>'); j >= 0 {
			tag = tag[:j]
		}
		l := strings.ToLower(tag)
		for k := strings.Index(l, "src="); k >= 0; {
			v := strings.TrimLeft(l[k+4:], "\"' ")
			if strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") {
				n++
				break
			}
			next := strings.Index(l[k+4:], "src=")
			if next < 0 {
				break
			}
			k += 4 + next
		}
	}
	return n
}

// nonSpace counts the characters of s that are not white space.
func nonSpace(s string) int {
	n := 0
	for _, r := range s {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

func htmlOnlyShort(s *state) (hit, bool) {
	b := s.bodyView()
	if len(b.html) == 0 || len(b.plain) > 0 || b.shownChars >= 200 || imageOnlyHolds(b) {
		return hit{}, false
	}
	return hit{value: fmt.Sprint(b.shownChars), where: "body", reason: fmt.Sprintf("the body is HTML only, without a text/plain part, and shows %d characters", b.shownChars)}, true
}

func imageOnlyHolds(b *bodyView) bool {
	return len(b.html) > 0 && b.images > 0 && b.shownChars < 100 && b.plainChars < 100
}

func imageOnly(s *state) (hit, bool) {
	b := s.bodyView()
	if !imageOnlyHolds(b) {
		return hit{}, false
	}
	return hit{value: fmt.Sprintf("images=%d text=%d", b.images, b.shownChars), where: "body",
		reason: fmt.Sprintf("the HTML body has %d images and shows only %d characters of text", b.images, b.shownChars)}, true
}

func invisibleText(s *state) (hit, bool) {
	b := s.bodyView()
	if b.hidden < 200 || b.hidden*4 < b.shownChars {
		return hit{}, false
	}
	return hit{value: fmt.Sprint(b.hidden), where: "body", reason: fmt.Sprintf("the HTML hides %d bytes of text from the reader, beside %d characters shown", b.hidden, b.shownChars)}, true
}

// obfuscatedWords scans the subject and the body text, maxObfuscation
// bytes in all.
func obfuscatedWords(s *state) (hit, bool) {
	b := s.bodyView()
	room := maxObfuscation
	texts := append([]string{s.m.Subject}, b.plain...)
	texts = append(texts, b.html...)
	for i, t := range texts {
		if room <= 0 {
			break
		}
		t = cut(t, room)
		room -= len(t)
		where := "body"
		if i == 0 {
			where = "subject"
		}
		if w, why, ok := obfuscated(t); ok {
			return hit{value: w, where: where, reason: why}, true
		}
	}
	return hit{}, false
}

// zeroWidth are the characters that show nothing and split nothing.
func zeroWidth(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff':
		return true
	}
	return false
}

// spacer are the separators of spaced-out letters.
func spacer(r rune) bool {
	switch r {
	case '.', '-', '*', '_', ' ':
		return true
	}
	return false
}

func latin(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r|0x20 && r|0x20 <= 'z'
	}
	return tableLatin(r)
}

//go:noinline
func tableLatin(r rune) bool { return r < 0x250 && unicode.IsLetter(r) }

// obfuscated finds the first obfuscated word in t: one that mixes Latin
// with Cyrillic or Greek letters, has a zero-width character between two
// letters, or spells out five or more single Latin letters with the same
// separator between them.
func obfuscated(t string) (string, string, bool) {
	rs := []rune(t)
	// Words: runs of letters, marks and zero-width characters.
	for i := 0; i < len(rs); {
		if !wordRune(rs[i]) {
			i++
			continue
		}
		j := i
		lat, other, zw := 0, 0, false
		for ; j < len(rs) && wordRune(rs[j]); j++ {
			r := rs[j]
			switch {
			case zeroWidth(r):
				if j > i && j+1 < len(rs) && isLetter(rs[j-1]) && isLetter(rs[j+1]) {
					zw = true
				}
			case latin(r):
				lat++
			case unicode.Is(unicode.Cyrillic, r) || unicode.Is(unicode.Greek, r):
				other++
			}
		}
		if zw {
			w := string(rs[i:min(j, i+60)])
			return clip(w, 60), "a zero-width character hides inside the word " + quoteVisible(w), true
		}
		if lat > 0 && other > 0 && lat+other >= 3 {
			w := string(rs[i:min(j, i+60)])
			return clip(w, 60), "the word " + quoteVisible(w) + " mixes Latin with Cyrillic or Greek letters", true
		}
		i = j
	}
	// Spaced-out letters.
	for i := 0; i < len(rs); i++ {
		if !latin(rs[i]) || i > 0 && isLetter(rs[i-1]) || i+2 >= len(rs) || !spacer(rs[i+1]) {
			continue
		}
		sep, j, n := rs[i+1], i, 1
		for j+2 < len(rs) && rs[j+1] == sep && latin(rs[j+2]) && (j+3 >= len(rs) || !isLetter(rs[j+3])) {
			j += 2
			n++
		}
		// Capitals spaced by spaces are letter-spaced typography (a
		// newsletter's "N E W S" heading) unless they spell a word of the
		// phrase tests (C I A L I S), hidden from filters.
		if n >= 5 && (sep != ' ' || !allUpper(rs[i:j+1]) || phraseVocabulary[spelled(rs[i:j+1])]) {
			w := string(rs[i:min(j+1, i+60)])
			return clip(w, 60), fmt.Sprintf("%d letters are spelled out with %q between them: %q", n, string(sep), clip(w, 60)), true
		}
		i = j
	}
	return "", "", false
}

// spelled is the lower-case word spaced-out letters spell.
func spelled(rs []rune) string {
	var b strings.Builder
	for _, r := range rs {
		if unicode.IsLetter(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// allUpper reports whether every letter of rs is a capital.
func allUpper(rs []rune) bool {
	for _, r := range rs {
		if unicode.IsLetter(r) && !unicode.IsUpper(r) {
			return false
		}
	}
	return true
}

// wordRune reports a letter, a mark or a zero-width character. Marks
// begin at U+0300, so the rest of Latin-1 and Latin Extended needs no
// table.
func wordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r|0x20 && r|0x20 <= 'z'
	}
	return tableWordRune(r)
}

//go:noinline
func tableWordRune(r rune) bool {
	if r < 0x300 {
		return unicode.IsLetter(r)
	}
	return unicode.IsLetter(r) || unicode.IsMark(r) || zeroWidth(r)
}

// quoteVisible quotes w with its invisible characters escaped.
func quoteVisible(w string) string { return fmt.Sprintf("%+q", clip(w, 60)) }

func base64Text(s *state) (hit, bool) {
	n := 0
	for i := range s.m.Parts {
		p := &s.m.Parts[i]
		if !isBodyText(p) || p.TransferEncoding() != "base64" {
			continue
		}
		if n++; n > maxTextParts {
			break
		}
		b := p.Body()
		if len(b) > maxPartText {
			b = b[:maxPartText]
		}
		if len(b) == 0 || !ascii7(b) {
			continue
		}
		return hit{value: p.ContentType, where: p.Where, reason: "the " + p.ContentType + " part is base64-encoded though its text is 7-bit ASCII, which hides words from filters"}, true
	}
	return hit{}, false
}

func ascii7(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// qpAlnum finds the first n quoted-printable escapes of a letter or a
// digit in raw, returning the offset of the first and how many it found.
func qpAlnum(raw []byte, n int) (first, found int) {
	first = -1
	for i := 0; i+2 < len(raw) && found < n; i++ {
		if raw[i] != '=' {
			continue
		}
		h, l := unhex(raw[i+1]), unhex(raw[i+2])
		if h < 0 || l < 0 {
			continue
		}
		if c := byte(h<<4 | l); c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			if first < 0 {
				first = i
			}
			found++
		}
	}
	return first, found
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

func qpLetters(s *state) (hit, bool) {
	n := 0
	for i := range s.m.Parts {
		p := &s.m.Parts[i]
		if !isBodyText(p) || p.TransferEncoding() != "quoted-printable" {
			continue
		}
		if n++; n > maxTextParts {
			break
		}
		raw := p.Encoded()
		if len(raw) > maxPartText {
			raw = raw[:maxPartText]
		}
		if first, found := qpAlnum(raw, 5); found >= 5 {
			lo := max(0, first-10)
			return hit{value: string(raw[lo:min(len(raw), first+30)]), where: p.Where,
				reason: "the quoted-printable text escapes letters or digits, which never need escaping, to hide words from filters"}, true
		}
	}
	return hit{}, false
}

// --- URLs

// urlStarts counts where a URL may start in t ("://", "www.", or a
// percent-encoded "://" that a redirector's target may hide): without more
// than manyDomains of them there cannot be more domains, and the URL
// search, the slowest of the tests, is not run.
func urlStarts(t string) int {
	n := 0
	for _, sub := range []string{"://", "www.", "WWW.", "%3A%2F%2F", "%3a%2f%2f"} {
		n += strings.Count(t, sub)
	}
	return n
}

func manyDomainsTest(s *state) (hit, bool) {
	if urlStarts(s.m.Text) <= manyDomains {
		return hit{}, false
	}
	c := s.urlSearch()
	seen := map[string]bool{}
	var first []string
	for _, u := range c.URLs() {
		if u.Domain == "" || seen[u.Domain] {
			continue
		}
		seen[u.Domain] = true
		if len(first) < 5 {
			first = append(first, u.Domain)
		}
	}
	if len(seen) <= manyDomains {
		return hit{}, false
	}
	return hit{value: fmt.Sprintf("%d: %s, …", len(seen), strings.Join(first, ", ")), where: "body",
		reason: fmt.Sprintf("the URLs name %d distinct registrable domains", len(seen))}, true
}
