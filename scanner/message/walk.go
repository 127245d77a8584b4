package message

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mailwarden/mailwarden/scanner"
)

// maxFindings bounds the findings of one message; a hostile message could
// otherwise produce one per part or per line.
const maxFindings = 100

// singleHeaders are the fields RFC 5322 section 3.6 allows at most once.
// Two of them (two From, two Subject) let different programs show different
// values, so duplicates are findings.
var singleHeaders = []string{
	"Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
	"Message-ID", "In-Reply-To", "References", "Subject",
}

// walker walks the MIME tree of one message and fills in its Message.
type walker struct {
	m   *Message
	lim Limits
	// dec holds the charsets the message declares, for undeclared text.
	dec    Decoder
	nparts int
	text   textKeeper
	// stopped is set once MaxParts is reached: nothing more is walked.
	stopped  bool
	excluded map[string]bool // limits already reported
	seen     map[string]bool // findings already reported

	// readings counts the alternative readings walked (ambiguous MIME,
	// bare CR), bounded by Limits.MaxReadings; alt is set while one is.
	readings int
	alt      bool

	// bareCR is set when the message has bare CR line ends; crStructural
	// when one was seen where it can change the structure: inside a header
	// field or just before a boundary delimiter.
	bareCR, crStructural bool

	// top is the top-level header block, decoded after the walk so that
	// the charsets declared anywhere in the message are known; its
	// findings go at topAt.
	top   headerBlock
	topAt int
}

func (w *walker) add(f scanner.Finding) {
	key := f.Name + "\x00" + f.Where + "\x00" + f.Reason + "\x00" + f.Value
	if w.seen[key] {
		return
	}
	if w.seen == nil {
		w.seen = make(map[string]bool)
	}
	// Past the cap, exclusions still get through: each names a limit that
	// left part of the message unscanned, and each limit is reported once,
	// so they stay bounded.
	if len(w.m.Findings) >= maxFindings && f.Name != FindingExclusion {
		if !w.seen["\x00max"] {
			w.seen["\x00max"] = true
			w.m.Findings = append(w.m.Findings, scanner.Finding{
				Name: FindingExclusion, Value: "message.max_findings=" + strconv.Itoa(maxFindings),
				Where: "message", Reason: "too many anomalies; the rest were not listed",
			})
		}
		return
	}
	w.seen[key] = true
	w.m.Findings = append(w.m.Findings, f)
}

func (w *walker) malformed(where, reason, value string) {
	w.add(scanner.Finding{Name: FindingMalformed, Value: truncate(printable(value), 200), Where: where, Reason: reason})
}

func (w *walker) ambiguous(where, value, reason string) {
	w.add(scanner.Finding{Name: FindingAmbiguous, Value: value, Where: where, Reason: "ambiguous MIME: " + reason})
}

// guessed reports a charset guess. declared is the unknown charset label
// the text carried, or "".
func (w *walker) guessed(where string, n note, declared string) {
	if n.guess == "" {
		return
	}
	what := "8-bit text that is not UTF-8 and has no charset"
	if declared != "" {
		what = fmt.Sprintf("text in the unknown charset %q", truncate(printable(declared), 40))
	} else if n.guess == "utf-8" && n.kind == guessNone {
		what = "8-bit text without a charset"
	}
	how := "the charset its bytes fit best"
	if n.kind == guessHint {
		how = "a charset declared elsewhere in the message"
	}
	w.add(scanner.Finding{
		Name: FindingCharsetGuessed, Value: n.guess, Where: where,
		Reason: fmt.Sprintf("%s, decoded as %s, %s", what, n.guess, how),
	})
}

