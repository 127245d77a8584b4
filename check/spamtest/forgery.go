package spamtest

import (
	"fmt"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check/dmarc"
	"github.com/mailwarden/mailwarden/scanner/received"
)

// The forgery tests: header fields that claim a mail client or a
// provider's server wrote them, in a shape the client or the server does
// not write. Bulk-mailing software imitates Outlook Express's header and
// forges Received fields of the big free-mail providers, and gets the
// details wrong.

var forgeryTests = []test{
	{"forged_outlook_id", 2.5, "the Message-ID has Outlook's <counter+time$hex$hex@host> shape, but its time is not one (zero-padded, or not 1990 to 2043)", forgedOutlookID},
	{"missing_mimeole", 2.0, "X-Mailer claims Outlook Express for Windows without the X-MimeOLE field it always writes", missingMimeOLE},
	{"boundary_forged_nextpart", 2.0, "the MIME boundary starts like Outlook's ----=_NextPart_ but goes on in random letters of both cases, or in Outlook's layout with letters no hex number has", boundaryForgedNextPart},
	{"received_forged_freemail", 2.5, "a Received hop's HELO is a free-mail provider's host, but the address it came from has no reverse name under that provider", receivedForgedFreemail},
	{"message_id_by_relay", 2.5, "the Message-ID is one a relay wrote, with its queue id, for a message that came from a public address without one", messageIDByRelay},
	{"freemail_not_relayed", 2.0, "From is an address at Gmail, Yahoo, AOL or Microsoft's free mail, but no Received field shows their servers handling it", freemailNotRelayed},
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
// Express write, and of imitations of them. Many mailers write it with a
// hex or decimal tail of their own, and are no forgery: QQ Mail
// (----=_NextPart_5D67A966_0E3F04B0_1EE927D1), PHP scripts
// ("----=_NextPart_" . md5(...)), SilverStripe (digits), Delphi's Indy
// (=_NextPart_2rfkindysadvnqw3nerasdf, lower case). What no mailer writes
// and bulk-mailing software did: a random tail of letters of both cases
// beyond hex (----=_NextPart_KynqjnFRvzmqYGilyuyHYQ), or Outlook's layout
// (a nesting level, a counter and a FILETIME,
// ----=_NextPart_000_0001_01DB43DA.BE42D210) with letters that are not
// hex digits (----=_NextPart_000_00X9_70A11C1D.E1232J43).
var (
	nextPartPrefix = regexp.MustCompile(`^[-=]+_NextPart_`)
	outlookLayout  = regexp.MustCompile(`^\d{3}_[0-9A-Z]{4,6}_[0-9A-Z]{8}\.[0-9A-Z]{8}$`)
	randomTail     = regexp.MustCompile(`^[0-9A-Za-z]{12,}$`)
)

// nextPartForged reports whether tail, what follows _NextPart_ in a
// boundary, is in a shape no mailer writes (see nextPartPrefix).
func nextPartForged(tail string) bool {
	beyondHex, upper, lower := false, false, false
	for _, c := range []byte(tail) {
		switch {
		case 'A' <= c && c <= 'Z':
			upper = true
			beyondHex = beyondHex || c > 'F'
		case 'a' <= c && c <= 'z':
			lower = true
			beyondHex = beyondHex || c > 'f'
		}
	}
	if outlookLayout.MatchString(tail) {
		return beyondHex
	}
	return randomTail.MatchString(tail) && beyondHex && upper && lower
}

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
	loc := nextPartPrefix.FindStringIndex(b)
	if loc == nil || !nextPartForged(b[loc[1]:]) {
		return hit{}, false
	}
	return hit{value: b, where: "header:Content-Type", reason: "the MIME boundary imitates Outlook's ----=_NextPart_ boundary, in a shape no mailer writes"}, true
}

// outlookExpress reports whether an X-Mailer names Outlook Express for
// Windows (the Macintosh edition writes no X-MimeOLE).
func outlookExpress(xm string) bool {
	l := strings.ToLower(xm)
	return strings.Contains(l, "outlook express") && !strings.Contains(l, "macintosh")
}

