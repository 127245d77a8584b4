package spamtest

import (
	"fmt"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/mailwarden/mailwarden/scanner/received"
)

// The forgery tests: header fields that claim a mail client or a
// provider's server wrote them, in a shape the client or the server does
// not write. Bulk-mailing software imitates Outlook Express's header and
// forges Received fields of the big free-mail providers, and gets the
// details wrong.

var forgeryTests = []test{
	{"forged_outlook_id", 2.5, "the Message-ID has Outlook's <counter+time$hex$hex@host> shape, but its time is not one (zero-padded, or not 1990 to 2043)", forgedOutlookID},
	{"missing_mimeole", 2.0, "Outlook Express's X-MSMail-Priority or X-Mailer without the X-MimeOLE field it always writes", missingMimeOLE},
	{"boundary_forged_nextpart", 2.0, "the MIME boundary starts like Outlook's ----=_NextPart_ but goes on in a shape Outlook does not write", boundaryForgedNextPart},
	{"received_forged_freemail", 2.5, "a Received hop's HELO is a free-mail provider's host, but the address it came from has no reverse name under that provider", receivedForgedFreemail},
	{"message_id_by_relay", 2.5, "the Message-ID is one a relay wrote, with its queue id, for a message that came from a public address without one", messageIDByRelay},
	{"received_bad_date", 1.0, "a Received field's date has a 12-hour clock, a comma after the month or a year before 1990, as forged fields have", receivedBadDate},
}

func init() { tests = append(tests, forgeryTests...) }

// outlookID is the left side of the Message-ID that Outlook, Outlook
// Express and Windows' CDO write: a counter of 4 or 5 hex digits, the high
// 32 bits of the Windows FILETIME of the moment, then two groups of 8 hex
// digits; Outlook 2010 and later end it with "$" (<000001db43d2$5c7e6a10$157b3e30$@example.net>).
var outlookID = regexp.MustCompile(`^<([0-9a-fA-F]{12,13})\$[0-9a-fA-F]{8}\$[0-9a-fA-F]{8}\$?@`)

// The FILETIME high words (100 ns since 1601, shifted right by 32) of
// 1 January 1990 and of about 2043: an Outlook Message-ID's time lies
// between them.
const (
	filetimeLow  = 0x01b40000
	filetimeHigh = 0x01f00000
)

func forgedOutlookID(s *state) (hit, bool) {
	v, ok := s.header("Message-ID")
	if !ok {
		return hit{}, false
	}
	v = strings.TrimSpace(v)
	m := outlookID.FindStringSubmatch(v)
	if m == nil {
		return hit{}, false
	}
	hi, err := strconv.ParseUint(m[1][len(m[1])-8:], 16, 32)
	if err == nil && hi >= filetimeLow && hi < filetimeHigh {
		return hit{}, false
	}
	return hit{value: v, where: "header:Message-ID", reason: fmt.Sprintf("the Message-ID has the shape Outlook writes, but %s is not the time of a Windows clock (Outlook's are 01b4.... to 01f0....)", m[1][len(m[1])-8:])}, true
}

// nextPartPrefix is the start of the MIME boundaries Outlook and Outlook
// Express write, and of bulk-mailing software's imitations of them;
// outlookBoundary is what Outlook writes: a nesting level, a counter (4
// hex digits; 5 or 6 from Windows' CDO) and a FILETIME
// (----=_NextPart_000_0001_01DB43DA.BE42D210).
var (
	nextPartPrefix  = regexp.MustCompile(`^[-=]+_NextPart_`)
	outlookBoundary = regexp.MustCompile(`^----=_NextPart_\d{3}_[0-9A-F]{4,6}_[0-9A-F]{8}\.[0-9A-F]{8}$`)
)

func boundaryForgedNextPart(s *state) (hit, bool) {
	v, ok := s.header("Content-Type")
	if !ok {
		return hit{}, false
	}
	_, params, err := mime.ParseMediaType(v)
	if err != nil {
		return hit{}, false
	}
	b := params["boundary"]
	if !nextPartPrefix.MatchString(b) || outlookBoundary.MatchString(b) {
		return hit{}, false
	}
	return hit{value: b, where: "header:Content-Type", reason: "the MIME boundary imitates Outlook's ----=_NextPart_ boundary, but not in the shape Outlook writes"}, true
}