// printable makes s fit for a log: valid UTF-8 without control characters
// other than tab.
func printable(s string) string {
	clean := utf8.ValidString(s)
	for i := 0; clean && i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			clean = false
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' && r != '\t' || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// exclude reports a limit once per message.
func (w *walker) exclude(limit string, n int64, where, reason string) {
	if w.excluded[limit] {
		return
	}
	if w.excluded == nil {
		w.excluded = make(map[string]bool)
	}
	w.excluded[limit] = true
	w.add(scanner.Finding{
		Name: FindingExclusion, Value: limit + "=" + strconv.FormatInt(n, 10),
		Where: where, Reason: reason,
	})
}

// takeReading counts one more alternative reading. It reports false, with
// an exclusion, when Limits.MaxReadings are already walked.
func (w *walker) takeReading(where string) bool {
	if w.readings >= w.lim.MaxReadings {
		w.exclude("mime.max_readings", int64(w.lim.MaxReadings), where,
			fmt.Sprintf("more than %d alternative readings of ambiguous MIME; the rest were not scanned", w.lim.MaxReadings))
		return false
	}
	w.readings++
	return true
}

func (w *walker) message(msg []byte) {
	norm, nCR, nLF := normalizeBareCR(msg)
	if norm == nil {
		w.root(msg, "")
		w.finish()
		return
	}
	// Bare CR line ends (RFC 5322 section 2.3 allows CR only in CRLF). Some
	// readers take them as line ends, others, like an MTA that only knows
	// LF, as text; when that can change what is seen, both readings are
	// walked.
	w.bareCR = true
	at := len(w.m.Findings)
	orig := readHeader(msg, w.lim.MaxHeaderBytes)
	if nLF == 0 || headerHasCR(&orig) {
		// The header itself is cut by bare CRs: the main reading takes
		// them as line ends.
		w.malformed("message", fmt.Sprintf("%d line ends are a bare CR (no LF); they were read as line ends", nCR), "bare-cr")
		w.root(norm, "")
		if nLF > 0 && w.altRoot(msg) {
			w.m.Findings[at].Reason += ", and the message was also scanned with them read as text"
		}
	} else {
		w.malformed("message", fmt.Sprintf("%d bare CRs (no LF) inside lines; they were read as text", nCR), "bare-cr")
		w.root(msg, "")
		if w.crStructural && w.altRoot(norm) {
			w.m.Findings[at].Reason += ", and the message was also scanned with them read as line ends"
		}
	}
	w.finish()
}

// altRoot walks msg as the other reading of bare CR line ends, named
// "~cr". It reports whether it did.
func (w *walker) altRoot(msg []byte) bool {
	if w.stopped || !w.takeReading("message") {
		return false
	}
	w.nparts++
	if w.nparts > w.lim.MaxParts {
		w.stopped = true
		w.exclude("mime.max_parts", int64(w.lim.MaxParts), "message",
			fmt.Sprintf("more than %d MIME parts; the rest were not scanned", w.lim.MaxParts))
		return false
	}
	w.withAlt(func() { w.root(msg, "~cr") })
	return true
}

func (w *walker) withAlt(fn func()) {
	old := w.alt
	w.alt = true
	fn()
	w.alt = old
}

// root walks one reading of the whole message. section is "" for the main
// reading, whose header fields become Message.Headers.
func (w *walker) root(msg []byte, section string) {
	h := readHeader(msg, w.lim.MaxHeaderBytes)
	w.checkHeaderBlock(&h, section)
	w.declare(&h)
	if section == "" {
		w.top = h
		w.topAt = len(w.m.Findings)
		counts := make(map[string]int)
		for _, f := range h.fields {
			counts[strings.ToLower(f.name)]++
		}
		for _, n := range singleHeaders {
			if c := counts[strings.ToLower(n)]; c > 1 {
				w.malformed("header:"+n, fmt.Sprintf("%s header appears %d times; RFC 5322 section 3.6 allows one", n, c), "")
			}
		}
	}
	w.entity(&h, h.body, 0, section, "text/plain")
}

// declare adds the charsets of the encoded words of a header block to the
// hints; readingsOf adds the charset parameters of its Content-Type.
func (w *walker) declare(h *headerBlock) {
	for _, f := range h.fields {
		if bytes.Contains(f.value, []byte("=?")) && !strings.EqualFold(f.name, "Content-Type") {
			w.dec.declareWords(string(f.value))
		}
	}
}

// finish decodes the top-level header fields and the text that waited for
// the charsets declared in the whole message.
func (w *walker) finish() {
	w.decodeTop()
	w.text.finish(w)
	w.m.Text = w.text.b.String()
	w.m.spans = w.text.spans
}

// decodeTop decodes the top-level header fields into the Message.
func (w *walker) decodeTop() {
	n0 := len(w.m.Findings)
	w.m.Headers = make([]Header, 0, len(w.top.fields))
	var seen [4]bool // From, To, Subject, Message-ID
	for _, f := range w.top.fields {
		raw := string(f.value)
		dec, n := decodeHeaderNote(raw, &w.dec)
		where := "header:" + f.name
		if n.problem != "" {
			w.malformed(where, n.problem, dec)
		}
		w.guessed(where, n, "")
		w.m.Headers = append(w.m.Headers, Header{Name: f.name, Raw: raw, Decoded: dec})
		switch {
		case !seen[0] && strings.EqualFold(f.name, "From"):
			seen[0], w.m.From = true, dec
		case !seen[1] && strings.EqualFold(f.name, "To"):
			seen[1], w.m.To = true, dec
		case !seen[2] && strings.EqualFold(f.name, "Subject"):
			seen[2], w.m.Subject = true, dec
		case !seen[3] && strings.EqualFold(f.name, "Message-ID"):
			seen[3], w.m.MessageID = true, dec
		}
	}
	// The header's findings go where the old single pass put them: after
	// the header block's own, before the parts'.
	if fs := w.m.Findings; n0 < len(fs) && w.topAt < n0 {
		tail := slices.Clone(fs[n0:])
		copy(fs[w.topAt+len(tail):], fs[w.topAt:n0])
		copy(fs[w.topAt:], tail)
	}
}

// headerHasCR reports whether a header field value holds a CR, which in a
// value unfolded by readHeader is a bare one.
func headerHasCR(h *headerBlock) bool {
	for _, f := range h.fields {
		if bytes.IndexByte(f.value, '\r') >= 0 {
			return true
		}
	}
	return false
}

// checkHeaderBlock reports the structural problems of one header block.
// section is "" for the top level.
func (w *walker) checkHeaderBlock(h *headerBlock, section string) {
	hw := hw(section)
	if h.overLimit {
		w.exclude("mime.max_header_bytes", int64(w.lim.MaxHeaderBytes), hw,
			"header block larger than the limit; the fields after it were not read")
	}
	if h.orphan {
		w.malformed(hw, "continuation line before the first header field", "")
	}
	if h.badLine != nil {
		w.malformed(hw, "line that is not a header field in the header block; it was taken as the start of the body", string(h.badLine))
	}
	for _, f := range h.fields {
		if bytes.IndexByte(f.value, 0) >= 0 {
			w.malformed(hw+":"+f.name, "NUL byte in header", "")
		}
		if w.bareCR && bytes.IndexByte(f.value, '\r') >= 0 {
			w.crStructural = true
		}
		if section != "" && !isASCIIBytes(f.value) && !utf8.Valid(f.value) {
			// Top-level fields get this from decodeHeader.
			w.malformed(hw+":"+f.name, "8-bit bytes in header that are not UTF-8", string(f.value))
		}
	}
}

func isASCIIBytes(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// whereOf names an entity for findings: "body" for the top-level entity,
// else "part:" and its section.
func whereOf(section string) string {
	if section == "" {
		return "body"
	}
	return "part:" + section
}

func childSection(section string, i int) string {
	if section == "" {
		return strconv.Itoa(i)
	}
	return section + "." + strconv.Itoa(i)
}

// entity walks one MIME entity: the message itself, a body part, or an
// encapsulated message, once for every reading of its header (see
// [walker.readings]). defType is the Content-Type to assume when none is
// given (RFC 2046 section 5.1.5: message/rfc822 inside multipart/digest).
func (w *walker) entity(h *headerBlock, body []byte, depth int, section, defType string) {
	rs := w.readingsOf(h, section, defType)
	for i := range rs {
		if w.stopped {
			return
		}
		if i == 0 {
			w.walkReading(h, body, depth, section, &rs[i])
			continue
		}
		if !w.takeReading(whereOf(section)) {
			return
		}
		sec := section + "~" + strconv.Itoa(w.readings+1)
		// Another reading walks the entity again: it counts as a part.
		w.nparts++
		if w.nparts > w.lim.MaxParts {
			w.stopped = true
			w.exclude("mime.max_parts", int64(w.lim.MaxParts), whereOf(sec),
				fmt.Sprintf("more than %d MIME parts; the rest were not scanned", w.lim.MaxParts))
			return
		}
		w.withAlt(func() { w.walkReading(h, body, depth, sec, &rs[i]) })
	}
}

func (w *walker) walkReading(h *headerBlock, body []byte, depth int, section string, r *reading) {
	switch {
	case strings.HasPrefix(r.ctype, "multipart/"):
		w.multipart(h, r, body, depth, section)
	case r.ctype == "message/rfc822" || r.ctype == "message/global":
		w.encapsulated(h, r, body, depth, section)
	default:
		w.leaf(h, body, depth, section, leafInfo{ctype: r.ctype, ct: r.ct, cte: r.cte, cteRaw: r.cteRaw})
	}
}

// validMediaType reports whether t is "type/subtype" made of RFC 2045 tokens.
func validMediaType(t string) bool {
	typ, sub, ok := strings.Cut(t, "/")
	return ok && isToken(typ) && isToken(sub)
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

func (w *walker) multipart(h *headerBlock, r *reading, body []byte, depth int, section string) {
	where := whereOf(section)
	hw := hw(section)
	opaque := leafInfo{ctype: r.ctype, opaque: true}
	if r.ct.params["boundary"] == nil {
		w.malformed(hw+":Content-Type", "multipart without a boundary parameter; scanned as opaque text", r.ctRaw)
		w.leaf(h, body, depth, section, opaque)
		return
	}
	boundary := r.bound
	if boundary == "" {
		w.malformed(hw+":Content-Type", "multipart with an empty boundary; scanned as opaque text", r.ctRaw)
		w.leaf(h, body, depth, section, opaque)
		return
	}
	if depth+1 > w.lim.MaxDepth {
		w.exclude("mime.max_depth", int64(w.lim.MaxDepth), where,
			fmt.Sprintf("MIME nesting deeper than %d; the parts below were not scanned", w.lim.MaxDepth))
		return
	}
	if r.cte != "" {
		body = w.undoCTE(body, r.cte, where)
	}
	defType := "text/plain"
	if r.ctype == "multipart/digest" {
		defType = "message/rfc822"
	}
	dash := []byte("--" + boundary)
	if w.bareCR && !w.crStructural && bytes.Contains(body, append([]byte{'\r'}, dash...)) {
		w.crStructural = true
	}
	d, found := findDelimiter(body, 0, dash)
	if !found {
		w.malformed(where, "multipart body without any boundary delimiter line; scanned as opaque text", boundary)
		w.leaf(h, body, depth, section, opaque)
		return
	}
	closed := d.close
	for i := 1; !d.close && !w.stopped; i++ {
		start := d.after
		nd, found := findDelimiter(body, start, dash)
		end := len(body)
		if found {
			end = max(start, trimEOLBefore(body, nd.start))
		}
		w.nparts++
		if w.nparts > w.lim.MaxParts {
			w.stopped = true
			w.exclude("mime.max_parts", int64(w.lim.MaxParts), childWhere(section, i),
				fmt.Sprintf("more than %d MIME parts; the rest were not scanned", w.lim.MaxParts))
			return
		}
		child := childSection(section, i)
		ph := readHeader(body[start:end], w.lim.MaxHeaderBytes)
		w.checkHeaderBlock(&ph, child)
		w.declare(&ph)
		w.entity(&ph, ph.body, depth+1, child, defType)
		if !found {
			break
		}
		d = nd
		closed = d.close
	}
	if !closed && !w.stopped {
		w.malformed(where, "missing closing boundary", boundary)
	}
}

// undoCTE decodes a base64 or quoted-printable body into a new slice.
func (w *walker) undoCTE(body []byte, cte, where string) []byte {
	dec := make([]byte, 0, len(body))
	emit := func(p []byte) { dec = append(dec, p...) }
	var problem string
	if cte == "base64" {
		_, problem = decodeBase64(body, emit)
	} else {
		_, problem = decodeQP(body, emit)
	}
	if problem != "" {
		w.malformed(where, problem, "")
	}
	return dec
}

func childWhere(section string, i int) string {
	return whereOf(childSection(section, i))
}

// delimiter is one boundary delimiter line (RFC 2046 section 5.1.1).
type delimiter struct {
	start int  // offset of the "--boundary" line
	after int  // offset after its line end
	close bool // "--boundary--"
}

// findDelimiter finds the next delimiter line for dash ("--boundary") at or
// after from. It must start a line; after the boundary come either "--" (the
// close delimiter, any padding after it ignored) or optional whitespace and
// the line end.
func findDelimiter(b []byte, from int, dash []byte) (delimiter, bool) {
	for from < len(b) {
		i := bytes.Index(b[from:], dash)
		if i < 0 {
			break
		}
		p := from + i
		from = p + 1
		if p > 0 && b[p-1] != '\n' {
			continue
		}
		q := p + len(dash)
		rest := b[q:]
		if bytes.HasPrefix(rest, []byte("--")) {
			after := len(b)
			if j := bytes.IndexByte(rest, '\n'); j >= 0 {
				after = q + j + 1
			}
			return delimiter{start: p, after: after, close: true}, true
		}
		j := 0
		for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t') {
			j++
		}
		switch {
		case j == len(rest):
			return delimiter{start: p, after: len(b)}, true
		case rest[j] == '\n':
			return delimiter{start: p, after: q + j + 1}, true
		case rest[j] == '\r':
			k := j
			for k < len(rest) && rest[k] == '\r' {
				k++ // CR LF, or CR CR LF
			}
			switch {
			case k == len(rest):
				return delimiter{start: p, after: len(b)}, true
			case rest[k] == '\n':
				return delimiter{start: p, after: q + k + 1}, true
			}
		}
	}
	return delimiter{}, false
}

// trimEOLBefore returns the offset of the line end before p, which belongs
// to the delimiter that starts at p.
func trimEOLBefore(b []byte, p int) int {
	if p >= 2 && b[p-2] == '\r' && b[p-1] == '\n' {
		return p - 2
	}
	if p >= 1 && b[p-1] == '\n' {
		return p - 1
	}
	return p
}

// encapsulated walks an attached message (RFC 2046 section 5.2.1).
func (w *walker) encapsulated(h *headerBlock, r *reading, body []byte, depth int, section string) {
	where := whereOf(section)
	name, disp := w.names(h, r.ct, section)
	if len(name) > 0 || disp == "attachment" {
		w.addAttachments(name)
	}
	if depth+1 > w.lim.MaxDepth {
		w.exclude("mime.max_depth", int64(w.lim.MaxDepth), where,
			fmt.Sprintf("MIME nesting deeper than %d; the parts below were not scanned", w.lim.MaxDepth))
		return
	}
	if c := cteClass(r.cte); c != "" {
		// RFC 2046 section 5.2.1 forbids it, but it is seen and clients
		// decode it.
		body = w.undoCTE(body, c, where)
	}
	ih := readHeader(body, w.lim.MaxHeaderBytes)
	w.checkHeaderBlock(&ih, section)
	w.declare(&ih)
	w.entity(&ih, ih.body, depth+1, section, "text/plain")
}

func hw(section string) string {
	if section == "" {
		return "header"
	}
	return "part:" + section + "/header"
}

// names returns the decoded file names of a part and its disposition.
func (w *walker) names(h *headerBlock, ct *mediaHeader, section string) ([]string, string) {
	cdRaw, hasCD, cdAmb := one(h, "Content-Disposition")
	if cdAmb {
		w.malformed(hw(section)+":Content-Disposition", "ambiguous MIME: Content-Disposition given more than once with different values", cdRaw)
	}
	var names []string
	addName := func(vals []string) {
		for _, v := range vals {
			if v != "" && !slices.Contains(names, v) {
				names = append(names, v)
			}
		}
	}
	disp := ""
	if hasCD {
		for _, v := range h.get("Content-Disposition") {
			cd := parseMediaHeader(v)
			for _, p := range cd.problems {
				w.malformed(hw(section)+":Content-Disposition", "bad Content-Disposition: "+p, v)
			}
			if disp == "" {
				disp = cd.value
			}
			w.checkNameParam(&cd, "filename", section, "Content-Disposition")
			addName(cd.texts("filename", &w.dec))
		}
		switch disp {
		case "", "inline", "attachment":
		default:
			disp = "attachment" // RFC 2183 section 2.8
		}
	}
	if ct != nil {
		w.checkNameParam(ct, "name", section, "Content-Type")
		addName(ct.texts("name", &w.dec))
	}
	return names, disp
}

// one returns the first value of a field that may appear once in a MIME
// part header. ambiguous is set when it appears more than once with
// different values.
func one(h *headerBlock, name string) (v string, present, ambiguous bool) {
	vals := h.get(name)
	if len(vals) == 0 {
		return "", false, false
	}
	for _, x := range vals[1:] {
		if !strings.EqualFold(strings.TrimSpace(x), strings.TrimSpace(vals[0])) {
			return vals[0], true, true
		}
	}
	return vals[0], true, false
}

func (w *walker) checkNameParam(mh *mediaHeader, param, section, header string) {
	p := mh.params[param]
	if p == nil {
		return
	}
	where := hw(section) + ":" + header
	if p.repeated() {
		w.malformed(where, fmt.Sprintf("ambiguous MIME: %s parameter given more than once; every name was listed", param), strings.Join(mh.texts(param, &w.dec), ", "))
	}
	if _, n := mh.textNote(param, &w.dec); n.problem != "" {
		w.malformed(where, fmt.Sprintf("%s parameter could not be fully decoded", param), "")
		w.guessed(where, n, "")
	}
}

// addAttachments lists the names of one attachment. In an alternative
// reading of ambiguous MIME only names no other reading listed are added,
// so that one attachment seen under two boundaries is listed once.
func (w *walker) addAttachments(names []string) {
	if w.alt {
		var fresh []string
		for _, n := range names {
			if !slices.Contains(w.m.Attachments, n) {
				fresh = append(fresh, n)
			}
		}
		if len(fresh) == 0 && (len(names) > 0 || slices.Contains(w.m.Attachments, "")) {
			return
		}
		names = fresh
	}
	if len(names) == 0 {
		w.m.Attachments = append(w.m.Attachments, "")
		return
	}
	w.m.Attachments = append(w.m.Attachments, names...)
}

// leafInfo describes how to treat a leaf.
type leafInfo struct {
	ctype  string
	ct     *mediaHeader // nil for opaque leaves and when no Content-Type was given
	cte    string       // normalized transfer encoding
	cteRaw string
	opaque bool // unparsable multipart: no transfer decoding, raw text scanned
}

// leaf records one leaf part, decodes it and keeps its text.
func (w *walker) leaf(h *headerBlock, body []byte, depth int, section string, li leafInfo) {
	where := whereOf(section)
	part := Part{ContentType: li.ctype, Depth: depth, Where: where, raw: body, opaque: li.opaque}
	names, disp := w.names(h, li.ct, section)
	if len(names) > 0 {
		// Content-Disposition names come first: RFC 2183 names the file
		// there, the Content-Type name is the older fallback.
		part.Filename = names[0]
	}
	part.Disposition = disp
	if len(names) > 0 || disp == "attachment" {
		w.addAttachments(names)
	}
	label := "body"
	if len(names) > 0 || disp == "attachment" {
		label = "attachment:" + part.Filename
		if part.Filename == "" {
			label = "attachment:" + where
		}
	}

	if li.opaque {
		part.Size = int64(len(body))
		w.m.Parts = append(w.m.Parts, part)
		w.keepText(body, "", where, label, false)
		return
	}

	var charsets []string
	if li.ct != nil && li.ct.params["charset"] != nil {
		for _, cs := range li.ct.rawForms("charset") {
			cs = strings.ToLower(strings.TrimSpace(cs))
			if !slices.Contains(charsets, cs) {
				charsets = append(charsets, cs)
			}
		}
		if len(charsets) > 0 {
			part.Charset = charsets[0]
		}
		if li.ct.params["charset"].forms() > 1 {
			w.malformed(hw(section)+":Content-Type", "charset parameter given more than once", strings.Join(charsets, ", "))
		}
	}

	cte := li.cte
	part.cte = cte
	if cte != "binary" && bytes.IndexByte(body, 0) >= 0 {
		w.malformed(where, "NUL byte in body", "")
	}

	isText := li.ctype == "text/plain" || li.ctype == "text/html"
	room := w.text.room(w.lim)
	var kept []byte
	truncated := false
	switch cte {
	case "base64", "quoted-printable":
		var emit emitFunc
		if isText && room > 0 {
			kept = make([]byte, 0, min(int64(len(body)), room))
			emit = func(p []byte) {
				n := min(int64(len(p)), room-int64(len(kept)))
				if n < int64(len(p)) {
					truncated = true
				}
				kept = append(kept, p[:n]...)
			}
		}
		var problem string
		if cte == "base64" {
			part.Size, problem = decodeBase64(body, emit)
		} else {
			part.Size, problem = decodeQP(body, emit)
		}
		if problem != "" {
			w.malformed(where, problem, "")
		}
	default:
		part.Size = int64(len(body))
		if isText {
			kept = body[:min(int64(len(body)), max(room, 0))]
			truncated = int64(len(body)) > room
		}
	}
	w.m.Parts = append(w.m.Parts, part)
	if !isText {
		return
	}
	if room <= 0 {
		truncated = len(body) > 0
	}
	first := ""
	if len(charsets) > 0 {
		first = charsets[0]
	}
	w.keepText(kept, first, where, label, truncated)
	// A charset given twice with different values: a reader may take
	// either, so the text is kept in each.
	for _, cs := range charsets[min(1, len(charsets)):] {
		if !w.takeReading(where) {
			break
		}
		w.keepText(kept, cs, where, label, truncated)
	}
}
