// Package session is the protocol-free state of one SMTP session, stage by
// stage: the facts as they become known, the checks run through the
// [check.Runner] at each stage, the rules decided per recipient, the spool
// of the message, and the tracking-log row. The milter adapter (milter/)
// and the dry run (`mailwarden check`, [DryRun]) drive the same [Session],
// so there is one engine path.
package session

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/authres"
	"github.com/mailwarden/mailwarden/check/bayes"
	"github.com/mailwarden/mailwarden/check/dkimsign"
	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/check/knownhost"
	"github.com/mailwarden/mailwarden/check/spam"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/policy/release"
	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/store"
)

// Runtime is one loaded configuration: the daemon swaps it whole on SIGHUP,
// and each SMTP session keeps the one it started with.
type Runtime struct {
	Config     *config.Config
	Policy     *policy.Policy
	ReleaseKey []byte
	// SpoolDir is where message bodies over the memory limit are spooled.
	SpoolDir string
	// Checks runs the configuration's active checks; see [NewRuntime].
	Checks *check.Runner
	// Greylister keeps the triplets of the greylist action.
	Greylister Greylister
	// DNS is the shared resolver ([dns]); nil leaves DNS checks failing.
	DNS *dns.Resolver
	// KnownHosts are the relays in front of this host ([known_hosts]).
	KnownHosts *knownhost.Hosts
	// DKIM signs outbound mail ([[dkim_sign]]); nil signs nothing.
	DKIM *dkimsign.Signer
	// Auth is [auth]: the Authentication-Results header and its
	// authserv-id.
	Auth authres.Settings
	// Spam is [spam]: the thresholds, the inputs and the X-Spam-* header
	// fields.
	Spam spam.Settings
	// AutoLearn teaches the classifier from spam scores ([bayes]
	// autolearn); the daemon's sessions only, never a dry run.
	AutoLearn *bayes.AutoLearner
}

// Session is the state of one SMTP session, stage by stage, independent of
// the milter protocol.
type Session struct {
	rt  *Runtime
	log *slog.Logger
	// Env is what the session's checks get; set DryRun, Offline and
	// ClaimRelease before Connect.
	Env *check.Env
	run *check.Run
	// origin is the first untrusted hop of a message a known host relayed.
	origin netip.Addr

	Facts      policy.Facts
	ConnStart  time.Time
	TLSVersion string
	TLSCipher  string
	QueueID    string

	// connection-level decision from connect or HELO, repeated for every
	// later command, as the MTA would.
	connVerdict *policy.Verdict

	// current transaction
	inTx        bool
	txStart     time.Time
	declaredSz  int64
	rejected    []store.RecipientOutcome
	rejectedN   int // refused recipients, including those past the kept ones
	rcptMatches []scanner.Match
	headers     []RawHeader
	// hdrFields and hdrBytes count the header as received, kept or not;
	// hdrOver names the limit it went past ("" while within them). Past a
	// limit no more fields are kept, so a header flood costs no memory.
	hdrFields int
	hdrBytes  int64
	hdrOver   string
	// LeadSpace says header values carry their own leading white space
	// (the MTA was asked to keep it).
	LeadSpace bool
	// body spools the whole message: the header block as the client sent
	// it is written at end of headers, then the body chunks; bodyAt is where
	// the body starts (-1 before end of headers).
	body   spool
	bodyAt int
}

// RawHeader is a header field as the MTA passed it.
type RawHeader = check.RawHeader

// NewSession starts a session on a runtime snapshot.
func NewSession(rt *Runtime, log *slog.Logger) *Session {
	s := &Session{rt: rt, log: log, ConnStart: time.Now(), bodyAt: -1}
	s.body = spool{dir: rt.SpoolDir, memLimit: rt.Config.Limits.SpoolMemory.N, maxSize: rt.Config.Limits.MaxMessageSize.N}
	s.Env = &check.Env{Log: log, ReleaseKey: rt.ReleaseKey, Trusted: rt.Policy.Org.TrustedClient,
		DNS: rt.DNS, KnownHost: rt.KnownHosts.Contains}
	return s
}

