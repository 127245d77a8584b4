package milter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	gomilter "github.com/d--j/go-milter"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/session"
	"github.com/mailwarden/mailwarden/store"
)

// maxPacket bounds one milter packet. MTAs send body chunks of at most 1 MiB
// (SMFIP_MDS_1M); anything much larger is not a milter peer.
const maxPacket = 2 << 20

// Server is the milter daemon: it accepts MTA connections and runs one
// [Session] per SMTP session.
type Server struct {
	log *slog.Logger
	// quarantine and claims are the parts of the store sessions write
	// directly; tracking rows go through events.
	quarantine store.Quarantine
	claims     store.ReleaseClaims
	state      store.State // what checks keep between sessions
	corr       store.Correspondents
	rt         atomic.Pointer[session.Runtime]
	active     atomic.Int64
	milter     *gomilter.Server
	events     *eventWriter
	// scanMem bounds the message bytes held by end-of-message scans at
	// once (limits.scan_memory), so many large messages wait their turn
	// instead of exhausting memory.
	scanMem *budget
	scanCap int64
	metrics *metrics

	// Panics counts recovered panics; tests and metrics read it.
	Panics atomic.Int64
	// Refused counts sessions answered 421 over the session cap.
	Refused   atomic.Int64
	warnLimit everySecond
	// acceptErrors counts accept failures (descriptor exhaustion and the
	// like) that were retried.
	acceptErrors atomic.Int64
	acceptWarn   everySecond
	warnMemory   everySecond
}

// everySecond lets a repeated warning through at most once a second, so a
// flood of refused sessions does not flood the log.
type everySecond struct{ last atomic.Int64 }

func (e *everySecond) allow() bool {
	now := time.Now().Unix()
	last := e.last.Load()
	return now != last && e.last.CompareAndSwap(last, now)
}

// NewServer builds a server on a runtime and a store.
func NewServer(rt *session.Runtime, st *store.Store, log *slog.Logger) *Server {
	s := &Server{log: log, quarantine: st, claims: st, state: st, corr: st}
	gomilter.LogWarning = func(format string, v ...any) {
		for _, a := range v {
			if err, ok := a.(error); ok && (errors.Is(err, ErrBadPacket) || errors.Is(err, errSessionCap)) {
				return // logged already, as ours
			}
		}
		log.Warn("milter protocol error", "detail", fmt.Sprintf(format, v...))
	}
	s.rt.Store(rt)
	s.events = newEventWriter(st, rt.Config.Store.JournalMax.N, log)
	s.scanCap = rt.Config.Limits.ScanMemory.N
	s.scanMem = newBudget(s.scanCap)
	if os.Getenv("GOMEMLIMIT") == "" { // the operator's own limit wins
		debug.SetMemoryLimit(memoryLimit(s.scanCap))
	}
	s.metrics = newMetrics(s)
	s.observeChecks(rt)
	cfg := rt.Config.Server
	s.milter = gomilter.NewServer(
		gomilter.WithDynamicMilter(func(version uint32, action gomilter.OptAction, protocol gomilter.OptProtocol, maxData gomilter.DataSize) gomilter.Milter {
			return &milterSession{srv: s, leadSpace: protocol&gomilter.OptHeaderLeadingSpace != 0}
		}),
		gomilter.WithNegotiationCallback(negotiate),
		gomilter.WithReadTimeout(cfg.ReadTimeout.D),
		gomilter.WithWriteTimeout(cfg.WriteTimeout.D),
		gomilter.WithMacroRequest(gomilter.StageConnect, []gomilter.MacroName{"j", "_", gomilter.MacroDaemonName, gomilter.MacroClientName, gomilter.MacroClientPTR}),
		gomilter.WithMacroRequest(gomilter.StageHelo, []gomilter.MacroName{gomilter.MacroTlsVersion, gomilter.MacroCipher}),
		gomilter.WithMacroRequest(gomilter.StageMail, []gomilter.MacroName{gomilter.MacroQueueId, gomilter.MacroAuthAuthen, gomilter.MacroAuthType}),
		gomilter.WithMacroRequest(gomilter.StageRcpt, []gomilter.MacroName{gomilter.MacroQueueId}),
		gomilter.WithMacroRequest(gomilter.StageEOH, []gomilter.MacroName{gomilter.MacroQueueId}),
		gomilter.WithMacroRequest(gomilter.StageEOM, []gomilter.MacroName{gomilter.MacroQueueId}),
	)
	return s
}

