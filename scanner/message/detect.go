package message

import (
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// The detector for 8-bit text without a charset. It weighs the whole text
// (up to maxDetectSample bytes) against each candidate: a candidate whose
// byte structure the text breaks is out, and the others score per
// character by how typical the character is of text in that charset
// (kana for Japanese, the most frequent kanji, hangul and hanzi for each
// language, punctuation), minus points for characters that are unassigned,
// user-defined, or a high byte glued into a Latin word. windows-1252 is
// scored the same way per high byte: accented letters inside words,
// quotes, dashes and currency signs next to what they usually stand next
// to. A CJK charset wins only when it scores higher than windows-1252, so a
// lone "\xa3" before a digit stays "£" and "\x92" between letters stays
// "’". Ties between CJK charsets go to Japanese, the local mail this is
// tuned for, then Korean, then Chinese.

// maxDetectSample bounds the bytes the detector weighs; the rest of a text
// is decoded with the charset the sample chose.
const maxDetectSample = 256 << 10

// Character weights. Positive for what text in a charset is made of,
// negative for what it almost never has.
const (
	wKana     = 8  // hiragana, katakana
	wFrequent = 8  // one of the most frequent characters of the language
	wCommon   = 4  // common range: JIS level 1, hangul, GB2312 level 1, Big5 frequent
	wPunct    = 4  // CJK punctuation row
	wKanaRun  = 3  // half-width katakana after another one
	wRare     = 1  // valid but rarer: JIS level 2, GB2312 level 2, Big5 level 2, symbols
	wOdd      = 0  // extensions
	wBad      = -4 // unassigned or user-defined areas
	wGlued    = -4 // a trail byte that is a Latin letter, inside a Latin word
)

// cjkCandidate is one multibyte charset the detector weighs.
type cjkCandidate struct {
	name  string
	enc   encoding.Encoding
	score func(b []byte, f *freqSet) (int, bool)
	freq  func() *freqSet
}

// cjkCandidates in tie-break order.
var cjkCandidates = []cjkCandidate{
	{"shift_jis", japanese.ShiftJIS, scoreShiftJIS, func() *freqSet { return freqSets().sjis }},
	{"euc-jp", japanese.EUCJP, scoreEUCJP, func() *freqSet { return freqSets().eucjp }},
	{"euc-kr", korean.EUCKR, scoreEUCKR, func() *freqSet { return freqSets().euckr }},
	{"gbk", simplifiedchinese.GBK, scoreGBK, func() *freqSet { return freqSets().gbk }},
	{"big5", traditionalchinese.Big5, scoreBig5, func() *freqSet { return freqSets().big5 }},
}

// candidateFor returns the candidate that scores a declared charset, by
// canonical name, or nil for charsets the detector has no scorer for
// (single-byte ones).
func candidateFor(name string) *cjkCandidate {
	if name == "gb18030" {
		name = "gbk"
	}
	for i := range cjkCandidates {
		if cjkCandidates[i].name == name {
			return &cjkCandidates[i]
		}
	}
	return nil
}

// isMultibyte reports whether a declared charset is multibyte, so that the
// detector must not use it as the single-byte fallback.
func isMultibyte(name string) bool {
	switch name {
	case "shift_jis", "euc-jp", "euc-kr", "gbk", "gb18030", "big5", "iso-2022-jp", "utf-8", "utf-16le", "utf-16be":
		return true
	}
	return false
}

// detect picks the charset of b, which has 8-bit bytes and is not valid
// UTF-8. A declared multibyte charset wins when b fits it, scores above
// zero and at least as well as windows-1252, and no undeclared charset
// scores more than twice as well (Japanese text in a message that also
// carries a Korean part stays Japanese); among several, the best wins. A
// declared single-byte charset replaces windows-1252 as the Western choice.
func detect(b []byte, hints []hint) choice {
	sample := b
	if len(sample) > maxDetectSample {
		sample = sample[:maxDetectSample]
	}
	west := scoreWestern(sample)
	western := choice{enc: charmap.Windows1252, name: "windows-1252", kind: guessDetect}
	haveSingle := false
	type scored struct {
		ch choice
		s  int
	}
	var hinted []scored
	for _, h := range hints {
		c := candidateFor(h.name)
		if c == nil {
			if !haveSingle && !isMultibyte(h.name) {
				western = choice{enc: h.enc, name: h.name, kind: guessHint}
				haveSingle = true
			}
			continue
		}
		if s, ok := c.score(sample, c.freq()); ok && s > 0 && s >= west {
			hinted = append(hinted, scored{choice{enc: h.enc, name: h.name, kind: guessHint}, s})
		}
	}
	var found []scored
	for i := range cjkCandidates {
		c := &cjkCandidates[i]
		if s, ok := c.score(sample, c.freq()); ok && s > west {
			found = append(found, scored{choice{enc: c.enc, name: c.name, kind: guessDetect}, s})
		}
	}
	// best removes and returns the best-scoring choice that really decodes
	// the sample; the earliest wins a tie.
	best := func(list *[]scored) (scored, bool) {
		for len(*list) > 0 {
			top := 0
			for i, x := range *list {
				if x.s > (*list)[top].s {
					top = i
				}
			}
			x := (*list)[top]
			*list = append((*list)[:top], (*list)[top+1:]...)
			if out, whole, ok := fits(x.ch.enc, sample); ok {
				if whole && len(sample) == len(b) {
					x.ch.out, x.ch.decoded = out, true
				}
				return x, true
			}
		}
		return scored{}, false
	}
	det, haveDet := best(&found)
	if h, ok := best(&hinted); ok && (!haveDet || det.s <= 2*h.s) {
		return h.ch
	}
	if u := scoreUTF8(sample); u > west && (!haveDet || u > det.s) {
		return choice{enc: utf8Passthrough, name: "utf-8", kind: guessDetect}
	}
	if haveDet {
		return det.ch
	}
	return western
}

// fits reports whether enc decodes b without replacement characters. A
// character cut at the end of b (a text cut at a limit) is forgiven. When
// all of b decoded, whole is set and out holds the text.
func fits(enc encoding.Encoding, b []byte) (out string, whole, ok bool) {
	if out, ok := transcode(enc, b); ok {
		return out, true, true
	}
	for cut := len(b) - 1; cut >= 0 && cut >= len(b)-4; cut-- {
		if b[cut] < 0x80 {
			_, ok := transcode(enc, b[:cut+1])
			return "", false, ok
		}
	}
	return "", false, false
}

func asciiLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func asciiDigit(c byte) bool  { return c >= '0' && c <= '9' }
func asciiAlnum(c byte) bool  { return asciiLetter(c) || asciiDigit(c) }

// glued returns wGlued when the 2-byte character at b[i:i+2] has a Latin
// letter as its trail byte and stands in a Latin word: after an ASCII
// letter (prevLetter) or before one. "world\x92s" read as Shift_JIS
// swallows the "s" of "world's"; real Shift_JIS katakana and kanji have
// such trail bytes too, which is why this only lowers the score.
func glued(b []byte, i int, prevLetter bool) int {
	if !asciiLetter(b[i+1]) {
		return 0
	}
	if prevLetter || i+2 < len(b) && asciiLetter(b[i+2]) {
		return wGlued
	}
	return 0
}

// scoreShiftJIS weighs b as Shift_JIS (WHATWG, with the CP932 extensions).
func scoreShiftJIS(b []byte, f *freqSet) (int, bool) {
	score, prevLetter, prevTrail := 0, false, false
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			prevLetter, prevTrail = asciiLetter(c), false
			i++
			continue
		case c >= 0xA1 && c <= 0xDF: // half-width katakana, common in runs
			if i > 0 && b[i-1] >= 0xA1 && b[i-1] <= 0xDF && !prevTrail {
				score += wKanaRun
			} else {
				score += wRare
			}
			prevLetter, prevTrail = false, false
			i++
			continue
		case c >= 0x81 && c <= 0x9F || c >= 0xE0 && c <= 0xFC:
		default:
			return score, false
		}
		if i+1 >= len(b) {
			break // cut at the end
		}
		t := b[i+1]
		if t < 0x40 || t == 0x7F || t > 0xFC {
			return score, false
		}
		code := uint16(c)<<8 | uint16(t)
		var w int
		switch {
		case c == 0x82 && t >= 0x9F && t <= 0xF1, c == 0x83 && t >= 0x40 && t <= 0x96:
			w = wKana
		case c == 0x81:
			w = wPunct
		case c == 0x87: // NEC specials: ① ㈱ №, common in business mail
			w = wPunct
		case c == 0x82, c == 0x83, c == 0x84:
			w = wRare
		case code >= 0x889F && code <= 0x9872:
			w = wCommon
		case code >= 0x989F && code <= 0x9FFC, c >= 0xE0 && c <= 0xEA:
			w = wRare
		case c == 0xED || c == 0xEE || c >= 0xFA: // IBM extensions: 髙 﨑
			w = wRare
		case c >= 0xF0 && c <= 0xF9:
			w = wBad
		default:
			w = wBad
		}
		if f.has(code) {
			w += wFrequent
		}
		score += w + glued(b, i, prevLetter)
		prevLetter, prevTrail = false, true
		i += 2
	}
	return score, true
}

