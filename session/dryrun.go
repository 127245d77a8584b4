package session

import (
	"bytes"
	"log/slog"
	"net/netip"
	"time"

	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/check/spam"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/store"
)

// DryRunInput is one SMTP transaction described offline, for
// `mailwarden check`.
type DryRunInput struct {
	ClientIP   netip.Addr
	ClientName string
	Helo       string
	AuthUser   string
	From       string
	Rcpts      []string
	Message    []byte // the message as a file; LF line ends are taken as CRLF
	// Offline answers every network lookup of the checks as a failure.
	Offline bool
	// State is the daemon's state store, opened read-only, so throttles,
	// the profiler, greylisting and store lists read what the daemon
	// keeps; nil reads as an empty state.
	State store.State
	// Correspondents is the daemon's tracking log, opened read-only, for
	// the first-time-sender check; nil means every sender is unknown
	// and that check reports nothing.
	Correspondents store.Correspondents
	// Now is the session's clock (Date checks, greylist and throttle
	// windows); nil is the wall clock.
	Now func() time.Time
}

// StageReport is what happened at one stage.
type StageReport struct {
	Stage   string          `json:"stage"`
	Answer  string          `json:"answer"` // "continue" or the SMTP reply
	Rcpt    string          `json:"rcpt,omitempty"`
	Matches []scanner.Match `json:"matches,omitempty"`
}

// RecipientReport is one recipient's final outcome.
type RecipientReport struct {
	Address string          `json:"address"`
	Outcome string          `json:"outcome"` // accept, reject, tempfail, quarantine, discard
	Rule    string          `json:"rule,omitempty"`
	Reply   string          `json:"reply,omitempty"`
	Area    string          `json:"area,omitempty"`
	Matches []scanner.Match `json:"matches,omitempty"`
}

// DryRunReport is the whole dry run.
type DryRunReport struct {
	Stages     []StageReport        `json:"stages"`
	Findings   []scanner.Finding    `json:"findings,omitempty"`
	Recipients []RecipientReport    `json:"recipients"`
	Action     string               `json:"action"` // accept, split, discard, reject, tempfail
	Reply      string               `json:"reply,omitempty"`
	TagSubject []string             `json:"tag_subject,omitempty"`
	AddHeaders []policy.HeaderField `json:"add_headers,omitempty"`
	// AuthResults is the Authentication-Results value the delivered copy
	// gets at the top ([auth]); AuthResultsRemoved counts the fields
	// claiming our authserv-id that it loses.
	AuthResults        string `json:"authentication_results,omitempty"`
	AuthResultsRemoved int    `json:"authentication_results_removed,omitempty"`
	Subject            string `json:"subject,omitempty"`
	// Spam is the spam score and its tests ([spam]); SpamHeadersRemoved
	// counts the X-Spam-* fields of the sender's that the delivered copy
	// loses.
	Spam               *spam.Verdict `json:"spam,omitempty"`
	SpamHeadersRemoved int           `json:"spam_headers_removed,omitempty"`
	// OwnHeadersRemoved counts the X-Mailwarden-* fields of the sender's
	// that the delivered copy loses.
	OwnHeadersRemoved int `json:"own_headers_removed,omitempty"`
}