// errSessionCap ends a session over server.max_sessions once its 421 is
// written: go-milter closes the connection on a callback's error.
var errSessionCap = errors.New("milter: over server.max_sessions")

// Actions mailwarden needs from the MTA, and protocol steps it skips.
const (
	needActions = gomilter.OptAddHeader | gomilter.OptChangeHeader | gomilter.OptRemoveRcpt
	// wantProtocol are taken when the MTA offers them: no DATA and unknown
	// command events (unused), no reply per header (saves a round trip per
	// field), and header values with their leading space, so the message can
	// be rebuilt byte for byte.
	wantProtocol = gomilter.OptNoUnknown | gomilter.OptNoData | gomilter.OptNoHeaderReply | gomilter.OptHeaderLeadingSpace
)

// negotiate takes protocol version 6 (or the MTA's lower one), insists on
// the actions mailwarden needs, and requests only the protocol steps it uses.
func negotiate(mtaVersion, _ uint32, mtaActions, _ gomilter.OptAction, mtaProtocol, _ gomilter.OptProtocol, offered gomilter.DataSize) (uint32, gomilter.OptAction, gomilter.OptProtocol, gomilter.DataSize, error) {
	if mtaVersion < 2 {
		return 0, 0, 0, 0, fmt.Errorf("milter: MTA protocol version %d is too old", mtaVersion)
	}
	if mtaActions&needActions != needActions {
		return 0, 0, 0, 0, fmt.Errorf("milter: MTA does not allow the actions mailwarden needs (offered %v)", mtaActions)
	}
	actions := needActions
	if mtaActions&gomilter.OptSetMacros != 0 {
		actions |= gomilter.OptSetMacros
	}
	return min(mtaVersion, gomilter.MaxServerProtocolVersion), actions, wantProtocol & mtaProtocol, offered, nil
}

// scanCost is the memory an end-of-message scan of a message of size bytes
// holds at its peak: twice the message in Go's heap (the spooled copy and
// the parsed model with decoded text; measured at most 1.8×), and twice
// more outside it while a quarantine copy is committed (SQLite's driver
// and SQLite itself each copy the blob; measured up to 2.1×).
// BenchmarkEOMMemory measures both against this figure.
func scanCost(size int64) int64 { return 4*size + 1<<20 }

// memoryLimit is the Go runtime's soft memory limit for a scan budget:
// reservations bound the live bytes of scans, and the limit keeps garbage
// from doubling them (Go's default GC target lets the heap grow to twice
// the live bytes). The rest of the daemon gets 256 MiB beside the budget.
func memoryLimit(scanMemory int64) int64 { return scanMemory + scanMemory/4 + 256<<20 }

// acquireScan reserves n bytes of scan memory (at most the whole budget).
func (s *Server) acquireScan(n int64) (func(), error) {
	n = max(1, min(n, s.scanCap))
	wait := s.rt.Load().Config.Limits.ScanWait.D // limits.scan_wait, reloaded with the config
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.scanMem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("milter: waited %v for scan memory (limits.scan_memory, limits.scan_wait): %w", wait, err)
	}
	return func() { s.scanMem.Release(n) }, nil
}

// record writes a tracking-log row durably (a bounded wait; the store's
// speed does not reach the session) and counts it in the metrics. An error
// wraps [ErrRowLost]: the row is neither in the journal nor in the store.
func (s *Server) record(e *store.Event) error {
	s.metrics.messages.WithLabelValues(e.Action, e.Stage).Inc()
	for _, r := range e.Recipients {
		s.metrics.recipients.WithLabelValues(r.Action).Inc()
	}
	for _, m := range e.Matches {
		s.metrics.ruleMatches.WithLabelValues(m.Rule).Inc()
	}
	return s.events.Add(e)
}

