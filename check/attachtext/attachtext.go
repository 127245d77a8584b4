// Package attachtext reports attachment.unreadable: a PDF, DOCX, XLSX or
// PPTX attachment whose text the keyword, DLP and URL checks could not read
// whole, because it is encrypted, corrupt, or over a bound of
// scanner/doctext. Text that was not read cannot match a keyword list or a
// DLP template, so a rule decides what that means: an encrypted document
// is a common way to carry data past DLP.
//
// The documents are read once per message (check/textscan.Documents),
// whichever of these checks asks first; this check runs only when a rule
// uses its finding.
package attachtext

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/textscan"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner/doctext"
)

// FindingUnreadable is one document whose text was not read whole. Value
// is the reason: "encrypted", "corrupt", or the bound reached, such as
// "doctext.max_text_bytes=2097152", "doctext.timeout=3s" or
// "textscan.message_timeout=6s"; Where is
// "attachment:NAME"; Reason says what happened.
const FindingUnreadable = "attachment.unreadable"

// maxFindings caps the findings per message.
const maxFindings = 20

func init() {
	check.Register(func(*config.Config) []check.Check { return []check.Check{Check{}} })
}

// Check is the attachment-text check.
type Check struct{}

func (Check) Name() string          { return "attachment_text" }
func (Check) Stage() policy.Stage   { return policy.StageEOM }
func (Check) Scope() check.Scope    { return check.ScopeTransaction }
func (Check) Budget() time.Duration { return 8 * time.Second }

// OnError is skip: a document that cannot be read is a finding, not an
// error; only a bug or a spent budget fail the check.
func (Check) OnError() check.OnError { return check.OnErrorSkip }

func (Check) Findings() []check.Declared {
	return []check.Declared{{Name: FindingUnreadable, Doc: "a PDF, DOCX, XLSX or PPTX attachment whose text could not be read whole (encrypted, corrupt, over a limit)"}}
}

func (Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if in.Message == nil {
		return nil, nil
	}
	start := time.Now()
	docs := textscan.Documents(ctx, in.Message)
	var out []check.Finding
	for _, d := range docs {
		if d.Err == nil {
			continue
		}
		out = append(out, check.Finding{Name: FindingUnreadable, Value: doctext.Reason(d.Err), Where: d.Where, Reason: reason(d)})
		if len(out) == maxFindings {
			break
		}
	}
	if in.Env != nil && in.Env.Log != nil {
		in.Env.Log.Debug("attachment_text", slog.Duration("took", time.Since(start)), slog.Int("documents", len(docs)), slog.Int("unreadable", len(out)))
	}
	if len(docs) == 0 && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return out, nil
}

// reason says what happened in words, without the package prefix.
func reason(d textscan.Document) string {
	kind := strings.ToUpper(string(d.Kind))
	if kind == "" {
		kind = "document"
	}
	msg := strings.TrimPrefix(d.Err.Error(), "doctext: ")
	switch {
	case errors.Is(d.Err, doctext.ErrEncrypted):
		return "the " + kind + " needs a password; its text was not scanned"
	case errors.Is(d.Err, doctext.ErrLimit):
		return "the " + kind + "'s text was not read whole: " + msg
	}
	return "the " + kind + " could not be read; its text was not scanned: " + msg
}
