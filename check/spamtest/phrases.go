package spamtest

import (
	_ "embed"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The phrase tests: families of wording that spam uses and personal and
// list mail seldom does (advance-fee fraud, opt-out boilerplate, hard-sell
// offers, pharmacy, loans), as SpamAssassin's body rules are. Each family
// is one test; it holds when the message's subject and body text have at
// least the family's number of its distinct phrases (one in the subject
// counts twice), and its value names them; with more than that number,
// its score counts 1.5 times.
//
// The phrases are in phrases.txt, embedded. A phrase is words separated by
// spaces, matched against the text's words (letters and digits, case
// folded) in order:
//
//	word        the word itself
//	a|b|c       any of them
//	remov*      a word beginning so (here remove, removed, removal)
//	#           a number (37,400,000.00)
//	$ % !       the sign itself
//	~           any one word
//	x?          x, or nothing (a|b? is a, b or nothing); not first
//
// A family starts with a line "= name score min | description".

//go:embed phrases.txt
var phrasesTxt string

// phraseMoreScale multiplies a family's score when the message has more
// of its phrases than the family needs to hold (set on the benchmark's
// training half: spam recall at the threshold 44.8% to 48.8%, no more ham).
const phraseMoreScale = 1.5

// Bounds of the phrase tests.
const (
	maxPhraseText  = 128 << 10 // bytes of subject and body text read
	maxPhraseWords = 20_000    // words read
)

// phraseFamily is one family of phrases: one test.
type phraseFamily struct {
	name    string
	score   float64
	min     int // distinct phrases that make it hold
	doc     string
	phrases []phrase
}

// phrase is one phrase: a word pattern per position.
type phrase struct {
	text  string
	words []wordPat
}

// wordPat is one position of a phrase.
type wordPat struct {
	alts     []string // exact words
	prefixes []string // word prefixes (remov*)
	any      bool     // ~
	optional bool     // x?
}

func (w wordPat) match(word string) bool {
	if w.any {
		return true
	}
	for _, a := range w.alts {
		if a == word {
			return true
		}
	}
	for _, p := range w.prefixes {
		if strings.HasPrefix(word, p) {
			return true
		}
	}
	return false
}

// phraseIndex finds the phrases of every family in one pass over the
// words: each phrase is filed under the exact words and prefixes its
// first position allows.
type phraseIndex struct {
	families []phraseFamily
	byWord   map[string][]phraseRef
	byPrefix []prefixRef
}

type phraseRef struct{ family, phrase int }

type prefixRef struct {
	prefix string
	ref    phraseRef
}

var phrases = mustParsePhrases(phrasesTxt)

// phraseVocabulary is every exact word of every phrase.
var phraseVocabulary = func() map[string]bool {
	v := map[string]bool{}
	for _, f := range phrases.families {
		for _, p := range f.phrases {
			for _, w := range p.words {
				for _, a := range w.alts {
					v[a] = true
				}
			}
		}
	}
	return v
}()

func init() {
	for i := range phrases.families {
		f := &phrases.families[i]
		tests = append(tests, test{name: f.name, score: f.score, doc: f.doc, fn: func(s *state) (hit, bool) { return s.phraseHit(i) }})
	}
}

func mustParsePhrases(src string) *phraseIndex {
	ix, err := parsePhrases(src)
	if err != nil {
		panic("spamtest: phrases.txt: " + err.Error())
	}
	return ix
}

// parsePhrases reads the phrase file.
func parsePhrases(src string) (*phraseIndex, error) {
	ix := &phraseIndex{byWord: map[string][]phraseRef{}}
	for n, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "="); ok {
			head, doc, _ := strings.Cut(rest, "|")
			f := strings.Fields(head)
			if len(f) != 3 {
				return nil, fmt.Errorf("line %d: want \"= name score min | description\"", n+1)
			}
			score, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: score: %w", n+1, err)
			}
			min, err := strconv.Atoi(f[2])
			if err != nil || min < 1 {
				return nil, fmt.Errorf("line %d: min %q is not a positive number", n+1, f[2])
			}
			ix.families = append(ix.families, phraseFamily{name: f[0], score: score, min: min, doc: strings.TrimSpace(doc)})
			continue
		}
		if len(ix.families) == 0 {
			return nil, fmt.Errorf("line %d: a phrase before the first family", n+1)
		}
		p, err := parsePhrase(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		fi := len(ix.families) - 1
		f := &ix.families[fi]
		ref := phraseRef{fi, len(f.phrases)}
		f.phrases = append(f.phrases, p)
		first := p.words[0]
		if first.any {
			return nil, fmt.Errorf("line %d: a phrase cannot start with ~", n+1)
		}
		for _, a := range first.alts {
			ix.byWord[a] = append(ix.byWord[a], ref)
		}
		for _, pre := range first.prefixes {
			ix.byPrefix = append(ix.byPrefix, prefixRef{pre, ref})
		}
	}
	for _, f := range ix.families {
		if len(f.phrases) < f.min {
			return nil, fmt.Errorf("family %s: %d phrases, fewer than its min %d", f.name, len(f.phrases), f.min)
		}
	}
	return ix, nil
}

