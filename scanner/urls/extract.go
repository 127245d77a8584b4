// Package urls finds the URLs of a message and normalises them, for the
// URL checks (check/url): in plain text, in HTML (href, src, action and
// the text shown), and in text attachments.
//
// Plain text is searched with mvdan.cc/xurls, whose matches then end
// before CJK punctuation and full-width characters (「」、。（）): in
// Japanese text a URL is often followed by such a character without a
// space, and "https://example.com/a。" must give https://example.com/a, not
// a URL on a path nobody wrote. After the host, any CJK character ends
// the URL; in the host, CJK letters are an IDN name, but a top-level label
// that turns from ASCII into CJK ("example.comです") ends at the turn.
//
// Each URL is normalised (see [Parse]): host lower case, percent-decoded,
// IDN in punycode, IPv4 in any inet_aton form read as an address, and the
// registrable domain from the public suffix list. A URL on a known
// redirector (Google's /url?q=, Outlook safe links, Facebook's l.php, ...)
// also gives its target, decoded offline, up to [Limits].MaxRedirects
// deep.
//
// Everything is bounded ([Limits]): the URLs kept per message, the bytes
// of one URL, the text searched, the redirects followed. Reaching a bound
// is reported by [Collector.Full] and [Collector.Exclusions], never a
// failure.
package urls

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"mvdan.cc/xurls/v2"
)

// Limits bound the work of a [Collector]. A zero field means its default.
type Limits struct {
	// MaxURLs is the most distinct URLs kept per message (default 1000).
	MaxURLs int
	// MaxLinks is the most HTML links with their text kept (default 1000).
	MaxLinks int
	// MaxLen is the most bytes of one URL considered (default 2048).
	MaxLen int
	// MaxRedirects is the most redirector hops decoded from one URL
	// (default 3).
	MaxRedirects int
	// MaxBytes is the most bytes of text searched per message (default
	// 4 MiB: the search runs at some 8 MB/s, 2 MB/s on text made to slow
	// it, see the benchmarks).
	MaxBytes int
}

