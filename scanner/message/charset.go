package message

import (
	"bytes"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// utf8Passthrough marks charsets whose bytes are already UTF-8; they are
// validated, not transcoded.
var utf8Passthrough encoding.Encoding = encoding.Nop

// charsetAliases are labels seen in mail that the WHATWG index does not
// know (cp932, chinesebig5, cp949 above all), plus ISO-2022-JP variants that
// x/text has no table for and that are decoded as plain ISO-2022-JP: their
// extra characters come out as U+FFFD instead of the whole text being lost.
// Shift_JIS in x/text is the WHATWG one, which is Windows-31J (CP932) with
// the NEC and IBM extensions; EUC-KR is the WHATWG one, which is CP949 (UHC);
// GBK decodes GB2312 and the GBK extensions.
var charsetAliases = map[string]encoding.Encoding{
	"utf-8":               utf8Passthrough,
	"utf8":                utf8Passthrough,
	"x-utf_8j":            utf8Passthrough,
	"cp932":               japanese.ShiftJIS,
	"ms932":               japanese.ShiftJIS,
	"x-ms-cp932":          japanese.ShiftJIS,
	"windows-31j":         japanese.ShiftJIS,
	"cswindows31j":        japanese.ShiftJIS,
	"shift_jis":           japanese.ShiftJIS,
	"shift-jis":           japanese.ShiftJIS,
	"x-sjis":              japanese.ShiftJIS,
	"sjis":                japanese.ShiftJIS,
	"x-shift_jis":         japanese.ShiftJIS,
	"ms_kanji":            japanese.ShiftJIS,
	"csshiftjis":          japanese.ShiftJIS,
	"ibm-943":             japanese.ShiftJIS,
	"euc-jp":              japanese.EUCJP,
	"x-euc-jp":            japanese.EUCJP,
	"eucjp":               japanese.EUCJP,
	"x-eucjp":             japanese.EUCJP,
	"ujis":                japanese.EUCJP,
	"cseucpkdfmtjapanese": japanese.EUCJP,
	"iso-2022-jp":         japanese.ISO2022JP,
	"csiso2022jp":         japanese.ISO2022JP,
	"iso-2022-jp-1":       japanese.ISO2022JP,
	"iso-2022-jp-2":       japanese.ISO2022JP,
	"iso-2022-jp-3":       japanese.ISO2022JP,
	"iso-2022-jp-ms":      japanese.ISO2022JP,
	"iso-2022-jp-2004":    japanese.ISO2022JP,
	"x-iso-2022-jp":       japanese.ISO2022JP,
	"jis":                 japanese.ISO2022JP,
	"cp949":               korean.EUCKR,
	"ms949":               korean.EUCKR,
	"uhc":                 korean.EUCKR,
	"x-windows-949":       korean.EUCKR,
	"ks_c_5601":           korean.EUCKR,
	"euc_kr":              korean.EUCKR,
	"x-euc-kr":            korean.EUCKR,
	"chinesebig5":         traditionalchinese.Big5,
	"big-5":               traditionalchinese.Big5,
	"big_5":               traditionalchinese.Big5,
	"x-big5":              traditionalchinese.Big5,
	"cp950":               traditionalchinese.Big5,
	"ms950":               traditionalchinese.Big5,
	"x-x-big5":            traditionalchinese.Big5,
	"cp936":               simplifiedchinese.GBK,
	"ms936":               simplifiedchinese.GBK,
	"windows-936":         simplifiedchinese.GBK,
	"gb-2312":             simplifiedchinese.GBK,
	"euc-cn":              simplifiedchinese.GBK,
	"x-euc-cn":            simplifiedchinese.GBK,
	"x-gbk":               simplifiedchinese.GBK,
	"utf-7":               UTF7,
	"utf7":                UTF7,
	"x-utf-7":             UTF7,
	"unicode-1-1-utf-7":   UTF7,
	"csunicode11utf7":     UTF7,
}

func init() {
	// go-message's charset package is the decoder other packages of ours
	// reach through message.CharsetReader (importing it sets that hook); teach
	// it the same aliases so that every part of mailwarden agrees on them.
	for name, enc := range charsetAliases {
		if enc == utf8Passthrough {
			continue
		}
		charset.RegisterEncoding(name, enc)
	}
}

// charsetEntry is a resolved charset label.
type charsetEntry struct {
	enc  encoding.Encoding
	name string // canonical (WHATWG) name, e.g. "shift_jis", "windows-1252"
}

// charsetCache memoises lookupCharset for known labels only: the set of
// known labels is finite, while hostile messages can invent unknown ones
// without end.
var charsetCache sync.Map

// lookupCharset returns the decoder for a MIME charset label and its
// canonical name. The label is matched case-insensitively, with any
// RFC 2231 language suffix ("iso-2022-jp*ja") and quotes removed, first
// against the mail aliases above, then the WHATWG encoding standard (which
// is how mail clients read "iso-8859-1", "us-ascii" and "latin1": as
// windows-1252), then the IANA registry. It returns utf8Passthrough for
// UTF-8. Labels the WHATWG standard maps to its "replacement" decoder
// (iso-2022-kr, hz-gb-2312), which would turn all text into one U+FFFD, are
// unknown here, so that their text is still guessed and scanned.
func lookupCharset(label string) (enc encoding.Encoding, name string, ok bool) {
	n := normCharset(label)
	if v, ok := charsetCache.Load(n); ok {
		e := v.(charsetEntry)
		return e.enc, e.name, true
	}
	e, ok := findCharset(n)
	if !ok {
		return nil, "", false
	}
	if len(n) <= 64 {
		charsetCache.Store(n, e)
	}
	return e.enc, e.name, true
}

func normCharset(label string) string {
	label = strings.TrimSpace(label)
	label = strings.Trim(label, `"'`)
	if i := strings.IndexByte(label, '*'); i >= 0 {
		label = label[:i]
	}
	return strings.ToLower(strings.TrimSpace(label))
}

func findCharset(name string) (charsetEntry, bool) {
	if name == "" {
		return charsetEntry{}, false
	}
	if enc, ok := charsetAliases[name]; ok {
		return charsetEntry{enc: enc, name: canonicalName(enc, name)}, true
	}
	if enc, err := htmlindex.Get(name); err == nil && enc != nil {
		if enc == encoding.Replacement {
			return charsetEntry{}, false
		}
		if enc == unicode.UTF8 {
			enc = utf8Passthrough
		}
		return charsetEntry{enc: enc, name: canonicalName(enc, name)}, true
	}
	for _, n := range [...]string{name, "cs" + name} {
		if enc, err := ianaindex.MIME.Encoding(n); err == nil && enc != nil {
			return charsetEntry{enc: enc, name: canonicalName(enc, name)}, true
		}
	}
	return charsetEntry{}, false
}

func canonicalName(enc encoding.Encoding, label string) string {
	if enc == utf8Passthrough {
		return "utf-8"
	}
	if enc == UTF7 {
		return "utf-7"
	}
	if n, err := htmlindex.Name(enc); err == nil {
		return n
	}
	if n, err := ianaindex.MIME.Name(enc); err == nil {
		return strings.ToLower(n)
	}
	return label
}

// asciiCompatible reports whether 7-bit text in enc (other than the ESC
// that starts ISO-2022 sequences) means what it means in ASCII, so that
// ASCII input can skip the decoder. UTF-16, UTF-32 and UTF-7 are not.
func asciiCompatible(enc encoding.Encoding) bool {
	if enc == utf8Passthrough {
		return true
	}
	if enc == UTF7 {
		return false // "+" starts base64
	}
	cache := reflect.TypeOf(enc).Comparable()
	if cache {
		if v, ok := asciiCompat.Load(enc); ok {
			return v.(bool)
		}
	}
	const probe = "Az09 =?:\t\r\n~"
	out, err := enc.NewDecoder().String(probe)
	ok := err == nil && out == probe
	if cache {
		asciiCompat.Store(enc, ok)
	}
	return ok
}

// asciiCompat memoises asciiCompatible per encoding; there are finitely many.
var asciiCompat sync.Map

// transcode converts b from enc to UTF-8. ok is false when the input had
// bytes the charset could not map (they become U+FFFD).
func transcode(enc encoding.Encoding, b []byte) (string, bool) {
	if enc == utf8Passthrough {
		if utf8.Valid(b) {
			return string(b), true
		}
		return strings.ToValidUTF8(string(b), "\uFFFD"), false
	}
	if isPlain7bit(b) && asciiCompatible(enc) {
		return string(b), true
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD"), false
	}
	// x/text decoders write valid UTF-8, and U+FFFD for what they
	// cannot map.
	ok := !bytes.Contains(out, replacementChar) || bytes.Contains(b, replacementChar)
	return string(out), ok
}

// isPlain7bit reports whether b has no 8-bit byte and no ESC.
func isPlain7bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || c == 0x1b {
			return false
		}
	}
	return true
}