// outlookExpress reports whether an X-Mailer names Outlook Express for
// Windows (the Macintosh edition writes no X-MimeOLE).
func outlookExpress(xm string) bool {
	l := strings.ToLower(xm)
	return strings.Contains(l, "outlook express") && !strings.Contains(l, "macintosh")
}

func missingMimeOLE(s *state) (hit, bool) {
	if _, ok := s.header("X-MimeOLE"); ok || s.headerCut() {
		return hit{}, false
	}
	xm, hasMailer := s.header("X-Mailer")
	if hasMailer && outlookExpress(xm) {
		return hit{value: xm, where: "header:X-Mailer", reason: "X-Mailer claims Outlook Express for Windows, which always writes X-MimeOLE, and there is none"}, true
	}
	p, ok := s.header("X-MSMail-Priority")
	if !ok || hasMailer {
		// Web mail and newsletter software that copy X-MSMail-Priority
		// name themselves in X-Mailer.
		return hit{}, false
	}
	return hit{value: "X-MSMail-Priority: " + strings.TrimSpace(p), where: "header:X-MSMail-Priority",
		reason: "the message has Outlook Express's X-MSMail-Priority without the X-Mailer and X-MimeOLE it writes with it"}, true
}

// rcvdField is one Received field the tests read: its number (1 at the
// top), raw value and what Parse read of it.
type rcvdField struct {
	n   int
	raw string
	f   received.Field
}

// receivedFields is the Received fields that parse, of the first
// maxReceived, parsed once per message.
func (s *state) receivedFields() []rcvdField {
	if s.rcvd != nil {
		return s.rcvd
	}
	s.rcvd = []rcvdField{}
	n := 0
	for _, h := range s.m.Headers {
		if !strings.EqualFold(h.Name, "Received") {
			continue
		}
		if n++; n > maxReceived {
			break
		}
		if f, err := received.Parse(h.Raw); err == nil {
			s.rcvd = append(s.rcvd, rcvdField{n, h.Raw, f})
		}
	}
	return s.rcvd
}

// registrable is the registrable domain of host (example.co.uk for
// mx.example.co.uk), "" for none.
func registrable(host string) string {
	d, err := publicsuffix.EffectiveTLDPlusOne(strings.ToLower(strings.TrimSuffix(host, ".")))
	if err != nil {
		return ""
	}
	return d
}

// underDomain reports whether host is d or a name under it.
func underDomain(host, d string) bool {
	return host == d || strings.HasSuffix(host, "."+d)
}

func receivedForgedFreemail(s *state) (hit, bool) {
	for _, r := range s.receivedFields() {
		n, raw, f := r.n, r.raw, r.f
		if !f.IP.IsValid() || !f.IP.IsGlobalUnicast() || f.IP.IsPrivate() {
			continue
		}
		helo := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(f.HELO), "."))
		if i := strings.IndexByte(helo, ' '); i >= 0 {
			helo = helo[:i]
		}
		p, ok := freemailDomain(helo)
		if !ok {
			continue
		}
		if underDomain(strings.ToLower(f.By), p) {
			continue // a hop inside the provider
		}
		if ip := f.IP.String(); !strings.Contains(raw, "["+ip+"]") && !strings.Contains(strings.ToLower(raw), "[ipv6:"+ip+"]") {
			// "(192.0.2.1)" and qmail's "unknown (HELO x)": an MTA that
			// does not look up reverse names, so none is no sign.
			continue
		}
		rev := strings.ToLower(f.ReverseName)
		if eximVerified(r) {
			continue
		}
		if underDomain(rev, p) {
			continue
		}
		why := "no reverse name"
		if rev != "" {
			why = "the reverse name " + rev
		}
		return hit{value: fmt.Sprintf("helo=%s ip=%s rev=%s", helo, f.IP, rev), where: "header:Received",
			reason: fmt.Sprintf("Received field %d: the client said HELO %s, a %s host, but connected from %s with %s", n, helo, p, f.IP, why)}, true
	}
	return hit{}, false
}

