// Package check is where every detection plugs in: the [Check] interface,
// the [Set] of checks one loaded configuration runs with the findings they
// declare, and the [Runner] that runs a stage's checks once, concurrently,
// each with its deadline and failure mode.
//
// A check reports findings and never picks an action: rules in policy/
// decide. Each check lives in a subpackage (check/gtube, check/release,
// later check/dnsbl, check/clamav, ...) and registers a [Builder] from init.
//
// Every finding has a [Scope]. A connection-scoped finding (a DNSBL
// listing, the profiler) is computed once per connection and kept across
// its transactions; a transaction-scoped one (SPF at MAIL, content at end
// of message) once per message; a recipient-scoped one (greylisting, a
// recipient throttle) once per recipient, and a rule deciding a recipient
// sees only that recipient's findings.
//
// check imports policy for [policy.Stage] only; policy learns the declared
// findings through [policy.Catalog], which a [Set] implements, so policy
// never imports check.
package check

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/mailwarden/mailwarden/check/dns"

	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/store"
)

// Scope says what a finding is computed once for, and how long it holds.
type Scope int

// The scopes, widest first.
const (
	ScopeConnection  Scope = iota // once per connection, kept across transactions
	ScopeTransaction              // once per message
	ScopeRecipient                // once per recipient
)

func (s Scope) String() string {
	switch s {
	case ScopeConnection:
		return "connection"
	case ScopeTransaction:
		return "transaction"
	default:
		return "recipient"
	}
}

// Finding is what a check reports.
type Finding = scanner.Finding

// Declared is a finding name a check can report. A name ending in ".*"
// declares a family, for example "dnsbl.*" for one finding per list.
type Declared struct {
	Name string
	Doc  string // one line for `config check`
	// Shared lets other checks declare the same name, each with Shared
	// too: one finding that several checks report, each at its own stage
	// and scope (ioc: the client at connect, the sender at MAIL, each
	// recipient at RCPT, the content at end of message). A rule on it is
	// decided from the earliest of their stages on, seeing the later ones'
	// findings as they come (like a [Late] check's), and every one of
	// them runs for it.
	Shared bool
}

// OnError is what a failing check (an error, its budget spent, a panic)
// means for the message. Either way the failure is the finding check.error,
// naming the check, so rules and the tracking log see it.
type OnError string

// The failure modes.
const (
	OnErrorTempfail OnError = "tempfail" // answer 451 4.3.0; the client retries
	OnErrorSkip     OnError = "skip"     // go on as if the check found nothing
)

// FindingError is reported for a check that failed; its value is the
// check's name, its reason the error.
const FindingError = "check.error"

// Check is one detection.
type Check interface {
	// Name identifies the check in `config check`, logs, metrics and the
	// check.error finding.
	Name() string
	// Stage is the earliest stage at which the check's inputs are known;
	// it runs then, and is awaited at the first stage whose rules need it.
	Stage() policy.Stage
	// Scope is what its findings are computed once for. A recipient-scoped
	// check runs once per recipient, from RCPT on.
	Scope() Scope
	// Findings declares what the check can report.
	Findings() []Declared
	// Budget is the check's time budget: its context ends then.
	Budget() time.Duration
	// OnError is the failure mode.
	OnError() OnError
	// Run inspects in and reports findings. It must return when ctx ends.
	Run(ctx context.Context, in *Input) ([]Finding, error)
}

// LearnsFrom is implemented by a check that learns from other checks'
// findings (the IP profiler counts recipient.unknown): while it runs, the
// checks reporting them run too, whether or not a rule names them.
type LearnsFrom interface {
	LearnsFrom() []string
}

// Always is implemented by a check that runs whether or not a rule names
// its findings: one whose findings change how every rule applies (a
// verified release), or that something learns from.
type Always interface {
	Always() string // why, for `config check`
}

// Late is implemented by a check that has more to say at a later stage of
// the same transaction: an approved-sender list matches the envelope
// sender at MAIL, and the header From at end of headers. RunLate runs
// once per transaction at LateStage, and its findings join the check's.
// Rules on them keep the check's stage; being evaluated again at every
// later stage, they see the late findings from LateStage on.
type Late interface {
	LateStage() policy.Stage
	RunLate(ctx context.Context, in *Input) ([]Finding, error)
}

