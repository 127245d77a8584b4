package message

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/japanese"
)

// DecodeHeader decodes a header field value to UTF-8. It unfolds the value
// (RFC 5322 section 2.2.3), decodes RFC 2047 encoded words one charset run at
// a time, and also accepts what real mail carries instead: raw 8-bit UTF-8
// (RFC 6532), raw ISO-2022-JP escape sequences, raw text in another charset
// (guessed as [Decoder] does, without hints), and encoded words glued to
// other text or inside quotes. Use a [Decoder] to have the charsets the
// message declares tried first for raw text.
//
// Adjacent encoded words in the same charset are joined before transcoding,
// so a multibyte character split across two words still decodes. An encoded
// word that cannot be decoded (unknown charset, bad base64) is left as it was
// and ok is false; every other word is still decoded. ok is also false when a
// charset had to be guessed or bytes were replaced with U+FFFD.
func DecodeHeader(v string) (decoded string, ok bool) {
	decoded, n := decodeHeaderNote(v, nil)
	return decoded, n.problem == ""
}

// decodeHeaderNote is [Decoder.Decode] that also says what went wrong first
// and which charset was guessed, for findings. d may be nil.
func decodeHeaderNote(v string, d *Decoder) (string, note) {
	if isPlainHeader(v) {
		return v, note{}
	}
	v = unfold(v)
	hd := headerDecoder{dec: d}
	sc := wordScanner{s: v, nextEnd: -2, nextBad: -2}
	pos, textStart := 0, 0 // text from textStart to the next word is raw
	for pos < len(v) {
		i := strings.Index(v[pos:], "=?")
		if i < 0 {
			break
		}
		at := pos + i
		w, n, good := sc.parse(at)
		if !good {
			pos = at + 2
			continue
		}
		pre, sep := v[textStart:at], ""
		if hd.pending() && isLWSP(pre) {
			// RFC 2047 section 6.2: whitespace between encoded words is ignored.
			pre, sep = "", pre
		}
		if pre != "" {
			hd.text(pre)
		}
		hd.word(w, sep, v[at:at+n])
		pos = at + n
		textStart = pos
	}
	if textStart < len(v) {
		hd.text(v[textStart:])
	}
	return hd.finish(), hd.note
}

// isPlainHeader reports whether v needs no decoding at all: 7-bit, no
// encoded word, no escape sequence, no folding.
func isPlainHeader(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= 0x80, c == 0x1b, c == '\n', c == '\r':
			return false
		case c == '=' && i+1 < len(v) && v[i+1] == '?':
			return false
		}
	}
	return true
}

// unfold removes the line breaks of folded header lines: CRLF (or bare LF)
// followed by whitespace becomes that whitespace. Other line breaks are kept.
func unfold(v string) string {
	if strings.IndexByte(v, '\n') < 0 {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for len(v) > 0 {
		i := strings.IndexByte(v, '\n')
		if i < 0 {
			b.WriteString(v)
			break
		}
		line := v[:i]
		rest := v[i+1:]
		if len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			line = strings.TrimSuffix(line, "\r")
			b.WriteString(line)
		} else {
			b.WriteString(v[:i+1])
		}
		v = rest
	}
	return b.String()
}

func isLWSP(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}

// encodedWord is one parsed RFC 2047 encoded word.
type encodedWord struct {
	charset string // lower case, language suffix removed
	data    []byte // transfer-decoded bytes, still in charset
}

// wordScanner finds encoded words in s. It remembers where the next "?="
// and the next byte that cannot be in a word are, so that a hostile header
// with many "=?" and no end takes linear, not quadratic, time.
type wordScanner struct {
	s                string
	nextEnd, nextBad int // absolute offsets; -1 none left, -2 not yet known
}

// end returns the offset of the first "?=" at or after from, or -1.
func (sc *wordScanner) end(from int) int {
	if sc.nextEnd == -1 || sc.nextEnd >= from {
		return sc.nextEnd
	}
	sc.nextEnd = -1
	if i := strings.Index(sc.s[from:], "?="); i >= 0 {
		sc.nextEnd = from + i
	}
	return sc.nextEnd
}

// bad returns the offset of the first byte at or after from that cannot be
// in an encoded word: whitespace, controls and 8-bit (RFC 2047 section 5),
// or -1.
func (sc *wordScanner) bad(from int) int {
	if sc.nextBad == -1 || sc.nextBad >= from {
		return sc.nextBad
	}
	sc.nextBad = -1
	for i := from; i < len(sc.s); i++ {
		if c := sc.s[i]; c <= ' ' || c >= 0x7f {
			sc.nextBad = i
			break
		}
	}
	return sc.nextBad
}

// parse parses "=?charset?B|Q?text?=" at offset at. It returns the word,
// its length, and whether it was well formed. The 75-character limit of
// RFC 2047 is not enforced: longer words are common.
func (sc *wordScanner) parse(at int) (w encodedWord, n int, ok bool) {
	// s[at:] starts with "=?".
	rest := sc.s[at+2:]
	q1 := strings.IndexByte(rest[:min(len(rest), 82)], '?')
	if q1 <= 0 || q1 > 80 || len(rest) < q1+3 || rest[q1+2] != '?' {
		return w, 0, false
	}
	cs := rest[:q1]
	for i := 0; i < len(cs); i++ {
		if c := cs[i]; c <= ' ' || c >= 0x7f {
			return w, 0, false
		}
	}
	enc := rest[q1+1]
	textAt := at + 2 + q1 + 3
	end := sc.end(textAt)
	if end < 0 {
		return w, 0, false
	}
	if b := sc.bad(textAt); b >= 0 && b < end {
		// Whitespace ends a word; 8-bit and control bytes are not allowed
		// in one and are decoded as raw text instead.
		return w, 0, false
	}
	text := sc.s[textAt:end]
	n = end + 2 - at
	w.charset = normCharset(cs)
	switch enc {
	case 'B', 'b':
		data, good := decodeWordBase64(text)
		if !good {
			return w, n, true // well formed, but the data is bad: w.data == nil
		}
		w.data = data
		if w.data == nil {
			w.data = []byte{}
		}
	case 'Q', 'q':
		w.data = decodeWordQ(text)
	default:
		return w, 0, false
	}
	return w, n, true
}

