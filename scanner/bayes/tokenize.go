// Package bayes is mailwarden's statistical spam classifier: it turns a
// message into tokens (words, optionally orthogonal sparse bigrams,
// character bigrams for Chinese, Japanese and Korean text, URL tokens, and
// the header fields' tokens as SpamAssassin's Bayes reads them) and combines
// the spam probabilities learned for them with Robinson's chi-square method
// (Fisher's combination), as SpamBayes and SpamAssassin's Bayes do.
//
// The package holds no storage: a [DB] gives token counts, and [MemDB] is
// an in-memory one for tests and offline evaluation.
package bayes

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Doc is what the tokenizer reads of a message: decoded header values and
// text, and the URLs found in it.
type Doc struct {
	// Subject is the decoded Subject.
	Subject string
	// From is the header From, decoded ("Name <addr>").
	From string
	// Headers are the other header fields, name and decoded value, in
	// the message's order ([FromMessage] leaves out those [IgnoredHeader]
	// names).
	Headers [][2]string
	// Text is the message's text: plain parts and HTML rendered to text.
	Text string
	// URLs are the hosts and paths of the message's links.
	URLs []URL
	// Markup is the names of the HTML parts' tags, distinct, at most
	// [htmltext.MaxTags] (the tags a sender's template uses tell its
	// mail apart as its words do).
	Markup []string
}

// URL is one link, as the tokenizer reads it.
type URL struct {
	Host string // lower case, punycode
	Path string
}

// Limits bound the tokenizer's work on one message.
type Limits struct {
	// MaxTextBytes is how much text is read (the rest is ignored).
	MaxTextBytes int
	// MaxTokens is the number of distinct tokens kept.
	MaxTokens int
	// Window is the orthogonal sparse bigram window: each word pairs with
	// the next Window-1 words (rspamd uses 5). 1 turns bigrams off.
	Window int
	// MaxHeaderTokens is how many of MaxTokens the subject, From and the
	// other header fields may take, so that a message padded with header
	// fields cannot crowd out its body's words.
	MaxHeaderTokens int
}

// DefaultLimits are the limits the classifier uses unless configured:
// words alone, without the orthogonal sparse bigrams (Window 1). On the
// benchmark's development corpus (make bench-detection; measured on one
// half of its training half, tested on the other) the bigrams made the
// classifier worse: pairs of ordinary words ("but it", "don't think"),
// many and correlated, that the larger ham side had seen and the spam
// side had not, outvoted the spam words of a long spam written in plain
// English. Words: 75% of spam at 0.99 or over and 97% at 0.5 or over, no
// easy ham at 0.5; window 5: 62% and 84%, 0.3% of easy ham at 0.5.
func DefaultLimits() Limits {
	return Limits{MaxTextBytes: 256 << 10, MaxTokens: 20000, Window: 1, MaxHeaderTokens: 2000}
}

// maxWordRunes is the longest word kept as itself; longer ones (base64
// runs, hashes) become a length-class token, as in SpamAssassin.
const maxWordRunes = 30

