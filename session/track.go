package session

import (
	"slices"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/store"
)

// Event builds the tracking-log row for the session's current state: a
// rejected connection, a rejected transaction, or a finished message (res).
func (s *Session) Event(stage policy.Stage, action string, reply string, matches []scanner.Match, res *Result) *store.Event {
	start := s.txStart
	if !s.inTx {
		start = s.ConnStart
	}
	e := &store.Event{
		Time:       start,
		QueueID:    s.QueueID,
		Helo:       s.Facts.Helo,
		ClientName: s.Facts.ClientName,
		TLSVersion: s.TLSVersion,
		TLSCipher:  s.TLSCipher,
		AuthUser:   s.Facts.AuthUser,
		Direction:  s.rt.Policy.Org.MessageDirection(&s.Facts),
		Stage:      stage.String(),
		Sender:     s.Facts.Sender,
		Action:     action,
		Reply:      reply,
		Duration:   time.Since(start),
	}
	if s.Facts.ClientIP.IsValid() {
		e.ClientIP = s.Facts.ClientIP.String()
	}
	e.Recipients = append(e.Recipients, s.rejected...)
	all := append(slices.Clone(s.rcptMatches), matches...)
	if res != nil {
		m := res.Message
		e.HeaderFrom, e.HeaderTo, e.Subject, e.MessageID = m.From, m.To, m.Subject, m.MessageID
		e.Size = s.Facts.Size
		e.Attachments = m.Attachments
		e.Findings = append(e.Findings, res.Findings...)
		for _, r := range s.Facts.Recipients {
			v := res.Verdicts[r]
			out := store.RecipientOutcome{Address: r, Action: "accept", Rule: v.Rule}
			switch res.Decision.Action {
			case policy.ActionReject, policy.ActionTempfail:
				out.Action, out.Rule, out.Reply = res.Decision.Action.String(), res.Decision.Rule, reply
			default:
				if v.Action == policy.ActionQuarantine || v.Action == policy.ActionDiscard {
					out.Action = v.Action.String()
				}
			}
			e.Recipients = append(e.Recipients, out)
			all = append(all, v.Matches...)
		}
	} else {
		// Decided before end of message: record what was known by then,
		// the header fields and size once the header has been received.
		if s.bodyAt >= 0 {
			e.HeaderFrom, e.HeaderTo = s.firstHeader("From"), s.firstHeader("To")
			e.Subject, e.MessageID = s.Facts.Subject, s.firstHeader("Message-ID")
			e.Size = s.hdrBytes + 2 + s.body.size - int64(s.bodyAt)
		}
		if stage >= policy.StageRcpt || len(s.Facts.Recipients) > 0 {
			rule := ""
			if n := len(matches); n > 0 && matches[n-1].Action == action {
				rule = matches[n-1].Rule // the deciding rule comes last
			}
			for _, r := range s.Facts.Recipients {
				e.Recipients = append(e.Recipients, store.RecipientOutcome{Address: r, Action: action, Rule: rule, Reply: reply})
			}
		}
	}
	seen := map[string]bool{}
	for _, m := range all {
		if seen[m.Rule] {
			continue
		}
		seen[m.Rule] = true
		e.Matches = append(e.Matches, m)
	}
	return e
}

// firstHeader is the decoded value of the first header field called name,
// once the header has been decoded at end of headers.
func (s *Session) firstHeader(name string) string {
	for _, h := range s.Facts.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}
