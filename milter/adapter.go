package milter

import (
	"context"
	"fmt"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	gomilter "github.com/d--j/go-milter"

	"github.com/mailwarden/mailwarden/check/authres"
	"github.com/mailwarden/mailwarden/check/spam"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/policy/release"
	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/session"
	"github.com/mailwarden/mailwarden/store"
)

// milterSession adapts a [Session] to go-milter's callbacks: it reads
// macros, turns verdicts into replies, and applies end-of-message changes.
// Every callback runs under guard, which recovers a panic into the
// configured failure answer, so one session's bug never stops the daemon.
type milterSession struct {
	srv       *Server
	s         *session.Session
	leadSpace bool
	over      bool // over the session cap: answer 421 at connect
	counted   bool
	// failedConn: an internal error or panic before MAIL; the connection's
	// facts are incomplete, so every later command gets the failure answer.
	// failedTx: the same within a transaction; the next MAIL starts afresh.
	failedConn, failedTx bool
	logged               bool // the current transaction has its tracking row
	// held is the scan memory this session has reserved for what it keeps
	// before end of message (header fields, the in-memory spool); short
	// is set when the budget could not cover it.
	held  int64
	short bool
	// rowLost: a tracking row of this callback could not be recorded (see
	// [ErrRowLost]); guard then answers with the failure action.
	rowLost bool
}

var _ gomilter.Milter = (*milterSession)(nil)

func (m *milterSession) NewConnection(_ gomilter.Modifier) error {
	rt := m.srv.rt.Load()
	n := m.srv.active.Load()
	if !m.counted {
		m.counted = true
		n = m.srv.active.Add(1)
	}
	// Checked again when the MTA reuses the milter connection (QUIT_NC).
	m.over = n > int64(rt.Config.Server.MaxSessions)
	m.failedConn, m.failedTx = false, false
	if m.s != nil {
		m.s.Close()
	}
	m.s = session.NewSession(rt, m.srv.log)
	m.s.LeadSpace = m.leadSpace
	m.s.Env.State = m.srv.state
	m.s.Env.Correspondents = m.srv.corr
	m.s.Env.ClaimRelease = func(ctx context.Context, nonce string, rcpts []string) ([]string, error) {
		return m.srv.claims.ClaimRelease(ctx, nonce, rcpts, time.Now())
	}
	return nil
}