// Tokenize returns d's distinct tokens, in first-seen order. Tokens carry a
// prefix saying where they came from ("s:" subject, "f:" From, "h:NAME:"
// other header fields, "h:rcvd:" Received hosts, "h:r:" the words of the
// two Received fields nearest the sender, "u:" URLs, "m:" the HTML
// parts' tag names); body words have
// none (a word with capitals that say more than a sentence's start comes
// twice: "free" and "FREE"), and a bigram joins two words with its
// distance.
func Tokenize(d Doc, lim Limits) []string {
	// Sized for the text's distinct tokens, so that the set does not grow
	// in steps (growing was a third of the time) nor start many times too
	// big (clearing it was): with bigrams some two for three bytes of
	// English, words alone about one for eight.
	n := len(d.Text)
	if lim.MaxTextBytes > 0 {
		n = min(n, lim.MaxTextBytes)
	}
	if lim.Window > 1 {
		n = n * 2 / 3
	} else {
		n /= 8
	}
	n = min(n, 1<<16) + 64
	if lim.MaxTokens > 0 {
		n = min(n, lim.MaxTokens)
	}
	t := tokenizer{lim: lim, seen: make(map[string]bool, n), out: make([]string, 0, n)}
	if t.lim.Window < 1 {
		t.lim.Window = 1
	}
	t.max = lim.MaxTokens
	if lim.MaxHeaderTokens > 0 && (t.max <= 0 || lim.MaxHeaderTokens < t.max) {
		t.max = lim.MaxHeaderTokens
	}
	t.words("s:", d.Subject, true)
	t.from(d.From)
	// The two Received fields nearest the sender are the last two.
	origin := 0
	for _, h := range d.Headers {
		if strings.EqualFold(h[0], "Received") {
			origin++
		}
	}
	origin -= 2
	for _, h := range d.Headers {
		isRcvd := strings.EqualFold(h[0], "Received")
		t.header(h[0], h[1], isRcvd && origin <= 0)
		if isRcvd {
			origin--
		}
	}
	t.max = lim.MaxTokens
	for _, u := range d.URLs {
		t.url(u)
	}
	for _, m := range d.Markup {
		t.add("m:" + m)
	}

	text := d.Text
	if lim.MaxTextBytes > 0 && len(text) > lim.MaxTextBytes {
		text = text[:lim.MaxTextBytes]
		for len(text) > 0 && !utf8.ValidString(text[len(text)-1:]) && !utf8.RuneStart(text[len(text)-1]) {
			text = text[:len(text)-1]
		}
	}
	t.words("", text, true)
	return t.out
}

type tokenizer struct {
	lim  Limits
	max  int // the tokens kept so far may be at most this many (0: no bound)
	seen map[string]bool
	out  []string
	buf  []byte // a bigram being built
	sc   wordScanner
}

// addBytes is add of a token in a buffer, which becomes a string only
// when it is new: most repeated tokens are bigrams.
func (t *tokenizer) addBytes(tok []byte) {
	if t.max > 0 && len(t.out) >= t.max || t.seen[string(tok)] {
		return
	}
	t.add(string(tok))
}

func (t *tokenizer) add(tok string) {
	if t.max > 0 && len(t.out) >= t.max || t.seen[tok] {
		return
	}
	t.seen[tok] = true
	t.out = append(t.out, tok)
}

// words adds the words of s under prefix, and with bigrams their
// orthogonal sparse bigrams: each word paired with each of the next
// Window-1 words, the distance in the token ("a 2 c"), so that "cheap
// meds" and "cheap ... meds" count apart.
func (t *tokenizer) words(prefix, s string, bigrams bool) {
	keepCase := prefix == ""
	if !bigrams || t.lim.Window <= 1 {
		t.sc.scan(s, keepCase, func(w []byte) { t.addPrefixed(prefix, w) })
		return
	}
	var ws []string
	t.sc.scan(s, keepCase, func(w []byte) { ws = append(ws, string(w)) })
	for i, w := range ws {
		t.add(prefix + w)
		for k := 1; k < t.lim.Window && i+k < len(ws); k++ {
			b := append(append(t.buf[:0], prefix...), w...)
			b = append(strconv.AppendInt(append(b, ' '), int64(k), 10), ' ')
			t.buf = append(b, ws[i+k]...)
			t.addBytes(t.buf)
		}
	}
}

// addPrefixed is add of prefix and w.
func (t *tokenizer) addPrefixed(prefix string, w []byte) {
	if prefix == "" {
		t.addBytes(w)
		return
	}
	t.buf = append(append(t.buf[:0], prefix...), w...)
	t.addBytes(t.buf)
}

func (t *tokenizer) from(v string) {
	if v == "" {
		return
	}
	addr := v
	if i, j := strings.LastIndexByte(v, '<'), strings.LastIndexByte(v, '>'); i >= 0 && j > i {
		addr = v[i+1 : j]
		t.words("f:name:", v[:i], false)
	}
	addr = strings.ToLower(strings.TrimSpace(addr))
	t.add("f:" + addr)
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		t.add("f:@" + addr[at+1:])
	}
}