// Runtime is the configuration the session runs on.
func (s *Session) Runtime() *Runtime { return s.rt }

// input is what the checks see now.
func (s *Session) input() *check.Input {
	return &check.Input{ClientIP: s.Facts.ClientIP, ClientName: s.Facts.ClientName, Helo: s.Facts.Helo,
		AuthUser: s.Facts.AuthUser, Sender: s.Facts.Sender, Recipients: slices.Clone(s.Facts.Recipients),
		Headers: s.headers, HeaderBytes: s.headerBytes, Findings: slices.Clone(s.Facts.Findings), Shared: &check.Shared{}}
}

// checks starts the checks of stage (and, from RCPT, those of rcpt) and
// waits for those the rules of this stage need; their findings go in the
// facts. A failed check whose failure mode is tempfail gives the verdict.
func (s *Session) checks(stage policy.Stage, rcpts []string, in *check.Input) *policy.Verdict {
	if s.rt.Checks == nil {
		return nil
	}
	if s.run == nil {
		s.run = s.rt.Checks.NewRun(s.Env)
	}
	s.run.Start(stage, in)
	var fail *check.Failure
	for _, r := range rcpts {
		s.run.StartRcpt(stage, r, in)
	}
	if len(rcpts) == 0 {
		fail = s.run.Await(stage, "")
	}
	for _, r := range rcpts {
		if f := s.run.Await(stage, r); f != nil && fail == nil {
			fail = f
		}
	}
	s.Facts.Findings = s.run.All()
	if fail == nil {
		return nil
	}
	rule := "check." + fail.Check
	f := scanner.Finding{Name: check.FindingError, Value: fail.Check, Where: "check:" + fail.Check, Reason: firstLine(fail.Err.Error())}
	s.log.Error("check failed; tempfailing", "check", fail.Check, "err", fail.Err)
	return &policy.Verdict{Action: policy.ActionTempfail, Rule: rule, Stage: stage,
		Reply:   policy.Reply{Code: 451, Enhanced: "4.3.0", Text: "Temporary local problem, try again later (rule " + rule + ": " + check.FindingError + ")"},
		Matches: []scanner.Match{{Rule: rule, Stage: stage.String(), Action: "tempfail", Findings: []scanner.Finding{f}}}}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// StageResult is the answer at one stage: nil Verdict means continue.
type StageResult struct {
	Stage   policy.Stage
	Verdict *policy.Verdict // reject or tempfail to answer now
	Matches []scanner.Match
	Err     error // an internal error: answer with the failure action
}

func (s *Session) decide(stage policy.Stage, rcpt string) StageResult {
	var rcpts []string
	if rcpt != "" {
		rcpts = []string{rcpt}
	}
	if v := s.checks(stage, rcpts, s.input()); v != nil {
		return StageResult{Stage: stage, Verdict: v, Matches: v.Matches}
	}
	v := s.rt.Policy.Evaluate(stage, &s.Facts, rcpt)
	if v.Action == policy.ActionGreylist {
		v = s.resolveGreylist(stage, v, rcpt)
	}
	r := StageResult{Stage: stage, Matches: v.Matches}
	if v.Action == policy.ActionReject || v.Action == policy.ActionTempfail {
		r.Verdict = &v
	}
	return r
}

// Connect records the client and decides connect-stage rules.
func (s *Session) Connect(ip netip.Addr, name string) StageResult {
	s.Facts = policy.Facts{ClientIP: ip.Unmap(), ClientName: name}
	s.connVerdict = nil
	if s.run != nil { // the MTA reuses the milter connection for a new client
		s.run.Close()
		s.run = nil
	}
	r := s.decide(policy.StageConnect, "")
	s.connVerdict = r.Verdict
	return r
}

// Helo records the HELO name and decides HELO-stage rules. After STARTTLS
// the client says HELO again, and the TLS facts are set then.
func (s *Session) Helo(name, tlsVersion, cipher string) StageResult {
	if s.connVerdict != nil {
		return StageResult{Stage: policy.StageConnect, Verdict: s.connVerdict}
	}
	s.Facts.Helo = name
	s.TLSVersion, s.TLSCipher = tlsVersion, cipher
	r := s.decide(policy.StageHelo, "")
	s.connVerdict = r.Verdict
	return r
}

// Mail starts a transaction and decides MAIL-stage rules.
func (s *Session) Mail(from, authUser, queueID string, declaredSize int64) StageResult {
	s.ResetTx()
	s.inTx, s.txStart = true, time.Now()
	s.Facts.Sender, s.Facts.AuthUser = from, authUser
	s.QueueID, s.declaredSz = queueID, declaredSize
	if s.connVerdict != nil {
		return StageResult{Stage: policy.StageConnect, Verdict: s.connVerdict}
	}
	return s.decide(policy.StageMail, "")
}

// Rcpt decides RCPT-stage rules for one recipient. A refused recipient does
// not take part in the message.
func (s *Session) Rcpt(rcpt string) StageResult {
	if len(s.Facts.Recipients) >= s.rt.Config.Limits.MaxRecipients {
		v := policy.Verdict{Action: policy.ActionTempfail, Rule: "limits.max_recipients",
			Reply: policy.Reply{Code: 452, Enhanced: "4.5.3", Text: "Too many recipients (rule limits.max_recipients)"}}
		s.refuse(store.RecipientOutcome{Address: rcpt, Action: "tempfail", Rule: v.Rule, Reply: v.Reply.String()}, nil)
		return StageResult{Stage: policy.StageRcpt, Verdict: &v}
	}
	s.Facts.Recipients = append(s.Facts.Recipients, rcpt)
	r := s.decide(policy.StageRcpt, rcpt)
	s.learnRcpt(rcpt, r)
	if r.Verdict != nil {
		s.Facts.Recipients = s.Facts.Recipients[:len(s.Facts.Recipients)-1]
		s.refuse(store.RecipientOutcome{Address: rcpt, Action: r.Verdict.Action.String(),
			Rule: r.Verdict.Rule, Reply: r.Verdict.Reply.String()}, r.Matches)
	}
	return r
}

// refuse records a refused recipient for the tracking row. A client may
// send any number of refused RCPTs, so only the first max_recipients are
// kept (the rest are counted), and each rule's match is kept once.
func (s *Session) refuse(out store.RecipientOutcome, matches []scanner.Match) {
	s.rejectedN++
	if len(s.rejected) >= s.rt.Config.Limits.MaxRecipients {
		return
	}
	s.rejected = append(s.rejected, out)
	for _, m := range matches {
		if !slices.ContainsFunc(s.rcptMatches, func(k scanner.Match) bool { return k.Rule == m.Rule }) {
			s.rcptMatches = append(s.rcptMatches, m)
		}
	}
}

// Header records one header field as the MTA passed it, within the header
// limits; past them it only counts, and [Session.EOH] refuses the message.
func (s *Session) Header(name, value string) {
	n := int64(len(name) + len(value) + 3) // "Name:" value CRLF
	s.hdrFields++
	s.hdrBytes += n
	if s.hdrOver != "" {
		return
	}
	lim := &s.rt.Config.Limits
	switch {
	case s.hdrFields > lim.MaxHeaderFields:
		s.hdrOver = "limits.max_header_fields"
	case n > lim.MaxHeaderFieldBytes.N:
		s.hdrOver = "limits.max_header_field_bytes"
	case s.hdrBytes > lim.MaxHeaderBytes.N:
		s.hdrOver = "limits.max_header_bytes"
	default:
		s.headers = append(s.headers, RawHeader{Name: name, Value: value})
	}
}

// HeaderBytes is the memory the kept header fields hold.
func (s *Session) HeaderBytes() int64 { return min(s.hdrBytes, s.rt.Config.Limits.MaxHeaderBytes.N) }

// headerLimitVerdict refuses a message whose header went past a limit: it
// cannot be scanned whole, and retrying will not shrink it (RFC 3463
// 5.3.4, message too big for system).
func (s *Session) headerLimitVerdict() *policy.Verdict {
	lim := &s.rt.Config.Limits
	limit := map[string]string{
		"limits.max_header_fields":      fmt.Sprint(lim.MaxHeaderFields),
		"limits.max_header_field_bytes": fmt.Sprint(lim.MaxHeaderFieldBytes.N),
		"limits.max_header_bytes":       fmt.Sprint(lim.MaxHeaderBytes.N),
	}[s.hdrOver]
	f := scanner.Finding{Name: message.FindingExclusion, Value: s.hdrOver + "=" + limit, Where: "header",
		Reason: fmt.Sprintf("header of %d fields, %d bytes, is past %s = %s", s.hdrFields, s.hdrBytes, s.hdrOver, limit)}
	return &policy.Verdict{Action: policy.ActionReject, Rule: s.hdrOver, Stage: policy.StageEOH,
		Reply:   policy.Reply{Code: 552, Enhanced: "5.3.4", Text: "Message header too large (rule " + s.hdrOver + ": " + f.Name + ")"},
		Matches: []scanner.Match{{Rule: s.hdrOver, Stage: policy.StageEOH.String(), Action: "reject", Findings: []scanner.Finding{f}}}}
}

// EOH decodes the header and decides end-of-header rules. It answers early
// only when every recipient is already decided and the message as a whole
// is refused, saving the body transfer.
func (s *Session) EOH() StageResult {
	if s.bodyAt < 0 {
		head := append(s.headerBytes(s.headers), "\r\n"...)
		if err := s.body.Write(head); err != nil {
			return StageResult{Stage: policy.StageEOH, Err: err}
		}
		s.bodyAt = len(head)
	}
	s.Facts.Headers = s.Facts.Headers[:0]
	// Raw 8-bit text is read in the charsets the header declares first.
	var dec message.Decoder
	for _, h := range s.headers {
		dec.Declare(h.Name, h.Value)
	}
	for _, h := range s.headers {
		v, _ := dec.Decode(strings.TrimSpace(h.Value))
		s.Facts.Headers = append(s.Facts.Headers, policy.HeaderField{Name: h.Name, Value: v})
		if strings.EqualFold(h.Name, "Subject") && s.Facts.Subject == "" {
			s.Facts.Subject = v
		}
	}
	if s.hdrOver != "" {
		v := s.headerLimitVerdict()
		return StageResult{Stage: policy.StageEOH, Verdict: v, Matches: v.Matches}
	}
	s.startOrigin()
	if v := s.checks(policy.StageEOH, s.Facts.Recipients, s.input()); v != nil {
		return StageResult{Stage: policy.StageEOH, Verdict: v, Matches: v.Matches}
	}
	verdicts := map[string]policy.Verdict{}
	for _, r := range s.Facts.Recipients {
		v := s.rt.Policy.Evaluate(policy.StageEOH, &s.Facts, r)
		if !v.Terminal() {
			return StageResult{Stage: policy.StageEOH}
		}
		verdicts[r] = v
	}
	d := policy.Combine(s.Facts.Recipients, verdicts)
	if d.Action == policy.ActionReject || d.Action == policy.ActionTempfail {
		v := verdicts[firstWith(s.Facts.Recipients, verdicts, d.Rule)]
		return StageResult{Stage: policy.StageEOH, Verdict: &v, Matches: v.Matches}
	}
	return StageResult{Stage: policy.StageEOH}
}

func firstWith(rcpts []string, vs map[string]policy.Verdict, rule string) string {
	for _, r := range rcpts {
		if vs[r].Rule == rule {
			return r
		}
	}
	return ""
}

// Body adds a body chunk to the spool.
func (s *Session) Body(chunk []byte) error { return s.body.Write(chunk) }

// Result is the end-of-message outcome.
type Result struct {
	Decision       policy.Decision
	Verdicts       map[string]policy.Verdict
	Message        *message.Message
	Raw            []byte
	Findings       []scanner.Finding
	ReleaseHeaders int // how many release headers to remove
	// AuthResults is the Authentication-Results value to add at the top
	// of delivered inbound mail ("" for none), and AuthResultsRemove the
	// 1-based indexes, among the Authentication-Results fields, of those
	// carrying our authserv-id, to remove first (CVE-2020-12272).
	AuthResults       string
	AuthResultsRemove []int
	// Spam is the message's spam score and tests ([spam]); nil when the
	// end-of-message checks failed.
	Spam *spam.Verdict
	// SpamRemove are the X-Spam-* fields the sender wrote, to remove from
	// delivered inbound mail before ours are added.
	SpamRemove []spam.Ref
	// OwnRemove are the X-Mailwarden-* fields the sender wrote (our
	// names: the graymail class, the malformed-message warning), to
	// remove from delivered inbound mail before the rules add theirs.
	OwnRemove []spam.Ref
}

// EOM parses the message once, runs the end-of-message checks on it, and
// decides every recipient.
func (s *Session) EOM() (*Result, error) {
	if s.bodyAt < 0 {
		if r := s.EOH(); r.Err != nil {
			return nil, r.Err
		}
	}
	raw, err := s.body.Bytes()
	if err != nil {
		return nil, err
	}
	lim := message.DefaultLimits()
	lim.MaxDepth, lim.MaxParts = s.rt.Config.Limits.MIMEDepth, s.rt.Config.Limits.MIMEParts
	msg := message.ParseBytes(raw, lim)
	res := &Result{Message: msg, Raw: raw}
	for _, h := range s.headers {
		if strings.EqualFold(h.Name, release.Header) {
			res.ReleaseHeaders++
		}
	}
	s.Facts.Size = s.body.size
	in := s.input()
	in.Message, in.Raw, in.Body = msg, raw, raw[min(s.bodyAt, len(raw)):]
	failed := s.checks(policy.StageEOM, s.Facts.Recipients, in)
	if s.body.truncated {
		s.Facts.Findings = append(s.Facts.Findings, scanner.Finding{Name: message.FindingExclusion, Value: "limits.max_message_size",
			Where: "message", Reason: "message is larger than the spool limit; the rest was not scanned"})
	}
	res.Findings = s.Facts.Findings
	res.Verdicts = map[string]policy.Verdict{}
	if failed != nil {
		for _, r := range s.Facts.Recipients {
			res.Verdicts[r] = *failed
		}
		res.Decision = policy.Decision{Action: policy.ActionTempfail, Rule: failed.Rule, Reply: failed.Reply}
		return res, nil
	}
	// The spam score adds up every other finding of the message and the
	// scored rules, so it comes after the checks and before the rules
	// that act on it.
	contribs := s.rt.Policy.Scores(&s.Facts)
	sv := s.rt.Spam.Tally(s.Facts.Findings, contribs)
	res.Spam = &sv
	s.Facts.Findings = append(s.Facts.Findings, sv.Findings()...)
	res.Findings = s.Facts.Findings
	for _, r := range s.Facts.Recipients {
		res.Verdicts[r] = s.rt.Policy.Evaluate(policy.StageEOM, &s.Facts, r)
	}
	res.Decision = policy.Combine(s.Facts.Recipients, res.Verdicts)
	if s.body.truncated && len(res.Decision.Quarantine) > 0 {
		// The spool did not keep the whole message, so no faithful copy can
		// be quarantined; refusing it is the only answer that loses nothing.
		res.Decision = policy.Decision{Action: policy.ActionReject, Rule: "limits.max_message_size",
			Reply: policy.Reply{Code: 552, Enhanced: "5.3.4", Text: "Message too big for the filter (limits.max_message_size)"}}
	}
	s.authResults(res)
	s.spamHeaders(res)
	s.ownHeaders(res)
	s.learnEOM(res)
	s.autoLearn(res, contribs)
	return res, nil
}

// authResults sets the Authentication-Results changes of delivered
// inbound mail: ours from the spf, dkim and dmarc findings, and the
// removal of any field already claiming our authserv-id, which only a
// forger can have written ([auth]).
func (s *Session) authResults(res *Result) {
	a := s.rt.Auth
	if !a.Header || a.ID == "" || len(res.Decision.Deliver) == 0 || s.rt.Policy.Org.TrustedOrigin(&s.Facts) {
		return
	}
	res.AuthResultsRemove = authres.Remove(a.ID, s.headers)
	res.AuthResults, _ = authres.Value(a.ID, res.Findings, s.Facts.Sender, s.Facts.Helo)
}

// spamHeaders sets the X-Spam-* changes of delivered inbound mail
// ([spam] headers): the removal of those the sender wrote, then ours,
// added with the rules' own header fields.
//
// A released message is left as it was quarantined: it goes to its
// recipients byte for byte, and a released spam marked as spam again
// would be filed as spam by the very filters the headers are for.
func (s *Session) spamHeaders(res *Result) {
	if !s.rt.Spam.Headers || res.Spam == nil || len(res.Decision.Deliver) == 0 || s.rt.Policy.Org.TrustedOrigin(&s.Facts) {
		return
	}
	if slices.ContainsFunc(res.Findings, func(f scanner.Finding) bool { return f.Name == policy.FindingReleased }) {
		return
	}
	res.SpamRemove = spam.Forged(s.headers)
	res.Decision.AddHeaders = append(res.Decision.AddHeaders, res.Spam.Headers()...)
}

// OwnHeaderPrefix begins the names of the header fields mailwarden's
// rules write (X-Mailwarden-Graymail, X-Mailwarden-Warning).
const OwnHeaderPrefix = "X-Mailwarden-"

// ownHeaders sets the removal of the X-Mailwarden-* fields the sender of
// delivered inbound mail wrote: left in, a sender could file its mail as
// a graymail class, or a warning, in the recipients' filters. A released
// message is left as it was quarantined (see [Session.spamHeaders]).
func (s *Session) ownHeaders(res *Result) {
	if len(res.Decision.Deliver) == 0 || s.rt.Policy.Org.TrustedOrigin(&s.Facts) {
		return
	}
	if slices.ContainsFunc(res.Findings, func(f scanner.Finding) bool { return f.Name == policy.FindingReleased }) {
		return
	}
	res.OwnRemove = OwnFields(s.headers)
}

// OwnFields are the fields of hs named with [OwnHeaderPrefix] but the
// release header (X-Mailwarden-Release, which the milter removes on its
// own), by name in
// the order a name first appears and by index within a name (names
// compared case-insensitively, as the MTA counts them).
func OwnFields(hs []RawHeader) []spam.Ref {
	var names []string
	for _, h := range hs {
		// The release header is removed on its own (every copy, always).
		if strings.EqualFold(h.Name, release.Header) {
			continue
		}
		if len(h.Name) >= len(OwnHeaderPrefix) && strings.EqualFold(h.Name[:len(OwnHeaderPrefix)], OwnHeaderPrefix) &&
			!slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, h.Name) }) {
			names = append(names, h.Name)
		}
	}
	return spam.Refs(hs, names)
}

