package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mailwarden/mailwarden/check/bayes"
	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/milter"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/policy/release"
	"github.com/mailwarden/mailwarden/session"
	"github.com/mailwarden/mailwarden/store"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "run the milter daemon",
		usage:   "[-c config.toml] [--listen inet:HOST:PORT|unix:/path] [--socket-mode MODE] [--socket-group GROUP] [--data DIR]",
		help: `Speaks milter protocol 6 to Postfix (smtpd_milters) or Sendmail
(INPUT_MAIL_FILTER). Without -c the embedded default config applies.

Started on a terminal, it prints the main.cf and sendmail.mc lines that
attach the MTA to standard error; under systemd it logs one line instead.
A unix socket is created with server.socket_mode and server.socket_group
(or --socket-mode and --socket-group); if Postfix's user could not connect
to it as created, a warning says so. For a chrooted Postfix smtpd (Debian's
default) put the socket under /var/spool/postfix: the banner gives the path
as Postfix must write it, inside the chroot.

Signals: SIGHUP reloads the config file atomically (a bad config is logged
and the old one stays in force); SIGTERM and SIGINT stop accepting and wait
up to server.shutdown_timeout for open sessions.`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, *stdio) error {
			var cf configFlags
			cf.register(fs)
			fs.StringVar(&cf.listen, "listen", "", "milter `socket`, inet:HOST:PORT or unix:/path; overrides server.listen")
			fs.StringVar(&cf.socketMode, "socket-mode", "", "octal `mode` of a unix socket, e.g. 0660; overrides server.socket_mode")
			fs.StringVar(&cf.socketGroup, "socket-group", "", "`group` owning a unix socket, e.g. postfix; overrides server.socket_group")
			return func(ctx context.Context, args []string, s *stdio) error {
				if len(args) > 0 {
					return errUsage
				}
				return serve(ctx, &cf, s)
			}
		},
	})
}

func newLogger(cfg *config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Server.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Server.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// buildRuntime turns a loaded config into a runtime, with the release key
// from config or the data directory.
func buildRuntime(l *session.Loaded) (*session.Runtime, error) {
	cfg := l.Config
	dir, err := filepath.Abs(cfg.Server.DataDir)
	if err != nil {
		return nil, err
	}
	key := cfg.ReleaseKey()
	if key == nil {
		if key, err = release.LoadOrCreateKey(dir); err != nil {
			return nil, err
		}
	}
	spool := filepath.Join(dir, "spool")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return nil, fmt.Errorf("spool directory: %w", err)
	}
	return session.NewRuntime(l, key, spool)
}

