// Package release verifies release headers: a message let out of the
// quarantine comes back through the MTA carrying a signed token
// (policy/release), and this check decides whether it vouches for this
// copy. A verified release is the finding release.verified, limited to the
// recipients whose use of the token was claimed now and valued with the
// rule it lets the message past; policy then skips that rule for them. Any
// other outcome is release.invalid with the reason.
//
// The digest covers everything after the header, so only the MTA's trace
// fields (Received:) may stand before it; the client must be loopback or
// trusted; the envelope sender must be the released one; and each
// recipient's use is claimed once in the store, so a replayed copy
// bypasses nothing.
package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/policy/release"
)

// The findings.
const (
	Verified = "release.verified"
	Invalid  = "release.invalid"
)

func init() { check.Register(func(*config.Config) []check.Check { return []check.Check{Check{}} }) }

// Check is the release-header check.
type Check struct{}

func (Check) Name() string          { return "release" }
func (Check) Stage() policy.Stage   { return policy.StageEOM }
func (Check) Scope() check.Scope    { return check.ScopeTransaction }
func (Check) Budget() time.Duration { return 30 * time.Second }

// OnError is tempfail: a claim the store could not record must not let a
// message through, nor quarantine it again.
func (Check) OnError() check.OnError { return check.OnErrorTempfail }

// Always: a verified release changes how every rule applies.
func (Check) Always() string { return "released mail must pass the rule it was quarantined by" }

func (Check) Findings() []check.Declared {
	return []check.Declared{
		{Name: Verified, Doc: "a valid release header: the rule it lets the message past, for the recipients claimed"},
		{Name: Invalid, Doc: "a release header that vouches for nothing, and why"},
	}
}

func (Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	first, n := -1, 0
	for i, h := range in.Headers {
		if strings.EqualFold(h.Name, release.Header) {
			n++
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 {
		return nil, nil
	}
	invalid := func(why string) ([]check.Finding, error) {
		return []check.Finding{{Name: Invalid, Value: why, Where: "header:" + release.Header,
			Reason: "release header not honoured: " + why}}, nil
	}
	if n > 1 {
		return invalid("more than one release header")
	}
	for _, h := range in.Headers[:first] {
		if !strings.EqualFold(h.Name, "Received") {
			return invalid("header " + h.Name + " stands before it")
		}
	}
	env := in.Env
	if ip := in.ClientIP; !ip.IsLoopback() && (env.Trusted == nil || !env.Trusted(ip)) {
		return invalid("client " + ip.String() + " is neither loopback nor in trusted_networks")
	}
	sum := sha256.New()
	sum.Write(in.HeaderBytes(in.Headers[first+1:]))
	sum.Write([]byte("\r\n"))
	sum.Write(in.Body)
	tok, err := release.Verify(env.ReleaseKey, strings.TrimSpace(in.Headers[first].Value), hex.EncodeToString(sum.Sum(nil)), env.Time())
	if err != nil {
		return invalid(err.Error())
	}
	if !strings.EqualFold(tok.Sender, in.Sender) {
		return invalid("envelope sender <" + in.Sender + "> is not the released one")
	}
	var allowed []string
	for _, r := range in.Recipients {
		if slices.ContainsFunc(tok.Recipients, func(t string) bool { return strings.EqualFold(r, t) }) {
			allowed = append(allowed, r)
		}
	}
	if len(allowed) == 0 {
		return invalid("no released recipient in this transaction")
	}
	claimed := allowed
	var out []check.Finding
	switch {
	case env.DryRun:
		// A dry run claims nothing: the token stays good for the real copy.
	case env.ClaimRelease == nil:
		return invalid("no store to claim the release in")
	default:
		if claimed, err = env.ClaimRelease(ctx, tok.Nonce, allowed); err != nil {
			return nil, fmt.Errorf("release: claim: %w", err)
		}
		if len(claimed) < len(allowed) {
			out = append(out, check.Finding{Name: Invalid, Value: "already used for some recipients (replay)",
				Where: "header:" + release.Header, Reason: "release header not honoured: already used for some recipients (replay)"})
		}
	}
	if len(claimed) > 0 {
		out = append(out, check.Finding{Name: Verified, Value: tok.Rule, Where: "header:" + release.Header, Recipients: claimed,
			Reason: fmt.Sprintf("released from quarantine entry %s past rule %s for %s", tok.ID, tok.Rule, strings.Join(claimed, ", "))})
	}
	return out, nil
}
