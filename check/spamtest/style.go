package spamtest

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The style tests: how bulk-mail software and spammers write a message
// where mail clients and list servers do not (a time zone no place has,
// a body in capitals, a wall of exclamation marks, giant fonts, a
// self-addressed To, an ADV: subject).

// Bounds of the style tests.
const (
	minShoutLetters = 300 // letters a body needs before body_caps judges it
	shoutShare      = 0.5 // share of capitals among them that is body_caps
	manyExclaims    = 8   // "!" marks outside URLs that is body_exclamations
	manyMoney       = 3   // distinct amounts of money that is money_amounts
	minSplitWords   = 2   // words split by HTML comments or empty tags that is html_split_words
)

var styleTests = []test{
	{"date_bad_zone", 2.5, "the Date's time zone is not one any place uses (more than 14 hours, or minutes other than 00, 30 and 45)", dateBadZone},
	{"body_caps", 0.4, fmt.Sprintf("more than %.0f%% of the body's letters are capitals (at least %d letters)", shoutShare*100, minShoutLetters), bodyCaps},
	{"body_exclamations", 0.2, fmt.Sprintf("the body has %d or more exclamation marks, or a run of three", manyExclaims), bodyExclamations},
	{"money_amounts", 0.5, fmt.Sprintf("the body names %d or more different amounts of money", manyMoney), moneyAmounts},
	{"html_font_large", 0.5, "the HTML sets a font size of 5 or more, or above 24 points", htmlFontLarge},
	{"to_is_from", 1.0, "the only To address is the From address", toIsFrom},
	{"subject_adv", 2.5, "the subject starts with ADV, the label some laws required of advertising", subjectADV},
	{"subject_padded", 2.0, "the subject has a run of spaces inside it, padding a tracking code off the screen", subjectPadded},
	{"reply_to_freemail", 1.5, "Reply-To is a free-mail address of another domain than From's", replyToFreemail},
	{"bulk_mailer", 1.5, "X-Mailer names bulk-mailing software", bulkMailer},
	{"subject_tracking_id", 1.5, "a subject word is a tracking code: 8 or more letters and digits alternating at least four times (7099ocYT9-261UccU)", subjectTrackingID},
	{"html_split_words", 1.5, fmt.Sprintf("HTML comments or empty inline tags split words in %d places or more (V<!-- x -->iagra, Vi<b></b>agra)", minSplitWords), htmlSplitWords},
	{"priority_high", 1.0, "the message is marked high priority (X-Priority 1, X-MSMail-Priority High)", priorityHigh},
}

func init() { tests = append(tests, styleTests...) }

// zoneOffset is a numeric zone at the end of a Date (a comment cut).
var zoneOffset = regexp.MustCompile(`([+-])(\d\d)(\d\d)$`)

// zoneGMTOffset is "GMT+1", "UTC-05:00": an offset written after a zone
// name, which RFC 5322 does not allow and bulk mailers write.
var zoneGMTOffset = regexp.MustCompile(`(?i)\b(?:gmt|utc)\s*[+-]\s*\d{1,2}(?::?\d\d)?$`)

func dateBadZone(s *state) (hit, bool) {
	v, ok := s.header("Date")
	if !ok {
		return hit{}, false
	}
	t := strings.TrimSpace(zoneComment.ReplaceAllString(strings.Join(strings.Fields(v), " "), ""))
	if zoneGMTOffset.MatchString(t) {
		return hit{value: v, where: "header:Date", reason: "the Date's zone is a name with an offset after it, which RFC 5322 does not allow"}, true
	}
	m := zoneOffset.FindStringSubmatch(t)
	if m == nil {
		return hit{}, false
	}
	hh, _ := strconv.Atoi(m[2])
	mm, _ := strconv.Atoi(m[3])
	if hh <= 14 && (mm == 0 || mm == 30 || mm == 45) {
		return hit{}, false
	}
	return hit{value: v, where: "header:Date", reason: fmt.Sprintf("the Date's zone %s%s%s is not one any place uses", m[1], m[2], m[3])}, true
}

