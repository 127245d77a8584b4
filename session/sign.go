package session

import (
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"

	"github.com/mailwarden/mailwarden/check/dkimsign"
	"github.com/mailwarden/mailwarden/policy/release"
	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// FindingSigned is the tracking-log record of a DKIM signature mailwarden
// added, one per signature, valued "d=DOMAIN s=SELECTOR". It is written
// after the rules have decided, so no rule can use it.
const FindingSigned = "dkim_sign"

// TaggedSubject is the raw Subject value the delivered copy gets from the
// tags (the last innermost, as rules add them), from the first Subject
// field of hs; found says there is one, changed that a tag was added.
func TaggedSubject(hs []RawHeader, tags []string) (value string, found, changed bool) {
	for _, h := range hs {
		if strings.EqualFold(h.Name, "Subject") {
			value, found = strings.TrimSpace(h.Value), true
			break
		}
	}
	for i := len(tags) - 1; i >= 0; i-- {
		var c bool
		value, c = message.TagSubject(value, tags[i])
		changed = changed || c
	}
	return value, found, changed
}

// OutgoingHeader is the header of the delivered copy as the milter's
// changes leave it: the Subject tagged, the added fields at the end (where
// Postfix and Sendmail append them) and every release header removed.
func (s *Session) OutgoingHeader(res *Result) []dkimsign.Field {
	d := &res.Decision
	subj, found, changed := TaggedSubject(s.headers, d.TagSubject)
	out := make([]dkimsign.Field, 0, len(s.headers)+len(d.AddHeaders)+1)
	subjDone := false
	for _, h := range s.headers {
		switch {
		case strings.EqualFold(h.Name, release.Header):
			continue
		case changed && !subjDone && strings.EqualFold(h.Name, "Subject"):
			out = append(out, dkimsign.Field{Name: h.Name, Value: " " + subj})
			subjDone = true
		default:
			out = append(out, dkimsign.Field{Name: h.Name, Value: h.Value})
		}
	}
	if changed && !found {
		out = append(out, dkimsign.Field{Name: "Subject", Value: " " + subj})
	}
	for _, h := range d.AddHeaders {
		out = append(out, dkimsign.Field{Name: h.Name, Value: " " + h.Value})
	}
	return out
}

// Sign computes the DKIM signatures of a delivered message (see package
// dkimsign for what is signed): over [Session.OutgoingHeader] and the body
// as received, since mailwarden never changes a body. It records each in
// res.Findings as [FindingSigned] for the tracking row, and returns none
// when the message is not to be signed.
func (s *Session) Sign(res *Result) ([]dkimsign.Signature, error) {
	if s.rt.DKIM == nil || !s.rt.Policy.Org.TrustedOrigin(&s.Facts) {
		return nil, nil
	}
	domain, why := s.fromDomain()
	if why != "" {
		s.log.Info("dkim sign: not signing", "queue_id", s.QueueID, "reason", why)
		return nil, nil
	}
	keys := s.rt.DKIM.KeysFor(domain)
	if len(keys) == 0 {
		return nil, nil
	}
	if s.body.truncated {
		s.log.Warn("dkim sign: not signing a message over limits.max_message_size", "queue_id", s.QueueID, "domain", domain)
		return nil, nil
	}
	sigs, err := dkimsign.Sign(keys, s.OutgoingHeader(res), res.Raw[min(s.bodyAt, len(res.Raw)):])
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	for _, sg := range sigs {
		res.Findings = append(res.Findings, scanner.Finding{Name: FindingSigned,
			Value: "d=" + sg.Domain + " s=" + sg.Selector, Where: "header:DKIM-Signature",
			Reason: "signed with " + sg.Algorithm + " for header From domain " + domain})
	}
	return sigs, nil
}

// fromDomain is the domain of the header From's one address, or why there
// is none to sign for.
func (s *Session) fromDomain() (string, string) {
	var from []string
	for _, h := range s.headers {
		if strings.EqualFold(h.Name, "From") {
			from = append(from, h.Value)
		}
	}
	if len(from) != 1 {
		return "", fmt.Sprintf("%d From fields", len(from))
	}
	// Encoded words in a display name only need to parse, not to decode.
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil }}}
	as, err := p.ParseList(strings.TrimSpace(from[0]))
	if err != nil || len(as) != 1 {
		return "", fmt.Sprintf("From %q is not one address", strings.TrimSpace(from[0]))
	}
	at := strings.LastIndexByte(as[0].Address, '@')
	if at < 0 {
		return "", "From has no domain"
	}
	return strings.ToLower(as[0].Address[at+1:]), ""
}