var replacementChar = []byte("\uFFFD")

// isoEscapes are the ISO-2022-JP designations (RFC 1468) that mark text as
// ISO-2022-JP even when nothing labels it so.
var isoEscapes = [...]string{"\x1b$B", "\x1b$@", "\x1b(J", "\x1b(I", "\x1b$(D"}

func hasISO2022JPEscape(b []byte) bool {
	if bytes.IndexByte(b, 0x1b) < 0 {
		return false
	}
	for _, e := range isoEscapes {
		if bytes.Contains(b, []byte(e)) {
			return true
		}
	}
	return false
}

// maxHints bounds the charsets a [Decoder] remembers, and maxDeclared the
// labels it looks at, so that a hostile header with thousands of encoded
// words costs no more than a few lookups.
const (
	maxHints    = 8
	maxDeclared = 256
)

// Decoder decodes header values, and text without a charset, the way mail
// clients show them. For raw 8-bit bytes that are not UTF-8 it first tries
// the charsets the message declares elsewhere (Declare, DeclareCharset),
// then the charset whose byte patterns the whole text fits best: Shift_JIS,
// EUC-JP, EUC-KR, GBK or Big5 only when the bytes really fit them, else
// windows-1252. The zero Decoder guesses without hints. A Decoder is not safe
// for concurrent use while charsets are being declared.
type Decoder struct {
	hints    []hint
	declared int // labels looked at, bounded by maxDeclared
}

