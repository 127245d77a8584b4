package message

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var encodedWordRE = regexp.MustCompile(`=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=`)

// checkEncoded checks the shape of an EncodeHeader result for field name:
// line lengths, encoded word lengths, whole characters per word, and the
// round trip.
func checkEncoded(t *testing.T, name, s, got string) {
	t.Helper()
	if dec, ok := DecodeHeader(got); dec != s || !ok {
		t.Errorf("DecodeHeader(EncodeHeader(%q)) = %q, %v; encoded %q", s, dec, ok, got)
	}
	for i, line := range strings.Split(got, "\r\n") {
		n := len(line)
		if i == 0 {
			n += len(name) + 2
		} else if line == "" || (line[0] != ' ' && line[0] != '\t') {
			t.Errorf("EncodeHeader(%q): continuation line %q does not start with whitespace", s, line)
		}
		if n > 78 && encodedWordRE.MatchString(line) {
			t.Errorf("EncodeHeader(%q): line %q is %d long", s, line, n)
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("EncodeHeader(%q): bare CR or LF in %q", s, line)
		}
	}
	for _, m := range encodedWordRE.FindAllStringSubmatch(got, -1) {
		if len(m[0]) > 75 {
			t.Errorf("EncodeHeader(%q): encoded word %q is %d long", s, m[0], len(m[0]))
		}
		b, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Errorf("EncodeHeader(%q): word %q: %v", s, m[0], err)
		}
		if utf8.Valid([]byte(s)) && !utf8.Valid(b) {
			t.Errorf("EncodeHeader(%q): word %q splits a character: %q", s, m[0], b)
		}
	}
}

func TestEncodeHeader(t *testing.T) {
	tests := []struct {
		s    string
		want string // "" to only check the shape
	}{
		{s: "Hello world", want: "Hello world"},
		{s: "[SPAM] Hello", want: "[SPAM] Hello"},
		{s: "日本", want: "=?UTF-8?B?5pel5pys?="},
		{s: "[SPAM] 会議の件", want: "[SPAM] =?UTF-8?B?5Lya6K2w44Gu5Lu2?="},
		{s: "会議 the meeting", want: "=?UTF-8?B?5Lya6K2w?= the meeting"},
		{s: "a =?utf-8?q?x?= b", want: "a =?UTF-8?B?PT91dGYtOD9xP3g/PQ==?= b"},
		{s: " lead", want: "=?UTF-8?B?IGxlYWQ=?="},
		{s: "trail ", want: "=?UTF-8?B?dHJhaWwg?="},
		{s: "line\r\nbreak"},
		{s: "tab\tseparated 日本 words"},
		{s: strings.Repeat("word ", 40)},
		{s: strings.Repeat("x", 100) + " 日本"},
		{s: "絵文字😀を含む件名😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀"},
		{s: "Ünïcödé Lätïn wörds mixed with ASCII words " + strings.Repeat("ä", 50)},
	}
	for _, tt := range tests {
		got := EncodeHeader("Subject", tt.s)
		if tt.want != "" && got != tt.want {
			t.Errorf("EncodeHeader(%q) = %q; want %q", tt.s, got, tt.want)
		}
		checkEncoded(t, "Subject", tt.s, got)
	}
}

func TestEncodeHeaderJapaneseLengths(t *testing.T) {
	// Several lengths, with 3- and 4-byte characters and ASCII mixed in, so
	// that word ends fall on every byte offset of a character.
	base := []rune("会議の件についてご連絡いたします𠮷野家ＡＢＣ abc 株式会社①テスト😀")
	for _, name := range []string{"Subject", "X-Very-Long-Header-Name-For-Folding", "To"} {
		for n := 1; n <= 4*len(base); n++ {
			var r []rune
			for len(r) < n {
				r = append(r, base[len(r)%len(base)])
			}
			s := strings.TrimSpace(string(r))
			checkEncoded(t, name, s, EncodeHeader(name, s))
		}
	}
}

func TestTagSubject(t *testing.T) {
	tests := []struct {
		raw, tag string
		wantDec  string
		changed  bool
	}{
		{"=?ISO-2022-JP?B?GyRCMnE1RCRON28bKEI=?=", "[SPAM]", "[SPAM] 会議の件", true},
		{"Hello", "[SPAM]", "[SPAM] Hello", true},
		{"", "[SPAM]", "[SPAM]", true},
		{"[SPAM] Hello", "[SPAM]", "[SPAM] Hello", false},
		{"=?UTF-8?B?W1NQQU1dIOS8muitsA==?=", "[SPAM]", "[SPAM] 会議", false},
		{"=?UTF-8?B?5Lya6K2w?=", "[迷惑]", "[迷惑] 会議", true},
		{"=?x-unknown?B?c2VjcmV0?=", "[SPAM]", "[SPAM] =?x-unknown?B?c2VjcmV0?=", true},
		{strings.Repeat("長い件名", 20), "[SPAM]", "[SPAM] " + strings.Repeat("長い件名", 20), true},
	}
	for _, tt := range tests {
		got, changed := TagSubject(tt.raw, tt.tag)
		dec, _ := DecodeHeader(got)
		if dec != tt.wantDec || changed != tt.changed {
			t.Errorf("TagSubject(%q, %q) = %q (%q), %v; want %q, %v", tt.raw, tt.tag, got, dec, changed, tt.wantDec, tt.changed)
		}
		if !changed && got != tt.raw {
			t.Errorf("TagSubject(%q, %q) changed the value to %q but reported no change", tt.raw, tt.tag, got)
		}
		if changed && tt.tag != "" && !strings.Contains(tt.raw, "x-unknown") {
			checkEncoded(t, "Subject", tt.wantDec, got)
		}
	}
}
