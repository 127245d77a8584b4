// Package spamtest is the spam-specific tests, as SpamAssassin's and
// rspamd's default rules have them: header, body and URL heuristics run at
// end of message, in memory, with no DNS. Each test that holds is one
// finding, spamtest.NAME, whose Score is the test's weight; the scoring
// engine adds up the family ("spamtest.*") with the other checks'
// findings. The check decides nothing and ships no rule.
//
// # The tests
//
// Each test's default score is in its table (tests.go, style.go,
// urltests.go, the "=" lines of phrases.txt) and in the README; they were
// set on the training half of the detection benchmark (make
// bench-detection), starting from SpamAssassin's for the nearest rule
// (named in brackets). [spamtest] scores overrides them per test.
//
//	name                  holds when
//	missing_date          there is no Date field (MISSING_DATE); not when the header
//	                      block was too large to read whole (scan.exclusion)
//	invalid_date          Date is not an RFC 5322 date-time, read leniently: day
//	                      name optional, seconds optional, a zone name (GMT, UT,
//	                      EST...) or a trailing comment allowed (INVALID_DATE)
//	date_future           Date is more than 12 hours after the session's time
//	                      (DATE_IN_FUTURE_12_24)
//	date_past             Date is more than 96 hours before the session's time
//	                      (DATE_IN_PAST_96_XX)
//	missing_message_id    there is no Message-ID field (MISSING_MID), the same way
//	invalid_message_id    Message-ID is not <left@right> with a non-empty left
//	                      and a right side that is a dot-atom (qualified or not:
//	                      @localhost is valid) or an address literal, without
//	                      spaces (INVALID_MSGID)
//	forged_mua_outlook    X-Mailer claims Microsoft Outlook (not Outlook Express)
//	                      and there is no Thread-Index field, which every
//	                      Outlook since 2003 writes; versions 8 to 10 (97 to
//	                      2002) did not always, and do not hold (FORGED_MUA_OUTLOOK)
//	forged_mua_apple      X-Mailer claims Apple Mail or iPhone/iPad Mail and the
//	                      Message-ID's left side is not the upper-case UUID
//	                      Apple's clients write (FORGED_MUA_*)
//	received_helo_ip      a Received field's HELO is an IP address literal that
//	                      differs from the address the receiving MTA recorded
//	                      (RCVD_HELO_IP_MISMATCH)
//	received_many_hops    more than 25 Received fields
//	subject_all_caps      the subject, without Re:/Fwd: prefixes, has at least
//	                      10 cased letters and none in lower case (SUBJ_ALL_CAPS)
//	subject_punctuation   the subject has a run of three or more "!", "?" or "$",
//	                      or at least 6 punctuation marks making up more than a
//	                      third of its non-space characters (PLING_QUERY and kin)
//	subject_8bit          the raw Subject has 8-bit bytes and no RFC 2047
//	                      encoded word (SUBJECT_NEEDS_ENCODING)
//	charset_mismatch      a body text part declares us-ascii with 8-bit bytes or
//	                      utf-8 with invalid UTF-8, or its charset had to be
//	                      guessed (a charset.guessed finding on a part)
//	html_only_short       the body has text/html and no text/plain part, and the
//	                      HTML shows fewer than 200 characters (MIME_HTML_ONLY
//	                      with HTML_SHORT_LENGTH)
//	image_only            the HTML has an image (an <img> of an http(s) URL, or an
//	                      inline image part without a file name) and shows fewer
//	                      than 100 characters besides, with no text/plain part
//	                      saying more (HTML_IMAGE_ONLY_*); a photo a person sends
//	                      has a file name
//	invisible_text        the HTML hides at least 200 bytes of text (display:none,
//	                      zero font size, text colour equal to background ...,
//	                      see scanner/htmltext), and at least a quarter as much
//	                      as it shows
//	obfuscated_words      a word mixes Latin with Cyrillic or Greek letters
//	                      ("vіagra" with a Cyrillic і), a zero-width character
//	                      sits between two letters, or five or more single
//	                      letters are separated by the same dot, dash, star,
//	                      underscore or space ("v.i.a.g.r.a"); capitals spaced
//	                      by spaces only when they spell a word of the phrase
//	                      tests (C I A L I S, not a heading's N E W S)
//	base64_text           a text/plain or text/html body part is base64-encoded
//	                      though its content is 7-bit ASCII (MIME_BASE64_TEXT)
//	qp_letters            a quoted-printable text part escapes at least 5 letters
//	                      or digits ("=76=69agra"), which never need escaping
//	many_domains          the URLs name more than 12 distinct registrable domains
//	url_shortener         a URL is on a URL shortener of check/url's built-in list
//	                      (bit.ly, t.co, tinyurl.com ...), the host or a parent
//	                      domain of it, but not one that leads only to its own
//	                      site (youtu.be, amzn.to)
//	url_ip                a URL's host is a public IP address (NUMERIC_HTTP_ADDR),
//	                      or any IP address written to disguise it: decimal, hex,
//	                      octal or short form, percent-escaped, IPv4 inside IPv6,
//	                      or after a user name that reads as a host
//	                      (www.bank.example@192.0.2.1); a plainly written
//	                      private, loopback or link-local address does not hold
//	url_text_mismatch     an HTML link's text shows a URL or domain whose
//	                      registrable domain is neither the link's nor that of a
//	                      target its known redirectors lead to (check/url's
//	                      url.mismatch; rspamd's PHISHING). An ESP's click
//	                      tracking under a shown "www.shop.example" holds too,
//	                      hence the low score
//
// The style tests (style.go) look at how bulk software writes: a Date zone
// no place uses (date_bad_zone), a body in capitals (body_caps), many
// exclamation marks (body_exclamations), several amounts of money
// (money_amounts), large fonts (html_font_large), words split by HTML
// comments or empty tags (html_split_words), a self-addressed To
// (to_is_from), ADV:, padded and tracking-coded subjects (subject_adv,
// subject_padded, subject_tracking_id), a free-mail Reply-To outside lists
// (reply_to_freemail), bulk-mailing software (bulk_mailer), high priority
// (priority_high), Japanese and Chinese spam wording (cjk_spam_words) and
// Japan's unsolicited-advertising label (subject_unsolicited_ad).
//
// The forgery tests (forgery.go) look for headers that claim a mail
// client or a provider's server wrote them, in a shape it does not write:
// an Outlook-shaped Message-ID whose time is no Windows clock's
// (forged_outlook_id), Outlook Express's fields without its X-MimeOLE
// (missing_mimeole), a MIME boundary imitating Outlook's
// (boundary_forged_nextpart), a Received hop whose HELO names a free-mail
// provider's host while the address has no reverse name under it
// (received_forged_freemail), a Message-ID that a relay added for mail
// that came from the internet without one (message_id_by_relay), a
// Gmail, Yahoo, AOL or Microsoft From that none of the provider's servers
// handled (freemail_not_relayed), and Received dates no MTA writes
// (received_bad_date).
//
// The phrase tests (phrases.go, phrases.txt) are families of wording, each
// a test: advance_fee, opt_out_spam, not_spam_claim, hard_sell, free_offer,
// money_making, loans_credit, pharmacy, adult, gambling, dating,
// marketing_claims, dear_generic and click_here.
//
// The URL tests are scored counterparts of check/url's url.shortener,
// url.ip and url.mismatch (which carry no score, so [spam] inputs do not
// count them), with their own URL search bounded as below.
//
// Person-to-person mail from the common clients (Thunderbird, Outlook,
// Gmail, Apple Mail) holds none of the tests; the tests say so.
//
// # Bounds
//
// Every test looks at a bounded part of the message: the first 64 Received
// fields, 256 KiB of each text part's decoded text (1 MiB of HTML rendered
// per part, at most 16 parts), 256 KiB of URL search text, 1 KiB of a header.
// What lies beyond is not examined: a hostile message costs at most that.
package spamtest

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
)