// hint is one charset declared in the message.
type hint struct {
	name string
	enc  encoding.Encoding
}

// DeclareCharset adds a MIME charset label declared somewhere in the
// message. Unknown labels, and labels that cannot explain 8-bit bytes
// (UTF-8, which is tried anyway, UTF-16 and the 7-bit ISO-2022-JP), are
// ignored.
func (d *Decoder) DeclareCharset(label string) {
	if d.declared >= maxDeclared || len(d.hints) >= maxHints {
		return
	}
	d.declared++
	enc, name, ok := lookupCharset(label)
	if !ok || enc == utf8Passthrough || enc == japanese.ISO2022JP || !asciiCompatible(enc) {
		return
	}
	for _, h := range d.hints {
		if h.name == name {
			return
		}
	}
	d.hints = append(d.hints, hint{name: name, enc: enc})
}

// Declare adds the charsets one header field declares: the charset
// parameter of a Content-Type field and the charset of every RFC 2047
// encoded word in any field. Call it for every field of a header block
// before decoding the block's values, as a mail client reads the whole
// header first.
func (d *Decoder) Declare(name, value string) {
	if strings.EqualFold(strings.TrimSpace(name), "Content-Type") {
		if i := indexFold(value, "charset"); i >= 0 {
			mh := parseMediaHeader(value)
			if cs, _ := mh.raw("charset"); cs != "" {
				d.DeclareCharset(cs)
			}
		}
	}
	d.declareWords(value)
}

