package urls

import (
	"strings"

	"golang.org/x/net/html"

	"github.com/mailwarden/mailwarden/scanner/htmltext"
)

// urlAttrs are the attributes that hold a URL a reader may follow or a
// client may fetch.
var urlAttrs = map[string]bool{"href": true, "src": true, "action": true, "background": true, "formaction": true}

// maxLinkText bounds the text kept for one link.
const maxLinkText = 256

// HTML searches an HTML document: the URLs of href, src, action and
// background attributes, the URLs written in its text as scanner/htmltext
// renders it (after those of the attributes), and for each link the text
// it shows.
func (c *Collector) HTML(s, where string) {
	s = c.budget(s)
	z := html.NewTokenizer(strings.NewReader(s))
	z.SetMaxBuf(1 << 20)
	var (
		inLink  bool
		href    URL
		targets []URL
		text    strings.Builder
		skip    int // inside <script> or <style>
	)
	endLink := func() {
		if inLink {
			if t := collapse(text.String()); t != "" {
				if len(c.links) < c.lim.MaxLinks {
					c.links = append(c.links, Link{Href: href, Targets: targets, Text: t, Where: where})
				} else {
					c.reach("urls.max_links=" + itoa(c.lim.MaxLinks))
				}
			}
		}
		inLink, targets = false, nil
		text.Reset()
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			endLink()
			// The text is searched as a reader sees it, rendered as for
			// keyword and DLP matching (a URL split by <b></b> is one),
			// within the budget already counted for the whole document.
			t := htmltext.Render(s, htmltext.Limits{MaxBytes: max(len(s), 1)}).Text
			c.scanned -= min(len(s), c.scanned)
			c.Text(t, where)
			return
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			if inLink && text.Len() < maxLinkText {
				text.WriteString(t)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			switch tag {
			case "script", "style":
				if tt == html.StartTagToken {
					skip++
				}
			case "a", "area":
				endLink()
			}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				key := string(k)
				// An image's alt text is what a reader sees of it.
				if tag == "img" && key == "alt" && inLink && text.Len() < maxLinkText {
					text.WriteString(" " + string(v) + " ")
				}
				if !urlAttrs[key] {
					continue
				}
				u, ok := Parse(string(v), c.lim.MaxLen)
				if !ok || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ftp") {
					continue
				}
				u.Where = where
				ts := c.add(u)
				if tag == "a" && key == "href" && tt == html.StartTagToken {
					inLink, href, targets = true, u, ts
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "a":
				endLink()
			case "script", "style":
				if skip > 0 {
					skip--
				}
			}
		}
	}
}

// collapse folds whitespace runs into one space and cuts to maxLinkText.
func collapse(s string) string {
	return cutValid(strings.Join(strings.Fields(s), " "), maxLinkText)
}