func serve(ctx context.Context, cf *configFlags, s *stdio) error {
	l, err := cf.load()
	if err != nil {
		return err
	}
	cfg, pol := l.Config, l.Policy
	if _, _, err := config.ParseListen(cfg.Server.Listen); err != nil {
		return err
	}
	log := newLogger(cfg)
	logWarnings(log, pol)
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	// A bad state database stops the daemon here, not at a check's first use.
	if err := st.OpenState(ctx); err != nil {
		return err
	}
	rt, err := buildRuntime(l)
	if err != nil {
		return err
	}
	srv := milter.NewServer(rt, st, log)
	srv.SetDNSStats(func() dns.Stats { return srv.Runtime().DNS.Stats() })
	ln, err := milter.Listen(cfg.Server.Listen, cfg.Server.SocketMode, cfg.Server.SocketGroup)
	if err != nil {
		return err
	}
	network, path, _ := config.ParseListen(cfg.Server.Listen)
	var sockProblem string
	if network == "unix" {
		sockProblem = socketProblem(path, "postfix")
	}
	if isTerminal(s.err) {
		printAttach(s.err, cfg.Server.Listen, ln.Addr().String(), sockProblem)
	}
	if sockProblem != "" {
		log.Warn(sockProblem, "socket", path)
	}
	log.Info("mailwarden serving", "listen", cfg.Server.Listen, "config", cfg.File, "data", cfg.Server.DataDir,
		"rules", len(pol.Rules), "version", buildVersion())

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if cfg.Server.MetricsListen != "" {
		stop, err := serveMetrics(cfg.Server.MetricsListen, srv, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	pruneCtx, stopPrune := context.WithCancel(ctx)
	defer stopPrune()
	go pruneLoop(pruneCtx, st, srv, log)

	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	for {
		select {
		case err := <-serveErr:
			return err
		case <-ctx.Done():
			return shutdown(srv, cfg, log)
		case s := <-sig:
			if s == syscall.SIGHUP {
				reload(cf, srv, log)
				continue
			}
			log.Info("shutting down", "signal", s.String(), "sessions", srv.Active())
			return shutdown(srv, cfg, log)
		}
	}
}

// serveMetrics serves Prometheus metrics and a health check over HTTP.
func serveMetrics(addr string, srv *milter.Server, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(srv.Registry(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "ok %d sessions\n", srv.Active())
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics on http://" + ln.Addr().String() + "/metrics")
	return func() { _ = hs.Close() }, nil
}

func shutdown(srv *milter.Server, cfg *config.Config, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout.D)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		log.Warn("shutdown timeout: closed the sessions still open", "timeout", cfg.Server.ShutdownTimeout.D)
		return nil
	}
	log.Info("stopped")
	return err
}

// reload loads the config file again and swaps it in whole. Settings that
// need a new socket or store (listen, data_dir) keep their old value until a
// restart, and a warning says so.
func reload(cf *configFlags, srv *milter.Server, log *slog.Logger) {
	old := srv.Runtime().Config
	l, err := cf.load()
	if err != nil {
		log.Error("reload failed; the old config stays in force", "config", cf.file, "err", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	cfg, pol := l.Config, l.Policy
	if cfg.Server.Listen != old.Server.Listen || cfg.Server.DataDir != old.Server.DataDir {
		log.Warn("server.listen and server.data_dir take effect on restart only")
	}
	cfg.Server.Listen, cfg.Server.DataDir = old.Server.Listen, old.Server.DataDir
	rt, err := buildRuntime(l)
	if err != nil {
		log.Error("reload failed; the old config stays in force", "err", err)
		return
	}
	if prev := srv.Runtime(); reflect.DeepEqual(config.Section[dns.Config](prev.Config, "dns"), config.Section[dns.Config](cfg, "dns")) {
		rt.DNS = prev.DNS // keep the cache and the counters
	}
	srv.SetRuntime(rt)
	log.Info("config reloaded", "config", cfg.File, "rules", len(pol.Rules))
	logWarnings(log, pol)
}

// logWarnings puts what `config check` warns about in the daemon's log, at
// start and at every reload.
func logWarnings(log *slog.Logger, pol *policy.Policy) {
	for _, w := range pol.Warnings {
		log.Warn("config: " + w.String())
	}
}

func pruneLoop(ctx context.Context, st *store.Store, srv *milter.Server, log *slog.Logger) {
	for {
		cfg := srv.Runtime().Config
		now := time.Now()
		ev, q, err := st.Prune(ctx, now.Add(-cfg.Store.EventRetention.D), now.Add(-cfg.Store.QuarantineRetention.D))
		if err != nil && ctx.Err() == nil {
			log.Error("prune failed", "err", err)
		} else if ev+q > 0 {
			log.Info("pruned", "events", ev, "quarantined", q)
		}
		if n, err := st.PruneState(ctx, now); err != nil && ctx.Err() == nil {
			log.Error("prune of check state failed", "err", err)
		} else if n > 0 {
			log.Info("pruned check state", "entries", n)
		}
		if c := bayes.FromConfig(cfg); c.Config().Enabled {
			if n, _, err := c.Expire(ctx, st, now); err != nil && ctx.Err() == nil {
				log.Error("expiry of bayes tokens failed", "err", err)
			} else if n > 0 {
				log.Info("expired bayes tokens", "tokens", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(cfg.Store.PruneInterval.D):
		}
	}
}

// postfixQueueDir is where a chrooted Postfix smtpd lives (queue_directory).
const postfixQueueDir = "/var/spool/postfix"

// printAttach prints the MTA configuration that attaches to this daemon.
// problem, when set, says why Postfix cannot use the socket as created.
func printAttach(out io.Writer, spec, bound, problem string) {
	network, path, _ := config.ParseListen(spec)
	var postfix, sendmail, notes string
	if network == "tcp" {
		host, port := splitHostPort(bound)
		postfix = "inet:" + joinHostPort(host, port)
		sendmail = "inet:" + port + "@" + host
		if strings.Contains(host, ":") {
			sendmail = "inet6:" + port + "@" + host
		}
	} else {
		postfix, sendmail = "unix:"+path, "local:"+path
		if inChroot, ok := strings.CutPrefix(path, postfixQueueDir+"/"); ok {
			// A chrooted smtpd resolves the path inside its chroot.
			postfix = "unix:/" + inChroot
			notes += fmt.Sprintf("    # the path inside Postfix's chroot (%s), as a chrooted smtpd and cleanup\n"+
				"    # (Debian's default) must write it; if they are not chrooted, write unix:%s\n", postfixQueueDir, path)
		} else {
			notes += fmt.Sprintf("    # a chrooted smtpd (Debian's default) cannot reach this socket: listen under\n"+
				"    # %s, e.g. unix:%s/mailwarden/milter.sock, or on inet:\n", postfixQueueDir, postfixQueueDir)
		}
		if problem != "" {
			notes += "    # WARNING: " + problem + "\n"
		}
	}
	fmt.Fprintf(out, `mailwarden is listening on %s

Postfix: add to main.cf, then 'postfix reload':
%s    smtpd_milters = %s
    non_smtpd_milters = $smtpd_milters
    milter_protocol = 6
    milter_default_action = tempfail
    milter_command_timeout = 30s
    milter_content_timeout = 300s

    milter_connect_timeout = 30s
    milter_connect_macros = j {daemon_name} {daemon_addr} {client_name} {client_ptr} v _

Sendmail: add to sendmail.mc, then rebuild sendmail.cf and restart:
    INPUT_MAIL_FILTER(`+"`mailwarden', `S=%s, F=T, T=C:30s;S:30s;R:5m;E:10m')"+`
    define(`+"`confMILTER_MACROS_CONNECT', `j, _, {daemon_name}, {if_name}, {if_addr}, {client_name}, {client_ptr}')"+`

`, bound, notes, postfix, sendmail)
}

// socketProblem says why the MTA's user mtaUser could not connect to the
// unix socket at path as it was created, or "" when it can (or when there
// is no such user to ask about). Connecting needs write permission on the
// socket.
func socketProblem(path, mtaUser string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	u, err := user.Lookup(mtaUser)
	if err != nil {
		return "" // no Postfix here to judge for
	}
	mode := fi.Mode().Perm()
	if u.Uid == "0" || mode&0o002 != 0 || (mode&0o200 != 0 && u.Uid == strconv.FormatUint(uint64(st.Uid), 10)) {
		return ""
	}
	gid := strconv.FormatUint(uint64(st.Gid), 10)
	group := gid
	if g, err := user.LookupGroupId(gid); err == nil {
		group = g.Name
	}
	if mode&0o020 != 0 {
		gids, _ := u.GroupIds()
		if u.Gid == gid || slices.Contains(gids, gid) {
			return ""
		}
		return fmt.Sprintf("user %s cannot connect to the socket as created (mode %04o, group %s, which %s is not in): "+
			"set server.socket_group (or --socket-group) to %s", mtaUser, mode, group, mtaUser, mtaUser)
	}
	return fmt.Sprintf("user %s cannot connect to the socket as created (mode %04o, group %s): "+
		"set server.socket_mode (or --socket-mode) to 0660 and server.socket_group (or --socket-group) to %s", mtaUser, mode, group, mtaUser)
}

func splitHostPort(a string) (string, string) {
	i := strings.LastIndexByte(a, ':')
	if i < 0 {
		return a, ""
	}
	return strings.Trim(a[:i], "[]"), a[i+1:]
}

func joinHostPort(h, p string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]:" + p
	}
	return h + ":" + p
}