// maxHeaderBytes is how much of one header field's value is read.
const maxHeaderBytes = 2048

// header adds the tokens of one header field, under "h:" and the field's
// name. origin is set for the two Received fields nearest the sender,
// whose words (the sender's HELO, its software's "with" and "id" shapes)
// are read besides the hosts every Received field gives.
func (t *tokenizer) header(name, v string, origin bool) {
	name = strings.ToLower(name)
	if len(v) > maxHeaderBytes {
		v = v[:maxHeaderBytes]
		for len(v) > 0 {
			if r, size := utf8.DecodeLastRuneInString(v); r != utf8.RuneError || size != 1 {
				break
			}
			v = v[:len(v)-1] // not inside a character
		}
	}
	switch name {
	case "received":
		// The hosts a hop names: "from HOST (HELO [IP])" and "by HOST".
		f := strings.Fields(strings.ToLower(v))
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "from" || f[i] == "by" {
				t.add("h:rcvd:" + strings.Trim(f[i+1], "()[];"))
			}
		}
		if origin {
			if i := strings.LastIndexByte(v, ';'); i >= 0 {
				v = v[:i] // the date
			}
			t.headerWords("h:r:", dropFor(v))
		}
	case "content-type":
		mt, params, _ := strings.Cut(v, ";")
		t.add("h:ct:" + strings.ToLower(strings.TrimSpace(mt)))
		for _, p := range strings.Split(params, ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			val = strings.Trim(strings.TrimSpace(val), `"'`)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "charset":
				t.add("h:ct:charset=" + strings.ToLower(val))
			case "boundary":
				// Mailers write boundaries of their own shape; the random
				// part would be a token seen once.
				t.add("h:ct:boundary=" + shape(val))
			}
		}
	case "message-id", "resent-message-id":
		if i := strings.IndexByte(v, '>'); i >= 0 {
			v = v[:i] // a comment after it
		}
		left, right, _ := strings.Cut(strings.Trim(strings.TrimSpace(v), "<>"), "@")
		t.add("h:mid:" + shape(left))
		if right != "" {
			t.add("h:mid:@" + strings.ToLower(right))
		}
	case "in-reply-to", "references":
		t.add("h:" + name) // a reply: the ids themselves are seen once
	case "to", "cc":
		// The recipients' domains: their own names and addresses would
		// teach a site-wide database which mailboxes get spam, and count
		// against those mailboxes' ham. A field of no address
		// ("undisclosed-recipients:;") gives its words.
		addrs := 0
		for _, w := range addrWords(v) {
			if _, domain, ok := strings.Cut(strings.ToLower(w), "@"); ok {
				t.add("h:" + name + ":D*" + domain)
				addrs++
			}
		}
		if addrs == 0 {
			t.headerWords("h:"+name+":", v)
		}
	case "reply-to", "disposition-notification-to":
		for _, w := range addrWords(v) {
			local, domain, ok := strings.Cut(strings.ToLower(w), "@")
			if !ok {
				t.headerWords("h:"+name+":", w)
				continue
			}
			t.add("h:" + name + ":U*" + local)
			t.add("h:" + name + ":D*" + domain)
		}
	case "dkim-signature", "domainkey-signature", "x-google-dkim-signature", "autocrypt":
		t.add("h:" + name) // present; its value is seen once
	default:
		t.headerWords("h:"+name+":", v)
	}
}

// addrWords splits an address field at the characters around and
// between addresses.
func addrWords(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(" ,;<>()\"\t", r) })
}

// dropFor removes a Received field's "for ADDRESS" clause: the
// recipient, whom a site-wide database is not to learn.
func dropFor(v string) string {
	i := strings.Index(strings.ToLower(v), " for ")
	if i < 0 {
		return v
	}
	rest := strings.TrimLeft(v[i+5:], " \t")
	if j := strings.IndexAny(rest, " \t;"); j >= 0 {
		return v[:i] + rest[j:]
	}
	return v[:i]
}

// headerWords adds the words of a header value under prefix, without
// numbers (version numbers, ids and times are seen once).
func (t *tokenizer) headerWords(prefix, v string) {
	t.sc.scan(v, false, func(w []byte) {
		if !isNumber(w) {
			t.addPrefixed(prefix, w)
		}
	})
}

