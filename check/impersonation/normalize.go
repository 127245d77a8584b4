package impersonation

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/unicode/norm"
)

// Bounds on what one display name or domain costs to normalise: a longer
// name is cut (a display name longer than this imitates nobody by its
// tail), and a name with more tokens compares only its first ones.
const (
	maxNameBytes  = 256
	maxNameTokens = 16
	maxDomainLen  = 253
)

// foldText is the first part of the name normalisation, shared by names
// and domains: compatibility forms (full-width Latin, half-width katakana,
// ligatures, circled letters) become their plain forms (NFKC), letters
// lower case, Latin, Greek and Cyrillic diacritics go (é → e, ō → o), and
// hiragana becomes katakana, so that やまだ and ヤマダ are one name. The
// Japanese voicing marks (dakuten, handakuten) are kept: ダ and タ are
// different sounds, and different names.
func foldText(s string) string {
	return norm.NFC.String(strings.ToLower(foldKeepCase(s)))
}

// skeleton is the UTS #39 confusable skeleton of s, lower-cased: two
// strings with one skeleton look alike (Cyrillic а and Latin a, 0 and O,
// rn and m, カ and 力). The table is Unicode 13's confusables.txt, as
// github.com/mtibben/confusables ships it.
//
// The skeleton may map to a letter with a combining mark (ø to o and a
// combining slash); marks are dropped again after it, as before it.
func skeleton(s string) string {
	return dropMarks(strings.ToLower(confusables.Skeleton(s)))
}

// dropMarks removes the combining marks of s but the Japanese voicing
// marks, and composes what is left.
func dropMarks(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) && r != 0x3099 && r != 0x309a {
			continue
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

// isSeparator reports whether r separates the words of a name: spaces,
// punctuation (commas of "Yamada, Taro", dots of initials, quotes,
// brackets, the katakana middle dot ・ of ヤマダ・タロウ) and symbols.
func isSeparator(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsControl(r) ||
		r == 0x30fb || r == utf8.RuneError
}

// nameForms are the two comparable forms of each word of a name. Skeletons
// are made once from the folded (lower-case) word and once from the word
// in its own case, then lower-cased: the first catches "BILL" for Bill (the
// skeleton of capital I is l), the second "PauI" with a capital I for Paul.
type nameForms struct {
	folded, cased []string
}

// splitName cuts a display name into words, each as its two skeleton
// forms, at most maxNameTokens of them.
func splitName(s string) nameForms {
	if len(s) > maxNameBytes {
		n := maxNameBytes
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	var f nameForms
	// Word boundaries come from the folded text; the cased form of each word
	// is taken from the NFKC text with its diacritics dropped the same way,
	// which keeps the word count equal on both sides.
	cased := strings.FieldsFunc(foldKeepCase(s), isSeparator)
	folded := strings.FieldsFunc(foldText(s), isSeparator)
	if len(cased) != len(folded) {
		cased = folded // a case mapping that splits words: use one form
	}
	for i, w := range folded {
		if i == maxNameTokens {
			break
		}
		f.folded = append(f.folded, skeleton(w))
		f.cased = append(f.cased, skeleton(cased[i]))
	}
	return f
}

// foldKeepCase is [foldText] without the lower-casing.
func foldKeepCase(s string) string {
	s = norm.NFKC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		switch {
		case r == 0x3099 || r == 0x309a: // combining (han)dakuten
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r):
			// a diacritic: dropped
		case r >= 0x3041 && r <= 0x3096, r == 0x309d || r == 0x309e:
			// hiragana and its iteration marks → katakana
			b.WriteRune(r + 0x60)
		default:
			b.WriteRune(r)
		}
	}
	return norm.NFC.String(b.String())
}

