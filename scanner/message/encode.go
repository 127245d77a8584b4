package message

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

const (
	// foldAt is the line length EncodeHeader keeps to (RFC 2047 section 2
	// and RFC 5322 section 2.1.1 recommend 76 and 78).
	foldAt = 76
	// wordPrefix and wordSuffix frame a UTF-8 B-encoded word.
	wordPrefix = "=?UTF-8?B?"
	wordSuffix = "?="
	// maxWordData is the most bytes one encoded word carries: 45 bytes are
	// 60 base64 characters, 72 with the frame, under the 75 of RFC 2047.
	maxWordData = 45
	// maxRawToken is the longest word left unencoded; longer ones are
	// encoded so that no line gets near the 998 limit of RFC 5322.
	maxRawToken = 900
)

// EncodeHeader returns s as the value of header field name, ready for a
// milter ChangeHeader or AddHeader call: words that are pure printable
// ASCII stay as they are, and each run of other words is encoded as
// RFC 2047 UTF-8 B encoded words. Each encoded word holds whole UTF-8
// characters and is at most 75 characters long, and lines are folded with
// "\r\n " to stay within 76 columns, counting "Name: " on the first line
// (a single very long ASCII word, or a field name longer than 50
// characters, can still exceed it). The result does not
// include "Name: ". [DecodeHeader] gives back s for any valid UTF-8 s.
//
// Words that contain "=?" and leading or trailing whitespace are encoded
// too, so that decoding cannot change them.
func EncodeHeader(name, s string) string {
	if s == "" {
		return ""
	}
	col := len(name) + 2
	toks := tokenize(s)
	if !needsEncoding(toks) && col+len(s) <= foldAt {
		return s
	}
	e := encoder{col: col}
	for i := 0; i < len(toks); {
		if !toks[i].enc {
			e.raw(toks[i].ws, toks[i].word)
			i++
			continue
		}
		j := i
		for j < len(toks) && toks[j].enc {
			j++
		}
		// The run toks[i:j] is encoded as one text; whitespace before it
		// stays raw, whitespace inside it is encoded.
		var text strings.Builder
		text.WriteString(toks[i].word)
		for _, t := range toks[i+1 : j] {
			text.WriteString(t.ws)
			text.WriteString(t.word)
		}
		e.encoded(toks[i].ws, text.String())
		i = j
	}
	return e.b.String()
}

// token is a word with the whitespace before it.
type token struct {
	ws, word string
	enc      bool
}

// tokenize splits s at spaces and tabs. Leading and trailing whitespace is
// attached to the first and last word, which are then encoded: raw
// whitespace there would be lost by header parsers.
func tokenize(s string) []token {
	var toks []token
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		k := j
		for k < len(s) && s[k] != ' ' && s[k] != '\t' {
			k++
		}
		toks = append(toks, token{ws: s[i:j], word: s[j:k]})
		i = k
	}
	if len(toks) == 0 {
		return nil
	}
	if first := &toks[0]; first.ws != "" {
		first.word = first.ws + first.word
		first.ws = ""
		first.enc = true
	}
	if last := &toks[len(toks)-1]; last.word == "" {
		// Trailing whitespace: fold it into the word before.
		if len(toks) > 1 {
			prev := &toks[len(toks)-2]
			prev.word += last.ws
			prev.enc = true
			toks = toks[:len(toks)-1]
		} else {
			last.enc = true
		}
	}
	for i := range toks {
		if !toks[i].enc {
			toks[i].enc = wordNeedsEncoding(toks[i].word)
		}
	}
	return toks
}

func needsEncoding(toks []token) bool {
	for _, t := range toks {
		if t.enc {
			return true
		}
	}
	return false
}

// wordNeedsEncoding reports whether w cannot go into a header as it is:
// non-ASCII, control characters, something that would decode as an encoded
// word, or too long for a line.
func wordNeedsEncoding(w string) bool {
	if len(w) > maxRawToken || strings.Contains(w, "=?") {
		return true
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < ' ' || c >= 0x7f {
			return true
		}
	}
	return false
}

// encoder writes a folded header value.
type encoder struct {
	b   strings.Builder
	col int // current column
}

func (e *encoder) atStart() bool { return e.b.Len() == 0 }

// fold starts a new line that begins with ws (a single space if ws is
// empty).
func (e *encoder) fold(ws string) {
	if ws == "" {
		ws = " "
	}
	e.b.WriteString("\r\n")
	e.b.WriteString(ws)
	e.col = len(ws)
}

func (e *encoder) raw(ws, word string) {
	if e.col+len(ws)+len(word) > foldAt && ws != "" && !e.atStart() {
		e.fold(ws)
	} else {
		e.b.WriteString(ws)
		e.col += len(ws)
	}
	e.b.WriteString(word)
	e.col += len(word)
}

// encoded writes text as encoded words after the raw whitespace ws.
func (e *encoder) encoded(ws, text string) {
	const frame = len(wordPrefix) + len(wordSuffix)
	minWord := frame + 8 // room for at least one 4-byte character
	if e.col+len(ws)+minWord > foldAt && ws != "" && !e.atStart() {
		e.fold(ws)
	} else {
		e.b.WriteString(ws)
		e.col += len(ws)
	}
	first := true
	for text != "" {
		if !first {
			e.fold(" ")
		}
		first = false
		avail := min((foldAt-e.col-frame)/4*3, maxWordData)
		n := 0
		for n < len(text) {
			_, size := utf8.DecodeRuneInString(text[n:])
			if n+size > avail {
				break
			}
			n += size
		}
		if n == 0 {
			// Not even one character fits on this line.
			_, n = utf8.DecodeRuneInString(text)
		}
		e.b.WriteString(wordPrefix)
		e.b.WriteString(base64.StdEncoding.EncodeToString([]byte(text[:n])))
		e.b.WriteString(wordSuffix)
		e.col += frame + base64.StdEncoding.EncodedLen(n)
		text = text[n:]
	}
}

// TagSubject returns the raw Subject value with tag put in front of the
// decoded subject ("[SPAM] 会議の件"), encoded with [EncodeHeader]. When
// the decoded subject already starts with tag it returns rawSubject and
// false, so a message is tagged once. A subject that did not fully decode
// keeps its encoded words as they were, with the tag in front.
func TagSubject(rawSubject, tag string) (string, bool) {
	tag = strings.TrimSpace(tag)
	dec, ok := DecodeHeader(rawSubject)
	trimmed := strings.TrimLeft(dec, " \t")
	if tag == "" || strings.HasPrefix(trimmed, tag) {
		return rawSubject, false
	}
	if trimmed == "" {
		return EncodeHeader("Subject", tag), true
	}
	if !ok {
		return EncodeHeader("Subject", tag) + " " + strings.TrimLeft(rawSubject, " \t"), true
	}
	return EncodeHeader("Subject", tag+" "+trimmed), true
}
