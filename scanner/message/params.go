package message

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxParams bounds the parameters kept per header; more are ignored.
const maxParams = 64

// maxSection bounds the RFC 2231 continuation index (name*N).
const maxSection = 999

// mediaHeader is a parsed Content-Type or Content-Disposition value
// (RFC 2045 section 5.1, RFC 2183, RFC 2231). Unlike mime.ParseMediaType it
// never gives up: it keeps every parameter form it saw, so that duplicates can
// be reported instead of silently resolved, and it decodes RFC 2231 values in
// any charset and RFC 2047 words in quoted values.
type mediaHeader struct {
	value    string // lower case, e.g. "text/plain" or "attachment"
	params   map[string]*param
	problems []string
}

// param holds every form in which one parameter appeared.
type param struct {
	plain    []string           // name="v" or name=v, raw
	ext      []string           // name*=charset'lang'%XX, raw
	sections map[int]rfc2231Sec // name*N= and name*N*=
	secDup   bool               // a section index appeared twice
}

type rfc2231Sec struct {
	val string
	ext bool
}

func parseMediaHeader(v string) mediaHeader {
	var h mediaHeader
	main, rest, _ := strings.Cut(v, ";")
	main = strings.TrimSpace(main)
	if i := strings.IndexByte(main, '('); i >= 0 { // RFC 822 comment
		main = strings.TrimSpace(main[:i])
	}
	h.value = strings.ToLower(main)
	for rest != "" {
		rest = strings.TrimLeft(rest, " \t\r\n;")
		if rest == "" {
			break
		}
		eq := strings.IndexAny(rest, "=;")
		if eq < 0 || rest[eq] == ';' {
			h.problem("parameter without a value")
			if eq < 0 {
				break
			}
			rest = rest[eq:]
			continue
		}
		name := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t\r\n")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var closed bool
			val, rest, closed = readQuoted(rest[1:])
			if !closed {
				h.problem("unterminated quoted string in a parameter")
			}
			if i := strings.IndexByte(rest, ';'); i >= 0 {
				if strings.TrimSpace(stripComment(rest[:i])) != "" {
					h.problem("text after a quoted parameter value")
				}
				rest = rest[i:]
			} else {
				if strings.TrimSpace(stripComment(rest)) != "" {
					h.problem("text after a quoted parameter value")
				}
				rest = ""
			}
		} else {
			i := strings.IndexByte(rest, ';')
			if i < 0 {
				i = len(rest)
			}
			val = strings.TrimSpace(stripComment(rest[:i]))
			rest = rest[i:]
		}
		if name == "" {
			h.problem("parameter without a name")
			continue
		}
		h.add(name, val)
	}
	return h
}

func (h *mediaHeader) problem(p string) {
	if !slices.Contains(h.problems, p) {
		h.problems = append(h.problems, p)
	}
}

// readQuoted reads an RFC 5322 quoted-string body after the opening quote,
// honouring backslash escapes.
func readQuoted(s string) (val, rest string, closed bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), "", false
}

func stripComment(s string) string {
	if i := strings.IndexByte(s, '('); i >= 0 {
		return s[:i]
	}
	return s
}

func (h *mediaHeader) add(name, val string) {
	base, sec, ext := name, -1, false
	if strings.HasSuffix(base, "*") {
		base, ext = base[:len(base)-1], true
	}
	if i := strings.IndexByte(base, '*'); i >= 0 {
		n, err := strconv.Atoi(base[i+1:])
		if err != nil || n < 0 || n > maxSection {
			h.problem("bad RFC 2231 parameter section")
			return
		}
		base, sec = base[:i], n
	}
	if h.params == nil {
		h.params = make(map[string]*param)
	}
	p := h.params[base]
	if p == nil {
		if len(h.params) >= maxParams {
			h.problem("too many parameters")
			return
		}
		p = &param{}
		h.params[base] = p
	}
	switch {
	case sec >= 0:
		if p.sections == nil {
			p.sections = make(map[int]rfc2231Sec)
		}
		if _, dup := p.sections[sec]; dup {
			p.secDup = true
			return
		}
		if len(p.sections) >= maxParams {
			h.problem("too many parameter sections")
			return
		}
		p.sections[sec] = rfc2231Sec{val: val, ext: ext}
	case ext:
		if len(p.ext) < maxParams {
			p.ext = append(p.ext, val)
		}
	default:
		if len(p.plain) < maxParams {
			p.plain = append(p.plain, val)
		}
	}
}

// forms counts in how many ways p was given; more than one is ambiguous.
func (p *param) forms() int {
	n := len(p.plain) + len(p.ext)
	if len(p.sections) > 0 {
		n++
	}
	if p.secDup {
		n++
	}
	return n
}

// repeated reports whether one form of p was given twice, which
// mime.ParseMediaType rejects and different MIME parsers resolve differently.
func (p *param) repeated() bool {
	return len(p.plain) > 1 || len(p.ext) > 1 || p.secDup
}