// Runtime returns the configuration in force.
func (s *Server) Runtime() *session.Runtime { return s.rt.Load() }

// SetRuntime swaps the configuration atomically; sessions already running
// keep theirs.
func (s *Server) SetRuntime(rt *session.Runtime) {
	s.observeChecks(rt)
	s.rt.Store(rt)
}

// observeChecks counts the runtime's check runs in the metrics.
func (s *Server) observeChecks(rt *session.Runtime) {
	if rt.Checks != nil {
		rt.Checks.Observe = s.metrics.observeCheck
	}
}

// Serve accepts MTA connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.checkDescriptors()
	g := guardListener{Listener: ln, maxPacket: maxPacket, onBad: func(err error) {
		s.log.Warn("closing milter connection on a malformed packet", "err", err)
	}, onAcceptErr: func(err error, delay time.Duration) {
		s.acceptErrors.Add(1)
		if s.acceptWarn.allow() {
			s.log.Error("accept failed; retrying", "err", err, "retry_in", delay,
				"accept_errors_total", s.acceptErrors.Load(), "active_sessions", s.active.Load())
		}
	}}
	err := s.milter.Serve(g)
	if errors.Is(err, gomilter.ErrServerClosed) {
		return nil
	}
	return err
}

// descriptorsPerSession is what one milter session may hold at once: its
// connection and a spool file; fixedDescriptors covers the listener, the
// store, the metrics endpoint and the runtime.
const (
	descriptorsPerSession = 2
	fixedDescriptors      = 64
)

// checkDescriptors warns when the open-file limit cannot hold
// server.max_sessions; past it, accepts fail and are retried with back-off,
// and sessions get the failure answer.
func (s *Server) checkDescriptors() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	maxSessions := s.rt.Load().Config.Server.MaxSessions
	if need := uint64(maxSessions*descriptorsPerSession + fixedDescriptors); lim.Cur < need {
		s.log.Warn("the open-file limit is too low for server.max_sessions; raise it (LimitNOFILE= in the systemd unit, ulimit -n)",
			"limit", lim.Cur, "max_sessions", maxSessions, "needed", need)
	}
}

// Shutdown stops accepting, waits for sessions up to ctx, then closes the
// rest, waits for the auto-learning in flight, and flushes the tracking
// log.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.milter.Shutdown(ctx)
	// Auto-learning writes in the background, each within the Bayes
	// check's budget: let them end before the caller closes the store.
	if rt := s.rt.Load(); rt != nil && rt.AutoLearn != nil {
		rt.AutoLearn.Wait()
	}
	s.events.Close()
	return err
}

// Active is the number of open milter sessions.
func (s *Server) Active() int64 { return s.active.Load() }

// Listen opens the milter socket from a Postfix-style spec. A unix socket
// replaces a stale one and gets mode and group, so that a chrooted Postfix
// smtpd (group postfix) can connect.
func Listen(spec, mode, group string) (net.Listener, error) {
	network, addr, err := config.ParseListen(spec)
	if err != nil {
		return nil, err
	}
	if network != "unix" {
		return net.Listen(network, addr)
	}
	if fi, err := os.Lstat(addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.Dial("unix", addr); err == nil {
			c.Close()
			return nil, fmt.Errorf("milter: %s is in use by another process", addr)
		}
		_ = os.Remove(addr)
	}
	// Create the socket owner-only, then open it to the configured mode and
	// group: no moment where it has the umask's looser mode.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", addr)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	m, _ := strconv.ParseUint(mode, 8, 32)
	if err := os.Chmod(addr, os.FileMode(m)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("milter: chmod socket: %w", err)
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("milter: socket group: %w", err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(addr, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("milter: chown socket: %w", err)
		}
	}
	return ln, nil
}