// scoreEUCJP weighs b as EUC-JP.
func scoreEUCJP(b []byte, f *freqSet) (int, bool) {
	score := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			i++
			continue
		}
		switch {
		case c == 0x8E: // half-width katakana
			if i+1 >= len(b) {
				return score, true
			}
			if t := b[i+1]; t < 0xA1 || t > 0xDF {
				return score, false
			}
			score += wRare
			i += 2
			continue
		case c == 0x8F: // JIS X 0212
			if i+2 >= len(b) {
				return score, true
			}
			if b[i+1] < 0xA1 || b[i+1] == 0xFF || b[i+2] < 0xA1 || b[i+2] == 0xFF {
				return score, false
			}
			score += wOdd
			i += 3
			continue
		case c < 0xA1 || c == 0xFF:
			return score, false
		}
		if i+1 >= len(b) {
			break
		}
		t := b[i+1]
		if t < 0xA1 || t == 0xFF {
			return score, false
		}
		var w int
		switch {
		case c == 0xA4 || c == 0xA5:
			w = wKana
		case c == 0xA1:
			w = wPunct
		case c == 0xAD: // NEC specials
			w = wPunct
		case c == 0xA2 || c == 0xA3 || c >= 0xA6 && c <= 0xA8:
			w = wRare
		case c >= 0xB0 && c <= 0xCF:
			w = wCommon
		case c >= 0xD0 && c <= 0xF4:
			w = wRare
		default: // rows 9-12, 14-15, 85-94: unassigned or user-defined
			w = wBad
		}
		if f.has(uint16(c)<<8 | uint16(t)) {
			w += wFrequent
		}
		score += w
		i += 2
	}
	return score, true
}

