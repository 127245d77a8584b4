package spamtest

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/url"
	"github.com/mailwarden/mailwarden/scanner/bayes"
	"github.com/mailwarden/mailwarden/scanner/urls"
)

// The URL tests: scored counterparts of check/url's url.shortener, url.ip
// and url.mismatch, which carry no score and so do not count in [spam]'s
// default inputs. They use check/url's shortener list and link-text
// comparison, but their own URL search, bounded like many_domains' (256
// KiB of text, 500 URLs, 100 links) within this check's 2 s budget:
// check/url's search, shared by url and uribl, reads up to 4 MiB and the
// text of document attachments, which could take this check past its
// budget and so lose every test of the message.
var urlTests = []test{
	{"url_shortener", 1.0, "a link goes through a URL shortener, which hides where it leads", urlShortener},
	{"url_ip", 2.5, "a link's host is a public IP address, or an IP address written to disguise it", urlIP},
	{"url_text_mismatch", 1.3, "an HTML link's text shows another domain than the one it leads to", urlTextMismatch},
}

// The URL tests run after the others: order only affects reporting.
func init() { tests = append(tests, urlTests...) }

// urlLimits bound the URL search of the URL tests: the classifier's, so
// that the search is shared ([check.URLs]): 500 URLs, 100 links, 256 KB.
var urlLimits = bayes.URLLimits

// urlSearch is the URLs of s's message, searched on the first URL test
// that asks, so that the URL tests search the text once.
func (s *state) urlSearch() *urls.Collector {
	if s.urls != nil {
		return s.urls
	}
	if mayHoldURL(s.m.Text) {
		s.urls = check.URLs(&check.Input{Message: s.m, Shared: s.shared}, urlLimits)
	} else {
		s.urls = urls.New(urlLimits)
	}
	return s.urls
}

// mayHoldURL reports whether t has anything a URL can start with: "//"
// (a scheme's "://" or a scheme-relative href) or "www." in any case.
// Without one the search, the slowest of the tests, is not run.
func mayHoldURL(t string) bool {
	if strings.Contains(t, "//") {
		return true
	}
	for i := 0; i+4 <= len(t); i++ {
		j := strings.IndexAny(t[i:], "wW")
		if j < 0 {
			return false
		}
		i += j
		if i+4 <= len(t) && strings.EqualFold(t[i:i+4], "www.") {
			return true
		}
	}
	return false
}

// firstParty are shorteners of one site, whose links lead only to that
// site (a YouTube video, an Amazon page): they hide nothing of where the
// link goes, and people share them.
var firstParty = map[string]bool{"youtu.be": true, "amzn.to": true}

// shorteners is check/url's built-in list, less firstParty. [urls]
// shorteners does not reach the tests, which see only the message.
var shorteners = func() map[string]bool {
	m := map[string]bool{}
	for _, h := range url.Shorteners {
		if h = strings.ToLower(h); !firstParty[h] {
			m[h] = true
		}
	}
	return m
}()

// shortenerOf is the shortener u is on: its host or a parent domain of it,
// down to the registrable domain, in the list ("bit.ly" for
// "on.BIT.LY"); "" when none.
func shortenerOf(u urls.URL) string {
	if u.Domain == "" {
		return ""
	}
	for h := u.Host; len(h) >= len(u.Domain); {
		if shorteners[h] {
			return h
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			break
		}
		h = h[i+1:]
	}
	return ""
}

func urlShortener(s *state) (hit, bool) {
	for _, u := range s.urlSearch().URLs() {
		if sh := shortenerOf(u); sh != "" {
			return hit{value: u.Raw, where: u.Where, reason: fmt.Sprintf("the link %s goes through the URL shortener %s, which hides where it leads", clip(u.String(), 100), sh)}, true
		}
	}
	return hit{}, false
}

// urlIP holds for a URL whose host is an IP address that is public, or
// that is written to disguise it (see [ipDisguise]) whatever its range.
// A plain private, loopback or link-local address does not hold: in
// inbound mail it leads nowhere a sender controls, and in technical mail
// it is the reader's own network ("the dashboard is at
// http://10.0.0.5:3000"). A disguised one holds because nobody writes
// http://0x7f.1/ or http://www.bank.example@10.0.0.1/ to be understood.
func urlIP(s *state) (hit, bool) {
	var plain *urls.URL
	for _, u := range s.urlSearch().URLs() {
		if !u.IP.IsValid() {
			continue
		}
		if how := ipDisguise(u); how != "" {
			return hit{value: u.Raw, where: u.Where, reason: fmt.Sprintf("the link's host is the IP address %s, written %s", u.IP, how)}, true
		}
		if plain == nil && publicIP(u.IP) {
			plain = &u
		}
	}
	if plain == nil {
		return hit{}, false
	}
	return hit{value: plain.Raw, where: plain.Where, reason: fmt.Sprintf("the link's host is the IP address %s rather than a domain name", plain.IP)}, true
}

// publicIP reports whether a is an address on the internet: not private,
// loopback, link-local, shared (CGNAT), multicast or unspecified.
func publicIP(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate() && !cgnat.Contains(a)
}

// ipDisguise says how u's IP host is written when not as a reader would
// recognise an address: in decimal, hex, octal or short form
// (3232235777, 0x7f.1, 0300.0250.0.1, 10.1), percent-escaped
// (%31%32%37.0.0.1), as an IPv4 address inside IPv6 ([::ffff:7f00:1]), or
// after a user name that reads as a host (www.bank.example@192.0.2.1);
// "" when written plainly.
func ipDisguise(u urls.URL) string {
	auth := u.Raw
	if i := strings.Index(auth, "://"); i >= 0 {
		auth = auth[i+3:]
	} else {
		auth = strings.TrimPrefix(auth, "//")
	}
	if i := strings.IndexAny(auth, "/?#\\"); i >= 0 {
		auth = auth[:i]
	}
	host := auth
	if i := strings.LastIndexByte(auth, '@'); i >= 0 {
		if user := auth[:i]; strings.Contains(user, ".") {
			return fmt.Sprintf("after the user name %q, which reads as a host name", clip(user, 60))
		}
		host = auth[i+1:]
	}
	if strings.HasPrefix(host, "[") {
		if u.IP.Is4() {
			return "as an IPv6 address holding it"
		}
		return ""
	}
	if strings.Contains(host, "%") {
		return "with percent-escapes"
	}
	if u.IPForm != "" {
		return "in " + u.IPForm + " form"
	}
	return ""
}

func urlTextMismatch(s *state) (hit, bool) {
	for _, l := range s.urlSearch().Links() {
		if shown, ok := url.Mismatch(l); ok {
			return hit{value: l.Href.Raw, where: l.Where, reason: fmt.Sprintf("the link text %q shows %s but the link leads to %s", clip(l.Text, 60), shown, linkSite(l.Href))}, true
		}
	}
	return hit{}, false
}

// linkSite is what [url.Mismatch] compares: the registrable domain, or
// the host when there is none.
func linkSite(u urls.URL) string {
	if u.Domain != "" {
		return u.Domain
	}
	return u.Host
}