func parsePhrase(line string) (phrase, error) {
	p := phrase{text: line}
	for i, tok := range strings.Fields(line) {
		var w wordPat
		if t, ok := strings.CutSuffix(tok, "?"); ok && t != "" {
			if i == 0 {
				return p, fmt.Errorf("%q: the first word cannot be optional", line)
			}
			w.optional, tok = true, t
		}
		if tok == "~" {
			w.any = true
			p.words = append(p.words, w)
			continue
		}
		for _, a := range strings.Split(tok, "|") {
			if a == "" {
				return p, fmt.Errorf("%q: an empty alternative", line)
			}
			if pre, ok := strings.CutSuffix(a, "*"); ok && pre != "" {
				w.prefixes = append(w.prefixes, pre)
				continue
			}
			if words := phraseWords(a, 2); a != "#" && (len(words) != 1 || words[0] != a) {
				return p, fmt.Errorf("%q: %q is not one lower-case word or one of # $ %% ! € £", line, a)
			}
			w.alts = append(w.alts, a)
		}
		p.words = append(p.words, w)
	}
	if len(p.words) == 0 {
		return p, fmt.Errorf("an empty phrase")
	}
	return p, nil
}

// phraseWords splits text into the words phrases match: runs of letters
// and digits, case folded, with a run of digits (and the commas and dots
// between them) as "#", and $, % and ! as words of their own. It reads at
// most max words.
func phraseWords(text string, max int) []string {
	// The words are written one after another in buf and become strings
	// by one conversion at the end: a message's text is mostly words seen
	// before, and a string each was most of the phrase search's time.
	var (
		buf    []byte
		ends   []int // where each word ends in buf; a literal's end is -1
		lits   []string
		digits bool
		start  int // where the word being read begins in buf
	)
	flush := func() {
		if len(buf) == start {
			return
		}
		if digits {
			buf = buf[:start]
			ends, lits = append(ends, -1), append(lits, "#")
		} else {
			ends = append(ends, len(buf))
			start = len(buf)
		}
		digits = false
	}
	literal := func(w string) {
		flush()
		ends, lits = append(ends, -1), append(lits, w)
	}
	for i := 0; i < len(text) && len(ends) < max; {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		switch {
		case '0' <= r && r <= '9' || r >= utf8.RuneSelf && unicode.IsDigit(r):
			if len(buf) > start && !digits {
				flush()
			}
			digits = true
			buf = utf8.AppendRune(buf, r)
		case (r == ',' || r == '.') && digits && i+size < len(text) && text[i+size] >= '0' && text[i+size] <= '9':
			// inside a number
		case isLetter(r) || r == '\'' && len(buf) > start && !digits:
			if digits {
				flush()
			}
			switch {
			case r == '\'':
			case r < utf8.RuneSelf:
				buf = append(buf, byte(r)|0x20) // an ASCII letter, lower-cased
			default:
				buf = utf8.AppendRune(buf, unicode.ToLower(r))
			}
		case r == '$' || r == '%' || r == '!' || r == '€' || r == '£':
			literal(string(r))
		default:
			flush()
		}
		i += size
	}
	if len(ends) < max {
		flush()
	}
	all := string(buf)
	out := make([]string, len(ends))
	from, l := 0, 0
	for i, end := range ends {
		if end < 0 {
			out[i], l = lits[l], l+1
			continue
		}
		out[i], from = all[from:end], end
	}
	return out
}

// isLetter is unicode.IsLetter, without a table for ASCII; it is small
// enough to be inlined in the loops over a message's characters.
func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r|0x20 && r|0x20 <= 'z'
	}
	return tableLetter(r)
}

//go:noinline
func tableLetter(r rune) bool { return unicode.IsLetter(r) }

// matchAt reports where the phrase matched from words[i] on ends, -1 for
// no match.
func (p *phrase) matchAt(words []string, i int) int { return matchFrom(p.words, words, i) }

