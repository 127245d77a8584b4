package received

import (
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"strings"
	"time"
)

// Bounds on one field. Real Received fields are a few hundred bytes with a
// dozen or two tokens and comments nested two deep (Postfix's "(Client CN
// ... (verified OK))", Sendmail's "(... (may be forged))").
const (
	// MaxFieldLen is the longest field value [Parse] reads, in bytes.
	MaxFieldLen = 4096
	// MaxTokens bounds the top-level words, comments and quoted strings.
	MaxTokens = 128
	// MaxDepth bounds comment nesting (RFC 5322 section 3.2.2).
	MaxDepth = 8
)

// Errors of [Parse]. Each is wrapped with the detail; test with [errors.Is].
var (
	// ErrMalformed: the field's structure cannot be read: an unbalanced
	// comment, an unterminated quoted string, a clause given twice.
	ErrMalformed = errors.New("received: malformed field")
	// ErrAmbiguous: two from-clause comments each look like the TCP-info,
	// so which address the MTA recorded cannot be told.
	ErrAmbiguous = errors.New("received: ambiguous TCP-info")
	// ErrLimit: the field is over [MaxFieldLen], [MaxTokens] or [MaxDepth].
	ErrLimit = errors.New("received: limit exceeded")
)

// Field is one parsed Received field (RFC 5321 section 4.4). Strings are as
// written, with folding white space collapsed to one space; absent parts
// are empty.
type Field struct {
	// From is the from clause's name (From-domain): the HELO name for most
	// MTAs, the verified reverse name for Exim and qmail.
	From string `json:"from,omitempty"`
	// HELO is the name the client gave in HELO/EHLO: Exim's helo=, qmail's
	// "(HELO x)", or else From with any words the MTA wrote after it.
	HELO string `json:"helo,omitempty"`
	// ReverseName is the name the receiving MTA found for IP, without a
	// trailing dot; empty when it wrote "unknown", marked it "may be
	// forged", or wrote none.
	ReverseName string `json:"reverse_name,omitempty"`
	// IP is the client address the receiving MTA recorded in the TCP-info;
	// invalid when the field has none. IPv4-mapped IPv6 addresses are
	// unmapped and zones dropped.
	IP netip.Addr `json:"ip,omitzero"`
	// By is the by clause's name (By-domain).
	By string `json:"by,omitempty"`
	// Via is the via clause (Link), e.g. Exchange's "Frontend Transport".
	Via string `json:"via,omitempty"`
	// With is the protocol (RFC 3848: SMTP, ESMTP, ESMTPS, ESMTPA,
	// ESMTPSA, LMTP, ...; Exchange writes "Microsoft SMTP Server").
	With string `json:"with,omitempty"`
	// ID is the id clause, or the id Courier writes after the date.
	ID string `json:"id,omitempty"`
	// For is the for clause: the recipient path or mailbox as written.
	For string `json:"for,omitempty"`
	// Date is the date-time after the semicolon (RFC 5322 section 3.3);
	// zero when absent or unreadable.
	Date time.Time `json:"date,omitzero"`
}

// Parse reads one Received field value (without the "Received:" name;
// folded or unfolded). It never panics. On an error the Field holds what
// was read before it, and its IP is never set: a field that cannot be read
// names no address.
func Parse(v string) (Field, error) { return parse(v, true) }

// parse is [Parse], without reading the date unless withDate.
func parse(v string, withDate bool) (Field, error) {
	var f Field
	if len(v) > MaxFieldLen {
		return f, fmt.Errorf("%w: field of %d bytes, over %d", ErrLimit, len(v), MaxFieldLen)
	}
	var buf [MaxTokens]token
	toks, err := lex(v, buf[:0])
	if err != nil {
		return f, err
	}
	body, date := toks, toks[len(toks):]
	for i, t := range toks {
		if t.kind == tSemi {
			body, date = toks[:i], toks[i+1:]
			break
		}
	}

	// Split the tokens before the date into clauses (RFC 5321 section 4.4:
	// From-domain By-domain Opt-info). The first token after a keyword is
	// its value whatever it says, so that a HELO of "by" stays a name.
	// Unregistered words (Exim's "tls") stay in the clause before them.
	var cl [nClauses]span
	var has [nClauses]bool
	cur := -1
	for i, t := range body {
		if t.kind != tWord || (cur >= 0 && i == cl[cur].lo) {
			continue
		}
		k := keyword(v[t.start:t.end])
		if k < 0 {
			continue
		}
		if has[k] {
			return f, fmt.Errorf("%w: two %s clauses", ErrMalformed, clauseNames[k])
		}
		if cur >= 0 {
			cl[cur].hi = i
		}
		has[k], cl[k].lo, cur = true, i+1, k
	}
	if cur >= 0 {
		cl[cur].hi = len(body)
	}
	clause := func(k int) []token { return body[cl[k].lo:cl[k].hi] }

	if has[cBy] {
		f.By = firstWord(v, clause(cBy))
	}
	if has[cVia] {
		f.Via = leadingWords(v, clause(cVia))
	}
	if has[cWith] {
		f.With = leadingWords(v, clause(cWith))
	}
	if has[cID] {
		f.ID = firstWord(v, clause(cID))
	}
	if has[cFor] {
		ts := clause(cFor)
		n := 0
		for n < len(ts) && ts[n].kind != tComment {
			n++
		}
		if n > 0 {
			f.For = collapse(v[ts[0].start:ts[n-1].end])
		}
	}
	if len(date) > 0 && withDate {
		f.parseDate(v, date)
	}
	if has[cFrom] {
		if err := f.parseFrom(v, clause(cFrom)); err != nil {
			return f, err
		}
	}
	return f, nil
}