// Section is the config table, [spamtest].
const Section = "spamtest"

// Prefix starts every finding name: spamtest.NAME.
const Prefix = "spamtest."

// Config is the [spamtest] table.
type Config struct {
	// Enabled makes the tests available to rules (they run only when a
	// rule names their findings, such as score("spamtest.*")).
	Enabled bool `toml:"enabled"`
	// Scores overrides the default score of tests by name
	// (missing_date = 2.5); 0 keeps the test as a finding with no weight.
	Scores map[string]float64 `toml:"scores"`
	// Disabled names tests that do not run.
	Disabled []string `toml:"disabled"`
}

// Defaults are the [spamtest] values a config does not set.
func Defaults() Config { return Config{Enabled: true} }

func init() {
	config.Register(Section, Defaults, validate)
	check.Register(build)
}

// known reports whether name is a test, and otherwise suggests one.
func known(name string) (bool, string) {
	best, bestD := "", 4
	for _, t := range tests {
		if t.name == name {
			return true, ""
		}
		if d := config.EditDistance(name, t.name); d < bestD {
			best, bestD = t.name, d
		}
	}
	if best != "" {
		return false, "did you mean " + best + "?"
	}
	return false, "tests: " + strings.Join(Names(), ", ")
}

func validate(r *config.Report, c *Config) {
	names := make([]string, 0, len(c.Scores))
	for n := range c.Scores {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if ok, hint := known(n); !ok {
			r.Add(Section+".scores."+n, hint, "unknown spam test %q", n)
		} else if v := c.Scores[n]; math.IsNaN(v) || math.IsInf(v, 0) {
			r.Add(Section+".scores."+n, "a number such as 2.5, or negative to count for ham", "score %v is not a finite number", v)
		}
	}
	for i, n := range c.Disabled {
		if ok, hint := known(n); !ok {
			r.Add(fmt.Sprintf("%s.disabled[%d]", Section, i), hint, "unknown spam test %q", n)
		}
	}
}