// DefaultLimits are the default [Limits].
func DefaultLimits() Limits {
	return Limits{MaxURLs: 1000, MaxLinks: 1000, MaxLen: 2048, MaxRedirects: 3, MaxBytes: 4 << 20}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxURLs <= 0 {
		l.MaxURLs = d.MaxURLs
	}
	if l.MaxLinks <= 0 {
		l.MaxLinks = d.MaxLinks
	}
	if l.MaxLen <= 0 {
		l.MaxLen = d.MaxLen
	}
	if l.MaxRedirects <= 0 {
		l.MaxRedirects = d.MaxRedirects
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	return l
}

// Link is an HTML link whose text shows something: the check compares
// the domain shown with the domain linked to.
type Link struct {
	// Href is the link's target, normalised; Targets are the targets
	// decoded from it through redirectors, outermost first.
	Href    URL
	Targets []URL
	// Text is the text shown, whitespace collapsed, cut to 256 bytes.
	Text  string
	Where string
}

// Collector gathers the URLs of one message. It is not safe for
// concurrent use.
type Collector struct {
	lim     Limits
	seen    map[string]bool
	urls    []URL
	links   []Link
	scanned int
	full    []string // the limits reached, e.g. "urls.max_urls=1000"
}

// New returns an empty collector.
func New(lim Limits) *Collector {
	return &Collector{lim: lim.withDefaults(), seen: map[string]bool{}}
}

// URLs are the distinct URLs found, in the order found; a redirector's
// target follows it.
func (c *Collector) URLs() []URL { return c.urls }

// Links are the HTML links found with the text they show.
func (c *Collector) Links() []Link { return c.links }

// Full reports whether a bound was reached, so that some URLs went
// unexamined.
func (c *Collector) Full() bool { return len(c.full) > 0 }

// Exclusions name the bounds reached, as "urls.max_urls=1000".
func (c *Collector) Exclusions() []string { return c.full }

func (c *Collector) reach(limit string) {
	for _, f := range c.full {
		if f == limit {
			return
		}
	}
	c.full = append(c.full, limit)
}

// budget cuts s to the bytes of text still to be searched.
func (c *Collector) budget(s string) string {
	room := c.lim.MaxBytes - c.scanned
	if room <= 0 {
		if s != "" {
			c.reach("urls.max_bytes=" + itoa(c.lim.MaxBytes))
		}
		return ""
	}
	if len(s) > room {
		s = cutValid(s, room)
		c.reach("urls.max_bytes=" + itoa(c.lim.MaxBytes))
	}
	c.scanned += len(s)
	return s
}

// add keeps u and the targets of its redirectors; it returns them.
func (c *Collector) add(u URL) []URL {
	var targets []URL
	for depth := 0; ; depth++ {
		c.keep(u)
		if depth == c.lim.MaxRedirects {
			if _, ok := Redirect(u, c.lim.MaxLen); ok {
				c.reach("urls.max_redirects=" + itoa(c.lim.MaxRedirects))
			}
			return targets
		}
		t, ok := Redirect(u, c.lim.MaxLen)
		if !ok {
			return targets
		}
		t.Where = u.Where
		t.Via = append(append([]string(nil), u.Via...), u.Host)
		targets = append(targets, t)
		u = t
	}
}

func (c *Collector) keep(u URL) {
	k := u.String()
	if u.IP.IsValid() {
		// An IP host keeps each way it was written apart: a disguised
		// form (http://0x7f.1/, a user name before it, percent escapes)
		// after the plain one is what a disguise test looks for.
		k += "\x00" + strings.ToLower(authority(u.Raw))
	}
	if c.seen[k] {
		return
	}
	if len(c.urls) >= c.lim.MaxURLs {
		c.reach("urls.max_urls=" + itoa(c.lim.MaxURLs))
		return
	}
	c.seen[k] = true
	c.urls = append(c.urls, u)
}

// authority is the part of a raw URL between its scheme's "//" and the
// path.
func authority(raw string) string {
	a := raw
	if i := strings.Index(a, "//"); i >= 0 {
		a = a[i+2:]
	}
	if i := strings.IndexAny(a, "/?#\\"); i >= 0 {
		a = a[:i]
	}
	return a
}

// textExp is xurls' strict expression: a scheme, then what may follow it.
var textExp = xurls.Strict()

// Text searches plain text for URLs with a web scheme (http, https, ftp)
// or written as "www.".
//
// The regular expression of xurls is slow on long text (its alternation
// of every top-level domain), so it only runs on short windows: each
// starts at a candidate ("://" with its scheme before it, or "www.") and
// ends where no URL can go on: at white space, a [stopRune], a character
// no URL holds, a CJK character after the host, or the length bound. The
// work is linear in the text.
func (c *Collector) Text(s, where string) {
	s = c.budget(s)
	var cand candidates
	for i := 0; i < len(s); {
		start, next := cand.next(s, i)
		if start < 0 {
			return
		}
		i = next
		w := s[start:windowEnd(s, start, c.lim.MaxLen)]
		prefix := 0
		if !strings.Contains(w[:min(len(w), 33)], "://") {
			w, prefix = "http://"+w, len("http://") // a www. URL
		}
		loc := textExp.FindStringIndex(w)
		if loc == nil || loc[0] != 0 || loc[1] <= prefix {
			continue
		}
		m := Trim(w[:loc[1]])[prefix:]
		low := strings.ToLower(m[:min(len(m), 8)])
		if !strings.HasPrefix(low, "http://") && !strings.HasPrefix(low, "https://") &&
			!strings.HasPrefix(low, "ftp://") && !strings.HasPrefix(low, "www.") {
			continue
		}
		i = max(i, start+len(m))
		if u, ok := Parse(m, c.lim.MaxLen); ok {
			u.Where = where
			c.add(u)
		}
	}
}

// candidates finds where URLs may start. It remembers the next "://"
// and "www." found, so that each is searched for once: the work is linear
// in the text.
type candidates struct {
	a, w     int // absolute positions, -1 for none left
	aOk, wOk bool
}

// next is the start of the next possible URL in s from i on: the scheme
// before a "://", or a "www." not glued to a word before it; -1 when there
// is none. next is where to search on should it be none.
func (c *candidates) next(s string, i int) (start, next int) {
	for i < len(s) {
		if !c.aOk || c.a >= 0 && c.a < i {
			c.a, c.aOk = strings.Index(s[i:], "://"), true
			if c.a >= 0 {
				c.a += i
			}
		}
		if !c.wOk || c.w >= 0 && c.w < i {
			c.w, c.wOk = indexWWW(s, i), true
		}
		a, w := c.a, c.w
		if a < 0 && w < 0 {
			return -1, len(s)
		}
		if a >= 0 {
			j := a
			for j > i && a-j < 32 && schemeByte(s[j-1]) {
				j--
			}
			for j < a && !isLetter(s[j]) {
				j++ // a scheme starts with a letter
			}
			if j < a && (w < 0 || j <= w) {
				return j, a + 3
			}
			if w < 0 || w > a {
				i = a + 3
				continue
			}
		}
		return w, w + 4
	}
	return -1, len(s)
}

// indexWWW is the first "www." (any case) at or after i that no letter,
// digit, dot or hyphen precedes, or -1.
func indexWWW(s string, i int) int {
	for i < len(s) {
		j := strings.IndexAny(s[i:], "wW")
		if j < 0 {
			return -1
		}
		j += i
		if j+4 <= len(s) && strings.EqualFold(s[j:j+4], "www.") {
			if j == 0 || !(schemeByte(s[j-1]) || s[j-1] == '_') {
				return j
			}
			// Skip the whole run of w's, then go on.
		}
		for j < len(s) && (s[j] == 'w' || s[j] == 'W') {
			j++
		}
		i = j
	}
	return -1
}

func schemeByte(c byte) bool {
	return isLetter(c) || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// windowEnd is where a URL starting at start must end at the latest.
func windowEnd(s string, start, maxLen int) int {
	limit := min(len(s), start+2*maxLen)
	hostStart := start
	if k := strings.Index(s[start:limit], "://"); k >= 0 && k < 33 {
		hostStart = start + k + 3
	}
	inHost := true
	for i := hostStart; i < limit; {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case stopRune(r), r < ' ', r == '<', r == '>', r == '"', r == '`', r == 0x7f:
			return i
		case inHost && (r == '/' || r == '?' || r == '#' || r == '\\'):
			inHost = false
		case inHost && i-hostStart > 256:
			return i // no host is longer
		case !inHost && isCJK(r):
			return i
		}
		i += n
	}
	return limit
}

// Trim ends a URL matched in text where the text around it takes over:
// before CJK punctuation and full-width forms anywhere, before any CJK
// character after the host, and at a top-level label turning from ASCII
// to CJK. Then it drops trailing ASCII punctuation that ends a sentence.
func Trim(m string) string {
	hostStart := 0
	if i := strings.Index(m, "://"); i >= 0 {
		hostStart = i + 3
	} else if strings.HasPrefix(m, "//") {
		hostStart = 2
	}
	hostEnd := len(m)
	if j := strings.IndexAny(m[hostStart:], "/?#\\"); j >= 0 {
		hostEnd = hostStart + j
	}
	lastDot := strings.LastIndexByte(m[hostStart:hostEnd], '.')
	if lastDot >= 0 {
		lastDot += hostStart
	}
	prevASCII := false
	for i, r := range m {
		switch {
		case stopRune(r):
			m = m[:i]
		case i >= hostEnd && isCJK(r):
			m = m[:i]
		case i < hostEnd && i > lastDot && lastDot >= 0 && prevASCII && r >= utf8.RuneSelf:
			m = m[:i]
		default:
			prevASCII = r < utf8.RuneSelf && r != '.'
			continue
		}
		break
	}
	return strings.TrimRight(m, ".,;:!?'\"")
}

// stopRune reports a character no URL in text runs into: CJK symbols and
// punctuation (U+3000-303F: 、。「」『』【】〈〉 and the ideographic space),
// full-width and half-width forms (U+FF00-FFEF: （）！，．：ａ…), and
// the replacement character of undecodable bytes.
func stopRune(r rune) bool {
	return r >= 0x3000 && r <= 0x303f || r >= 0xff00 && r <= 0xffef || r == utf8.RuneError ||
		unicode.IsSpace(r) || r == 0x200b // zero-width space
}

// isCJK reports the scripts of Japanese, Chinese and Korean text: kana,
// CJK ideographs and Hangul, whose letters end a URL's path in text.
func isCJK(r rune) bool {
	return r >= 0x2e80 && r <= 0x9fff || r >= 0xac00 && r <= 0xd7af || r >= 0xf900 && r <= 0xfaff ||
		r >= 0x20000 && r <= 0x3ffff
}

func itoa(n int) string { return strconv.Itoa(n) }
