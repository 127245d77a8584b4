package dlp

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// match is one validated value found in a text; value is its normalized
// form (digits only, upper-case IBAN, lower-case address), by which
// repeats (the text and HTML forms of one body) count once.
type match struct {
	value string
	brand string // for cards
}

// maxGroups caps the groups of one digit run that are tried as numbers,
// so a long run of spaced digits costs O(n), not O(n²).
const maxGroups = 12

// runRE finds digit runs whose groups are separated by single spaces or
// dashes: every printed form of a card, SSN, My Number or corporate number.
var runRE = regexp.MustCompile(`[0-9]+(?:[ -][0-9]+)*`)

// glued reports whether r, next to a number, makes it part of a larger
// token: an ASCII letter or digit, or a mark of identifiers, paths and
// references. CJK text next to a number does not ("番号4111…").
func glued(r rune) bool {
	return r < utf8.RuneSelf && (r >= '0' && r <= '9' || r|0x20 >= 'a' && r|0x20 <= 'z' ||
		strings.ContainsRune("_+/#@\\=&%$", r))
}

// bounded reports whether s[i:j] stands alone: nothing glued before or
// after it, and no digit across a '.' or ',' (a decimal, a version).
func bounded(s string, i, j int) bool { return freeBefore(s, i) && freeAfter(s, j) }

func freeBefore(s string, i int) bool {
	if i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if glued(r) {
			return false
		}
		if (r == '.' || r == ',' || r == '-') && i-n > 0 {
			if p, _ := utf8.DecodeLastRuneInString(s[:i-n]); p >= '0' && p <= '9' {
				return false
			}
		}
	}
	return true
}

func freeAfter(s string, j int) bool {
	if j < len(s) {
		r, n := utf8.DecodeRuneInString(s[j:])
		if glued(r) {
			return false
		}
		if (r == '.' || r == ',' || r == '-') && j+n < len(s) {
			if p := s[j+n]; p >= '0' && p <= '9' {
				return false
			}
		}
	}
	return true
}

// acceptFunc judges the groups of (part of) a run, returning the value.
type acceptFunc func(groups []string, sep byte) (match, bool)

// findRuns calls accept on the digit runs of s. A run whose groups are
// joined by dashes is one number or none; in a run joined by spaces, the
// longest acceptable stretch of groups from each group on is taken, so a
// number next to other spaced digits is still found.
func findRuns(s string, accept acceptFunc, near func(i, j int) bool) []match {
	var out []match
	for _, loc := range runRE.FindAllStringIndex(s, -1) {
		i, j := loc[0], loc[1]
		if !bounded(s, i, j) {
			continue
		}
		run := s[i:j]
		groups := strings.FieldsFunc(run, func(r rune) bool { return r == ' ' || r == '-' })
		sep := byte(0)
		if k := strings.IndexAny(run, " -"); k >= 0 {
			sep = run[k]
			if strings.IndexByte(run, " -"[1-strings.IndexByte(" -", sep)]) >= 0 {
				sep = 'x' // mixed separators: not a printed number
			}
		}
		if sep == 'x' {
			continue
		}
		if m, ok := accept(groups, sep); ok {
			if near == nil || near(i, j) {
				out = append(out, m)
			}
			continue
		}
		if sep != ' ' || len(groups) > maxGroups {
			continue
		}
		for a := 0; a < len(groups); {
			taken := false
			for b := len(groups); b > a; b-- {
				if b-a == len(groups) {
					continue
				}
				if m, ok := accept(groups[a:b], sep); ok {
					if near == nil || near(i, j) {
						out = append(out, m)
					}
					a, taken = b, true
					break
				}
			}
			if !taken {
				a++
			}
		}
	}
	return out
}

func lens(groups []string) []int {
	l := make([]int, len(groups))
	for i, g := range groups {
		l[i] = len(g)
	}
	return l
}

