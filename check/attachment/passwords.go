package attachment

import (
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// passwordWords are the words a password follows in a message ("the
// password is ...", "パスワード：..."), lower case after NFKC.
var passwordWords = []string{
	"password", "passwort", "passwd", "passcode", "pass", "pwd", "pw",
	"kennwort", "mot de passe", "contraseña", "senha", "パスワード", "暗証番号", "暗証", "密码", "密碼", "비밀번호",
}

// maxPasswordLen bounds a candidate password, in bytes.
const maxPasswordLen = 64

// quotes pairs the quote marks a password may be written in.
var quotes = map[rune]rune{'"': '"', '\'': '\'', '「': '」', '『': '』', '“': '”', '‘': '’', '«': '»', '`': '`'}

// trailing is punctuation that ends a sentence after an unquoted password.
const trailing = ".,;:!?)]}>。、」』）"

var (
	htmlBreak = regexp.MustCompile(`(?i)<(?:br|/p|/div|/tr|/li|/h[1-6])\b[^>]*>`)
	htmlTag   = regexp.MustCompile(`<[^>]*>`)
)

// Passwords returns at most max candidate passwords found in texts (the
// subject and text parts of a message), in the order found: the word
// after a password word and ":", "=", "is" or "は", a quoted word right
// after it, or the first word of the next line when the password word
// ends its line. Text is NFKC-normalised first, so full-width letters,
// digits and colons count as their ASCII forms. A candidate without an
// ASCII letter or digit is left out: it is a sentence ("パスワードは別途
// お送りします"), not a password.
func Passwords(texts []string, max int) []string {
	var out []string
	seen := map[string]bool{}
	add := func(c string) bool {
		if c == "" || len(c) > maxPasswordLen || seen[c] || !utf8.ValidString(c) || !strings.ContainsFunc(c, isWordRune) {
			return len(out) < max
		}
		seen[c] = true
		out = append(out, c)
		return len(out) < max
	}
	if max <= 0 {
		return nil
	}
	for _, t := range texts {
		if strings.Contains(t, "<") {
			t = htmlTag.ReplaceAllString(htmlBreak.ReplaceAllString(t, "\n"), "")
			t = html.UnescapeString(t)
		}
		t = strings.ReplaceAll(strings.ReplaceAll(t, "\r\n", "\n"), "\r", "\n")
		lines := strings.Split(norm.NFKC.String(t), "\n")
		for i, line := range lines {
			for _, c := range lineCandidates(line, lines[i+1:]) {
				if !add(c) {
					return out
				}
			}
		}
	}
	return out
}

// lineCandidates are the candidates after each password word of line;
// lines are the lines that follow it.
func lineCandidates(line string, lines []string) []string {
	var out []string
	lower := strings.ToLower(line)
	if len(lower) != len(line) { // lower-casing moved bytes: match the line as is
		lower = line
	}
	// next[i] is where passwordWords[i] is next found at or after start
	// (-1: nowhere), so the line is searched once per word, not once per
	// word and match.
	next := make([]int, len(passwordWords))
	for i := range next {
		next[i] = -2
	}
	for start := 0; start < len(lower); {
		at, word := -1, ""
		for i, w := range passwordWords {
			if next[i] == -2 || (next[i] >= 0 && next[i] < start) {
				next[i] = -1
				if j := strings.Index(lower[start:], w); j >= 0 {
					next[i] = start + j
				}
			}
			if n := next[i]; n >= 0 && (at < 0 || n < at || (n == at && len(w) > len(word))) {
				at, word = n, w
			}
		}
		if at < 0 {
			break
		}
		start = at + len(word)
		if !wordEdge(lower, at, start) {
			continue
		}
		out = append(out, after(line[start:], lines)...)
	}
	return out
}

// wordEdge says whether lower[at:end] stands as a word: an ASCII word
// must not be part of a longer one ("passage", "bypass").
func wordEdge(s string, at, end int) bool {
	if r, _ := utf8.DecodeRuneInString(s[at:]); r >= utf8.RuneSelf {
		return true
	}
	if r, _ := utf8.DecodeLastRuneInString(s[:at]); at > 0 && isWordRune(r) {
		return false
	}
	if r, _ := utf8.DecodeRuneInString(s[end:]); end < len(s) && isWordRune(r) {
		return false
	}
	return true
}

func isWordRune(r rune) bool { return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) }

// after reads the password that follows a password word: rest is the
// line after the word.
func after(rest string, next []string) []string {
	rest = strings.TrimLeft(rest, " \t")
	// A password and what comes before it are near the word; looking no
	// further keeps the work per match small.
	rest = rest[:min(len(rest), 256)]
	if q := quoted(rest); q != "" {
		return []string{q}
	}
	// A short qualifier may come before the separator: "password for the
	// zip: ...", "パスワード（ZIP）：...".
	sep := false
	l := strings.ToLower(rest[:min(len(rest), 4)])
	for _, s := range []string{":", "=", "is ", "is:", "は", "ist ", "est ", "es "} {
		if strings.HasPrefix(l, s) {
			rest, sep = rest[len(s):], true
			break
		}
	}
	if !sep {
		if i := strings.IndexAny(rest[:min(len(rest), 31)], ":="); i >= 0 && !strings.HasPrefix(rest[i+1:], "//") {
			rest, sep = rest[i+1:], true
		}
	}
	rest = strings.TrimLeft(rest, " \t:")
	if rest == "" {
		// The password is on the next line that has text.
		for _, l := range next {
			if l = strings.TrimSpace(l); l != "" {
				return token(l[:min(len(l), 256)])
			}
		}
		return nil
	}
	if !sep {
		return nil
	}
	return token(rest)
}

// token is the quoted text or the first word of s, with and without the
// punctuation that follows it.
func token(s string) []string {
	s = strings.TrimSpace(s)
	if q := quoted(s); q != "" {
		return []string{q}
	}
	w := s
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		w = s[:i]
	}
	t := strings.TrimRight(w, trailing)
	if t == w || t == "" {
		return []string{w}
	}
	return []string{t, w}
}

// quoted is the text inside the quotes s starts with, or "".
func quoted(s string) string {
	open, n := utf8.DecodeRuneInString(s)
	closer, ok := quotes[open]
	if !ok {
		return ""
	}
	end := strings.IndexRune(s[n:], closer)
	if end <= 0 {
		return ""
	}
	return s[n : n+end]
}