// parseFrom reads the from clause: the name, then the comments, of which
// at most one may have TCP-info shape (see [classify]).
func (f *Field) parseFrom(v string, ts []token) error {
	rest := ts
	if len(ts) > 0 && ts[0].kind == tWord {
		f.From = v[ts[0].start:ts[0].end]
		rest = ts[1:]
	}
	var (
		info      tcpInfo
		found     bool
		qmailHELO string
		haveHELO  bool
		commented bool
		heloEnd   = -1
	)
	for _, t := range rest {
		if t.kind != tComment {
			if !commented {
				heloEnd = t.end
			}
			continue
		}
		commented = true
		c, sh := classify(v[t.start+1 : t.end-1])
		switch sh {
		case shapeHELO:
			if haveHELO {
				return fmt.Errorf("%w: two (HELO) comments", ErrAmbiguous)
			}
			qmailHELO, haveHELO = c.helo, true
		case shapeExim:
			// Exim without a host name: "from [192.0.2.1] (port=N helo=x)";
			// the address is the from name, which Exim wrote itself.
			ip, _, ok := ipLiteral(f.From)
			if !ok {
				continue
			}
			c.ip = ip
			fallthrough
		case shapeAddr:
			if found {
				return fmt.Errorf("%w: two comments give an address (%s, %s)", ErrAmbiguous, info.ip, c.ip)
			}
			info, found = c, true
		}
	}

	helo := f.From
	if heloEnd > 0 && len(ts) > 0 {
		helo = collapse(v[ts[0].start:heloEnd])
	}
	switch {
	case info.helo != "":
		f.HELO = info.helo
	case haveHELO:
		f.HELO = qmailHELO
	default:
		f.HELO = helo
	}
	switch {
	case info.name != "":
		f.ReverseName = info.name
	case (info.exim || haveHELO) && !strings.HasPrefix(f.From, "["):
		// Exim and qmail write the verified name as the from name.
		f.ReverseName = hostName(f.From)
	}
	if found {
		f.IP = info.ip
	}
	return nil
}

// parseDate reads the date-time after the semicolon (RFC 5322 section
// 3.3), and the "id X" that Courier writes after it. The usual forms are
// read with one layout up to the numeric zone, so a trailing "(CEST)" costs
// nothing; anything else goes to net/mail, which tries every layout (and
// ignores what follows the zone).
func (f *Field) parseDate(v string, ts []token) {
	f.Date = fastDate(v, ts)
	if f.Date.IsZero() {
		if t, err := mail.ParseDate(collapse(v[ts[0].start:])); err == nil {
			f.Date = t
		}
	}
	for i := 0; f.ID == "" && i+1 < len(ts); i++ {
		if ts[i].kind == tWord && ts[i+1].kind == tWord && strings.EqualFold(v[ts[i].start:ts[i].end], "id") {
			f.ID = v[ts[i+1].start:ts[i+1].end]
		}
	}
}

// fastDate reads "Mon, 2 Jan 2006 15:04:05 -0700" and "2 Jan 2006
// 15:04:05 -0700"; zero for anything else.
func fastDate(v string, ts []token) time.Time {
	for i, t := range ts[:min(len(ts), 6)] {
		w := v[t.start:t.end]
		if t.kind != tWord {
			break
		}
		if i < 4 || len(w) != 5 || (w[0] != '+' && w[0] != '-') {
			continue
		}
		layout := "2 Jan 2006 15:04:05 -0700"
		if strings.HasSuffix(v[ts[0].start:ts[0].end], ",") {
			layout = "Mon, 2 Jan 2006 15:04:05 -0700"
		}
		d, err := time.Parse(layout, collapse(v[ts[0].start:t.end]))
		if err != nil {
			return time.Time{}
		}
		return d
	}
	return time.Time{}
}