func matchFrom(pats []wordPat, words []string, i int) int {
	if len(pats) == 0 {
		return i
	}
	w := pats[0]
	if i < len(words) && w.match(words[i]) {
		if end := matchFrom(pats[1:], words, i+1); end >= 0 {
			return end
		}
	}
	if w.optional {
		return matchFrom(pats[1:], words, i)
	}
	return -1
}

// phraseHits is, per family, the distinct phrases found in the message,
// and how many of them were in the subject.
type phraseHits []familyHits

type familyHits struct {
	phrases   []string // the words each phrase matched, as the text has them
	inSubject int
}

// foundPhrase is where a phrase was first found.
type foundPhrase struct {
	where int    // 1 body, 2 subject
	text  string // the words it matched
}

// phraseHits finds every family's phrases in the subject and body text,
// once per message.
func (s *state) phraseHits() phraseHits {
	if s.phrases != nil {
		return s.phrases
	}
	found := make([]map[int]foundPhrase, len(phrases.families))
	nwords := 0
	for ti, t := range s.wordingTexts() {
		if nwords >= maxPhraseWords {
			break
		}
		where := 1
		if ti == 0 {
			where = 2
		}
		words := phraseWords(t, maxPhraseWords-nwords)
		nwords += len(words)
		// The words each family has matched in this text: a phrase that
		// overlaps one found before it is the same wording, not another
		// ("keep this strictly confidential" and "strictly confidential").
		taken := make([][][2]int, len(phrases.families))
		for i, w := range words {
			try := func(ref phraseRef) {
				if found[ref.family][ref.phrase].where >= where {
					return
				}
				end := phrases.families[ref.family].phrases[ref.phrase].matchAt(words, i)
				if end <= i {
					return
				}
				for _, sp := range taken[ref.family] {
					if i < sp[1] && sp[0] < end {
						return
					}
				}
				taken[ref.family] = append(taken[ref.family], [2]int{i, end})
				if found[ref.family] == nil {
					found[ref.family] = map[int]foundPhrase{}
				}
				found[ref.family][ref.phrase] = foundPhrase{where, strings.Join(words[i:end], " ")}
			}
			for _, ref := range phrases.byWord[w] {
				try(ref)
			}
			for _, pr := range phrases.byPrefix {
				if strings.HasPrefix(w, pr.prefix) {
					try(pr.ref)
				}
			}
		}
	}
	s.phrases = make(phraseHits, len(phrases.families))
	for fi, m := range found {
		h := &s.phrases[fi]
		// Two phrases matching the same words count once.
		byText := map[string]int{}
		for _, f := range m {
			byText[f.text] = max(byText[f.text], f.where)
		}
		// So do words found inside words found elsewhere (click here in
		// the plain part, click here to in the HTML).
		for text, where := range byText {
			inside := false
			for other := range byText {
				if other != text && strings.Contains(" "+other+" ", " "+text+" ") {
					inside = true
					break
				}
			}
			if inside {
				continue
			}
			h.phrases = append(h.phrases, text)
			if where == 2 {
				h.inSubject++
			}
		}
		sort.Strings(h.phrases)
	}
	return s.phrases
}

// wordingTexts are the subject (first) and the body text that the phrase
// and CJK wording tests read, maxPhraseText bytes in all.
func (s *state) wordingTexts() []string {
	var out []string
	budget := maxPhraseText
	for _, t := range append([]string{s.subjectText()}, s.bodyTexts()...) {
		if budget <= 0 {
			break
		}
		t = cut(t, budget)
		budget -= len(t)
		out = append(out, t)
	}
	return out
}

// phraseHit is family fi's test.
func (s *state) phraseHit(fi int) (hit, bool) {
	f := &phrases.families[fi]
	h := s.phraseHits()[fi]
	// A phrase in the subject, where the sender puts the pitch, counts
	// twice.
	if len(h.phrases)+h.inSubject < f.min {
		return hit{}, false
	}
	where := "body"
	if h.inSubject > 0 {
		where = "subject"
	}
	got := strings.Join(h.phrases, "; ")
	out := hit{value: got, where: where,
		reason: fmt.Sprintf("%d phrases (%d in the subject, counted twice) of %s: %s", len(h.phrases), h.inSubject, f.doc, got)}
	if len(h.phrases)+h.inSubject > f.min {
		// More of the family than it needs: half again the score.
		out.scale = phraseMoreScale
		out.reason += fmt.Sprintf(" (more than %d, so %g times the score)", f.min, phraseMoreScale)
	}
	return out, true
}
