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
	m      *Message
	lim    Limits
	nparts int
	text   strings.Builder
	// stopped is set once MaxParts is reached: nothing more is walked.
	stopped  bool
	excluded map[string]bool // limits already reported
	seen     map[string]bool // findings already reported
}

func (w *walker) add(f scanner.Finding) {
	key := f.Name + "\x00" + f.Where + "\x00" + f.Reason + "\x00" + f.Value
	if w.seen[key] {
		return
	}
	if w.seen == nil {
		w.seen = make(map[string]bool)
	}
	if len(w.m.Findings) >= maxFindings {
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

func (w *walker) message(msg []byte) {
	h := readHeader(msg, w.lim.MaxHeaderBytes)
	w.checkHeaderBlock(&h, "")
	w.m.Headers = make([]Header, 0, len(h.fields))
	counts := make(map[string]int)
	for _, f := range h.fields {
		raw := string(f.value)
		dec, problem := decodeHeader(raw)
		where := "header:" + f.name
		if problem != "" {
			w.malformed(where, problem, dec)
		}
		w.m.Headers = append(w.m.Headers, Header{Name: f.name, Raw: raw, Decoded: dec})
		canon := strings.ToLower(f.name)
		counts[canon]++
		if counts[canon] > 1 {
			continue
		}
		switch canon {
		case "from":
			w.m.From = dec
		case "to":
			w.m.To = dec
		case "subject":
			w.m.Subject = dec
		case "message-id":
			w.m.MessageID = dec
		}
	}
	for _, n := range singleHeaders {
		if c := counts[strings.ToLower(n)]; c > 1 {
			w.malformed("header:"+n, fmt.Sprintf("%s header appears %d times; RFC 5322 section 3.6 allows one", n, c), "")
		}
	}
	w.entity(&h, h.body, 0, "", "text/plain")
	w.m.Text = w.text.String()
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

// one returns the single value of a field that may appear once in a MIME
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

// entity walks one MIME entity: the message itself, a body part, or an
// encapsulated message. defType is the Content-Type to assume when none is
// given (RFC 2046 section 5.1.5: message/rfc822 inside multipart/digest).
func (w *walker) entity(h *headerBlock, body []byte, depth int, section, defType string) {
	hw := hw(section)

	ctRaw, hasCT, ctAmb := one(h, "Content-Type")
	if ctAmb {
		w.malformed(hw+":Content-Type", "ambiguous MIME: Content-Type given more than once with different values; scanned as opaque text", ctRaw)
		w.leaf(h, body, depth, section, leafInfo{ctype: "application/octet-stream", opaque: true})
		return
	}
	ct := parseMediaHeader(ctRaw)
	for _, p := range ct.problems {
		w.malformed(hw+":Content-Type", "bad Content-Type: "+p, ctRaw)
	}
	ctype := ct.value
	switch {
	case !hasCT:
		ctype = defType
	case !validMediaType(ctype):
		w.malformed(hw+":Content-Type", "Content-Type is not type/subtype; taken as text/plain", ctRaw)
		ctype = "text/plain"
		ct = mediaHeader{}
	}

	if strings.HasPrefix(ctype, "multipart/") {
		w.multipart(h, &ct, ctRaw, body, depth, section, ctype)
		return
	}
	if ctype == "message/rfc822" || ctype == "message/global" {
		w.encapsulated(h, &ct, body, depth, section)
		return
	}
	w.leaf(h, body, depth, section, leafInfo{ctype: ctype, ct: &ct})
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

func (w *walker) multipart(h *headerBlock, ct *mediaHeader, ctRaw string, body []byte, depth int, section, ctype string) {
	where := whereOf(section)
	hw := hw(section)
	opaque := leafInfo{ctype: ctype, opaque: true}
	p := ct.params["boundary"]
	if p == nil {
		w.malformed(hw+":Content-Type", "multipart without a boundary parameter; scanned as opaque text", ctRaw)
		w.leaf(h, body, depth, section, opaque)
		return
	}
	if n := p.forms(); n > 1 {
		// CVE-2024-28054: amavisd-new took the first boundary, mail clients
		// the last. There is no right answer, so there is no guess.
		w.malformed(hw+":Content-Type", fmt.Sprintf("ambiguous MIME: %d boundary parameters (CVE-2024-28054); scanned as opaque text", n), ctRaw)
		w.leaf(h, body, depth, section, opaque)
		return
	}
	boundary, _ := ct.raw("boundary")
	if boundary == "" {
		w.malformed(hw+":Content-Type", "multipart with an empty boundary; scanned as opaque text", ctRaw)
		w.leaf(h, body, depth, section, opaque)
		return
	}
	if cte, _, _ := one(h, "Content-Transfer-Encoding"); cte != "" {
		switch strings.ToLower(strings.TrimSpace(stripComment(cte))) {
		case "7bit", "8bit", "binary":
		default:
			// RFC 2045 section 6.4. Some readers decode it anyway, so the
			// parts seen here may not be what a client shows.
			w.malformed(hw+":Content-Transfer-Encoding", "multipart with a Content-Transfer-Encoding other than 7bit, 8bit or binary; it was ignored", cte)
		}
	}
	if depth+1 > w.lim.MaxDepth {
		w.exclude("mime.max_depth", int64(w.lim.MaxDepth), where,
			fmt.Sprintf("MIME nesting deeper than %d; the parts below were not scanned", w.lim.MaxDepth))
		return
	}
	defType := "text/plain"
	if ctype == "multipart/digest" {
		defType = "message/rfc822"
	}
	dash := []byte("--" + boundary)
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
		case rest[j] == '\r' && j+1 < len(rest) && rest[j+1] == '\n':
			return delimiter{start: p, after: q + j + 2}, true
		case rest[j] == '\r' && j+1 == len(rest):
			return delimiter{start: p, after: len(b)}, true
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
func (w *walker) encapsulated(h *headerBlock, ct *mediaHeader, body []byte, depth int, section string) {
	where := whereOf(section)
	name, disp := w.names(h, ct, section)
	if len(name) > 0 || disp == "attachment" {
		w.addAttachments(name)
	}
	if depth+1 > w.lim.MaxDepth {
		w.exclude("mime.max_depth", int64(w.lim.MaxDepth), where,
			fmt.Sprintf("MIME nesting deeper than %d; the parts below were not scanned", w.lim.MaxDepth))
		return
	}
	cte, _, amb := one(h, "Content-Transfer-Encoding")
	cte = strings.ToLower(strings.TrimSpace(stripComment(cte)))
	if amb {
		w.malformed(hw(section)+":Content-Transfer-Encoding", "ambiguous MIME: Content-Transfer-Encoding given more than once with different values; scanned as opaque text", cte)
		w.leaf(h, body, depth, section, leafInfo{ctype: "message/rfc822", opaque: true})
		return
	}
	switch cte {
	case "base64", "quoted-printable":
		// RFC 2046 section 5.2.1 forbids it, but it is seen and clients
		// decode it.
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
		body = dec
	}
	ih := readHeader(body, w.lim.MaxHeaderBytes)
	w.checkHeaderBlock(&ih, section)
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
			addName(cd.texts("filename"))
		}
		switch disp {
		case "", "inline", "attachment":
		default:
			disp = "attachment" // RFC 2183 section 2.8
		}
	}
	if ct != nil {
		w.checkNameParam(ct, "name", section, "Content-Type")
		addName(ct.texts("name"))
	}
	return names, disp
}

func (w *walker) checkNameParam(mh *mediaHeader, param, section, header string) {
	p := mh.params[param]
	if p == nil {
		return
	}
	if p.repeated() {
		w.malformed(hw(section)+":"+header, fmt.Sprintf("ambiguous MIME: %s parameter given more than once; every name was listed", param), strings.Join(mh.texts(param), ", "))
	}
	if _, ok := mh.text(param); !ok {
		w.malformed(hw(section)+":"+header, fmt.Sprintf("%s parameter could not be fully decoded", param), "")
	}
}

func (w *walker) addAttachments(names []string) {
	if len(names) == 0 {
		w.m.Attachments = append(w.m.Attachments, "")
		return
	}
	w.m.Attachments = append(w.m.Attachments, names...)
}

// leafInfo describes how to treat a leaf.
type leafInfo struct {
	ctype  string
	ct     *mediaHeader // nil for opaque leaves
	opaque bool         // ambiguous MIME: no transfer decoding, raw text scanned
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
		w.keepText(body, nil, where, label, false)
		return
	}

	var enc string
	if li.ct != nil {
		if p := li.ct.params["charset"]; p != nil {
			enc, _ = li.ct.raw("charset")
			enc = strings.ToLower(strings.TrimSpace(enc))
			part.Charset = enc
			if p.forms() > 1 {
				w.malformed(hw(section)+":Content-Type", "charset parameter given more than once", enc)
			}
		}
	}

	cteRaw, _, cteAmb := one(h, "Content-Transfer-Encoding")
	cte := strings.ToLower(strings.TrimSpace(stripComment(cteRaw)))
	if cteAmb {
		w.malformed(hw(section)+":Content-Transfer-Encoding", "ambiguous MIME: Content-Transfer-Encoding given more than once with different values; scanned as opaque text", cteRaw)
		part.opaque = true
		part.Size = int64(len(body))
		w.m.Parts = append(w.m.Parts, part)
		w.keepText(body, nil, where, label, false)
		return
	}
	switch cte {
	case "", "7bit", "8bit", "binary", "base64", "quoted-printable":
	default:
		w.malformed(hw(section)+":Content-Transfer-Encoding", "unknown Content-Transfer-Encoding; taken as 8bit", cteRaw)
		cte = "8bit"
	}
	part.cte = cte
	if cte != "binary" && bytes.IndexByte(body, 0) >= 0 {
		w.malformed(where, "NUL byte in body", "")
	}

	isText := li.ctype == "text/plain" || li.ctype == "text/html"
	room := w.room()
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
	var csEnc = enc
	w.keepText(kept, &csEnc, where, label, truncated)
}

// room returns how many more bytes of text may be kept.
func (w *walker) room() int64 {
	sep := int64(0)
	if w.text.Len() > 0 {
		sep = 1
	}
	return w.lim.MaxDecodedBytes - int64(w.text.Len()) - sep
}

// keepText transcodes b to UTF-8 (charset nil: unlabelled raw bytes) and
// appends it to the message text within the budget.
func (w *walker) keepText(b []byte, charset *string, where, label string, truncated bool) {
	room := w.room()
	if room <= 0 {
		if len(b) > 0 || truncated {
			w.excludeText(where)
		}
		return
	}
	if int64(len(b)) > room {
		b = b[:room]
		truncated = true
	}
	var s string
	switch {
	case charset == nil || *charset == "":
		s, _ = decodeUnlabelled(b)
	default:
		enc, ok := lookupCharset(*charset)
		if !ok {
			w.malformed(where, fmt.Sprintf("unknown charset %q", truncate(*charset, 40)), *charset)
			s, _ = decodeUnlabelled(b)
			break
		}
		var good bool
		s, good = transcode(enc, b)
		if !good && !truncated {
			w.malformed(where, fmt.Sprintf("bytes not valid in charset %q", truncate(*charset, 40)), *charset)
		}
	}
	if int64(len(s)) > room {
		cut := int(room)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
		truncated = true
	}
	if w.text.Len() > 0 {
		w.text.WriteByte('\n')
	}
	start := w.text.Len()
	w.text.WriteString(s)
	w.m.spans = append(w.m.spans, textSpan{start: start, end: w.text.Len(), where: label})
	if truncated {
		w.excludeText(where)
	}
}

func (w *walker) excludeText(where string) {
	w.exclude("mime.max_decoded_bytes", w.lim.MaxDecodedBytes, where,
		fmt.Sprintf("more than %d bytes of decoded text; the rest was not scanned", w.lim.MaxDecodedBytes))
}