// heloIsName reports whether the client of a Received field said in HELO
// the reverse name the receiving MTA found for it. Exim writes the
// verified name alone, "from NAME ([ip])", when the HELO was the same.
func heloIsName(r rcvdField) bool {
	h := strings.Fields(r.f.HELO)
	if len(h) == 0 {
		return false
	}
	if r.f.ReverseName != "" {
		return strings.EqualFold(h[0], r.f.ReverseName)
	}
	return eximVerified(r)
}

// eximVerified reports whether r is Exim's "from NAME ([ip])", where NAME
// is the verified reverse name and the HELO was the same.
func eximVerified(r rcvdField) bool {
	return r.f.ReverseName == "" && strings.EqualFold(r.f.From, r.f.HELO) && strings.Contains(r.raw, "Exim")
}

// earliestMail is a date before which no Received field was written by
// an MTA with a working clock.
var earliestMail = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)

// ratwareDate is a Received date in a shape that MTAs do not write and
// bulk-mailing software's forged fields do: a 12-hour clock
// ("Aug, 29 2002 12:25:04 PM +0600") or a comma after the month name.
var ratwareDate = regexp.MustCompile(`(?i)\b\d{1,2}:\d\d(?::\d\d)?\s*[AP]M\b|^[a-z]{3},\s*\d{1,2}\s+\d{4}\b`)

func receivedBadDate(s *state) (hit, bool) {
	for _, r := range s.receivedFields() {
		n, raw, f := r.n, r.raw, r.f
		i := strings.LastIndexByte(raw, ';')
		if i < 0 {
			continue
		}
		d := strings.TrimSpace(raw[i+1:])
		t := f.Date
		if t.IsZero() {
			t, _ = parseDate(d)
		}
		why := ""
		switch {
		case !t.IsZero() && t.Before(earliestMail):
			why = fmt.Sprintf("is in the year %d", t.Year())
		case ratwareDate.MatchString(d):
			why = "is written with a 12-hour clock or a comma after the month, as no MTA writes it"
		default:
			continue
		}
		return hit{value: d, where: "header:Received", reason: fmt.Sprintf("Received field %d's date %q %s", n, clip(d, 60), why)}, true
	}
	return hit{}, false
}

// messageIDByRelay holds when the Message-ID carries the queue id of a
// Received field that records a client at a public address: the message
// came over the internet without a Message-ID, and the MTA that took it
// added one (as Sendmail does). Mail clients and the sender's own
// submission servers write their own.
func messageIDByRelay(s *state) (hit, bool) {
	v, ok := s.header("Message-ID")
	if !ok {
		return hit{}, false
	}
	v = strings.TrimSpace(v)
	left, right, ok := strings.Cut(strings.Trim(v, "<>"), "@")
	if !ok {
		return hit{}, false
	}
	right = strings.ToLower(right)
	from, _ := s.header("From")
	fromReg := registrable(addrDomain(from))
	for _, r := range s.receivedFields() {
		n, f := r.n, r.f
		if len(f.ID) < 6 || !f.IP.IsValid() || !f.IP.IsGlobalUnicast() || f.IP.IsPrivate() {
			continue
		}
		if !strings.Contains(left, f.ID) || !strings.EqualFold(f.By, right) {
			continue
		}
		if heloIsName(r) {
			// A server whose name is what it said in HELO: an MTA
			// of a mailing service, which relays for software that
			// writes no Message-ID.
			continue
		}
		if fromReg != "" && registrable(right) == fromReg {
			// The sender's own provider's submission server, for a
			// client that writes no Message-ID.
			continue
		}
		return hit{value: v, where: "header:Message-ID", reason: fmt.Sprintf("the Message-ID is the one %s wrote with its queue id %s (Received field %d) for a message from %s that had none", f.By, f.ID, n, f.IP)}, true
	}
	return hit{}, false
}
