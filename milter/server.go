package milter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	gomilter "github.com/d--j/go-milter"
	"golang.org/x/sync/semaphore"

	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/store"
)

// maxPacket bounds one milter packet. MTAs send body chunks of at most 1 MiB
// (SMFIP_MDS_1M); anything much larger is not a milter peer.
const maxPacket = 2 << 20

// Server is the milter daemon: it accepts MTA connections and runs one
// [Session] per SMTP session.
type Server struct {
	log    *slog.Logger
	store  *store.Store
	rt     atomic.Pointer[Runtime]
	active atomic.Int64
	milter *gomilter.Server
	events *eventWriter
	// scanMem bounds the message bytes held by end-of-message scans at
	// once (limits.scan_memory), so many large messages wait their turn
	// instead of exhausting memory.
	scanMem *semaphore.Weighted
	scanCap int64
	metrics *metrics

	// Panics counts recovered panics; tests and metrics read it.
	Panics atomic.Int64
	// Refused counts sessions answered 421 over the session cap.
	Refused   atomic.Int64
	warnLimit everySecond
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
func NewServer(rt *Runtime, st *store.Store, log *slog.Logger) *Server {
	s := &Server{log: log, store: st}
	gomilter.LogWarning = func(format string, v ...any) {
		log.Warn("go-milter: " + fmt.Sprintf(format, v...))
	}
	s.rt.Store(rt)
	s.events = newEventWriter(st, rt.Config.Store.JournalMax.N, log)
	s.scanCap = rt.Config.Limits.ScanMemory.N
	s.scanMem = semaphore.NewWeighted(s.scanCap)
	s.metrics = newMetrics(s)
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

// scanWait is how long an end-of-message scan waits for memory before the
// message is tempfailed; well under the MTAs' content timeouts.
const scanWait = 60 * time.Second

// acquireScan reserves n bytes of scan memory (at most the whole budget).
func (s *Server) acquireScan(n int64) (func(), error) {
	n = max(1, min(n, s.scanCap))
	ctx, cancel := context.WithTimeout(context.Background(), scanWait)
	defer cancel()
	if err := s.scanMem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("milter: waited %v for scan memory (limits.scan_memory): %w", scanWait, err)
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
func (s *Server) Runtime() *Runtime { return s.rt.Load() }

// SetRuntime swaps the configuration atomically; sessions already running
// keep theirs.
func (s *Server) SetRuntime(rt *Runtime) { s.rt.Store(rt) }

// Serve accepts MTA connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	g := guardListener{Listener: ln, maxPacket: maxPacket, onBad: func(err error) {
		s.log.Warn("closing milter connection on a malformed packet", "err", err)
	}}
	err := s.milter.Serve(g)
	if errors.Is(err, gomilter.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, waits for sessions up to ctx, then closes the
// rest, and flushes the tracking log.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.milter.Shutdown(ctx)
	s.events.Close()
	return err
}

// Active is the number of open milter sessions.
func (s *Server) Active() int64 { return s.active.Load() }

// Listen opens the milter socket from a Postfix-style spec. A unix socket
// replaces a stale one and gets mode and group, so that a chrooted Postfix
// smtpd (group postfix) can connect.
func Listen(spec, mode, group string) (net.Listener, error) {
	network, addr, err := policy.ParseListen(spec)
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
