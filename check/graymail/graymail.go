// Package graymail sorts wanted-but-bulk mail into four classes at end of
// message, in memory: newsletter, marketing, social and notification. It
// reads list and bulk headers (List-Unsubscribe, List-Id, Precedence,
// Feedback-ID, Auto-Submitted, the fingerprints of the big sending
// platforms), the sender's domain and address, and content cues
// (unsubscribe and view-in-browser text, promotional and transactional
// words, in English, Japanese and a few European languages, plus Chinese
// and Korean unsubscribe text).
//
// Graymail is not spam: the check gives no score, and rules decide what a
// class means (the embedded default tags it with a header and delivers).
//
// # Findings
//
//   - graymail: Value is the class, Where "message", Reason the cues that
//     decided it ("List-Unsubscribe; X-MC-User (Mailchimp); subject
//     \"50% off\"").
//   - graymail.CLASS (graymail.newsletter, graymail.marketing,
//     graymail.social, graymail.notification): the same, for rules, which
//     match finding names only; Value the class too.
//
// At most one class is reported per message.
//
// # Precedence between the classes
//
// The first that holds wins:
//  1. social: the header From (or envelope sender) is in a social
//     network's notification domain (facebookmail.com, linkedin.com,
//     x.com, twitter.com, instagram.com, ...) and the message is bulk or
//     automated. Who sends decides, whatever the content says.
//  2. marketing: bulk, with a promotional cue in the subject or two
//     different ones in the body (discount, sale, % off, ％OFF, coupon,
//     セール, 割引, Rabatt, soldes, descuento, ...).
//  3. notification: automated (a no-reply or notification sender, an
//     Auto-Submitted other than "no", X-Auto-Response-Suppress, a sending
//     platform) with a transactional cue in the subject or body (order,
//     receipt, password, verification code, sign-in, shipped, ご注文,
//     発送, パスワード, 認証コード, ...), or from a sender that names
//     itself a notifier (notifications@, alerts@, notify@) whatever its
//     text. A receipt with an unsubscribe footer, or a list-like
//     notification of an issue tracker, is a notification, not a
//     newsletter.
//  4. newsletter: any other bulk mail.
//
// Bulk means a list or bulk header (List-Unsubscribe, List-Unsubscribe-Post,
// List-Id, Precedence bulk, list or junk, Feedback-ID, a sending
// platform's header), or without one, unsubscribe and view-in-browser
// text together, or either from an automated sender.
//
// A reply (In-Reply-To or References) without a list or bulk header is
// never graymail, whatever its text quotes: content cues alone never make
// person-to-person mail graymail. A message with only an Auto-Submitted
// header and no cue (an out-of-office reply, a calendar invite) is not
// graymail either.
//
// # What is not classified
//
// Sessions from organization.trusted_networks and authenticated sessions
// (outbound), unless [graymail] outbound = true; clients in [graymail]
// exclude_clients (IP ranges, as IMSS's graymail exception list); senders
// whose envelope sender or header From matches [graymail] exclude_senders
// (address patterns: user@example.com, *@example.com, *@*.example.com).
package graymail

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/policy/lists"
)

// Section is the config table, [graymail].
const Section = "graymail"

// The finding names.
const (
	Finding = "graymail"  // value: the class
	prefix  = "graymail." // graymail.CLASS
)

// Class is a graymail class.
type Class string

// The classes, in precedence order.
const (
	Social       Class = "social"
	Marketing    Class = "marketing"
	Notification Class = "notification"
	Newsletter   Class = "newsletter"
)

// Classes lists the classes in precedence order.
var Classes = []Class{Social, Marketing, Notification, Newsletter}

// Config is the [graymail] table.
type Config struct {
	// Enabled makes the check available to rules (it runs only when a rule
	// names its findings).
	Enabled bool `toml:"enabled"`
	// Outbound also classifies mail from trusted networks and
	// authenticated sessions, which is not classified by default.
	Outbound bool `toml:"outbound"`
	// ExcludeClients are client addresses whose mail is never graymail:
	// addresses, CIDRs or ranges (192.0.2.0/24, 2001:db8::/32).
	ExcludeClients []string `toml:"exclude_clients"`
	// ExcludeSenders are envelope senders or header From addresses whose
	// mail is never graymail: user@example.com, *@example.com,
	// *@*.example.com.
	ExcludeSenders []string `toml:"exclude_senders"`
}