// bodyTexts is the body's text, plain and rendered HTML.
func (s *state) bodyTexts() []string {
	b := s.bodyView()
	return append(append([]string(nil), b.plain...), b.html...)
}

func bodyCaps(s *state) (hit, bool) {
	upper, letters := 0, 0
	for _, t := range s.bodyTexts() {
		u, l := capitals(t)
		upper, letters = upper+u, letters+l
	}
	if letters < minShoutLetters || float64(upper) <= shoutShare*float64(letters) {
		return hit{}, false
	}
	pct := 100 * upper / letters
	return hit{value: fmt.Sprintf("%d%%", pct), where: "body", reason: fmt.Sprintf("%d%% of the body's %d letters are capitals", pct, letters)}, true
}

func bodyExclamations(s *state) (hit, bool) {
	n, run := 0, false
	for _, t := range s.bodyTexts() {
		if strings.IndexByte(t, '!') < 0 {
			continue
		}
		for w := range strings.FieldsSeq(t) {
			if strings.Contains(w, "://") {
				continue
			}
			n += strings.Count(w, "!")
			if strings.Contains(w, "!!!") {
				run = true
			}
		}
	}
	if n < manyExclaims && !run {
		return hit{}, false
	}
	return hit{value: strconv.Itoa(n), where: "body", reason: fmt.Sprintf("the body has %d exclamation marks", n)}, true
}

// moneyWords are the currency words written after an amount (500 USD).
var moneyWords = []string{"usd", "eur", "dollars", "euros", "pounds"}