// scoreMultibyte walks b as a double-byte charset: ASCII passes (and
// marks whether a letter precedes), a byte badLead rejects ends the walk as
// a misfit, and every other sequence is weighed by seq, which returns its
// weight and length (0: cut off at the end), or false when the bytes
// cannot be this charset. A two-byte character among the language's most
// frequent earns wFrequent on top.
func scoreMultibyte(b []byte, f *freqSet, badLead func(c byte) bool,
	seq func(b []byte, i int, prevLetter bool) (w, n int, ok bool)) (int, bool) {
	score, prevLetter := 0, false
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			prevLetter = asciiLetter(c)
			i++
			continue
		}
		if badLead(c) {
			return score, false
		}
		if i+1 >= len(b) {
			break
		}
		w, n, ok := seq(b, i, prevLetter)
		if !ok {
			return score, false
		}
		if n == 0 {
			break
		}
		if n == 2 && f.has(uint16(c)<<8|uint16(b[i+1])) {
			w += wFrequent
		}
		score += w
		prevLetter = false
		i += n
	}
	return score, true
}

// scoreEUCKR weighs b as EUC-KR (WHATWG: CP949, with the UHC extension).
func scoreEUCKR(b []byte, f *freqSet) (int, bool) {
	return scoreMultibyte(b, f, func(c byte) bool { return c < 0x81 || c == 0xFF },
		func(b []byte, i int, prevLetter bool) (int, int, bool) {
			c, t := b[i], b[i+1]
			switch {
			case c >= 0xA1 && t >= 0xA1 && t <= 0xFE: // KS X 1001
				switch {
				case c >= 0xB0 && c <= 0xC8:
					return wCommon, 2, true
				case c == 0xA1:
					return wPunct, 2, true
				case c >= 0xA2 && c <= 0xAC || c >= 0xCA && c <= 0xFD:
					return wRare, 2, true
				default:
					return wBad, 2, true
				}
			case c <= 0xC6 && (t >= 0x41 && t <= 0x5A || t >= 0x61 && t <= 0x7A || t >= 0x81 && t <= 0xFE):
				return wOdd + glued(b, i, prevLetter), 2, true // UHC: the rarer hangul syllables
			default:
				return 0, 0, false
			}
		})
}