// guard runs one callback, recovering a panic into the failure answer.
func (m *milterSession) guard(stage string, fn func() (*gomilter.Response, error)) (resp *gomilter.Response, err error) {
	if (m.failedConn || m.failedTx) && stage != "abort" {
		return m.failure(), nil
	}
	defer func() {
		if p := recover(); p != nil {
			m.srv.Panics.Add(1)
			m.srv.metrics.internal.WithLabelValues(stageOf(stage).String()).Inc()
			m.fail(stageOf(stage))
			m.srv.log.Error("panic in milter session; answering with the failure action",
				"stage", stage, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if m.s != nil && !m.logged && stage != "abort" {
				m.log(stageOf(stage), m.failureAction(), "panic: "+fmt.Sprint(p), nil, nil)
			}
			resp, err = m.failure(), nil
		}
	}()
	if h := faultHook.Load(); h != nil {
		(*h)(stage)
	}
	resp, err = fn()
	if m.rowLost {
		// Neither the journal nor the store took this answer's tracking
		// row: with on_error = tempfail the client retries rather than
		// the decision going unrecorded.
		m.rowLost = false
		if m.s != nil && m.s.Runtime().Config.Server.OnError != "accept" && stage != "abort" {
			m.fail(stageOf(stage))
			return m.failure(), nil
		}
	}
	return resp, err
}

// faultHook, when set by a test, runs at the start of every callback, so
// tests can make a session panic where no real input can.
var faultHook atomic.Pointer[func(stage string)]

func stageOf(name string) policy.Stage {
	for s := policy.StageConnect; s <= policy.StageEOM; s++ {
		if s.String() == name {
			return s
		}
	}
	return policy.StageEOM
}

// failure is the answer on an internal error: tempfail by default, accept
// when the operator chose to fail open.
func (m *milterSession) failure() *gomilter.Response {
	if m.s != nil && m.s.Runtime().Config.Server.OnError == "accept" {
		return gomilter.RespAccept
	}
	r, _ := gomilter.RejectWithCodeAndReason(451, "4.3.0 Temporary local problem, try again later (mailwarden)")
	return r
}

// failureAction names the failure answer in the tracking log.
func (m *milterSession) failureAction() string {
	if m.s != nil && m.s.Runtime().Config.Server.OnError == "accept" {
		return "accept(internal)"
	}
	return "tempfail(internal)"
}

// fail marks the connection or the transaction as failed.
func (m *milterSession) fail(stage policy.Stage) {
	if stage < policy.StageMail {
		m.failedConn = true
	} else {
		m.failedTx = true
	}
}

func (m *milterSession) internalError(stage policy.Stage, err error) *gomilter.Response {
	m.fail(stage)
	m.srv.metrics.internal.WithLabelValues(stage.String()).Inc()
	m.srv.log.Error("internal error; answering with the failure action", "stage", stage.String(), "err", err,
		"on_error", m.s.Runtime().Config.Server.OnError)
	m.log(stage, m.failureAction(), err.Error(), nil, nil)
	return m.failure()
}

// reply turns a verdict into an SMTP reply, logging the refusal.
func (m *milterSession) reply(r session.StageResult) (*gomilter.Response, error) {
	if r.Verdict == nil {
		return gomilter.RespContinue, nil
	}
	v := r.Verdict
	// The transaction's one log line says it all (see logMessage); a
	// refused recipient is detail until then.
	m.srv.log.Debug("refused", "stage", r.Stage.String(), "rule", v.Rule, "reply", v.Reply.String(),
		"client", m.s.Facts.ClientIP, "sender", m.s.Facts.Sender)
	return replyFor(v.Action, v.Reply)
}

func replyFor(a policy.Action, rep policy.Reply) (*gomilter.Response, error) {
	if rep.Code == 0 {
		if a == policy.ActionTempfail {
			return gomilter.RespTempFail, nil
		}
		return gomilter.RespReject, nil
	}
	text := rep.Text
	if rep.Enhanced != "" {
		text = rep.Enhanced + " " + text
	}
	return gomilter.RejectWithCodeAndReason(uint16(rep.Code), text)
}

func (m *milterSession) log(stage policy.Stage, action, reply string, matches []scanner.Match, res *session.Result) {
	e := m.s.Event(stage, action, reply, matches, res)
	m.logged = true
	m.rowLost = m.srv.record(e) != nil
	m.logMessage(e)
}

// logMessage writes the one daemon log line of a transaction, beside its
// tracking row, in the manner of clamav-milter and opendkim: queue ID,
// client, sender, each recipient with its outcome, and the deciding rules
// with their findings.
func (m *milterSession) logMessage(e *store.Event) {
	var rcpts, rules []string
	for _, r := range e.Recipients {
		out := r.Address + "=" + r.Action
		if r.Rule != "" {
			out += "(" + r.Rule + ")"
		}
		rcpts = append(rcpts, out)
	}
	if n := m.s.MoreRefused(); n > 0 {
		rcpts = append(rcpts, fmt.Sprintf("(+%d more refused)", n))
	}
	for _, mt := range e.Matches {
		if mt.Action == "" && len(mt.Findings) == 0 {
			continue // a rule that only modifies, matching everything
		}
		var fs []string
		for _, f := range mt.Findings {
			fs = append(fs, f.Name+"="+f.Value)
		}
		rules = append(rules, mt.Rule+"["+strings.Join(fs, ",")+"]")
	}
	attrs := []any{"queue_id", e.QueueID, "client", e.ClientIP, "helo", e.Helo}
	if e.Stage != "connect" && e.Stage != "helo" { // before MAIL there is no sender, not even <>
		attrs = append(attrs, "sender", "<"+e.Sender+">")
	}
	attrs = append(attrs, "stage", e.Stage, "action", e.Action)
	if len(rcpts) > 0 {
		attrs = append(attrs, "rcpts", strings.Join(rcpts, " "))
	}
	if len(rules) > 0 {
		attrs = append(attrs, "rules", strings.Join(rules, " "))
	}
	if e.Reply != "" {
		attrs = append(attrs, "reply", e.Reply)
	}
	if len(e.QuarantineIDs) > 0 {
		attrs = append(attrs, "quarantine", strings.Join(e.QuarantineIDs, ","))
	}
	var signed []string
	for _, f := range e.Findings {
		if f.Name == session.FindingSigned {
			signed = append(signed, f.Value)
		}
	}
	if len(signed) > 0 {
		attrs = append(attrs, "dkim_signed", strings.Join(signed, ", "))
	}
	if e.Size > 0 {
		attrs = append(attrs, "subject", e.Subject, "message_id", e.MessageID, "size", e.Size)
	}
	attrs = append(attrs, "duration", e.Duration.Round(time.Microsecond))
	m.srv.log.Info("message", attrs...)
}

func (m *milterSession) Connect(host, family string, _ uint16, addr string, mod gomilter.Modifier) (*gomilter.Response, error) {
	return m.guard("connect", func() (*gomilter.Response, error) {
		if m.over {
			m.srv.Refused.Add(1)
			if m.srv.warnLimit.allow() {
				m.srv.log.Warn("session cap reached; answering 421", "max_sessions", m.s.Runtime().Config.Server.MaxSessions,
					"refused_total", m.srv.Refused.Load())
			}
			// Answer, then close: the connection is not held until the MTA
			// ends its SMTP session or read_timeout passes.
			r, _ := gomilter.RejectWithCodeAndReason(421, "4.3.2 Too many sessions, try again later")
			return r, errSessionCap
		}
		var ip netip.Addr
		if family == "tcp4" || family == "tcp6" {
			ip, _ = netip.ParseAddr(addr)
		}
		name := mod.Get(gomilter.MacroClientName)
		if name == "" {
			name = host
		}
		if name == "" || strings.HasPrefix(name, "[") {
			name = "unknown"
		}
		r := m.s.Connect(ip, name)
		if r.Verdict != nil {
			m.log(r.Stage, r.Verdict.Action.String(), r.Verdict.Reply.String(), r.Matches, nil)
		}
		return m.reply(r)
	})
}

func (m *milterSession) Helo(name string, mod gomilter.Modifier) (*gomilter.Response, error) {
	return m.guard("helo", func() (*gomilter.Response, error) {
		r := m.s.Helo(name, mod.Get(gomilter.MacroTlsVersion), mod.Get(gomilter.MacroCipher))
		if r.Verdict != nil && r.Stage == policy.StageHelo {
			m.log(r.Stage, r.Verdict.Action.String(), r.Verdict.Reply.String(), r.Matches, nil)
		}
		return m.reply(r)
	})
}

func (m *milterSession) MailFrom(from, esmtpArgs string, mod gomilter.Modifier) (*gomilter.Response, error) {
	m.endTx()
	m.failedTx = false
	return m.guard("mail", func() (*gomilter.Response, error) {
		r := m.s.Mail(from, mod.Get(gomilter.MacroAuthAuthen), mod.Get(gomilter.MacroQueueId), declaredSize(esmtpArgs))
		if r.Verdict != nil {
			m.log(policy.StageMail, r.Verdict.Action.String(), r.Verdict.Reply.String(), r.Matches, nil)
		}
		return m.reply(r)
	})
}

// declaredSize reads the SIZE= parameter of MAIL FROM (RFC 1870).
func declaredSize(args string) int64 {
	for _, a := range strings.Fields(args) {
		if v, ok := strings.CutPrefix(strings.ToUpper(a), "SIZE="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func (m *milterSession) RcptTo(rcpt, _ string, _ gomilter.Modifier) (*gomilter.Response, error) {
	return m.guard("rcpt", func() (*gomilter.Response, error) {
		return m.reply(m.s.Rcpt(rcpt))
	})
}

func (m *milterSession) Data(_ gomilter.Modifier) (*gomilter.Response, error) {
	return gomilter.RespContinue, nil
}

func (m *milterSession) Header(name, value string, _ gomilter.Modifier) (*gomilter.Response, error) {
	return m.guard("eoh", func() (*gomilter.Response, error) {
		m.s.Header(name, value)
		m.hold()
		return gomilter.RespContinue, nil
	})
}

// holdStep is the granularity of reservations before end of message.
const holdStep = 64 << 10

// hold reserves scan memory for what the session keeps before end of
// message, so every byte a session holds counts against limits.scan_memory.
// It never waits (the MTA's timeout for a body chunk's reply can be as
// short as 10 s): when the budget is spent, most often by end-of-message
// scans, the body goes to the session's spool file, and only when even its
// header fields cannot be covered is the message tempfailed (see
// [milterSession.shortReply]). What is reserved beyond the need, once the
// spool is on disk, is given back.
func (m *milterSession) hold() {
	if m.short {
		return
	}
	need := m.s.MemoryHeld()
	if m.reserve(need) {
		return
	}
	if err := m.s.SpillBody(); err != nil {
		m.srv.log.Error("spooling the body to disk", "err", err, "queue_id", m.s.QueueID)
	} else if m.reserve(m.s.MemoryHeld()) {
		return
	}
	m.short = true
}

// reserve makes the session's reservation cover need bytes, in steps of
// [holdStep]; it reports false when the budget cannot give more.
func (m *milterSession) reserve(need int64) bool {
	want := (need + holdStep - 1) / holdStep * holdStep
	switch {
	case want < m.held:
		m.srv.scanMem.Release(m.held - want)
		m.held = want
	case want > m.held:
		if !m.srv.scanMem.TryAcquire(want - m.held) {
			return false
		}
		m.held = want
	}
	return true
}

// unhold gives back what [milterSession.hold] reserved.
func (m *milterSession) unhold() {
	if m.held > 0 {
		m.srv.scanMem.Release(m.held)
		m.held = 0
	}
	m.short = false
}

// shortReply tempfails a message whose session could not reserve memory.
func (m *milterSession) shortReply(stage policy.Stage) (*gomilter.Response, error) {
	v := policy.Verdict{Action: policy.ActionTempfail, Rule: "limits.scan_memory", Stage: stage,
		Reply: policy.Reply{Code: 451, Enhanced: "4.3.1", Text: "Insufficient system resources, try again later (rule limits.scan_memory)"}}
	m.srv.metrics.internal.WithLabelValues(stage.String()).Inc()
	if m.srv.warnMemory.allow() {
		m.srv.log.Warn("scan memory exhausted; tempfailing", "scan_memory", m.srv.scanCap, "queue_id", m.s.QueueID)
	}
	m.failedTx = true
	m.log(stage, "tempfail", v.Reply.String(), []scanner.Match{{Rule: v.Rule, Stage: stage.String(), Action: "tempfail"}}, nil)
	return replyFor(v.Action, v.Reply)
}

func (m *milterSession) Headers(mod gomilter.Modifier) (*gomilter.Response, error) {
	return m.guard("eoh", func() (*gomilter.Response, error) {
		if q := mod.Get(gomilter.MacroQueueId); q != "" {
			m.s.QueueID = q
		}
		if m.short {
			return m.shortReply(policy.StageEOH)
		}
		r := m.s.EOH()
		if r.Err != nil {
			return m.internalError(policy.StageEOH, r.Err), nil
		}
		if r.Verdict != nil {
			m.log(policy.StageEOH, r.Verdict.Action.String(), r.Verdict.Reply.String(), r.Matches, nil)
		}
		return m.reply(r)
	})
}

func (m *milterSession) BodyChunk(chunk []byte, _ gomilter.Modifier) (*gomilter.Response, error) {
	return m.guard("eom", func() (*gomilter.Response, error) {
		if err := m.s.Body(chunk); err != nil {
			return m.internalError(policy.StageEOM, err), nil
		}
		if m.hold(); m.short {
			return m.shortReply(policy.StageEOM)
		}
		return gomilter.RespContinue, nil
	})
}

func (m *milterSession) EndOfMessage(mod gomilter.Modifier) (*gomilter.Response, error) {
	return m.guard("eom", func() (*gomilter.Response, error) {
		if q := mod.Get(gomilter.MacroQueueId); q != "" {
			m.s.QueueID = q
		}
		// The scan's reservation covers what the session held so far.
		m.unhold()
		done, err := m.srv.acquireScan(scanCost(m.s.BodySize()))
		if err != nil {
			return m.internalError(policy.StageEOM, err), nil
		}
		defer done()
		start := time.Now()
		defer func() { m.srv.metrics.scanSeconds.Observe(time.Since(start).Seconds()) }()
		res, err := m.s.EOM()
		if err != nil {
			return m.internalError(policy.StageEOM, err), nil
		}
		return m.finish(res, mod)
	})
}

// finish carries out the end-of-message decision. Quarantine copies are
// committed before any recipient is removed or the message discarded.
func (m *milterSession) finish(res *session.Result, mod gomilter.Modifier) (*gomilter.Response, error) {
	d := &res.Decision
	if d.Action == policy.ActionReject || d.Action == policy.ActionTempfail {
		resp, err := replyFor(d.Action, d.Reply)
		m.log(policy.StageEOM, d.Action.String(), d.Reply.String(), nil, res)
		return resp, err
	}
	var ids []string
	for _, g := range d.Quarantine {
		id, err := m.quarantine(res, g)
		if err != nil {
			if m.s.Runtime().Config.Server.OnError == "accept" {
				m.srv.log.Error("quarantine failed; delivering instead (on_error = accept)", "err", err)
				d.Deliver = append(d.Deliver, g.Recipients...)
				for _, r := range g.Recipients {
					v := res.Verdicts[r]
					v.Action = policy.ActionNone // logged as delivered, as it is
					res.Verdicts[r] = v
				}
				continue
			}
			return m.internalError(policy.StageEOM, err), nil
		}
		ids = append(ids, id)
	}
	delivered := map[string]bool{}
	for _, r := range d.Deliver {
		delivered[r] = true
	}
	if len(d.Deliver) == 0 && len(ids) > 0 {
		// Every copy is safely in the quarantine: drop the original.
		m.logWithQuarantine(res, session.QuarantineAction(d.Quarantine), ids)
		return gomilter.RespDiscard, nil
	}
	for _, r := range m.s.Facts.Recipients {
		if !delivered[r] {
			if err := mod.DeleteRecipient(r); err != nil {
				m.logWithQuarantine(res, m.failureAction(), ids)
				return nil, err
			}
		}
	}
	// Signed over the header as modify leaves it, before any change is
	// sent, so a failure changes nothing.
	sigs, err := m.s.Sign(res)
	if err != nil {
		return m.internalError(policy.StageEOM, err), nil
	}
	if err := m.modify(res, mod); err != nil {
		m.logWithQuarantine(res, m.failureAction(), ids)
		return nil, err
	}
	// Each signature goes first, where a verifier expects the newest
	// (RFC 6376 §5.6); the order of two signatures does not matter.
	for _, sg := range sigs {
		v := strings.TrimLeft(sg.Value, " ")
		if m.leadSpace {
			v = " " + v
		}
		if err := mod.InsertHeader(0, "DKIM-Signature", v); err != nil {
			m.logWithQuarantine(res, m.failureAction(), ids)
			return nil, err
		}
	}
	action := "accept"
	if len(ids) > 0 {
		action = "split" // some delivered, some quarantined
	}
	m.logWithQuarantine(res, action, ids)
	return gomilter.RespAccept, nil
}

func (m *milterSession) logWithQuarantine(res *session.Result, action string, ids []string) {
	e := m.s.Event(policy.StageEOM, action, "", nil, res)
	e.QuarantineIDs = ids
	m.logged = true
	m.rowLost = m.srv.record(e) != nil
	m.logMessage(e)
}

func (m *milterSession) quarantine(res *session.Result, g policy.QuarantineGroup) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msg := res.Message
	q := &store.QuarantineEntry{
		Time: time.Now(), Area: g.Area, Rule: g.Rule, Reason: g.Reason,
		QueueID: m.s.QueueID, Sender: m.s.Facts.Sender, Recipients: g.Recipients,
		ClientName: m.s.Facts.ClientName, Helo: m.s.Facts.Helo,
		HeaderFrom: msg.From, Subject: msg.Subject, MessageID: msg.MessageID,
		Size: int64(len(res.Raw)), Raw: res.Raw,
	}
	if m.s.Facts.ClientIP.IsValid() {
		q.ClientIP = m.s.Facts.ClientIP.String()
	}
	id, err := m.srv.quarantine.AddQuarantine(ctx, q)
	if err == nil {
		m.srv.metrics.quarantined.WithLabelValues(g.Area).Inc()
	}
	return id, err
}

// modify applies the header changes: subject tags, added fields, the
// removal of a release header so the token never reaches the recipient,
// and Authentication-Results.
func (m *milterSession) modify(res *session.Result, mod gomilter.Modifier) error {
	d := &res.Decision
	lead := ""
	if m.leadSpace {
		lead = " "
	}
	// X-Spam-* and X-Mailwarden-* fields the sender wrote would fool the
	// filters that read ours (added below with the rules' fields): remove
	// them, last first within each name so the indexes hold.
	for _, refs := range [][]spam.Ref{res.SpamRemove, res.OwnRemove} {
		for i := len(refs) - 1; i >= 0; i-- {
			if err := mod.ChangeHeader(refs[i].Index, refs[i].Name, ""); err != nil {
				return err
			}
		}
	}
	if len(d.TagSubject) > 0 {
		raw, found, changed := session.TaggedSubject(m.s.Headers(), d.TagSubject)
		if changed {
			var err error
			if found {
				err = mod.ChangeHeader(1, "Subject", lead+raw)
			} else {
				err = mod.AddHeader("Subject", lead+raw)
			}
			if err != nil {
				return err
			}
		}
	}
	for _, h := range d.AddHeaders {
		if err := mod.AddHeader(h.Name, lead+h.Value); err != nil {
			return err
		}
	}
	// Remove every release header, last first so the indexes hold.
	for i := res.ReleaseHeaders; i >= 1; i-- {
		if err := mod.ChangeHeader(i, release.Header, ""); err != nil {
			return err
		}
	}
	// Authentication-Results claiming our authserv-id are forged: remove
	// them, last first, then put ours at the top (RFC 8601 §5).
	for i := len(res.AuthResultsRemove) - 1; i >= 0; i-- {
		if err := mod.ChangeHeader(res.AuthResultsRemove[i], authres.Header, ""); err != nil {
			return err
		}
	}
	if res.AuthResults != "" {
		if err := mod.InsertHeader(0, authres.Header, lead+res.AuthResults); err != nil {
			return err
		}
	}
	return nil
}

// endTx writes the row of a transaction that ended without reaching end of
// message but refused recipients on the way (all RCPTs rejected, then RSET
// or QUIT).
func (m *milterSession) endTx() {
	if m.s != nil && !m.logged {
		if last, ok := m.s.LastRefused(); ok {
			m.log(policy.StageRcpt, last.Action, last.Reply, nil, nil)
		}
	}
	m.logged = false
	m.unhold()
	if m.s != nil {
		m.s.ResetTx()
	}
}

func (m *milterSession) Abort(_ gomilter.Modifier) error {
	_, err := m.guard("abort", func() (*gomilter.Response, error) {
		m.endTx()
		m.failedTx = false
		return nil, nil
	})
	return err
}

func (m *milterSession) Unknown(_ string, _ gomilter.Modifier) (*gomilter.Response, error) {
	return gomilter.RespContinue, nil
}

func (m *milterSession) Cleanup(_ gomilter.Modifier) {
	_, _ = m.guard("abort", func() (*gomilter.Response, error) {
		m.endTx()
		if m.s != nil {
			m.s.Close()
		}
		return nil, nil
	})
	if m.counted {
		m.srv.active.Add(-1)
		m.counted = false
	}
}