// The clauses of RFC 5321 section 4.4, by keyword.
const (
	cFrom = iota
	cBy
	cVia
	cWith
	cID
	cFor
	nClauses
)

var clauseNames = [nClauses]string{"from", "by", "via", "with", "id", "for"}

func keyword(w string) int {
	if len(w) < 2 || len(w) > 4 {
		return -1
	}
	for k, name := range clauseNames {
		if strings.EqualFold(w, name) {
			return k
		}
	}
	return -1
}

// span is a clause: token indexes [lo, hi) after its keyword.
type span struct{ lo, hi int }

type tokenKind uint8

const (
	tWord    tokenKind = iota // a run of anything but white space and ( ) " ;
	tComment                  // (...), with the parentheses
	tQuoted                   // "...", with the quotes
	tSemi                     // ;
)

type token struct {
	kind       tokenKind
	start, end int
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// lex splits v into top-level tokens: comments and quoted strings as in
// RFC 5322 sections 3.2.2 and 3.2.4 (with quoted-pairs; a quote inside a
// comment is plain text), and words between them.
func lex(v string, toks []token) ([]token, error) {
	for i := 0; i < len(v); {
		c := v[i]
		if isSpace(c) {
			i++
			continue
		}
		if len(toks) == MaxTokens {
			return toks, fmt.Errorf("%w: more than %d tokens", ErrLimit, MaxTokens)
		}
		start := i
		var k tokenKind
		switch c {
		case '(':
			end, err := skipComment(v, i)
			if err != nil {
				return toks, err
			}
			k, i = tComment, end
		case ')':
			return toks, fmt.Errorf("%w: unbalanced ')' at byte %d", ErrMalformed, i)
		case '"':
			end, err := skipQuoted(v, i)
			if err != nil {
				return toks, err
			}
			k, i = tQuoted, end
		case ';':
			k, i = tSemi, i+1
		default:
			for i < len(v) && !isSpace(v[i]) && v[i] != '(' && v[i] != ')' && v[i] != '"' && v[i] != ';' {
				i++
			}
			k = tWord
		}
		toks = append(toks, token{k, start, i})
	}
	return toks, nil
}

// skipComment returns the index after the comment that opens at v[i].
func skipComment(v string, i int) (int, error) {
	depth := 0
	for ; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '(':
			depth++
			if depth > MaxDepth {
				return 0, fmt.Errorf("%w: comments nested deeper than %d", ErrLimit, MaxDepth)
			}
		case ')':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("%w: unterminated comment", ErrMalformed)
}

// skipQuoted returns the index after the quoted string that opens at v[i].
func skipQuoted(v string, i int) (int, error) {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("%w: unterminated quoted string", ErrMalformed)
}

// firstWord is the clause's value when it is a word.
func firstWord(v string, ts []token) string {
	if len(ts) == 0 || ts[0].kind != tWord {
		return ""
	}
	return v[ts[0].start:ts[0].end]
}

// leadingWords is the clause's words up to its first comment or quoted
// string: "ESMTPS", "Microsoft SMTP Server", "Frontend Transport".
func leadingWords(v string, ts []token) string {
	n := 0
	for n < len(ts) && ts[n].kind == tWord {
		n++
	}
	if n == 0 {
		return ""
	}
	return collapse(v[ts[0].start:ts[n-1].end])
}

// collapse trims s and turns each run of white space into one space,
// without allocating when there is nothing to change.
func collapse(s string) string {
	s = strings.Trim(s, " \t\r\n")
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; isSpace(c) && (c != ' ' || isSpace(s[i+1])) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// shape is what a from-clause comment is.
type shape uint8

const (
	shapeNone shape = iota // anything else: "(using TLS...)", "(Authenticated sender: x)"
	shapeAddr              // TCP-info with an address
	shapeHELO              // qmail's "(HELO name)"
	shapeExim              // Exim's "(port=N helo=x)" after a bracketed from name
)

// tcpInfo is what a TCP-info comment says.
type tcpInfo struct {
	ip   netip.Addr
	name string // the reverse name
	helo string // Exim's helo=, qmail's HELO
	exim bool   // Exim's port or helo=/ident=/port= words
}

// classify reads the content of one from-clause comment. TCP-info shape
// (RFC 5321 section 4.4, TCP-info = address-literal / Domain FWS
// address-literal, and the forms MTAs actually write) is:
//
//	[192.0.2.1]  [IPv6:2001:db8::1]  [2001:db8::1]:41234      address literal, Exim's port
//	name [192.0.2.1]  user@name [192.0.2.1]  name. [192.0.2.1]
//	192.0.2.1  user@192.0.2.1  user@[192.0.2.1]  2001:db8::1  qmail, Exchange
//
// followed only by Exim's helo=, ident= and port= words and by nested
// comments ("(may be forged)" drops the name). Anything else with more
// words is not TCP-info, so that no free text (a certificate name, an
// authenticated user) can pass for it.
func classify(c string) (tcpInfo, shape) {
	var (
		info   tcpInfo
		words  [2]string
		n, kvs int
		forged bool
	)
	for i := 0; i < len(c); {
		ch := c[i]
		switch {
		case isSpace(ch):
			i++
		case ch == '(':
			end, err := skipComment(c, i)
			if err != nil {
				return info, shapeNone
			}
			if strings.EqualFold(strings.TrimSpace(c[i+1:end-1]), "may be forged") {
				forged = true
			}
			i = end
		default:
			j := i
			for j < len(c) && !isSpace(c[j]) && c[j] != '(' {
				if c[j] == '\\' {
					j++
				}
				j++
			}
			w := c[i:min(j, len(c))]
			i = j
			if key, val, ok := strings.Cut(w, "="); ok && (key == "helo" || key == "ident" || key == "port") {
				if kvs++; kvs > 3 {
					return info, shapeNone
				}
				if key == "helo" {
					info.helo = val
				}
				info.exim = true
				continue
			}
			if kvs > 0 || n == len(words) {
				return info, shapeNone
			}
			words[n] = w
			n++
		}
	}

	switch n {
	case 0:
		if kvs > 0 {
			return info, shapeExim
		}
	case 1:
		w := words[0]
		if ip, port, ok := ipLiteral(w); ok {
			info.ip, info.exim = ip, info.exim || port
			return info, shapeAddr
		}
		if kvs > 0 {
			return info, shapeNone
		}
		if at := strings.LastIndexByte(w, '@'); at >= 0 {
			w = w[at+1:]
			if ip, port, ok := ipLiteral(w); ok && !port {
				info.ip = ip
				return info, shapeAddr
			}
		}
		if ip, ok := parseIP(w); ok {
			info.ip = ip
			return info, shapeAddr
		}
	case 2:
		name := words[0]
		ip, port, ok := ipLiteral(words[1])
		if !ok && kvs == 0 && strings.EqualFold(name, "HELO") {
			// qmail writes no brackets in a HELO name, so "(HELO [addr])"
			// is a host named HELO (Sendmail writes unconfirmed names).
			info.helo = words[1]
			return info, shapeHELO
		}
		if !ok || strings.ContainsAny(name, "[]") {
			return info, shapeNone
		}
		if at := strings.LastIndexByte(name, '@'); at >= 0 {
			name = name[at+1:] // Sendmail's ident: user@name
		}
		if !forged {
			info.name = hostName(name)
		}
		info.ip, info.exim = ip, info.exim || port
		return info, shapeAddr
	}
	return info, shapeNone
}

// hostName drops a trailing dot (Google writes "name. [IP]") and the
// word "unknown" (Postfix, qmail).
func hostName(s string) string {
	s = strings.TrimSuffix(s, ".")
	if strings.EqualFold(s, "unknown") {
		return ""
	}
	return s
}

// ipLiteral parses an address literal (RFC 5321 section 4.1.3):
// "[192.0.2.1]", "[IPv6:2001:db8::1]", and the untagged "[2001:db8::1]"
// that Google, Exim and Courier write, optionally followed by Exim's
// ":port".
func ipLiteral(w string) (ip netip.Addr, port, ok bool) {
	if len(w) < 3 || w[0] != '[' {
		return ip, false, false
	}
	end := strings.IndexByte(w, ']')
	if end < 0 {
		return ip, false, false
	}
	inner, rest := w[1:end], w[end+1:]
	if rest != "" {
		if len(rest) < 2 || len(rest) > 6 || rest[0] != ':' || strings.Trim(rest[1:], "0123456789") != "" {
			return ip, false, false
		}
		port = true
	}
	tagged := len(inner) > 5 && strings.EqualFold(inner[:5], "IPv6:")
	if tagged {
		inner = inner[5:]
	}
	a, err := netip.ParseAddr(inner)
	if err != nil || (tagged && !a.Is6()) {
		return ip, false, false
	}
	return a.WithZone("").Unmap(), port, true
}

// parseIP parses an address written without brackets.
func parseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}