// scoreGBK weighs b as GBK / GB18030.
func scoreGBK(b []byte, f *freqSet) (int, bool) {
	return scoreMultibyte(b, f, func(c byte) bool { return c == 0x80 || c == 0xFF },
		func(b []byte, i int, prevLetter bool) (int, int, bool) {
			c, t := b[i], b[i+1]
			if t >= 0x30 && t <= 0x39 { // GB18030 four-byte sequence
				if i+3 >= len(b) {
					return 0, 0, true
				}
				if b[i+2] < 0x81 || b[i+2] == 0xFF || b[i+3] < 0x30 || b[i+3] > 0x39 {
					return 0, 0, false
				}
				return wBad, 4, true
			}
			if t < 0x40 || t == 0x7F || t == 0xFF {
				return 0, 0, false
			}
			switch {
			case c >= 0xA1 && c <= 0xF7 && t >= 0xA1: // GB2312
				switch {
				case c >= 0xB0 && c <= 0xD7:
					return wCommon, 2, true
				case c == 0xA1 || c == 0xA3:
					return wPunct, 2, true
				case c >= 0xD8:
					return wRare, 2, true
				case c >= 0xAA && c <= 0xAF:
					return wBad, 2, true
				default:
					return wOdd, 2, true
				}
			case c >= 0xAA && c <= 0xAF && t >= 0xA1 || c >= 0xF8 && t >= 0xA1:
				return wBad, 2, true // user-defined
			default:
				return wOdd + glued(b, i, prevLetter), 2, true // GBK extensions
			}
		})
}

// scoreBig5 weighs b as Big5.
func scoreBig5(b []byte, f *freqSet) (int, bool) {
	return scoreMultibyte(b, f, func(c byte) bool { return c < 0x81 || c == 0xFF },
		func(b []byte, i int, prevLetter bool) (int, int, bool) {
			c, t := b[i], b[i+1]
			if t < 0x40 || t > 0x7E && t < 0xA1 || t == 0xFF {
				return 0, 0, false
			}
			code := uint16(c)<<8 | uint16(t)
			g := glued(b, i, prevLetter)
			switch {
			case c == 0xA1:
				return wPunct + g, 2, true
			case code >= 0xA440 && code <= 0xC67E:
				return wCommon + g, 2, true
			case c == 0xA2 || c == 0xA3 || code >= 0xC940 && code <= 0xF9D5:
				return wRare + g, 2, true
			default: // HKSCS, ETEN and user-defined areas
				return wBad + g, 2, true
			}
		})
}

// scoreUTF8 weighs b as UTF-8 with some invalid bytes: mail that is
// UTF-8 but for a stray Latin-1 byte or a cut.
func scoreUTF8(b []byte) int {
	score := 0
	for i := 0; i < len(b); {
		if b[i] < 0x80 {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			score -= 2 * wKana
			i++
			continue
		}
		score += wKana
		i += n
	}
	return score
}

func space(x byte) bool { return x == ' ' || x == '\t' || x == '\n' || x == '\r' }