func decodeWordBase64(s string) ([]byte, bool) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	// Missing or extra padding is common and harmless.
	if b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
		return b, true
	}
	return nil, false
}

// decodeWordQ decodes the Q encoding (RFC 2047 section 4.2). A "=" that is
// not followed by two hex digits is kept literally.
func decodeWordQ(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '_':
			b = append(b, ' ')
		case '=':
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
				i += 2
			} else {
				b = append(b, c)
			}
		default:
			b = append(b, c)
		}
	}
	return b
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// headerDecoder accumulates decoded text as pieces. Runs of adjacent
// encoded words in one charset are held in run until a different charset or
// plain text ends the run, and are then transcoded together. Raw 8-bit text
// is held until the end, so that the charset of all of it is chosen at once.
type headerDecoder struct {
	dec     *Decoder
	pieces  []string
	raw8    []int // indexes in pieces of raw 8-bit text still to decode
	note    note
	charset string
	run     []byte
	rawRun  strings.Builder // the words of run as written, for when the charset is unknown
	lead    string          // whitespace before the run, dropped unless the run stays raw
	inRun   bool
}

func (d *headerDecoder) pending() bool { return d.inRun }

func (d *headerDecoder) out(s string) {
	if s != "" {
		d.pieces = append(d.pieces, s)
	}
}

func (d *headerDecoder) word(w encodedWord, sep, raw string) {
	if w.data == nil { // bad base64: keep the word as written
		d.flush()
		d.out(sep)
		d.out(raw)
		d.note.fail("bad base64 in encoded word")
		return
	}
	if d.inRun && d.charset != w.charset {
		if d.flush() {
			// The run before stays as written: keep what separated it.
			d.out(sep)
			sep = ""
		}
	}
	if !d.inRun {
		d.inRun = true
		d.charset = w.charset
		d.run = d.run[:0]
		d.rawRun.Reset()
		d.lead = sep
	} else {
		d.rawRun.WriteString(sep)
	}
	d.run = append(d.run, w.data...)
	d.rawRun.WriteString(raw)
}

// flush transcodes the pending run. It reports whether the run was left as
// written because its charset is unknown.
func (d *headerDecoder) flush() (leftRaw bool) {
	if !d.inRun {
		return false
	}
	d.inRun = false
	enc, _, known := lookupCharset(d.charset)
	if !known {
		// Keep the words as written, with the whitespace that separated
		// them from a previous encoded word, so the text stays readable.
		d.out(d.lead)
		d.out(d.rawRun.String())
		d.note.fail(fmt.Sprintf("unknown charset %q in encoded word", truncate(d.charset, 40)))
		return true
	}
	s, ok := transcode(enc, d.run)
	if !ok {
		d.note.fail(fmt.Sprintf("bytes not valid in charset %q in encoded word", truncate(d.charset, 40)))
	}
	d.out(s)
	return false
}

// text appends text that is not an encoded word: raw ASCII, raw UTF-8, raw
// ISO-2022-JP, or raw text in another charset.
func (d *headerDecoder) text(s string) {
	d.flush()
	if s == "" {
		return
	}
	if !needsRawDecode(s) {
		d.out(s)
		return
	}
	if isPlain7bitString(s) { // escape sequences only
		out, ok := s, true
		if hasISO2022JPEscape([]byte(s)) {
			out, ok = transcode(japanese.ISO2022JP, []byte(s))
		}
		if !ok {
			d.note.fail("bad ISO-2022-JP escape sequences in header")
		}
		d.out(out)
		return
	}
	if utf8.ValidString(s) {
		d.out(s) // raw UTF-8 is RFC 6532
		return
	}
	d.raw8 = append(d.raw8, len(d.pieces))
	d.pieces = append(d.pieces, s)
}

// finish decodes the held raw 8-bit text and returns the decoded value.
func (d *headerDecoder) finish() string {
	d.flush()
	if len(d.raw8) > 0 {
		all := make([]byte, 0, 64)
		for n, i := range d.raw8 {
			if n > 0 {
				all = append(all, ' ')
			}
			all = append(all, d.pieces[i]...)
		}
		c := d.dec.choose(all, false)
		if c.kind != guessNone || !utf8.Valid(all) {
			d.note.fail("8-bit bytes in header that are not UTF-8")
		}
		d.note.guessed(c.name, c.kind)
		for _, i := range d.raw8 {
			d.pieces[i], _ = transcode(c.enc, []byte(d.pieces[i]))
		}
	}
	switch len(d.pieces) {
	case 0:
		return ""
	case 1:
		return d.pieces[0]
	}
	return strings.Join(d.pieces, "")
}

// needsRawDecode reports whether s holds 8-bit bytes or an escape sequence.
func needsRawDecode(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] == 0x1b {
			return true
		}
	}
	return false
}

func isPlain7bitString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