// Defaults are the [graymail] values a config does not set.
func Defaults() Config { return Config{Enabled: true} }

func init() {
	config.Register(Section, Defaults, validate)
	check.Register(build)
}

func validate(r *config.Report, c *Config) {
	for i, n := range c.ExcludeClients {
		if _, errs := lists.ParseIPList(n); len(errs) > 0 {
			for _, err := range errs {
				r.Add(fmt.Sprintf("%s.exclude_clients[%d]", Section, i), lists.RangeForms, "%v", err)
			}
		}
	}
	for i, n := range c.ExcludeSenders {
		if _, errs := lists.ParseAddrList(n); len(errs) > 0 {
			for _, err := range errs {
				r.Add(fmt.Sprintf("%s.exclude_senders[%d]", Section, i), lists.PatternForms, "%v", err)
			}
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

// New is the check with validated settings c.
func New(c Config) *Check {
	ips, _ := lists.ParseIPList(strings.Join(c.ExcludeClients, "\n"))
	senders, _ := lists.ParseAddrList(strings.Join(c.ExcludeSenders, "\n"))
	return &Check{c: c, clients: ips, senders: senders}
}

// Check is the graymail check.
type Check struct {
	c       Config
	clients lists.IPList
	senders lists.AddrList
}

func (*Check) Name() string          { return "graymail" }
func (*Check) Stage() policy.Stage   { return policy.StageEOM }
func (*Check) Scope() check.Scope    { return check.ScopeTransaction }
func (*Check) Budget() time.Duration { return 2 * time.Second }

// OnError is skip: the check is in memory and fails only by a bug, and
// graymail is a convenience, not a protection.
func (*Check) OnError() check.OnError { return check.OnErrorSkip }

// Findings declares graymail and graymail.CLASS for every class.
func (*Check) Findings() []check.Declared {
	out := []check.Declared{{Name: Finding, Doc: "graymail: bulk mail that is not spam; value: the class (newsletter, marketing, social, notification)"}}
	for _, c := range Classes {
		out = append(out, check.Declared{Name: prefix + string(c), Doc: "graymail of class " + string(c)})
	}
	return out
}

func (c *Check) Run(_ context.Context, in *check.Input) ([]check.Finding, error) {
	if in.Message == nil {
		return nil, nil
	}
	log := slog.New(slog.DiscardHandler)
	if in.Env != nil && in.Env.Log != nil {
		log = in.Env.Log
	}
	start := time.Now()
	if skip := c.excluded(in); skip != "" {
		log.Debug("graymail", "result", "not classified", "why", skip)
		return nil, nil
	}
	r := Classify(in.Message, in.Sender)
	log.Debug("graymail", "duration", time.Since(start), "class", string(r.Class), "cues", r.Reason())
	if r.Class == "" {
		return nil, nil
	}
	reason := r.Reason()
	return []check.Finding{
		{Name: Finding, Value: string(r.Class), Where: "message", Reason: reason},
		{Name: prefix + string(r.Class), Value: string(r.Class), Where: "message", Reason: reason},
	}, nil
}

// excluded says why a session's message is not classified, or "".
func (c *Check) excluded(in *check.Input) string {
	ip := in.ClientIP.Unmap()
	if !c.c.Outbound && (in.AuthUser != "" || in.Env != nil && in.Env.Trusted != nil && ip.IsValid() && in.Env.Trusted(ip)) {
		return "outbound"
	}
	if ip.IsValid() && c.clients.Contains(ip, time.Time{}) {
		return "exclude_clients"
	}
	if c.senders.Len() > 0 {
		sender := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(in.Sender), "<"), ">")
		if sender != "" && c.senders.Contains(sender, time.Time{}) {
			return "exclude_senders"
		}
		if from := headerAddress(header(in.Message, "From")); from != "" && c.senders.Contains(from, time.Time{}) {
			return "exclude_senders"
		}
	}
	return ""
}
