// Package authres builds the Authentication-Results header field (RFC
// 8601) that mailwarden adds to delivered inbound mail, from the spf,
// dkim and dmarc findings, with github.com/emersion/go-msgauth/authres;
// and tells which existing fields claim our authserv-id, so they are
// removed before ours is added (RFC 8601 §5; a forged one would vouch for
// the message in our name, CVE-2020-12272). It owns the [auth] section.
package authres

import (
	"os"
	"strings"

	msgauthres "github.com/emersion/go-msgauth/authres"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
)

// Header is the field name.
const Header = "Authentication-Results"

// Config is the [auth] section.
type Config struct {
	// AuthservID names this host in Authentication-Results (RFC 8601
	// §2.5); empty means the host name. Fields already carrying it are
	// removed from inbound mail, so downstream filters can trust ours.
	AuthservID string `toml:"authserv_id"`
	// Header adds Authentication-Results to delivered inbound mail (true),
	// with the SPF, DKIM and DMARC results of the checks that ran.
	Header bool `toml:"header"`
	// Verify is when SPF, DKIM and DMARC run: "rules" (default) when a
	// rule names their findings (the default rules name dmarc.reject and
	// dmarc.quarantine, and DMARC brings SPF and DKIM along), or "always",
	// on every message, so the header always carries all three.
	Verify string `toml:"verify"`
}

func init() {
	config.Register("auth", func() Config { return Config{Header: true, Verify: "rules"} },
		func(r *config.Report, c *Config) {
			r.OneOf("auth.verify", c.Verify, "rules", "always")
			if strings.ContainsAny(c.AuthservID, " \t\r\n;()\"") {
				r.Add("auth.authserv_id", "a host name, e.g. mx.example.com", "%q is not a token (RFC 8601 §2.2)", c.AuthservID)
			}
		})
}

// Settings are the [auth] values the session needs.
type Settings struct {
	ID     string
	Header bool
}

// FromConfig reads [auth]; the id defaults to the host name.
func FromConfig(cfg *config.Config) Settings {
	c := config.Section[Config](cfg, "auth")
	id := c.AuthservID
	if id == "" {
		id, _ = os.Hostname()
		if id == "" {
			id = "localhost"
		}
	}
	return Settings{ID: id, Header: c.Header}
}

// VerifyAlways reports [auth] verify = "always".
func VerifyAlways(cfg *config.Config) bool {
	return config.Section[Config](cfg, "auth").Verify == "always"
}

// Value builds the field's value from findings: the envelope sender's SPF
// result (spf with Where "mailfrom", or "helo" for the null sender), each
// DKIM signature, and DMARC. ok is false when none of them ran.
func Value(id string, findings []check.Finding, mailFrom, helo string) (string, bool) {
	var rs []msgauthres.Result
	var spf *msgauthres.SPFResult
	for _, f := range findings {
		switch f.Name {
		case "spf":
			r := &msgauthres.SPFResult{Value: msgauthres.ResultValue(f.Value)}
			if f.Where == "helo" {
				r.Helo = helo
				if spf == nil && mailFrom == "" {
					spf = r
				}
			} else {
				r.From = mailFrom
				spf = r
			}
		case "dkim":
			d := &msgauthres.DKIMResult{Value: msgauthres.ResultValue(f.Value)}
			if dom, ok := strings.CutPrefix(f.Where, "d="); ok {
				d.Domain, _, _ = strings.Cut(dom, " ")
			}
			rs = append(rs, d)
		case "dmarc":
			d := &msgauthres.DMARCResult{Value: msgauthres.ResultValue(f.Value)}
			if f.Where != "" {
				d.Reason = f.Where
			}
			rs = append(rs, d)
		}
	}
	if spf != nil {
		rs = append([]msgauthres.Result{spf}, rs...)
	}
	if len(rs) == 0 {
		return "", false
	}
	return msgauthres.Format(id, rs), true
}

// ServID returns the authserv-id of a field's value (RFC 8601 §2.2): the
// first token, comments and white space skipped. It reads what a forger
// may write, so it never fails: an unreadable value gives "".
func ServID(v string) string {
	i, depth := 0, 0
	for i < len(v) {
		c := v[i]
		switch {
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '\\' && depth > 0:
			i++ // a quoted pair inside a comment
		case depth > 0, c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			goto token
		}
		i++
	}
	return ""
token:
	j := i
	if v[i] == '"' {
		// A quoted-string authserv-id (RFC 8601 §2.2 allows value).
		var b strings.Builder
		for j = i + 1; j < len(v) && v[j] != '"'; j++ {
			if v[j] == '\\' && j+1 < len(v) {
				j++
			}
			b.WriteByte(v[j])
		}
		return b.String()
	}
	for j < len(v) && !strings.ContainsRune(" \t\r\n;()", rune(v[j])) {
		j++
	}
	return v[i:j]
}

// Ours reports whether a field's value carries authserv-id id
// (case-insensitive, as domain names compare).
func Ours(id, value string) bool {
	s := ServID(value)
	return s != "" && strings.EqualFold(strings.TrimSuffix(s, "."), strings.TrimSuffix(id, "."))
}

// Remove lists, 1-based among the Authentication-Results fields of hs,
// those carrying id, for the milter's ChangeHeader (remove them last
// first, so the indexes hold).
func Remove(id string, hs []check.RawHeader) []int {
	var out []int
	n := 0
	for _, h := range hs {
		if !strings.EqualFold(h.Name, Header) {
			continue
		}
		n++
		if Ours(id, h.Value) {
			out = append(out, n)
		}
	}
	return out
}
