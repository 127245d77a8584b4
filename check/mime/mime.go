// Package mime reports what the lenient MIME walk (scanner/message) found
// about the message's form: malformed structure, ambiguous structure that
// a mail client could read another way, scanning limits reached, and
// charsets guessed for undeclared 8-bit text. The session parses the
// message once for every check; this check only reports.
package mime

import (
	"context"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner/message"
)

func init() { check.Register(func(*config.Config) []check.Check { return []check.Check{Check{}} }) }

// Check is the MIME-form check.
type Check struct{}

func (Check) Name() string           { return "mime" }
func (Check) Stage() policy.Stage    { return policy.StageEOM }
func (Check) Scope() check.Scope     { return check.ScopeTransaction }
func (Check) Budget() time.Duration  { return 5 * time.Second }
func (Check) OnError() check.OnError { return check.OnErrorSkip }

// Always: the walk is done for every message anyway, and the tracking log
// records the message's form whether or not a rule acts on it.
func (Check) Always() string { return "the tracking log records the message's form" }

func (Check) Findings() []check.Declared {
	return []check.Declared{
		{Name: message.FindingMalformed, Doc: "the message breaks RFC 5322/2045 and was scanned leniently; the value says how"},
		{Name: message.FindingExclusion, Doc: "a scanning limit was reached, so part of the message was not scanned; the value names the limit"},
		{Name: message.FindingAmbiguous, Doc: "the MIME structure reads more than one way (e.g. two boundary parameters, CVE-2024-28054)"},
		{Name: message.FindingCharsetGuessed, Doc: "undeclared 8-bit text was decoded in a guessed charset; the value names it"},
	}
}

func (Check) Run(_ context.Context, in *check.Input) ([]check.Finding, error) {
	if in.Message == nil {
		return nil, nil
	}
	return in.Message.Findings, nil
}
