package message

import (
	"bytes"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
)

// utf8Passthrough marks charsets whose bytes are already UTF-8 (or its ASCII
// subset); they are validated, not transcoded.
var utf8Passthrough encoding.Encoding = encoding.Nop

// charsetAliases are labels seen in Japanese and Windows mail that neither the
// IANA nor the WHATWG index knows (cp932 above all), plus ISO-2022-JP variants
// that x/text has no table for and that are decoded as plain ISO-2022-JP:
// their extra characters come out as U+FFFD instead of the whole text being
// lost. Shift_JIS in x/text is the WHATWG one, which is Windows-31J (CP932)
// with the NEC and IBM extensions.
var charsetAliases = map[string]encoding.Encoding{
	"utf-8":               utf8Passthrough,
	"utf8":                utf8Passthrough,
	"us-ascii":            utf8Passthrough,
	"ascii":               utf8Passthrough,
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

// charsetCache memoises lookupCharset: label → encoding.Encoding, or nil for
// an unknown label.
var charsetCache sync.Map

// lookupCharset returns the decoder for a MIME charset label, case-insensitive,
// with any RFC 2231 language suffix ("iso-2022-jp*ja") and quotes removed.
// It returns utf8Passthrough for UTF-8 and US-ASCII.
func lookupCharset(label string) (encoding.Encoding, bool) {
	name := normCharset(label)
	if enc, ok := charsetAliases[name]; ok {
		return enc, true
	}
	if v, ok := charsetCache.Load(name); ok {
		enc, _ := v.(encoding.Encoding)
		return enc, enc != nil
	}
	enc := findCharset(name)
	if len(name) <= 64 { // do not let hostile labels grow the cache unboundedly in size
		charsetCache.Store(name, enc)
	}
	return enc, enc != nil
}

func normCharset(label string) string {
	label = strings.TrimSpace(label)
	label = strings.Trim(label, `"'`)
	if i := strings.IndexByte(label, '*'); i >= 0 {
		label = label[:i]
	}
	return strings.ToLower(label)
}

func findCharset(name string) encoding.Encoding {
	if name == "" {
		return nil
	}
	for _, n := range [...]string{name, "cs" + name} {
		if enc, err := ianaindex.MIME.Encoding(n); err == nil && enc != nil {
			return enc
		}
	}
	if enc, err := htmlindex.Get(name); err == nil && enc != nil {
		return enc
	}
	return nil
}

// transcode converts b from enc to UTF-8. ok is false when the input had
// bytes the charset could not map (they become U+FFFD).
func transcode(enc encoding.Encoding, b []byte) (string, bool) {
	if enc == utf8Passthrough {
		if utf8.Valid(b) {
			return string(b), true
		}
		return strings.ToValidUTF8(string(b), "\uFFFD"), false
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD"), false
	}
	ok := !bytes.Contains(out, replacementChar) || bytes.Contains(b, replacementChar)
	return string(out), ok
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

// decodeUnlabelled turns bytes of unknown charset into UTF-8: ASCII and valid
// UTF-8 pass as is, ISO-2022-JP escapes select ISO-2022-JP, and other 8-bit
// text is tried as EUC-JP, then Shift_JIS (both common raw in Japanese mail),
// then Windows-1252, which maps every byte. sure is false when the charset
// had to be guessed.
func decodeUnlabelled(b []byte) (s string, sure bool) {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		if hasISO2022JPEscape(b) {
			out, ok := transcode(japanese.ISO2022JP, b)
			return out, ok
		}
		return string(b), true
	}
	if utf8.Valid(b) {
		return string(b), true
	}
	if eucCandidate(b) {
		if out, ok := transcode(japanese.EUCJP, b); ok {
			return out, false
		}
	}
	if out, ok := transcode(japanese.ShiftJIS, b); ok {
		return out, false
	}
	out, _ := transcode(charmap.Windows1252, b)
	return out, false
}

// eucCandidate reports whether every 8-bit byte of b can occur in EUC-JP:
// 0xA1–0xFE, or the single-shifts 0x8E and 0x8F. Shift_JIS lead bytes
// 0x81–0x9F fail this, which tells the two apart in most real text.
func eucCandidate(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 && c < 0xA1 && c != 0x8E && c != 0x8F {
			return false
		}
		if c == 0xFF {
			return false
		}
	}
	return true
}