// shape is s with each run of hex digits that holds a digit and a
// letter and is 6 or more long written H (a random or time hex: Gmail's
// boundaries, Outlook's and Apple's ids), then each run of digits 9, of
// lower-case letters a, of upper-case letters A and of other letters or
// marks L: the form a mailer gives its ids and boundaries, without the
// random part. It is at most some 40 bytes.
func shape(s string) string {
	var b strings.Builder
	last := rune(0)
	emit := func(c rune) {
		if c != last || !strings.ContainsRune("9aALH", c) {
			b.WriteRune(c)
		}
		last = c
	}
	for i := 0; i < len(s) && b.Len() < 40; {
		j, digit, letter := i, false, false
		for j < len(s) && isHexDigit(s[j]) {
			if s[j] <= '9' {
				digit = true
			} else {
				letter = true
			}
			j++
		}
		if j-i >= 6 && digit && letter {
			emit('H')
			i = j
			continue
		}
		if j == i {
			j = i + 1 // not hex: one character
		}
		for i < j {
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			switch {
			case '0' <= r && r <= '9':
				r = '9'
			case 'a' <= r && r <= 'z':
				r = 'a'
			case 'A' <= r && r <= 'Z':
				r = 'A'
			case unicode.IsLetter(r) || unicode.IsDigit(r):
				r = 'L'
			}
			emit(r)
		}
	}
	return b.String()
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (t *tokenizer) url(u URL) {
	host := strings.ToLower(strings.TrimSuffix(u.Host, "."))
	if host == "" {
		return
	}
	t.add("u:" + host)
	// Each parent domain, so that a.b.example.com and c.example.com share
	// example.com.
	for i := strings.IndexByte(host, '.'); i >= 0 && strings.Contains(host[i+1:], "."); i = strings.IndexByte(host, '.') {
		host = host[i+1:]
		t.add("u:" + host)
	}
	p := strings.Trim(u.Path, "/")
	if p == "" {
		return
	}
	seg, _, _ := strings.Cut(p, "/")
	if len(seg) <= maxWordRunes {
		t.add("u:/" + strings.ToLower(seg))
	}
}

// Words splits s into normalised words: NFKC (full-width letters become
// half-width, half-width kana full-width), lower case, letters and digits
// with inner apostrophes, dots and hyphens kept ("don't", "e-mail",
// "3.5"). Chinese, Japanese and Korean runs, which have no spaces between
// words, become overlapping character bigrams (a single character stays
// itself). Words longer than 30 characters become "skip:X:N", their first
// character and their length in tens.
func Words(s string) []string {
	var out []string
	var sc wordScanner
	sc.scan(s, false, func(w []byte) { out = append(out, string(w)) })
	return out
}

// wordScanner is the state of [Words]' split, kept between calls so that
// its buffers are reused: a word is built in bytes and handed on as bytes,
// and becomes a string only where the caller keeps it (most of a
// message's words are repeats).
type wordScanner struct {
	word, raw []byte // the word lower-cased, and as written
	runes     int    // the word's length in characters
	upper     int    // its capitals
	cjk       []rune // a run of Chinese, Japanese or Korean characters
	tok       []byte // a token being handed on
}

// scan calls emit with each word of s, as [Words] gives them; with
// keepCase, a word whose capitals say more than a sentence's start
// comes twice, lower-cased and as written. The bytes are valid until emit
// returns.
func (sc *wordScanner) scan(s string, keepCase bool, emit func([]byte)) {
	s = norm.NFKC.String(s)
	sc.word, sc.raw, sc.runes, sc.upper, sc.cjk = sc.word[:0], sc.raw[:0], 0, 0, sc.cjk[:0]
	sentence := true // at the start of a sentence
	for _, r := range s {
		if r < utf8.RuneSelf { // ASCII: no table lookups
			switch {
			case 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || isJoiner(r) && sc.runes > 0:
				if len(sc.cjk) > 0 {
					sc.flushCJK(emit)
				}
				sc.word, sc.raw = append(sc.word, byte(r)), append(sc.raw, byte(r))
				sc.runes++
			case 'A' <= r && r <= 'Z':
				if len(sc.cjk) > 0 {
					sc.flushCJK(emit)
				}
				sc.word, sc.raw = append(sc.word, byte(r+'a'-'A')), append(sc.raw, byte(r))
				sc.runes++
				sc.upper++
			default:
				if sc.runes > 0 {
					sc.flushWord(keepCase, &sentence, emit)
				}
				sc.flushCJK(emit)
				if r == '.' || r == '!' || r == '?' || r == '\n' {
					sentence = true
				}
			}
			continue
		}
		switch {
		case isCJK(r):
			sc.flushWord(keepCase, &sentence, emit)
			sc.cjk = append(sc.cjk, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			sc.flushCJK(emit)
			lr := unicode.ToLower(r)
			if lr != r {
				sc.upper++
			}
			sc.push(lr, r)
		case isJoiner(r) && sc.runes > 0:
			sc.push(r, r)
		default:
			sc.flushWord(keepCase, &sentence, emit)
			sc.flushCJK(emit)
		}
	}
	sc.flushWord(keepCase, &sentence, emit)
	sc.flushCJK(emit)
}

// push adds one character to the word: lower is it lower-cased.
func (sc *wordScanner) push(lower, raw rune) {
	sc.word = utf8.AppendRune(sc.word, lower)
	sc.raw = utf8.AppendRune(sc.raw, raw)
	sc.runes++
}

func (sc *wordScanner) flushWord(keepCase bool, sentence *bool, emit func([]byte)) {
	endsSentence := false
	// The joiners are ASCII: one byte each, in both forms.
	for sc.runes > 0 && isJoiner(rune(sc.word[len(sc.word)-1])) {
		endsSentence = endsSentence || sc.word[len(sc.word)-1] == '.'
		sc.word, sc.raw = sc.word[:len(sc.word)-1], sc.raw[:len(sc.raw)-1]
		sc.runes--
	}
	first, _ := utf8.DecodeRune(sc.word)
	switch {
	case sc.runes == 0:
	case sc.runes > maxWordRunes:
		sc.tok = append(utf8.AppendRune(append(sc.tok[:0], "skip:"...), first), ':')
		sc.tok = strconv.AppendInt(sc.tok, int64(sc.runes/10), 10)
		emit(sc.tok)
	case sc.runes == 1 && !unicode.IsDigit(first):
		// Single letters carry nothing.
	default:
		emit(sc.word)
		// The word as written too, when its capitals say more than a
		// sentence's start: "FREE", "Viagra" mid-sentence.
		if keepCase && (sc.upper > 1 || sc.upper == 1 && !*sentence) {
			emit(sc.raw)
		}
	}
	if sc.runes > 0 {
		*sentence = endsSentence
	}
	sc.word, sc.raw, sc.runes, sc.upper = sc.word[:0], sc.raw[:0], 0, 0
}

func (sc *wordScanner) flushCJK(emit func([]byte)) {
	switch {
	case len(sc.cjk) == 1:
		emit(utf8.AppendRune(sc.tok[:0], sc.cjk[0]))
	case len(sc.cjk) > 1:
		for i := 0; i+1 < len(sc.cjk); i++ {
			sc.tok = utf8.AppendRune(utf8.AppendRune(sc.tok[:0], sc.cjk[i]), sc.cjk[i+1])
			emit(sc.tok)
		}
	}
	sc.cjk = sc.cjk[:0]
}

// isJoiner reports a character kept inside a word but not at its ends.
func isJoiner(r rune) bool { return r == '\'' || r == '.' || r == '-' || r == '_' }

// isCJK reports a character of a script written without spaces between
// words: Han, Hiragana, Katakana (with the prolonged sound mark), Hangul.
func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) || r == 'ー'
}

func isNumber(w []byte) bool {
	for _, r := range string(w) {
		if !unicode.IsDigit(r) && r != '.' {
			return false
		}
	}
	return true
}
