// Package htmltext renders HTML to the text a reader sees, for the checks
// that match text (keyword lists, DLP templates, URLs in text): one
// renderer, so that they all see the same words.
//
// The document is read by golang.org/x/net/html's tokenizer, which never
// fails and takes broken HTML the way browsers do. What is not shown is
// dropped: comments (Outlook's conditional ones too), and the content of
// title, script, style and template (which is what a head holds: an
// unclosed head cannot hide the body). Character references are
// decoded. Block elements (p, div, li, tr, h1, table, ...) and <br> end a
// line, cells are separated by a space, and runs of white space are one
// space; inline elements (b, span, a, font, ...) add nothing, so that a word
// split by <b></b> still reads as one. An image's alt text is what a mail
// client shows when it does not load images: it is kept in the text, in
// place, between spaces.
//
// Hidden text, which spam uses to feed filters words a reader never sees,
// stays in the text (DLP must see it all the same) but is noted: see
// [Result.Hidden]. Only inline style attributes and the hidden attribute
// are read; style sheets are not.
//
// The work is bounded: [Limits] caps the output and the tokens read, and
// one token (a tag or a text run) longer than 1 MiB ends the document.
// Reaching a bound is [Result.Truncated], not an error.
package htmltext

import (
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// Limits bounds [Render]. Zero fields mean their defaults.
type Limits struct {
	// MaxBytes caps the text written. Default 20 MiB.
	MaxBytes int
	// MaxTokens caps the tokens (tags, text runs, comments) read. Default
	// 1,000,000.
	MaxTokens int
}

// Defaults for [Limits].
const (
	DefaultMaxBytes  = 20 << 20
	DefaultMaxTokens = 1_000_000
	maxTokenBytes    = 1 << 20
	maxStack         = 256 // open elements tracked for hidden text
)

// Result is a rendered document.
type Result struct {
	// Text is the text a reader sees, lines separated by "\n".
	Text string
	// Hidden is set when the document has text a reader does not see: an
	// element with display:none, visibility:hidden, font-size 0, a text
	// color equal to its background color in its style attribute, or the
	// hidden attribute. HiddenBytes counts that text.
	Hidden      bool
	HiddenBytes int
	// Truncated is set when a [Limits] bound ended the rendering.
	Truncated bool
	// Tags are the distinct names of the start tags, in the order first
	// seen, lower case, letters and digits only (not "o:p"), at most
	// MaxTags: what a sender's template is made of.
	Tags []string
}

// MaxTags is how many distinct tag names [Result.Tags] keeps.
const MaxTags = 100

// blocks are the elements that start and end a line.
var blocks = map[string]bool{
	"address": true, "article": true, "aside": true, "blockquote": true, "body": true, "br": true,
	"center": true, "dd": true, "details": true, "dialog": true, "dir": true, "div": true, "dl": true,
	"dt": true, "fieldset": true, "figcaption": true, "figure": true, "footer": true, "form": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "header": true, "hr": true,
	"html": true, "legend": true, "li": true, "main": true, "menu": true, "nav": true, "ol": true,
	"p": true, "pre": true, "section": true, "summary": true, "table": true, "tbody": true,
	"tfoot": true, "thead": true, "tr": true, "ul": true, "caption": true, "option": true,
}

// cells are separated from the next by a space.
var cells = map[string]bool{"td": true, "th": true}

// dropped are the elements whose content is not shown.
// The head itself is not dropped: browsers end it at the first element or
// text that does not belong there, so what is left of it is the content of
// these and void elements (meta, link).
var dropped = map[string]bool{"title": true, "script": true, "style": true, "template": true}

// void elements have no end tag, so they open nothing.
var void = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "param": true, "source": true, "track": true, "wbr": true,
}

// Render renders an HTML document to text; see the package doc.
func Render(s string, lim Limits) Result {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultMaxBytes
	}
	if lim.MaxTokens <= 0 {
		lim.MaxTokens = DefaultMaxTokens
	}
	r := renderer{lim: lim}
	r.b.Grow(min(len(s), lim.MaxBytes))
	z := html.NewTokenizer(strings.NewReader(s))
	z.SetMaxBuf(maxTokenBytes)
	for tokens := 0; !r.res.Truncated; tokens++ {
		if tokens == lim.MaxTokens {
			r.res.Truncated = true
			break
		}
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() == html.ErrBufferExceeded {
				r.res.Truncated = true
			}
			return r.finish()
		case html.TextToken:
			if r.drop > 0 {
				continue
			}
			r.text(string(z.Text()))
		case html.StartTagToken, html.SelfClosingTagToken:
			r.start(z, tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			name, _ := z.TagName()
			r.end(string(name))
		}
	}
	return r.finish()
}

// renderer is the state of one rendering.
type renderer struct {
	lim   Limits
	b     strings.Builder
	res   Result
	drop  int    // inside this many dropped elements
	stack []open // open elements, for hidden text
	hide  int    // open elements that hide their content
	space bool   // a space is due before the next word
	nl    int    // line ends due before the next word (at most 2)
}