// declareWords adds the charsets of the RFC 2047 encoded words in v.
func (d *Decoder) declareWords(v string) {
	for d.declared < maxDeclared && len(d.hints) < maxHints {
		i := strings.Index(v, "=?")
		if i < 0 {
			return
		}
		v = v[i+2:]
		q := strings.IndexByte(v[:min(len(v), 82)], '?')
		if q <= 0 || len(v) < q+3 || v[q+2] != '?' || strings.IndexByte("bBqQ", v[q+1]) < 0 {
			continue
		}
		d.DeclareCharset(v[:q])
		v = v[q+3:]
	}
}

// indexFold is strings.Index, ASCII case-insensitive, for a lower-case sub.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// Decode is [DecodeHeader] with the declared charsets tried first for raw
// 8-bit text.
func (d *Decoder) Decode(v string) (decoded string, ok bool) {
	s, n := decodeHeaderNote(v, d)
	return s, n.problem == ""
}

// guessKind says how the charset of undeclared text was chosen.
type guessKind int

const (
	guessNone   guessKind = iota // not a guess: ASCII, UTF-8, ISO-2022-JP escapes
	guessHint                    // a charset declared elsewhere in the message
	guessDetect                  // the byte patterns fit it best
)

// note says how a value was decoded, for findings.
type note struct {
	problem string    // the first decoding problem, "" when none
	guess   string    // canonical name of the charset guessed for 8-bit text
	kind    guessKind // how it was guessed
}

func (n *note) fail(p string) {
	if n.problem == "" {
		n.problem = p
	}
}

func (n *note) guessed(name string, k guessKind) {
	if n.guess == "" && k != guessNone {
		n.guess, n.kind = name, k
	}
}

// decodeText turns bytes of undeclared charset into UTF-8 (see
// [Decoder]). cut says b was cut at a byte limit, so that a character may
// be incomplete at its end. ok is false when bytes had to be replaced with
// U+FFFD.
func (d *Decoder) decodeText(b []byte, cut bool) (s string, name string, k guessKind, ok bool) {
	if isPlain7bit(b) {
		return string(b), "us-ascii", guessNone, true
	}
	c := d.choose(b, cut)
	if c.decoded {
		return c.out, c.name, c.kind, true
	}
	out, good := transcode(c.enc, b)
	return out, c.name, c.kind, good
}

// choice is the charset picked for a text.
type choice struct {
	enc     encoding.Encoding
	name    string
	kind    guessKind
	out     string // the whole text decoded, when decoded is set
	decoded bool
}

// choose picks the charset of undeclared text b (cut as for decodeText).
func (d *Decoder) choose(b []byte, cut bool) choice {
	high := false
	for _, c := range b {
		if c >= 0x80 {
			high = true
			break
		}
	}
	if !high {
		if hasISO2022JPEscape(b) {
			return choice{enc: japanese.ISO2022JP, name: "iso-2022-jp"}
		}
		return choice{enc: utf8Passthrough, name: "us-ascii"}
	}
	if validUTF8(b, cut) {
		return choice{enc: utf8Passthrough, name: "utf-8"}
	}
	var hints []hint
	if d != nil {
		hints = d.hints
	}
	return detect(b, hints)
}

// validUTF8 is utf8.Valid; with cut set it forgives one incomplete
// sequence at the very end, which is what a text cut at a byte limit has.
func validUTF8(b []byte, cut bool) bool {
	if utf8.Valid(b) {
		return true
	}
	if !cut {
		return false
	}
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			return !utf8.FullRune(b[len(b)-i:]) && utf8.Valid(b[:len(b)-i])
		}
	}
	return false
}