func sameInts(a []int, b ...int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func acceptCard(groups []string, _ byte) (match, bool) {
	if !cardGrouping(groups) {
		return match{}, false
	}
	d := strings.Join(groups, "")
	if !ValidCard(d) {
		return match{}, false
	}
	return match{value: d, brand: CardBrand(d)}, true
}

func acceptMyNumber(groups []string, _ byte) (match, bool) {
	l := lens(groups)
	if !sameInts(l, 12) && !sameInts(l, 4, 4, 4) {
		return match{}, false
	}
	d := strings.Join(groups, "")
	return match{value: d}, ValidMyNumber(d)
}

func acceptCorporate(groups []string, _ byte) (match, bool) {
	l := lens(groups)
	if !sameInts(l, 13) && !sameInts(l, 1, 4, 4, 4) {
		return match{}, false
	}
	d := strings.Join(groups, "")
	return match{value: d}, ValidCorporateNumber(d)
}

func acceptSSN(groups []string, sep byte) (match, bool) {
	if !sameInts(lens(groups), 3, 2, 4) || sep != '-' && sep != ' ' {
		return match{}, false
	}
	d := strings.Join(groups, "")
	return match{value: d}, ValidSSN(d)
}

// nearWords returns a near func for s: whether one of words (lower case)
// is within 64 bytes of s[i:j].
func nearWords(s string, words []string) func(i, j int) bool {
	return func(i, j int) bool {
		a, b := max(0, i-64), min(len(s), j+64)
		for a > 0 && !utf8.RuneStart(s[a]) {
			a--
		}
		for b < len(s) && !utf8.RuneStart(s[b]) {
			b++
		}
		w := strings.ToLower(s[a:b])
		for _, k := range words {
			if strings.Contains(w, k) {
				return true
			}
		}
		return false
	}
}

// myNumberWords and corporateWords must be near a 12- or 13-digit number
// for it to count: one in ten 12-digit numbers (order numbers, account
// numbers) passes the check digit by chance.
var (
	myNumberWords  = []string{"マイナンバー", "個人番号", "my number", "mynumber", "individual number", "通知カード"}
	corporateWords = []string{"法人番号", "corporate number", "corporation number"}
)

var ibanRE = regexp.MustCompile(`[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,8}(?: ?[A-Z0-9]{1,3})?`)

func findIBAN(s string) []match {
	var out []match
	for _, loc := range ibanRE.FindAllStringIndex(s, -1) {
		if loc[0] > 0 {
			if r, _ := utf8.DecodeLastRuneInString(s[:loc[0]]); glued(r) {
				continue
			}
		}
		c := strings.ReplaceAll(s[loc[0]:loc[1]], " ", "")
		n := ibanLength[c[:2]]
		if n == 0 || len(c) < n {
			continue
		}
		// The pattern may take a word after the IBAN; the country's
		// length says where it ends.
		if ValidIBAN(c[:n]) {
			out = append(out, match{value: c[:n]})
		}
	}
	return out
}

var emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}`)

func findEmail(s string) []match {
	ms := emailRE.FindAllString(s, -1)
	out := make([]match, 0, len(ms))
	for _, m := range ms {
		out = append(out, match{value: strings.ToLower(m)})
	}
	return out
}

// phoneRE finds phone-like runs: an optional +country code, an optional
// parenthesized area code, digit groups joined by single spaces, dashes
// or dots.
var phoneRE = regexp.MustCompile(`(?:\+[0-9]{1,3}[ .\-]?)?(?:\([0-9]{1,5}\)[ .\-]?)?[0-9]+(?:[ .\-][0-9]+)*`)

func findPhone(s string) []match {
	var out []match
	for _, loc := range phoneRE.FindAllStringIndex(s, -1) {
		i, j := loc[0], loc[1]
		if !bounded(s, i, j) {
			continue
		}
		if m, ok := acceptPhone(s[i:j]); ok {
			out = append(out, m)
		}
	}
	return out
}

// acceptPhone judges a phone-like run by its shape: international
// (+CC and 8 to 15 digits), North American (3-3-4, or (3) 3-4), or a
// national number with a trunk 0 (10 or 11 digits in 2 to 4 groups of 2
// to 5, as Japan's 03-1234-5678 and 090-1234-5678). Dates, card numbers,
// order and tracking numbers have other shapes.
func acceptPhone(r string) (match, bool) {
	groups := strings.FieldsFunc(r, func(c rune) bool { return strings.ContainsRune(" .-()+", c) })
	d := strings.Join(groups, "")
	if !allDigits(d) {
		return match{}, false
	}
	l := lens(groups)
	switch {
	case r[0] == '+':
		if len(d) >= 8 && len(d) <= 15 && len(groups) >= 2 || len(groups) == 1 && len(d) >= 10 && len(d) <= 15 {
			return match{value: "+" + d}, true
		}
	case sameInts(l, 3, 3, 4) && d[0] != '0' && d[0] != '1':
		return match{value: d}, true
	case d[0] == '0' && len(d) >= 10 && len(d) <= 11 && len(groups) >= 2 && len(groups) <= 4:
		for _, n := range l {
			if n < 2 || n > 5 {
				return match{}, false
			}
		}
		return match{value: d}, true
	}
	return match{}, false
}