// headerBytes rebuilds the header block as the client sent it: go-milter
// gives folded values with bare LF, and the wire form is CRLF.
func (s *Session) headerBytes(hs []RawHeader) []byte {
	return HeaderBytes(hs, s.LeadSpace)
}

// HeaderBytes rebuilds header fields as the client sent them: go-milter
// gives folded values with bare LF, and the wire form is CRLF. leadSpace
// says the values keep their leading white space.
func HeaderBytes(hs []RawHeader, leadSpace bool) []byte {
	var b bytes.Buffer
	for _, h := range hs {
		b.WriteString(h.Name)
		b.WriteByte(':')
		if !leadSpace {
			b.WriteByte(' ')
		}
		writeCRLF(&b, h.Value)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func writeCRLF(b *bytes.Buffer, v string) {
	for i := 0; i < len(v); i++ {
		if v[i] == '\n' && (i == 0 || v[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(v[i])
	}
}

// ResetTx forgets the current transaction, keeping the connection facts.
func (s *Session) ResetTx() {
	s.inTx = false
	s.Facts.Sender, s.Facts.AuthUser = "", ""
	s.Facts.Recipients, s.Facts.Headers, s.Facts.Findings = nil, nil, nil
	s.Facts.Subject, s.Facts.Size, s.Facts.Bypass = "", 0, nil
	s.origin = netip.Addr{}
	s.rejected, s.rcptMatches, s.headers = nil, nil, nil
	s.rejectedN, s.hdrFields, s.hdrBytes, s.hdrOver = 0, 0, 0, ""
	s.QueueID, s.declaredSz = "", 0
	s.body.Reset()
	s.bodyAt = -1
	if s.run != nil {
		s.run.ResetTx()
	}
}

// Close releases the spool and stops the checks still running.
func (s *Session) Close() {
	s.body.Reset()
	if s.run != nil {
		s.run.Close()
		s.run = nil
	}
}

// QuarantineAction names the outcome of a message none of whose recipients
// is delivered: quarantine, discard (copy kept), or both.
func QuarantineAction(gs []policy.QuarantineGroup) string {
	a := gs[0].Action
	for _, g := range gs[1:] {
		if g.Action != a {
			return "quarantine+discard"
		}
	}
	return a.String()
}

// BodySize is the size of the message received so far, kept or not.
func (s *Session) BodySize() int64 { return s.body.size }

// SpillBody keeps the message body on disk from now on, what was received
// of it included, so the session holds only its header fields in memory.
func (s *Session) SpillBody() error { return s.body.spill() }

// MemoryHeld is what the session keeps in memory before end of message:
// the header fields and the in-memory spool.
func (s *Session) MemoryHeld() int64 { return s.HeaderBytes() + s.body.inMemory() }

// Headers are the header fields as the MTA passed them.
func (s *Session) Headers() []RawHeader { return s.headers }

// MoreRefused is how many refused recipients were counted but not kept.
func (s *Session) MoreRefused() int { return s.rejectedN - len(s.rejected) }

// LastRefused is the last refused recipient of a transaction that is still
// open and has refused some, for its row when it ends before end of
// message (all RCPTs refused, then RSET or QUIT).
func (s *Session) LastRefused() (store.RecipientOutcome, bool) {
	if !s.inTx || len(s.rejected) == 0 {
		return store.RecipientOutcome{}, false
	}
	return s.rejected[len(s.rejected)-1], true
}

// startOrigin, on a message a known host relayed, runs the checks that
// judge the client on the message's first untrusted hop (see
// check.Run.StartOrigin); a chain that does not show it leaves them
// unrun, and the known-hosts check reports client.origin_unknown.
func (s *Session) startOrigin() {
	kh := s.rt.KnownHosts
	if !kh.Contains(s.Facts.ClientIP) || !kh.Received || s.rt.Checks == nil {
		return
	}
	hop := kh.Origin(s.headers, s.Facts.ClientIP)
	if hop.Err != nil {
		s.log.Info("known host: no first untrusted hop", "client", s.Facts.ClientIP, "reason", hop.Reason)
		return
	}
	if s.run == nil {
		s.run = s.rt.Checks.NewRun(s.Env)
	}
	s.origin = hop.IP
	s.run.StartOrigin(hop.IP, s.input())
}