// win1252Letter reports whether c is a letter in windows-1252.
func win1252Letter(c byte) bool {
	switch {
	case c >= 0xC0:
		return c != 0xD7 && c != 0xF7
	case c == 0x8A, c == 0x8C, c == 0x8E, c == 0x9A, c == 0x9C, c == 0x9E, c == 0x9F:
		return true
	}
	return false
}

// scoreWestern weighs the high bytes of b as windows-1252 (and, as a
// stand-in, the other single-byte Latin charsets).
func scoreWestern(b []byte) int {
	const strong, some = 6, 2
	score := 0
	for i, c := range b {
		if c < 0x80 {
			continue
		}
		var prev, next byte = ' ', ' '
		if i > 0 {
			prev = b[i-1]
		}
		if i+1 < len(b) {
			next = b[i+1]
		}
		switch {
		case win1252Letter(c):
			switch {
			case asciiLetter(prev) || asciiLetter(next):
				score += strong
			case win1252Letter(prev) || win1252Letter(next):
				score++
			case space(prev) || space(next):
				score++
			}
		case c == 0x92: // ’
			if asciiLetter(prev) {
				score += strong
			}
		case c == 0x91 || c == 0x93: // ‘ “
			if asciiAlnum(next) {
				score += some
				if space(prev) {
					score += some
				}
			}
		case c == 0x94: // ”
			if asciiAlnum(prev) || prev == '.' || prev == '!' || prev == '?' {
				score += some
				if space(next) || next == '.' || next == ',' {
					score += some
				}
			}
		case c == 0x96 || c == 0x97: // – —
			if (space(prev) || asciiAlnum(prev)) && (space(next) || asciiAlnum(next)) {
				score += some + some
			}
		case c == 0x85: // …
			if asciiLetter(prev) || space(prev) || space(next) {
				score += some + some
			}
		case c == 0x80 || c == 0xA3 || c == 0xA5: // € £ ¥
			if asciiDigit(next) || asciiDigit(prev) || space(next) && space(prev) {
				score += strong
			}
		case c == 0x99 || c == 0xA9 || c == 0xAE: // ™ © ®
			if space(prev) || space(next) || asciiLetter(prev) {
				score += some + 1
			}
		case c == 0xB0: // °
			if asciiDigit(prev) {
				score += some + some
			}
		case c == 0xA0, c == 0xAB, c == 0xBB, c == 0xB7: // nbsp « » ·
			if prev < 0x80 && next < 0x80 {
				score += some
			}
		case c == 0xA1 || c == 0xBF: // ¡ ¿
			if asciiLetter(next) {
				score += some + some
			}
		case c == 0x95: // •
			if space(prev) || space(next) {
				score += some
			}
		case c == 0x81 || c == 0x8D || c == 0x8F || c == 0x90 || c == 0x9D:
			score -= strong // unassigned in windows-1252
		}
	}
	return score
}

// freqSet is a set of two-byte codes, one bit each.
type freqSet [1 << 16 / 8]byte

func (f *freqSet) has(code uint16) bool { return f[code>>3]&(1<<(code&7)) != 0 }

func (f *freqSet) add(code uint16) { f[code>>3] |= 1 << (code & 7) }

type freqTables struct {
	sjis, eucjp, euckr, gbk, big5 *freqSet
}

var (
	freqOnce sync.Once
	freqTabs freqTables
)

// freqSets builds, once, the sets of the most frequent characters of each
// language in each charset, from the lists below.
func freqSets() *freqTables {
	freqOnce.Do(func() {
		freqTabs = freqTables{
			sjis:  buildFreq(japanese.ShiftJIS, frequentJapanese),
			eucjp: buildFreq(japanese.EUCJP, frequentJapanese),
			euckr: buildFreq(korean.EUCKR, frequentKorean),
			gbk:   buildFreq(simplifiedchinese.GBK, frequentSimplified),
			big5:  buildFreq(traditionalchinese.Big5, frequentTraditional),
		}
	})
	return &freqTabs
}

func buildFreq(enc encoding.Encoding, chars string) *freqSet {
	f := new(freqSet)
	e := enc.NewEncoder()
	for _, r := range chars {
		out, err := e.String(string(r))
		if err == nil && len(out) == 2 {
			f.add(uint16(out[0])<<8 | uint16(out[1]))
		}
	}
	return f
}

