package dlp

import (
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

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digitRun returns the end of the run of digits starting at s[i] whose
// groups are joined by single bytes of seps.
func digitRun(s string, i int, seps string) int {
	j := i
	for {
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j > i && j+1 < len(s) && strings.IndexByte(seps, s[j]) >= 0 && isDigit(s[j+1]) {
			j++
			continue
		}
		return j
	}
}

// digitRuns returns the maximal digit runs of s whose groups are joined by
// single spaces or dashes: every printed form of a card, SSN, My Number or
// corporate number. (Hand-written: a regexp took 2 MB/s.)
func digitRuns(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := digitRun(s, i, " -")
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}

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

// minRunDigits is the fewest digits of any run template (an SSN's 9):
// shorter runs (dates, prices, times) are passed over at once.
const minRunDigits = 9

func digitCount(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

// acceptFunc judges the groups of (part of) a run, returning the value.
type acceptFunc func(groups []string, sep byte) (match, bool)

// findRuns calls accept on the digit runs of s. A run whose groups are
// joined by dashes is one number or none; in a run joined by spaces, the
// longest acceptable stretch of groups from each group on is taken, so a
// number next to other spaced digits is still found; a run with both is
// split at its spaces.
func findRuns(s string, accept acceptFunc, near func(i, j int) bool) []match {
	var out []match
	for _, loc := range digitRuns(s) {
		i, j := loc[0], loc[1]
		if !bounded(s, i, j) {
			continue
		}
		run := s[i:j]
		if j-i < minRunDigits || digitCount(run) < minRunDigits {
			continue
		}
		if strings.IndexByte(run, ' ') >= 0 && strings.IndexByte(run, '-') >= 0 {
			// Mixed separators: each space-separated piece is a number
			// of its own, as in "4111-1111-1111-1111 12 28".
			for k := i; k < j; {
				e := strings.IndexByte(s[k:j], ' ')
				if e < 0 {
					e = j - k
				}
				if p := s[k : k+e]; strings.IndexByte(p, '-') >= 0 {
					out = runMatches(out, s[k:k+e], '-', accept, func() bool { return near == nil || near(k, k+e) })
				}
				k += e + 1
			}
			continue
		}
		sep := byte(0)
		if k := strings.IndexAny(run, " -"); k >= 0 {
			sep = run[k]
		}
		out = runMatches(out, run, sep, accept, func() bool { return near == nil || near(i, j) })
	}
	return out
}

// runMatches appends the matches of one run with one kind of separator.
func runMatches(out []match, run string, sep byte, accept acceptFunc, near func() bool) []match {
	groups := strings.FieldsFunc(run, func(r rune) bool { return r == ' ' || r == '-' })
	if m, ok := accept(groups, sep); ok {
		if near() {
			out = append(out, m)
		}
		return out
	}
	if sep != ' ' || len(groups) > maxGroups {
		return out
	}
	for a := 0; a < len(groups); {
		taken := false
		for b := len(groups); b > a; b-- {
			if b-a == len(groups) {
				continue
			}
			if m, ok := accept(groups[a:b], sep); ok {
				if near() {
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

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// findIBAN finds IBANs: two capitals and two digits, then capitals and
// digits with single spaces between, cut at the country's length, which
// must end the token.
func findIBAN(s string) []match {
	var out []match
	for i := 0; i+4 <= len(s); i++ {
		if !isUpper(s[i]) || !isUpper(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) || !freeBefore(s, i) {
			continue
		}
		n := ibanLength[s[i:i+2]]
		if n == 0 {
			continue
		}
		var c []byte
		j := i
		for j < len(s) && len(c) < n {
			switch b := s[j]; {
			case isUpper(b) || isDigit(b):
				c = append(c, b)
				j++
			case b == ' ' && len(c) > 0 && j+1 < len(s) && (isUpper(s[j+1]) || isDigit(s[j+1])):
				j++
			default:
				j = len(s) + 1
			}
		}
		if len(c) != n || j > len(s) {
			continue
		}
		if j < len(s) {
			if b := s[j]; isUpper(b) || isDigit(b) || b >= 'a' && b <= 'z' {
				continue
			}
		}
		if ValidIBAN(string(c)) {
			out = append(out, match{value: string(c)})
			i = j - 1
		}
	}
	return out
}

func localByte(c byte) bool {
	return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'z' || strings.IndexByte("._%+-", c) >= 0
}

func domainByte(c byte) bool {
	return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'z' || c == '-' || c == '.'
}

// findEmail finds addresses around each "@": a local part of up to 64
// bytes, and a domain of labels whose last is 2 to 24 letters.
func findEmail(s string) []match {
	var out []match
	for off := 0; ; {
		k := strings.IndexByte(s[off:], '@')
		if k < 0 {
			return out
		}
		at := off + k
		off = at + 1
		i := at
		for i > 0 && at-i < 64 && localByte(s[i-1]) {
			i--
		}
		j := at + 1
		for j < len(s) && j-at <= 253 && domainByte(s[j]) {
			j++
		}
		if i == at {
			continue
		}
		dom := strings.TrimRight(s[at+1:j], ".-")
		labels := strings.Split(dom, ".")
		for len(labels) >= 2 && !tld(labels[len(labels)-1]) {
			labels = labels[:len(labels)-1]
		}
		if len(labels) < 2 {
			continue
		}
		ok := true
		for _, l := range labels {
			if l == "" || len(l) > 63 {
				ok = false
			}
		}
		if ok {
			out = append(out, match{value: strings.ToLower(s[i:at+1] + strings.Join(labels, "."))})
			off = at + 1 + len(strings.Join(labels, "."))
		}
	}
}

func tld(l string) bool {
	if len(l) < 2 || len(l) > 24 {
		return false
	}
	for i := 0; i < len(l); i++ {
		if l[i]|0x20 < 'a' || l[i]|0x20 > 'z' {
			return false
		}
	}
	return true
}

// phoneAt returns the end of a phone-like run at s[i], or i: an optional
// +country code, an optional parenthesized area code, then digit groups
// joined by single spaces, dashes or dots.
func phoneAt(s string, i int) int {
	j := i
	sep := func() {
		if j < len(s) && (s[j] == ' ' || s[j] == '.' || s[j] == '-') {
			j++
		}
	}
	if s[j] == '+' {
		k := j + 1
		for k < len(s) && k-j <= 3 && isDigit(s[k]) {
			k++
		}
		if k == j+1 {
			return i
		}
		j = k
		if j < len(s) && isDigit(s[j]) {
			return digitRun(s, j, " .-")
		}
		sep()
	}
	if j < len(s) && s[j] == '(' {
		k := j + 1
		for k < len(s) && k-j <= 5 && isDigit(s[k]) {
			k++
		}
		if k == j+1 || k >= len(s) || s[k] != ')' {
			return i
		}
		j = k + 1
		sep()
	}
	if j >= len(s) || !isDigit(s[j]) {
		return i
	}
	return digitRun(s, j, " .-")
}

func findPhone(s string) []match {
	var out []match
	for i := 0; i < len(s); {
		c := s[i]
		if c != '+' && c != '(' && !isDigit(c) {
			i++
			continue
		}
		j := phoneAt(s, i)
		if j == i {
			i++
			continue
		}
		if j-i >= 8 && bounded(s, i, j) && digitCount(s[i:j]) >= 8 {
			if m, ok := acceptPhone(s[i:j]); ok {
				out = append(out, m)
			}
		}
		i = j
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