// NameKeys are the forms of a protected person's name that a display name
// is compared with: its words joined without spaces, in their order and
// in the reverse order (Taro Yamada, Yamada Taro, "YAMADA, Taro"; 山田 太郎
// and 山田太郎), each in both skeleton forms.
func NameKeys(name string) []string {
	f := splitName(name)
	var keys []string
	add := func(k string) {
		if k != "" && !containsString(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, words := range [][]string{f.folded, f.cased} {
		add(strings.Join(words, ""))
		rev := make([]string, len(words))
		for i, w := range words {
			rev[len(words)-1-i] = w
		}
		add(strings.Join(rev, ""))
	}
	return keys
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MatchName reports whether a display name shows a name with one of keys
// (from [NameKeys]): some run of its consecutive words, joined without
// spaces, equals a key. So "Taro Yamada (CEO)" and "T a r o Yamada" show
// Taro Yamada, and "山田太郎" shows 山田 太郎; "Taro Yamadas" does not.
func MatchName(display string, keys map[string]bool) bool {
	return splitName(display).match(keys)
}

// match is [MatchName] on a name split once for several people.
func (f nameForms) match(keys map[string]bool) bool {
	for _, words := range [][]string{f.folded, f.cased} {
		for i := range words {
			var b strings.Builder
			for j := i; j < len(words); j++ {
				b.WriteString(words[j])
				if keys[b.String()] {
					return true
				}
			}
		}
	}
	return false
}

// Domain is a domain name in the forms the lookalike comparison needs.
type Domain struct {
	ASCII   string // lower case, A-labels (xn--) as written or made
	Unicode string // lower case, U-labels: what a reader sees
	// Registrable is the registrable domain (public suffix plus one
	// label), in U-labels; Label its first label, Suffix the rest.
	Registrable, Label, Suffix string
	// Skeleton is the confusable skeleton of Label.
	Skeleton string
}

// fullStops are the dots IDNA (UTS #46) maps to ".".
var fullStops = strings.NewReplacer("。", ".", "｡", ".", "．", ".")

// ParseDomain reads a domain as written in an address: A-labels (xn--) are
// decoded, U-labels and full-width forms folded, ideographic full stops
// taken as dots. ok is false for what has no registrable part (a bare
// public suffix, an empty or over-long name).
func ParseDomain(d string) (Domain, bool) {
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	if d == "" || len(d) > maxDomainLen*4 {
		return Domain{}, false
	}
	d = fullStops.Replace(d)
	d = foldText(d)
	if d == "" || len(d) > maxDomainLen*4 || strings.ContainsAny(d, " @") {
		return Domain{}, false
	}
	// Decode label by label, leniently: a label that is not valid
	// punycode stays as it is.
	labels := strings.Split(d, ".")
	for i, l := range labels {
		if strings.HasPrefix(l, "xn--") {
			if u, err := idna.Punycode.ToUnicode(l); err == nil {
				labels[i] = foldText(u)
			}
		}
	}
	dom := Domain{Unicode: strings.Join(labels, ".")}
	if a, err := idna.Punycode.ToASCII(dom.Unicode); err == nil {
		dom.ASCII = a
	} else {
		dom.ASCII = d
	}
	// RFC 1035 section 2.3.4: 63 octets a label, 253 a name.
	if len(dom.ASCII) > maxDomainLen {
		return Domain{}, false
	}
	for _, l := range strings.Split(dom.ASCII, ".") {
		if len(l) > 63 {
			return Domain{}, false
		}
	}
	reg, err := publicsuffix.EffectiveTLDPlusOne(dom.ASCII)
	if err != nil {
		return Domain{}, false
	}
	if u, err := idna.Punycode.ToUnicode(reg); err == nil {
		reg = u
	}
	label, suffix, _ := strings.Cut(reg, ".")
	if label == "" {
		return Domain{}, false
	}
	dom.Registrable, dom.Label, dom.Suffix = reg, label, suffix
	dom.Skeleton = skeleton(label)
	return dom, true
}

// Distance is the Damerau-Levenshtein distance between a and b, in runes
// (the optimal string alignment form: insertions, deletions,
// substitutions and transpositions of adjacent runes, each costing one).
// It stops counting at limit+1, so comparing a long label costs little.
func Distance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}
	n := len(rb)
	prev2 := make([]int, n+1)
	prev := make([]int, n+1)
	cur := make([]int, n+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= n; j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			best = min(best, v)
		}
		if best > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[n], limit+1)
}