func build(cfg *config.Config) []check.Check {
	c := *config.Section[Config](cfg, Section)
	if !c.Enabled {
		return nil
	}
	return []check.Check{New(c)}
}

// Names lists the tests, in the order they run.
func Names() []string {
	out := make([]string, len(tests))
	for i, t := range tests {
		out[i] = t.name
	}
	return out
}

// DefaultScore is the score of a test when the config does not set one.
func DefaultScore(name string) (float64, bool) {
	for _, t := range tests {
		if t.name == name {
			return t.score, true
		}
	}
	return 0, false
}

// New is the check with validated settings c.
func New(c Config) *Check {
	k := &Check{}
	for _, t := range tests {
		if slices.Contains(c.Disabled, t.name) {
			continue
		}
		if s, ok := c.Scores[t.name]; ok {
			t.score = s
		}
		k.tests = append(k.tests, t)
	}
	return k
}

// Check runs the spam tests.
type Check struct {
	tests []test
}

func (*Check) Name() string          { return "spamtest" }
func (*Check) Stage() policy.Stage   { return policy.StageEOM }
func (*Check) Scope() check.Scope    { return check.ScopeTransaction }
func (*Check) Budget() time.Duration { return 2 * time.Second }

// OnError is skip: the tests are in memory and fail only by a bug, and
// each is one weight among many.
func (*Check) OnError() check.OnError { return check.OnErrorSkip }

// Findings declares spamtest.NAME for every test, enabled or not, so that
// a rule naming a disabled one still loads.
func (*Check) Findings() []check.Declared {
	out := make([]check.Declared, 0, len(tests))
	for _, t := range tests {
		out = append(out, check.Declared{Name: Prefix + t.name, Doc: fmt.Sprintf("spam test (score %g): %s", t.score, t.doc)})
	}
	return out
}

func (c *Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if in.Message == nil {
		return nil, nil
	}
	log := slog.New(slog.DiscardHandler)
	now := time.Now()
	if in.Env != nil {
		if in.Env.Log != nil {
			log = in.Env.Log
		}
		if in.Env.Now != nil {
			now = in.Env.Now()
		}
	}
	start := time.Now()
	st := newState(in.Message, now)
	st.shared = in.Shared
	out := c.run(st)
	log.Debug("spamtest", "duration", time.Since(start), "hits", len(out))
	return out, ctx.Err()
}

// run runs the tests on one message.
func (c *Check) run(s *state) []check.Finding {
	var out []check.Finding
	for _, t := range c.tests {
		h, ok := t.fn(s)
		if !ok {
			continue
		}
		score := t.score
		if h.scale != 0 {
			score = math.Round(score*h.scale*10) / 10
		}
		out = append(out, check.Finding{
			Name: Prefix + t.name, Value: clip(h.value, maxValue), Where: h.where,
			Reason: h.reason, Score: score,
		})
	}
	return out
}

// maxValue bounds a finding's Value, in bytes.
const maxValue = 120

// clip cuts s to at most n bytes at a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