// ClientJudge is implemented by a check that judges the SMTP client by its
// address (a DNSBL, the IP profiler, a throttle per IP). On a connection
// from a known host (a relay in front of this one) such a check does not
// judge the relay: it runs at end of headers on the message's first
// untrusted hop instead, or not at all, as [known_hosts] says.
type ClientJudge interface {
	JudgesClient() bool
}

func judgesClient(c Check) bool {
	j, ok := c.(ClientJudge)
	return ok && j.JudgesClient()
}

// Input is what a check sees: the session's facts up to its stage. A
// check must not keep it, nor change it.
type Input struct {
	ClientIP   netip.Addr
	ClientName string
	Helo       string
	AuthUser   string
	Sender     string
	// Rcpt is the recipient a recipient-scoped check runs for.
	Rcpt string
	// Recipients are the accepted recipients so far.
	Recipients []string
	// Headers are the header fields as the MTA passed them (value with its
	// leading space when the MTA keeps it), from end of headers on.
	Headers []RawHeader
	// Message is the parsed message, Raw the whole message as received and
	// Body its body, at end of message.
	Message *message.Message
	Raw     []byte
	Body    []byte
	// HeaderBytes rebuilds header fields as the client sent them (CRLF).
	HeaderBytes func([]RawHeader) []byte
	// Env carries the dependencies and the run mode.
	Env *Env
	// Findings are those of the earlier stages (SPF's, from MAIL, for
	// DMARC at end of message); checks that read them name their checks
	// in [LearnsFrom], so they run.
	Findings []Finding
	// Shared holds what the checks of one stage compute once and share
	// (the DKIM verification, read by the dkim and dmarc checks); nil
	// means each computes its own.
	Shared *Shared
}

// Shared is a per-stage memo: [Shared.Do] runs f once per key, and every
// caller gets its result. The zero value is ready; a nil *Shared runs f
// each time.
type Shared struct {
	mu sync.Mutex
	m  map[string]*sharedEntry
}

type sharedEntry struct {
	once sync.Once
	v    any
}

// Do returns f's result for key, running f only the first time.
func (s *Shared) Do(key string, f func() any) any {
	if s == nil {
		return f()
	}
	s.mu.Lock()
	if s.m == nil {
		s.m = map[string]*sharedEntry{}
	}
	e := s.m[key]
	if e == nil {
		e = &sharedEntry{}
		s.m[key] = e
	}
	s.mu.Unlock()
	e.once.Do(func() { e.v = f() })
	return e.v
}

// RawHeader is a header field as the MTA passed it.
type RawHeader struct {
	Name, Value string
}

// Env is what checks get from outside; they never reach for globals, so
// tests inject fakes. One Env serves a session.
type Env struct {
	Log *slog.Logger
	Now func() time.Time
	// DryRun is set by `mailwarden check`: no side effects (counters,
	// greylist entries, learning, release claims).
	DryRun bool
	// Offline answers every network lookup as a failure, so a dry run
	// never waits on the network.
	Offline bool
	// ReleaseKey verifies release headers.
	ReleaseKey []byte
	// Trusted reports whether a client is in organization.trusted_networks.
	Trusted func(netip.Addr) bool
	// DNS is the shared resolver every DNS lookup goes through ([dns]);
	// in an offline dry run every lookup fails at once.
	DNS *dns.Resolver
	// KnownHost reports whether a client is a known host ([known_hosts]):
	// a relay whose own address the checks that judge clients skip.
	KnownHost func(netip.Addr) bool
	// ClaimRelease records the use of a release token for recipients and
	// returns those claimed now (see store.ClaimRelease).
	ClaimRelease func(ctx context.Context, nonce string, rcpts []string) ([]string, error)
	// State is the daemon's state store (counters, entries), for the
	// checks that remember between sessions: throttles, the profiler,
	// greylisting. A dry run may have one to read, never to write; nil
	// means none, and such checks report nothing (or, outside a dry run,
	// fail with [ErrNoState]).
	State store.State
	// Correspondents answers whether a sender has written to a recipient
	// before, from the tracking log (the first-time-sender check); nil
	// means no log, and that check reports nothing.
	Correspondents store.Correspondents
}

// ErrNoState is the failure of a check that needs the state store in a
// session that has none.
var ErrNoState = errors.New("check: no state store")

// Time is Env.Now, or the wall clock.
func (e *Env) Time() time.Time {
	if e == nil || e.Now == nil {
		return time.Now()
	}
	return e.Now()
}
