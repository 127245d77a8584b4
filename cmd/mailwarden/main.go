// Command mailwarden is a mail security filter for Postfix and Sendmail,
// attached as a milter. Each subcommand lives in its own file with its help
// text; this file only dispatches.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/mattn/go-isatty"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy/release"
	"github.com/mailwarden/mailwarden/session"
	"github.com/mailwarden/mailwarden/store"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // first line of help: arguments
	help    string // further help
	flags   func(fs *flag.FlagSet) func(ctx context.Context, args []string, s *stdio) error
}

// stdio is what a command reads and writes: results to out, notes,
// prompts and the daemon's banner to err.
type stdio struct {
	in       io.Reader
	out, err io.Writer
	// interactive: in is a terminal, so a command may ask for confirmation.
	interactive bool
}

// stdin and isTerminal are variables so that tests can play a terminal.
var (
	stdin      io.Reader = os.Stdin
	isTerminal           = func(f any) bool {
		file, ok := f.(*os.File)
		return ok && isatty.IsTerminal(file.Fd())
	}
)

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// errUsage makes main print the command's usage and exit 2.
var errUsage = errors.New("usage")

// usageError is a usage mistake with a word on what is wrong, printed
// before the usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Unwrap() error { return errUsage }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// exitError carries an exit status without another message.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-V" || args[0] == "-version") {
		args = append([]string{"version"}, args[1:]...)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		overview(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	name, rest := args[0], args[1:]
	if name == "help" {
		if len(rest) == 0 {
			overview(stdout)
			return 0
		}
		name, rest = strings.Join(rest, " "), []string{"-h"}
	}
	if name == "config" && len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help") {
		name = "config check" // the only config verb so far
	}
	if name == "config" && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = "config "+rest[0], rest[1:]
	}
	if (name == "quarantine" || name == "list" || name == "profiler" || name == "dkim" || name == "learn") && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = name+" "+rest[0], rest[1:]
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "mailwarden: unknown command %q\n\n", name)
		overview(stderr)
		return 2
	}
	fs := flag.NewFlagSet("mailwarden "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below: help to stdout, mistakes to stderr
	runFn := c.flags(fs)
	pos, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout, c, fs)
		return 0
	}
	if err != nil {
		usage(stderr, c, fs)
		return 2
	}
	err = runFn(ctx, pos, &stdio{in: stdin, out: stdout, err: stderr, interactive: isTerminal(stdin)})
	var ee exitError
	var ce *config.ConfigError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ce):
		for _, p := range ce.Problems {
			fmt.Fprintln(stderr, p.String())
		}
		fmt.Fprintf(stderr, "%d problem(s)\n", len(ce.Problems))
		return 1
	case errors.Is(err, errUsage):
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "mailwarden %s: %s\n\n", c.name, ue.msg)
		}
		usage(stderr, c, fs)
		return 2
	case errors.As(err, &ee):
		return int(ee)
	default:
		fmt.Fprintf(stderr, "mailwarden %s: %v\n", c.name, err)
		return 1
	}
}

// parseInterspersed parses flags that may come after positional arguments,
// as in `quarantine release ID --rcpt a@b`.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func overview(w io.Writer) {
	fmt.Fprintln(w, "mailwarden: a mail security filter for Postfix and Sendmail (milter)")
	fmt.Fprintln(w, "\nUsage: mailwarden COMMAND [flags] [args]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-20s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\n'mailwarden help COMMAND' or 'mailwarden COMMAND -h' shows a command's usage.")
}

func usage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: mailwarden %s %s\n\n%s\n", c.name, c.usage, c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// configFlags are the -c and --data flags most commands share.
type configFlags struct {
	file   string
	data   string
	listen string // serve's --listen
	// serve's --socket-mode and --socket-group
	socketMode, socketGroup string
}

func (c *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.file, "c", "", "config `file` (default: the embedded default config)")
	fs.StringVar(&c.data, "data", "", "data `dir`ectory; overrides server.data_dir")
}

func (c *configFlags) load() (*session.Loaded, error) {
	var l *session.Loaded
	var err error
	if c.file == "" {
		l, err = session.LoadDefault()
	} else {
		l, err = session.LoadConfigFile(c.file)
	}
	if err != nil {
		return nil, err
	}
	cfg := l.Config
	if c.data != "" {
		cfg.Server.DataDir = c.data
	}
	if c.listen != "" {
		cfg.Server.Listen = c.listen
	}
	if c.socketMode != "" {
		if _, err := strconv.ParseUint(c.socketMode, 8, 32); err != nil {
			return nil, fmt.Errorf("--socket-mode: %q is not an octal file mode such as 0660", c.socketMode)
		}
		cfg.Server.SocketMode = c.socketMode
	}
	if c.socketGroup != "" {
		cfg.Server.SocketGroup = c.socketGroup
	}
	return l, nil
}

// loadStore loads the config and opens its store, for the commands that
// read the tracking log or the quarantine: read-only unless write is set.
// Neither creates a database: a directory without one is an error ("no
// store at DIR"), since an empty store made on the spot would read as
// "nothing logged". done closes the store and, when root ran the command on
// a data directory owned by the daemon's user, hands the files SQLite (or a
// release key) may have created back to that user, so the daemon can still
// open them.
func (c *configFlags) loadStore(ctx context.Context, write bool) (cfg *config.Config, st *store.Store, done func(), err error) {
	l, err := c.load()
	if err != nil {
		return nil, nil, nil, err
	}
	cfg = l.Config
	dir, err := filepath.Abs(cfg.Server.DataDir)
	if err != nil {
		return nil, nil, nil, err
	}
	if write {
		if _, err := os.Stat(filepath.Join(dir, store.DBFile)); errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil, noStore(dir)
		}
		st, err = store.Open(ctx, dir, quietLogger())
	} else {
		st, err = store.OpenReadOnly(ctx, dir, quietLogger())
		if errors.Is(err, store.ErrNoStore) {
			return nil, nil, nil, noStore(dir)
		}
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, st, func() {
		st.Close()
		keepOwner(dir)
	}, nil
}

func noStore(dir string) error {
	return fmt.Errorf("no store at %s (no %s there): give the daemon's config with -c, or its data directory with --data", dir, store.DBFile)
}

// keepOwner gives the store's files the owner of the data directory.
func keepOwner(dir string) {
	if os.Geteuid() != 0 {
		return
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return
	}
	for _, name := range append(store.Files(), release.KeyFile) {
		_ = os.Lchown(filepath.Join(dir, name), int(st.Uid), int(st.Gid))
	}
}

// openStore opens the data directory's store for the daemon, creating the
// directory and the database.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (*store.Store, error) {
	dir, err := filepath.Abs(cfg.Server.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return store.Open(ctx, dir, log)
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