// raw returns the parameter value without RFC 2047 decoding of plain
// values, the way a boundary or charset is read. RFC 2231 forms win over the
// plain one, as in RFC 2231 section 4 compliant readers. ok is false when an
// RFC 2231 charset was unknown.
func (h *mediaHeader) raw(name string) (string, bool) {
	s, n := h.rawNote(name, nil)
	return s, n.problem == ""
}

func (h *mediaHeader) rawNote(name string, dec *Decoder) (string, note) {
	p := h.params[name]
	if p == nil {
		return "", note{}
	}
	if len(p.sections) > 0 {
		return decodeSections(p.sections, dec)
	}
	if len(p.ext) > 0 {
		return decodeExt(p.ext[0], dec)
	}
	return p.plain[0], note{}
}

// rawForms returns every distinct value the parameter was given, read as
// [mediaHeader.raw] reads one: the value raw returns first, then the others
// in the order RFC 2231 sections, extended values, plain values. It is how
// readers that resolve a repeated parameter differently can disagree.
func (h *mediaHeader) rawForms(name string) []string {
	p := h.params[name]
	if p == nil {
		return nil
	}
	var out []string
	addv := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	first, _ := h.raw(name)
	addv(first)
	if len(p.sections) > 0 {
		s, _ := decodeSections(p.sections, nil)
		addv(s)
	}
	for _, e := range p.ext {
		s, _ := decodeExt(e, nil)
		addv(s)
	}
	for _, v := range p.plain {
		addv(v)
	}
	return out
}

// text returns the parameter value decoded to UTF-8, also decoding RFC 2047
// encoded words and raw 8-bit in plain values (not standard, but what most
// Japanese mailers send for file names).
func (h *mediaHeader) text(name string) (string, bool) {
	s, n := h.textNote(name, nil)
	return s, n.problem == ""
}

// textNote is text with the charsets of dec tried first for raw 8-bit text,
// and a note of what happened.
func (h *mediaHeader) textNote(name string, dec *Decoder) (string, note) {
	p := h.params[name]
	if p == nil {
		return "", note{}
	}
	if len(p.sections) > 0 || len(p.ext) > 0 {
		return h.rawNote(name, dec)
	}
	return decodeHeaderNote(p.plain[0], dec)
}

// texts returns every distinct decoded value the parameter was given.
func (h *mediaHeader) texts(name string, dec *Decoder) []string {
	p := h.params[name]
	if p == nil {
		return nil
	}
	var out []string
	addv := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(p.sections) > 0 {
		s, _ := decodeSections(p.sections, dec)
		addv(s)
	}
	for _, e := range p.ext {
		s, _ := decodeExt(e, dec)
		addv(s)
	}
	for _, v := range p.plain {
		s, _ := decodeHeaderNote(v, dec)
		addv(s)
	}
	return out
}

// decodeExt decodes an RFC 2231 extended value, which starts with
// charset'language'.
func decodeExt(v string, dec *Decoder) (string, note) {
	cs := ""
	if a, rest, ok := strings.Cut(v, "'"); ok {
		if _, rest2, ok := strings.Cut(rest, "'"); ok {
			cs, v = a, rest2
		}
	}
	return transcodeLabel(cs, pctDecode(v), dec)
}

func decodeSections(secs map[int]rfc2231Sec, dec *Decoder) (string, note) {
	idx := make([]int, 0, len(secs))
	for i := range secs {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var cs string
	var buf []byte
	for n, i := range idx {
		s := secs[i]
		v := s.val
		if s.ext {
			if n == 0 {
				if a, rest, ok := strings.Cut(v, "'"); ok {
					if _, rest2, ok := strings.Cut(rest, "'"); ok {
						cs, v = a, rest2
					}
				}
			}
			buf = append(buf, pctDecode(v)...)
		} else {
			buf = append(buf, v...)
		}
	}
	if cs == "" {
		// Plain sections only, perhaps with RFC 2047 words or raw 8-bit.
		return decodeHeaderNote(string(buf), dec)
	}
	return transcodeLabel(cs, buf, dec)
}

// transcodeLabel decodes b from the charset labelled cs, guessing when the
// label is empty or unknown.
func transcodeLabel(cs string, b []byte, dec *Decoder) (string, note) {
	var n note
	if cs != "" {
		enc, _, ok := lookupCharset(cs)
		if ok {
			s, good := transcode(enc, b)
			if !good {
				n.fail(fmt.Sprintf("bytes not valid in charset %q", truncate(normCharset(cs), 40)))
			}
			return s, n
		}
		n.fail(fmt.Sprintf("unknown charset %q", truncate(normCharset(cs), 40)))
	}
	s, name, k, good := dec.decodeText(b, false)
	if k != guessNone {
		n.fail("8-bit bytes that are not UTF-8 and have no charset")
		n.guessed(name, k)
	} else if !good {
		n.fail("bad ISO-2022-JP escape sequences")
	}
	return s, n
}

func pctDecode(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return b
}
