package urls

import (
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// redirector is a known redirecting service: a URL on it carries its
// target in a query parameter, which can be read offline.
type redirector struct {
	host   func(host string) bool
	path   string   // the path prefix, "" for any
	params []string // the parameters that may carry the target, in order
	whole  bool     // the whole query is the target
}

func suffix(s string) func(string) bool {
	return func(h string) bool { return h == s || strings.HasSuffix(h, "."+s) }
}

func exact(s string) func(string) bool { return func(h string) bool { return h == s } }

// isGoogle matches google.TLD and www.google.TLD, such as google.co.jp.
func isGoogle(h string) bool {
	h = strings.TrimPrefix(h, "www.")
	ps, icann := publicsuffix.PublicSuffix(h)
	return icann && h == "google."+ps
}

var redirectors = []redirector{
	{host: isGoogle, path: "/url", params: []string{"q", "url"}},
	{host: suffix("safelinks.protection.outlook.com"), params: []string{"url"}},
	{host: exact("l.facebook.com"), path: "/l.php", params: []string{"u"}},
	{host: exact("lm.facebook.com"), path: "/l.php", params: []string{"u"}},
	{host: exact("l.instagram.com"), params: []string{"u"}},
	{host: exact("www.youtube.com"), path: "/redirect", params: []string{"q"}},
	{host: exact("away.vk.com"), path: "/away.php", params: []string{"to"}},
	{host: exact("slack-redir.net"), path: "/link", params: []string{"url"}},
	{host: exact("www.linkedin.com"), path: "/redir/redirect", params: []string{"url"}},
	{host: exact("href.li"), whole: true},
	{host: exact("t.umblr.com"), path: "/redirect", params: []string{"z"}},
	{host: exact("clicktime.symantec.com"), params: []string{"u"}},
}

// Redirect returns the target of u when u is on a known redirector and
// its target, in a query parameter, is itself an absolute web URL.
func Redirect(u URL, maxLen int) (URL, bool) {
	for _, r := range redirectors {
		if !r.host(u.Host) {
			continue
		}
		path, query, _ := strings.Cut(u.Rest, "?")
		if r.path != "" && !strings.HasPrefix(path, r.path) {
			continue
		}
		query, _, _ = strings.Cut(query, "#")
		if r.whole {
			// href.li/?TARGET: the whole query is the target.
			if t, ok := target(query, maxLen); ok {
				return t, true
			}
			continue
		}
		for _, p := range r.params {
			if v, ok := queryParam(query, p); ok {
				if t, ok := target(v, maxLen); ok {
					return t, true
				}
			}
		}
	}
	return URL{}, false
}

func target(v string, maxLen int) (URL, bool) {
	low := strings.ToLower(v)
	if !strings.HasPrefix(low, "http://") && !strings.HasPrefix(low, "https://") {
		return URL{}, false
	}
	return Parse(v, maxLen)
}

// queryParam is the first value of parameter name in a raw query,
// unescaped; a value that does not unescape is taken as written.
func queryParam(q, name string) (string, bool) {
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != name {
			continue
		}
		if s, err := url.QueryUnescape(v); err == nil {
			return s, true
		}
		return v, true
	}
	return "", false
}