// missingMimeOLE holds for an X-Mailer of Outlook Express for Windows
// without X-MimeOLE. X-MSMail-Priority alone is no sign: monitoring
// and PHP scripts write it with X-Priority to mark an alert urgent.
func missingMimeOLE(s *state) (hit, bool) {
	if _, ok := s.header("X-MimeOLE"); ok || s.headerCut() {
		return hit{}, false
	}
	if xm, ok := s.header("X-Mailer"); ok && outlookExpress(xm) {
		return hit{value: xm, where: "header:X-Mailer", reason: "X-Mailer claims Outlook Express for Windows, which always writes X-MimeOLE, and there is none"}, true
	}
	return hit{}, false
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
// is the verified reverse name and the HELO was the same. Sendmail writes
// the same shape for a HELO without a reverse name, so it also takes
// Exim's word or its message id (17hrT0-0004gj-00), which stays when the
// version is hidden.
func eximVerified(r rcvdField) bool {
	if r.f.ReverseName != "" || r.f.From == "" || !strings.EqualFold(r.f.From, r.f.HELO) {
		return false
	}
	if !strings.Contains(strings.ToLower(r.raw), "from "+strings.ToLower(r.f.From)+" ([") {
		return false
	}
	return strings.Contains(r.raw, "Exim") || eximID.MatchString(r.f.ID)
}

// eximID is the shape of Exim's message ids: 3, 4 and later.
var eximID = regexp.MustCompile(`^[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}$`)

// authenticated reports whether a Received field records an authenticated
// submission: ESMTPA or ESMTPSA (RFC 3848), or the "Authenticated sender"
// and "authenticated" notes of Postfix, Sendmail and Exim.
func authenticated(r rcvdField) bool {
	with := strings.ToUpper(r.f.With)
	if strings.HasSuffix(with, "SMTPA") || strings.HasSuffix(with, "SMTPSA") {
		return true
	}
	l := strings.ToLower(r.raw)
	return strings.Contains(l, "authenticated sender") || strings.Contains(l, "(authenticated")
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
			t, _, _ = parseDate(d)
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
	fromReg := dmarc.OrgDomain(addrDomain(from))
	for _, r := range s.receivedFields() {
		n, f := r.n, r.f
		// RFC 5321 lets the id be a msg-id (<B0036248326@relay>), as
		// Vircom and others write it: its left side is the queue id.
		id := strings.Trim(f.ID, "<>")
		if l, r, ok := strings.Cut(id, "@"); ok && strings.EqualFold(r, f.By) {
			id = l
		}
		if len(id) < 6 || !f.IP.IsValid() || !f.IP.IsGlobalUnicast() || f.IP.IsPrivate() {
			continue
		}
		if authenticated(r) {
			// A submission: a script or a device sending through its
			// provider's smarthost, which adds the Message-ID it lacks.
			continue
		}
		if !strings.Contains(left, id) || !strings.EqualFold(f.By, right) {
			continue
		}
		if heloIsName(r) {
			// A server whose name is what it said in HELO: an MTA
			// of a mailing service, which relays for software that
			// writes no Message-ID.
			continue
		}
		if fromReg != "" && dmarc.OrgDomain(right) == fromReg {
			// The sender's own provider's submission server, for a
			// client that writes no Message-ID.
			continue
		}
		return hit{value: v, where: "header:Message-ID", reason: fmt.Sprintf("the Message-ID is the one %s wrote with its queue id %s (Received field %d) for a message from %s that had none", f.By, id, n, f.IP)}, true
	}
	return hit{}, false
}

// freemailRelays are the large free-mail providers whose servers write a
// Received field for every message they send, webmail or submission: the
// address domains of each, and the domains its mail servers are named
// under. AOL's mail now leaves through Yahoo's servers.
var freemailRelays = []struct {
	addrs, servers []string
}{
	{[]string{"gmail.com", "googlemail.com"}, []string{"google.com", "gmail.com", "googlemail.com"}},
	{[]string{"yahoo.*", "ymail.com", "rocketmail.com"}, []string{"yahoo.com", "yahoo.net", "yahoo.co.jp", "yahoodns.net"}},
	{[]string{"aol.com", "aim.com"}, []string{"aol.com", "aol.net", "yahoo.com", "yahoo.net", "yahoodns.net"}},
	{[]string{"hotmail.*", "outlook.*", "live.*", "msn.com"}, []string{"hotmail.com", "outlook.com", "msn.com", "live.com", "microsoft.com", "phx.gbl", "office365.com"}},
}

// freemailServers are the server domains of the provider whose address
// domain d is (a registrable domain), nil for none of freemailRelays.
func freemailServers(d string) []string {
	for _, p := range freemailRelays {
		for _, a := range p.addrs {
			if a == d || strings.HasSuffix(a, ".*") && strings.HasPrefix(d, strings.TrimSuffix(a, "*")) && freemail[d] {
				return p.servers
			}
		}
	}
	return nil
}

// viaList is the fields of mail a list, a forwarder or a service sent on
// a poster's behalf, which may not keep the poster's Received fields.
var viaList = []string{"List-Id", "List-Post", "Mailing-List", "X-Mailing-List", "X-BeenThere", "Resent-From"}

func freemailNotRelayed(s *state) (hit, bool) {
	from, _ := s.header("From")
	fd := addrDomain(from)
	servers := freemailServers(dmarc.OrgDomain(fd))
	if servers == nil || s.headerCut() {
		return hit{}, false
	}
	for _, l := range viaList {
		if _, ok := s.header(l); ok {
			return hit{}, false
		}
	}
	if sender, ok := s.header("Sender"); ok && addrDomain(sender) != fd {
		return hit{}, false // a service sending on the address's behalf
	}
	under := func(host string) bool {
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		for _, d := range servers {
			if underDomain(host, d) {
				return true
			}
		}
		return false
	}
	var raw []string
	for _, h := range s.m.Headers {
		if strings.EqualFold(h.Name, "Received") {
			raw = append(raw, h.Raw)
		}
	}
	n := len(raw)
	if n > maxReceived {
		return hit{}, false // the provider's fields may be past the ones parsed
	}
	rcvd := s.receivedFields()
	if len(rcvd) < n {
		// A field that did not parse may be the provider's: its
		// servers' domains anywhere in one is enough.
		for _, r := range raw {
			r = strings.ToLower(cut(r, maxHeader))
			for _, d := range servers {
				if strings.Contains(r, "."+d) || strings.Contains(r, " "+d) {
					return hit{}, false
				}
			}
		}
	}
	public := false
	for _, r := range rcvd {
		if under(r.f.By) || under(r.f.ReverseName) {
			return hit{}, false
		}
		if r.f.IP.IsValid() && r.f.IP.IsGlobalUnicast() && !r.f.IP.IsPrivate() {
			public = true
		}
	}
	if !public {
		// No hop from the internet recorded: a message whose header
		// was not kept, not one that bypassed the provider.
		return hit{}, false
	}
	return hit{value: fd, where: "header:From", reason: fmt.Sprintf("From is an address at %s, but none of the %d Received fields was written by or received from the provider's servers (%s)", fd, n, strings.Join(servers, ", "))}, true
}