// moneyIn calls fn with each amount of money in t: $1,000, US$ 37,400,000.00,
// €20, 500 USD, 30 dollars. It scans bytes, without a regular expression:
// this runs on every message.
func moneyIn(t string, fn func(string) bool) {
	digitsAt := func(i int) int { // the end of the amount starting at i
		j := i
		for j < len(t) && (t[j] >= '0' && t[j] <= '9' || (t[j] == ',' || t[j] == '.') && j+1 < len(t) && t[j+1] >= '0' && t[j+1] <= '9') {
			j++
		}
		return j
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		var sign int // the sign's width
		switch {
		case c == '$':
			sign = 1
		case strings.HasPrefix(t[i:], "€"):
			sign = len("€")
		case strings.HasPrefix(t[i:], "£"):
			sign = len("£")
		}
		if sign > 0 {
			j := i + sign
			if j < len(t) && t[j] == ' ' {
				j++
			}
			if j < len(t) && t[j] >= '0' && t[j] <= '9' {
				end := digitsAt(j)
				if !fn(t[i:end]) {
					return
				}
				i = end - 1
			}
			continue
		}
		if c < '0' || c > '9' || i > 0 && (t[i-1] >= '0' && t[i-1] <= '9' || isWordByte(t[i-1])) {
			continue
		}
		end := digitsAt(i)
		k := end
		if k < len(t) && t[k] == ' ' {
			k++
		}
		for _, w := range moneyWords {
			if len(t)-k >= len(w) && strings.EqualFold(t[k:k+len(w)], w) && (k+len(w) == len(t) || !isWordByte(t[k+len(w)])) {
				if !fn(t[i : k+len(w)]) {
					return
				}
				break
			}
		}
		i = end - 1
	}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func moneyAmounts(s *state) (hit, bool) {
	seen := map[string]bool{}
	var first []string
	for _, t := range s.bodyTexts() {
		n := 0
		moneyIn(cut(t, maxPartText), func(m string) bool {
			k := strings.ToLower(strings.Join(strings.Fields(m), ""))
			if !seen[k] {
				seen[k] = true
				if len(first) < 5 {
					first = append(first, m)
				}
			}
			n++
			return n < 200
		})
	}
	if len(seen) < manyMoney {
		return hit{}, false
	}
	return hit{value: strings.Join(first, ", "), where: "body", reason: fmt.Sprintf("the body names %d different amounts of money", len(seen))}, true
}

// fontSize finds a font size in HTML source: <font size=5>, size="+3",
// font-size: 36pt / 40px.
var fontSize = regexp.MustCompile(`(?i)<font\b[^>]*\bsize\s*=\s*["']?(\+?)(\d+)|font-size\s*:\s*(\d+)(pt|px)`)

func htmlFontLarge(s *state) (hit, bool) {
	n := 0
	for _, sp := range s.m.TextSpans() {
		if !s.bodySpan(sp) || !sp.HTML {
			continue
		}
		if n++; n > maxTextParts {
			break
		}
		src := cut(sp.Text, maxHTMLSource)
		// Every match begins at "<font" or "font-size": the expression
		// runs from the first "font", not over the whole source.
		i := indexFold(src, "font")
		if i < 0 {
			continue
		}
		for _, m := range fontSize.FindAllStringSubmatch(src[max(0, i-1):], 500) {
			big := false
			if m[2] != "" {
				n, _ := strconv.Atoi(m[2])
				big = m[1] == "+" && n >= 2 || m[1] == "" && n >= 5 && n <= 7
			} else {
				n, _ := strconv.Atoi(m[3])
				big = m[4] == "pt" && n > 24 || m[4] == "px" && n > 32
			}
			if big {
				return hit{value: clip(m[0], 40), where: "body", reason: fmt.Sprintf("the HTML sets a large font (%s)", clip(m[0], 40))}, true
			}
		}
	}
	return hit{}, false
}

func toIsFrom(s *state) (hit, bool) {
	to, ok := s.header("To")
	if !ok {
		return hit{}, false
	}
	from, ok := s.header("From")
	if !ok {
		return hit{}, false
	}
	if _, ok := s.header("Cc"); ok {
		return hit{}, false
	}
	ta, err := mail.ParseAddressList(to)
	if err != nil || len(ta) != 1 {
		return hit{}, false
	}
	fa, err := mail.ParseAddress(from)
	if err != nil || !strings.EqualFold(ta[0].Address, fa.Address) {
		return hit{}, false
	}
	return hit{value: fa.Address, where: "header:To", reason: "the message is addressed to its own sender, hiding its real recipients"}, true
}

// advSubject is an ADV label: "ADV:", "[ADV]", "ADV -".
var advSubject = regexp.MustCompile(`^\s*[\[(]?ADV\b\s*[\]):\-]`)

func subjectADV(s *state) (hit, bool) {
	v := s.subjectText()
	if !advSubject.MatchString(strings.ToUpper(v)) {
		return hit{}, false
	}
	return hit{value: v, where: "subject", reason: "the subject is labelled as an advertisement (ADV)"}, true
}

// paddedSubject is a run of spaces inside a subject, before more text.
var paddedSubject = regexp.MustCompile(`\S[ \t]{6,}\S`)

func subjectPadded(s *state) (hit, bool) {
	v := cut(s.m.Subject, maxHeader)
	if !paddedSubject.MatchString(v) {
		return hit{}, false
	}
	return hit{value: v, where: "subject", reason: "the subject has a run of spaces inside it"}, true
}

// freemail are the free mailbox providers' registrable domains: anyone
// can have an address there, so a Reply-To there, with a From elsewhere,
// sends the answers to someone the From's domain does not vouch for.
var freemail = map[string]bool{}

func init() {
	for _, d := range strings.Fields(`gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.co.jp yahoo.fr
		yahoo.de yahoo.es yahoo.it yahoo.ca yahoo.com.au ymail.com rocketmail.com hotmail.com hotmail.co.uk
		hotmail.fr hotmail.de hotmail.it hotmail.es outlook.com outlook.jp live.com live.co.uk live.fr
		msn.com aol.com aim.com icloud.com me.com mac.com mail.com email.com usa.com gmx.com gmx.net
		gmx.de gmx.at web.de t-online.de freenet.de mail.ru inbox.ru list.ru bk.ru yandex.ru yandex.com
		rambler.ru qq.com 163.com 126.com yeah.net sina.com sina.cn sohu.com naver.com hanmail.net
		daum.net rediffmail.com zoho.com protonmail.com proton.me tutanota.com gmx.fr laposte.net
		orange.fr wanadoo.fr free.fr libero.it virgilio.it tiscali.it excite.com lycos.com netscape.net
		juno.com netzero.net earthlink.net caramail.com latinmail.com terra.com bol.com.br uol.com.br
		ig.com.br o2.pl wp.pl interia.pl onet.pl seznam.cz centrum.cz abv.bg mail.bg ukr.net i.ua
		yahoo.com.hk yahoo.com.tw yahoo.co.in myway.com hushmail.com fastmail.com fastmail.fm`) {
		freemail[d] = true
	}
}

// addrDomain is the lower-case domain of an address field's first
// address, "" for none.
func addrDomain(v string) string {
	a, err := mail.ParseAddress(v)
	if err != nil {
		return ""
	}
	_, d, ok := strings.Cut(a.Address, "@")
	if !ok {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(d, "."))
}

// freemailDomain is the free-mail provider domain d is, or is under.
func freemailDomain(d string) (string, bool) {
	for {
		if freemail[d] {
			return d, true
		}
		_, rest, ok := strings.Cut(d, ".")
		if !ok || !strings.Contains(rest, ".") {
			return "", false
		}
		d = rest
	}
}

func replyToFreemail(s *state) (hit, bool) {
	rt, ok := s.header("Reply-To")
	if !ok {
		return hit{}, false
	}
	// A list (Google Groups, a Mailman list rewriting From for DMARC)
	// sends replies to the poster's own address.
	for _, l := range []string{"List-Id", "List-Post"} {
		if _, ok := s.header(l); ok {
			return hit{}, false
		}
	}
	from, _ := s.header("From")
	if a, err := mail.ParseAddress(rt); err == nil {
		if fa, err := mail.ParseAddress(from); err == nil && strings.Contains(strings.ToLower(fa.Name), strings.ToLower(a.Address)) {
			return hit{}, false // "ann@gmail.com via Group" <group@...>
		}
	}
	rd, fd := addrDomain(rt), addrDomain(from)
	if rd == "" || fd == "" || rd == fd {
		return hit{}, false
	}
	p, ok := freemailDomain(rd)
	if !ok {
		return hit{}, false
	}
	if fp, ok := freemailDomain(fd); ok && fp == p {
		return hit{}, false
	}
	return hit{value: rt, where: "header:Reply-To", reason: fmt.Sprintf("replies go to a free-mail address at %s, not to the From's domain %s", p, fd)}, true
}

// bulkMailers are X-Mailer values of software made for sending bulk
// mail to bought lists (as SpamAssassin's RATWARE rules name them).
var bulkMailers = regexp.MustCompile(`(?i)\b(?:group ?mail|advanced mass sender|mass ?mail(?:er)?|bulk ?mail(?:er)?|send-?safe|atlas ?mailer|dynamic ?mailer|mach5|floodgate|e-?mail extractor|worldmerge|aureate|emailer platinum|desktop server|jixing|mailloop|massive ?mail|super ?mail ?sender|stealth ?mail|mail ?king|the bat! 1\.(?:[0-4])|pg mailer|mailbomb|list ?sender|cyber-?bomber|rlsp|avalanche|direct ?email|express ?mail ?sender)\b`)

func bulkMailer(s *state) (hit, bool) {
	for _, name := range []string{"X-Mailer", "User-Agent"} {
		v, ok := s.header(name)
		if !ok {
			continue
		}
		if m := bulkMailers.FindString(v); m != "" {
			return hit{value: v, where: "header:" + name, reason: fmt.Sprintf("%s names %q, software for sending bulk mail", name, m)}, true
		}
	}
	return hit{}, false
}

// splitTags are the inline elements that, empty, split a word without
// showing anything (Vi<b></b>agra).
var splitTags = map[string]bool{"b": true, "i": true, "u": true, "s": true, "em": true, "strong": true,
	"font": true, "span": true, "small": true, "big": true}

// splitWords returns up to n of the words split in HTML source h by a
// comment of at most 100 bytes (V<!-- x -->iagra) or an empty inline
// element with at most 100 bytes of attributes (Ci<font color=red></font>alis):
// a word the reader sees whole and a filter sees in two. Each is the
// letters on either side and what splits them. It looks only at a "<"
// after a letter, and at most some 120 bytes from there, so its work is
// linear in h.
func splitWords(h string, n int) []string {
	var out []string
	for i := 1; i < len(h) && len(out) < n; i++ {
		j := strings.IndexByte(h[i:], '<')
		if j < 0 {
			break
		}
		i += j
		if !asciiLetter(h[i-1]) {
			continue
		}
		if end := splitAt(h[i:]); end > 0 && end < len(h)-i && asciiLetter(h[i+end]) {
			out = append(out, h[i-1:i+end+1])
		}
	}
	return out
}

// splitAt returns the length of the comment or empty inline element at
// the start of s, 0 when there is none.
func splitAt(s string) int {
	if strings.HasPrefix(s, "<!--") {
		body := s[4:min(len(s), 4+100+3)]
		j := strings.IndexByte(body, '>')
		if j < 2 || body[j-2:j] != "--" || strings.TrimSpace(body[:j-2]) == "" {
			// An empty comment is React's marker between two text
			// nodes ("message<!-- -->s"), in transactional mail.
			return 0
		}
		return 4 + j + 1
	}
	k := 1
	for k < len(s) && k <= 7 && asciiLetter(s[k]) {
		k++
	}
	name := strings.ToLower(s[1:k])
	if !splitTags[name] || k >= len(s) || s[k] != '>' && s[k] != ' ' && s[k] != '\t' && s[k] != '\n' && s[k] != '\r' {
		return 0
	}
	j := strings.IndexAny(s[k:min(len(s), k+101)], "<>")
	if j < 0 || s[k+j] != '>' {
		return 0
	}
	closing := "</" + name + ">"
	rest := s[k+j+1:]
	if len(rest) < len(closing) || !strings.EqualFold(rest[:len(closing)], closing) {
		return 0
	}
	return k + j + 1 + len(closing)
}

func asciiLetter(c byte) bool { c |= 0x20; return 'a' <= c && c <= 'z' }

func htmlSplitWords(s *state) (hit, bool) {
	n, parts := 0, 0
	first := ""
	for _, sp := range s.m.TextSpans() {
		if !s.bodySpan(sp) || !sp.HTML {
			continue
		}
		if parts++; parts > maxTextParts {
			break
		}
		for _, m := range splitWords(cut(sp.Text, maxHTMLSource), minSplitWords) {
			if first == "" {
				first = m
			}
			n++
		}
		if n >= minSplitWords {
			return hit{value: first, where: "body", reason: fmt.Sprintf("HTML comments or empty tags split words in %d places or more, such as %q, hiding them from filters", n, clip(first, 60))}, true
		}
	}
	return hit{}, false
}

func priorityHigh(s *state) (hit, bool) {
	if v, ok := s.header("X-Priority"); ok && strings.HasPrefix(strings.TrimSpace(v), "1") {
		return hit{value: v, where: "header:X-Priority", reason: "X-Priority is 1, the highest"}, true
	}
	if v, ok := s.header("X-MSMail-Priority"); ok && strings.EqualFold(strings.TrimSpace(v), "high") {
		return hit{value: v, where: "header:X-MSMail-Priority", reason: "X-MSMail-Priority is High"}, true
	}
	return hit{}, false
}

// cjkSpamWords are spam wording in Japanese and Chinese, which write no
// spaces between words, so phrases cannot be matched as words: each is
// looked for as a substring of the subject and body text. None is inside
// another, so one wording counts once.
var cjkSpamWords = []string{
	// Japanese: free, right now, limited time, earn, side job, meet
	// (dating), married women, adult, unsubscribe (of bulk mail), invoice
	"無料", "今すぐ", "期間限定", "稼げる", "副業", "副収入", "出会い", "人妻", "アダルト",
	"高収入", "在宅ワーク", "激安", "当選", "未公開株", "セフレ",
	// Chinese: free, invoice (issued for you), business opportunity,
	// discount, lowest price, earn money, limited time, contact
	"免费", "免費", "代开发票", "代開發票", "商机", "商機", "优惠", "優惠", "最低价",
	"赚钱", "賺錢", "限时", "限時", "联系电话", "聯繫電話", "诚信", "誠信", "网络营销", "網絡營銷",
}

// unsolicitedAd is the label Japan's law on advertising e-mail required
// at the start of unsolicited advertising subjects (未承諾広告※).
const unsolicitedAd = "未承諾広告"

var cjkTests = []test{
	{"cjk_spam_words", 2.0, "three or more distinct Japanese or Chinese spam words (無料, 今すぐ, 副業, 代开发票, 商机 ...)", cjkSpamWordsTest},
	{"subject_unsolicited_ad", 2.5, "the subject carries 未承諾広告, the label of unsolicited advertising in Japan", subjectUnsolicitedAd},
}

func init() { tests = append(tests, cjkTests...) }

func cjkSpamWordsTest(s *state) (hit, bool) {
	texts := s.wordingTexts()
	var found []string
	for _, w := range cjkSpamWords {
		for _, t := range texts {
			if strings.Contains(t, w) {
				found = append(found, w)
				break
			}
		}
	}
	if len(found) < 3 {
		return hit{}, false
	}
	v := strings.Join(found, " ")
	return hit{value: v, where: "body", reason: fmt.Sprintf("%d Japanese or Chinese spam words: %s", len(found), v)}, true
}

func subjectUnsolicitedAd(s *state) (hit, bool) {
	v := s.subjectText()
	if !strings.Contains(v, unsolicitedAd) {
		return hit{}, false
	}
	return hit{value: v, where: "subject", reason: "the subject is labelled 未承諾広告 (unsolicited advertising)"}, true
}

// trackingID reports whether w looks like a tracking code: at least 8
// letters and digits whose runs of letters and digits alternate four
// times or more, and not a hexadecimal number (a hash, a commit).
func trackingID(w string) bool {
	n, runs, hex := 0, 0, true
	last := 0 // 1 letter, 2 digit
	for _, r := range w {
		k := 0
		switch {
		case r >= '0' && r <= '9':
			k = 2
		case r < 0x80 && unicode.IsLetter(r):
			k = 1
			if !strings.ContainsRune("abcdefABCDEF", r) {
				hex = false
			}
		default:
			continue
		}
		n++
		if k != last {
			runs++
			last = k
		}
	}
	return n >= 8 && runs >= 5 && !hex
}

func subjectTrackingID(s *state) (hit, bool) {
	v := s.subjectText()
	for _, w := range strings.Fields(v) {
		if strings.ContainsAny(w, "/@:.") {
			continue // a URL, an address, a time, a file name or a version
		}
		if trackingID(w) {
			return hit{value: w, where: "subject", reason: fmt.Sprintf("the subject word %q is a tracking code", clip(w, 60))}, true
		}
	}
	return hit{}, false
}

// indexFold is the index of the first instance of needle (lower-case
// ASCII) in s, in any case, or -1.
func indexFold(s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		if s[i]|0x20 == needle[0] && strings.EqualFold(s[i:i+len(needle)], needle) {
			return i
		}
	}
	return -1
}

// capitals counts the capitals and the letters of t's words (split at
// white space), leaving out the words that are a URL or an address (with
// "://" or "@"): they are not shouting. It reads t once, without
// splitting it.
func capitals(t string) (upper, letters int) {
	wu, wl, skip := 0, 0, false
	word := func() {
		if !skip {
			upper, letters = upper+wu, letters+wl
		}
		wu, wl, skip = 0, 0, false
	}
	for i := 0; i < len(t); {
		if c := t[i]; c < utf8.RuneSelf {
			switch {
			case 'a' <= c && c <= 'z':
				wl++
			case 'A' <= c && c <= 'Z':
				wl++
				wu++
			case c == ' ' || '\t' <= c && c <= '\r':
				word()
			case c == '@' || c == ':' && strings.HasPrefix(t[i:], "://"):
				skip = true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(t[i:])
		switch {
		case unicode.IsSpace(r):
			word()
		case unicode.IsLetter(r):
			wl++
			if unicode.IsUpper(r) {
				wu++
			}
		}
		i += size
	}
	word()
	return upper, letters
}