// DryRun drives a [Session] through every stage exactly as the milter
// adapter does, but acts on nothing: no reply is sent, nothing is stored.
func DryRun(rt *Runtime, in DryRunInput, log *slog.Logger) *DryRunReport {
	s := NewSession(rt, log)
	s.LeadSpace = true
	s.Env.DryRun, s.Env.Offline, s.Env.State = true, in.Offline, in.State
	s.Env.Correspondents = in.Correspondents
	if in.Now != nil {
		s.Env.Now = in.Now
	}
	if in.Offline {
		s.Env.DNS = offlineDNS
	}
	defer s.Close()
	rep := &DryRunReport{}
	stop := func(r StageResult, rcpt string) bool {
		sr := StageReport{Stage: r.Stage.String(), Answer: "continue", Rcpt: rcpt, Matches: r.Matches}
		if r.Verdict != nil {
			sr.Answer = r.Verdict.Reply.String()
			if sr.Answer == "" {
				sr.Answer = r.Verdict.Action.String()
			}
		}
		rep.Stages = append(rep.Stages, sr)
		if r.Verdict != nil && rcpt == "" {
			rep.Action, rep.Reply = r.Verdict.Action.String(), sr.Answer
			for _, a := range in.Rcpts {
				rep.Recipients = append(rep.Recipients, RecipientReport{Address: a, Outcome: rep.Action, Rule: r.Verdict.Rule, Reply: sr.Answer, Matches: r.Matches})
			}
			return true
		}
		return false
	}
	if stop(s.Connect(in.ClientIP, in.ClientName), "") || stop(s.Helo(in.Helo, "", ""), "") ||
		stop(s.Mail(in.From, in.AuthUser, "", 0), "") {
		return rep
	}
	for _, r := range in.Rcpts {
		res := s.Rcpt(r)
		stop(res, r)
		if res.Verdict != nil {
			rep.Recipients = append(rep.Recipients, RecipientReport{Address: r, Outcome: res.Verdict.Action.String(),
				Rule: res.Verdict.Rule, Reply: res.Verdict.Reply.String(), Matches: res.Matches})
		}
	}
	if len(s.Facts.Recipients) == 0 {
		// No DATA: the client keeps the message. As at end of message, a
		// recipient it may retry (a tempfail, a greylisted one) makes the
		// whole a tempfail; only when every one is refused for good is it
		// a reject.
		rep.Action = "reject"
		for _, r := range rep.Recipients {
			if r.Outcome == policy.ActionTempfail.String() {
				rep.Action = r.Outcome
			}
		}
		return rep
	}
	hs, body := SplitMessage(in.Message)
	for _, h := range hs {
		s.Header(h.Name, h.Value)
	}
	eoh := s.EOH()
	if eoh.Err != nil {
		rep.Action, rep.Reply = "tempfail", eoh.Err.Error()
		return rep
	}
	if stop(eoh, "") {
		return rep
	}
	if err := s.Body(body); err != nil {
		rep.Action, rep.Reply = "tempfail", err.Error()
		return rep
	}
	res, err := s.EOM()
	if err != nil {
		rep.Action, rep.Reply = "tempfail", err.Error()
		return rep
	}
	d := res.Decision
	if d.Action != policy.ActionReject && d.Action != policy.ActionTempfail && len(d.Deliver) > 0 {
		// Signed as the milter would sign, for the dkim_sign findings.
		if _, err := s.Sign(res); err != nil {
			rep.Action, rep.Reply = "tempfail", err.Error()
			return rep
		}
	}
	rep.Findings, rep.Subject = res.Findings, res.Message.Subject
	rep.Stages = append(rep.Stages, StageReport{Stage: "eom", Answer: d.Action.String()})
	rep.Action, rep.Reply = d.Action.String(), d.Reply.String()
	switch {
	case d.Action == policy.ActionAccept && len(d.Quarantine) > 0:
		rep.Action = "split"
	case d.Action == policy.ActionDiscard:
		rep.Action = QuarantineAction(d.Quarantine)
	}
	rep.TagSubject, rep.AddHeaders = d.TagSubject, d.AddHeaders
	rep.AuthResults, rep.AuthResultsRemoved = res.AuthResults, len(res.AuthResultsRemove)
	rep.Spam, rep.SpamHeadersRemoved = res.Spam, len(res.SpamRemove)
	rep.OwnHeadersRemoved = len(res.OwnRemove)
	for _, r := range s.Facts.Recipients {
		v := res.Verdicts[r]
		rr := RecipientReport{Address: r, Outcome: "accept", Rule: v.Rule, Matches: v.Matches}
		switch {
		case d.Action == policy.ActionReject || d.Action == policy.ActionTempfail:
			rr.Outcome, rr.Rule, rr.Reply = d.Action.String(), d.Rule, d.Reply.String()
		case v.Action == policy.ActionQuarantine || v.Action == policy.ActionDiscard:
			rr.Outcome, rr.Area = v.Action.String(), v.Area
		}
		rep.Recipients = append(rep.Recipients, rr)
	}
	return rep
}

// SplitMessage splits a message file into header fields, as an MTA passes
// them to a milter with leading space kept, and the body. Bare LF line ends
// become CRLF, as they would on the SMTP wire.
func SplitMessage(raw []byte) ([]RawHeader, []byte) {
	var b bytes.Buffer
	writeCRLF(&b, string(raw))
	raw = b.Bytes()
	var hs []RawHeader
	for len(raw) > 0 {
		end := bytes.Index(raw, []byte("\r\n"))
		if end < 0 {
			end = len(raw)
		}
		line := raw[:end]
		next := min(end+2, len(raw))
		if len(line) == 0 {
			return hs, raw[next:]
		}
		if (line[0] == ' ' || line[0] == '\t') && len(hs) > 0 {
			hs[len(hs)-1].Value += "\r\n" + string(line)
		} else if i := bytes.IndexByte(line, ':'); i > 0 {
			hs = append(hs, RawHeader{Name: string(line[:i]), Value: string(line[i+1:])})
		} else {
			return hs, raw // not a header: the rest is body
		}
		raw = raw[next:]
	}
	return hs, nil
}

// offlineDNS answers every lookup of an offline dry run as a failure, at
// once.
var offlineDNS = func() *dns.Resolver {
	r, err := dns.New(dns.Options{Offline: true})
	if err != nil {
		panic(err) // an offline resolver reads no file and asks no server
	}
	return r
}()