// Frequent characters of each language, most frequent first: the kanji of
// Japanese newspaper and business mail, the hangul syllables of Korean
// prose, and the hanzi of Chinese text in simplified and traditional form.
// They only weigh a guess; being incomplete costs nothing but precision.
const (
	frequentJapanese    = "日一国会人年大十二本中長出三同時政事自行社見月分議後前民生連五発間対上部東者党地合市業内相方四定今回新場金員九入選立開手米力学問高代明実円関決子動京全目表戦経通外最言氏現理調体化田当八六約主題下首意法不来作性的要用制治度務強気小七成期公持野協取都和統以機平総加山思家話世受区領多県続進正安設保改数記院女初北午指権心界支第産結百派点教報済書府活原先共得解名交資予川向際査勝面委告軍文反元重近千考判認画海参売利組知案道信策集在件団別物側任引使求所次水半品昨論計死官増係感特情投示変打男基私各始島直両朝革価式確村提運終挙果西勢減台広容必応演電歳住争談能無再位置企真流格有疑口過局少放税検藤町常校料沢裁状工建語球営空職証土与急止送援供可役構木割聞身費付施切由説転食比難防補車優夫研収断井何南石足違消境神番規術護展態導鮮備宅害配副算視条幹独警宮究育席輸訪楽起万着乗店述残想線率病農州武声質念待試族象銀域助労例衛然早張映限親額監環験追審商葉義伝働形景落欧担好退準賞訴辺造英被株頭技低毎医復仕去姿味負閣韓渡失移差衆個門写評課末守若脳極種美岡影命含福蔵量望松非撃佐核観察整段横融型白深字答夜製票況音申様財港識注呼渉達良響阪帰針専推志隊御願添返"
	frequentKorean      = "이다는의에하고을가로지기사서한자리대도를어수시아나정인니으일과해국습있게요세주보전상라부제만들여마위장우면구거원성적소오스연것동공중안분합께드립감회업계관문경신발무실화방생선학내개행비변금단명물말처결조식유미간본통당치불트그영초재모른데운강심청반점록려용표체산호목차약근현출입품토권월년더또때앞후남북저희님메확답받씨"
	frequentSimplified  = "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战向头文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先海通教儿原东声提立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太量再感建务做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光放强即像难且权思王象完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导争运笑飞风步改收根干造言联持组每济车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调深商算质团集百需价花党华城石级整府离况亚请技际约示复病息究线似官火断精满支视消越器容照须九增研写称企八功吗包片史委乎查轻易早曾除农找装广显吧阿李标谈吃图念六引历首医局突专费号尽另周较注语仅考落青随选列"
	frequentTraditional = "的一是不了在人有我他這個們中來上大為和國地到以說時要就出會可也你對生能而子那得於著下自之年過發後作裡用道行所然家種事成方多經麼去法學如都同現當沒動面起看定天分還進好小部其些主樣理心她本前開但因只從想實日軍者意無力它與長把機十民第公此已工使情明性知全三又關點正業外將兩高間由問很最重並物手應戰向頭文體政美相見被利什二等產或新己制身果加西斯月話合回特代內信表化老給世位次度門任常先海通教兒原東聲提立及比員解水名真論處走義各入幾口認條平系氣題活爾更別打女變四神總何電數安少報才結反受目太量再感建務做接必場件計管期市直德資命山金指克許統區保至隊形社便空決治展馬科司五基眼書非則聽白卻界達光放強即像難且權思王象完設式色路記南品住告類求據程北邊死張該交規萬取拉格望覺術領共確傳師觀清今切院讓識候帶導爭運笑飛風步改收根乾造言聯持組每濟車親極林服快辦議往元英士證近失轉夫令準布始怎呢存未遠叫台單影具羅字愛擊流備兵連調深商算質團集百需價花黨華城石級整府離況亞請技際約示復病息究線似官火斷精滿支視消越器容照須九增研寫稱企八功嗎包片史委乎查輕易早曾除農找裝廣顯吧阿李標談吃圖念六引歷首醫局突專費號盡另周較注語僅考落青隨選列"
)
