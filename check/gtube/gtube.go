// Package gtube reports the GTUBE test string (content.gtube), so an
// administrator can prove the spam path end to end with a harmless message.
// It searches the decoded text of every part, under every reading of the
// MIME structure, not only the raw bytes, which may be encoded.
package gtube

import (
	"context"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// Finding is reported when the message contains the GTUBE string; Where is
// the part it is in.
const Finding = message.FindingGTUBE

func init() { check.Register(func(*config.Config) []check.Check { return []check.Check{Check{}} }) }

// Check is the GTUBE check.
type Check struct{}

func (Check) Name() string          { return "gtube" }
func (Check) Stage() policy.Stage   { return policy.StageEOM }
func (Check) Scope() check.Scope    { return check.ScopeTransaction }
func (Check) Budget() time.Duration { return 5 * time.Second }

// OnError is skip: the search is in memory and cannot fail but by a bug.
func (Check) OnError() check.OnError { return check.OnErrorSkip }

func (Check) Findings() []check.Declared {
	return []check.Declared{{Name: Finding, Doc: "the GTUBE test string, in the decoded text of any part"}}
}

func (Check) Run(_ context.Context, in *check.Input) ([]check.Finding, error) {
	if in.Message == nil {
		return nil, nil
	}
	if f, ok := in.Message.GTUBE(); ok {
		return []check.Finding{f}, nil
	}
	return nil, nil
}