type open struct {
	name   string
	hidden bool
	drop   bool
}

func (r *renderer) start(z *html.Tokenizer, selfClosing bool) {
	name, hasAttr := z.TagName()
	tag := string(name)
	if len(r.res.Tags) < MaxTags && plainTag(tag) && !slices.Contains(r.res.Tags, tag) {
		r.res.Tags = append(r.res.Tags, tag)
	}
	var style, alt string
	hidden := false
	for hasAttr {
		var k, v []byte
		k, v, hasAttr = z.TagAttr()
		switch string(k) {
		case "style":
			style = string(v)
		case "alt":
			alt = string(v)
		case "hidden":
			hidden = true
		}
	}
	if style != "" && hiddenStyle(style) {
		hidden = true
	}
	r.breakFor(tag)
	if tag == "img" && alt != "" && r.drop == 0 {
		r.space = true
		r.textHidden(alt, hidden)
		r.space = true
	}
	if void[tag] || selfClosing {
		return
	}
	o := open{name: tag, hidden: hidden, drop: dropped[tag]}
	if len(r.stack) == maxStack {
		// Too deep to track: the element neither hides nor drops its
		// content, which is then matched as shown text.
		return
	}
	r.stack = append(r.stack, o)
	if o.hidden {
		r.hide++
	}
	if o.drop {
		r.drop++
	}
}

func (r *renderer) end(tag string) {
	r.breakFor(tag)
	// Close up to the innermost open element of that name, as browsers
	// do; an end tag nothing matches is ignored.
	for i := len(r.stack) - 1; i >= 0; i-- {
		if r.stack[i].name != tag {
			continue
		}
		for _, o := range r.stack[i:] {
			if o.hidden {
				r.hide--
			}
			if o.drop {
				r.drop--
			}
		}
		r.stack = r.stack[:i]
		return
	}
}

// breakFor notes the line end or space a tag makes.
func (r *renderer) breakFor(tag string) {
	switch {
	case tag == "br":
		r.nl = min(r.nl+1, 2)
	case blocks[tag]:
		r.nl = max(r.nl, 1)
	case cells[tag]:
		r.space = true
	}
}

func (r *renderer) text(s string) { r.textHidden(s, false) }

// textHidden writes s, white space collapsed, as hidden text when hidden
// or inside a hiding element.
func (r *renderer) textHidden(s string, hidden bool) {
	hidden = hidden || r.hide > 0
	for s != "" {
		i := strings.IndexFunc(s, isSpace)
		word := s
		if i >= 0 {
			word, s = s[:i], strings.TrimLeftFunc(s[i:], isSpace)
			if word == "" {
				r.space = true
				continue
			}
		} else {
			s = ""
		}
		r.word(word, hidden)
		if i >= 0 {
			r.space = true
		}
	}
}

func (r *renderer) word(w string, hidden bool) {
	if r.b.Len() > 0 {
		switch {
		case r.nl > 0:
			r.write("\n\n"[:r.nl])
		case r.space:
			r.write(" ")
		}
	}
	r.nl, r.space = 0, false
	n := r.b.Len()
	r.write(w)
	if hidden {
		r.res.Hidden = true
		r.res.HiddenBytes += r.b.Len() - n
	}
}

// write appends s within MaxBytes, cut at a rune boundary.
func (r *renderer) write(s string) {
	room := r.lim.MaxBytes - r.b.Len()
	if len(s) > room {
		cut := room
		for cut > 0 && s[cut]&0xc0 == 0x80 {
			cut--
		}
		s = s[:cut]
		r.res.Truncated = true
	}
	r.b.WriteString(s)
}

func (r *renderer) finish() Result {
	r.res.Text = r.b.String()
	return r.res
}

func isSpace(c rune) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\u00a0', '\u200b', '\u3000':
		return true
	}
	return false
}

// hiddenStyle reports whether an inline style hides its element's text.
func hiddenStyle(style string) bool {
	var color, bg string
	for _, decl := range strings.Split(strings.ToLower(style), ";") {
		k, v, ok := strings.Cut(decl, ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "!important"))
		switch k {
		case "display":
			if v == "none" {
				return true
			}
		case "visibility":
			if v == "hidden" || v == "collapse" {
				return true
			}
		case "font-size", "max-height", "height", "max-width", "width":
			if zeroLength(v) && (k == "font-size" || strings.Contains(style, "overflow")) {
				return true
			}
		case "opacity":
			if zeroLength(v) {
				return true
			}
		case "color":
			color = v
		case "background-color", "background":
			bg = v
		}
	}
	return color != "" && color == bg
}

// zeroLength reports whether a CSS length is zero: "0", "0px", "0.0em".
func zeroLength(v string) bool {
	v = strings.TrimRight(v, "abcdefghijklmnopqrstuvwxyz%")
	if v == "" {
		return false
	}
	for _, c := range v {
		if c != '0' && c != '.' {
			return false
		}
	}
	return true
}

// plainTag reports whether a tag name is letters and digits, as HTML's
// are, and no longer than 30.
func plainTag(name string) bool {
	if name == "" || len(name) > 30 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
