package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvSkip is the environment variable that turns a missing MTA into a skip.
// Set MAILWARDEN_E2E=skip on a developer machine without Postfix or
// Sendmail; CI never sets it, so there a missing MTA fails the build.
const EnvSkip = "MAILWARDEN_E2E"

// EnvSendmailRoot overrides where the unpacked Sendmail packages live
// (default: var/e2e/sendmail under the module root).
const EnvSendmailRoot = "MAILWARDEN_E2E_SENDMAIL_ROOT"

// EnvNoUnshare, when set, runs Sendmail without its private mount
// namespace (to test the fallback used where "unshare -m" is not allowed).
const EnvNoUnshare = "MAILWARDEN_E2E_NO_UNSHARE"

const installHint = "run `sudo bash e2e/install-deps.sh` (or set " + EnvSkip + "=skip to skip the end-to-end tests)"

// missing reports a missing prerequisite: a skip when MAILWARDEN_E2E=skip,
// otherwise a fatal error, never a silent pass.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(EnvSkip) == "skip" {
		t.Skipf("e2e: %s (%s=skip)", msg, EnvSkip)
	}
	t.Fatalf("e2e: %s; %s", msg, installHint)
}

// requireRoot fails (or skips) unless the test runs as root: both MTAs need
// root to start (Postfix's master, Sendmail's daemon).
func requireRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "%s must be started as root (euid is %d)", what, os.Geteuid())
	}
}

var moduleRoot = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("e2e: no go.mod above the working directory")
		}
		dir = parent
	}
})

// instanceDir returns a fresh t.TempDir() that the unprivileged users of the
// MTAs (postfix, mail) can traverse: Go creates temp dirs with mode 0700.
func instanceDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("e2e: chmod %s: %v", d, err)
		}
	}
	return dir
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("e2e: find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// splitHostPort parses "127.0.0.1:2525" into its IP and port.
func splitHostPort(t testing.TB, what, addr string) (string, int) {
	t.Helper()
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("e2e: %s %q: %v", what, addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		t.Fatalf("e2e: %s %q: bad port", what, addr)
	}
	if ip := net.ParseIP(host); ip == nil || ip.To4() == nil {
		t.Fatalf("e2e: %s %q: want an IPv4 address", what, addr)
	}
	return host, port
}

// listening reports whether something listens on 127.0.0.1:port, read from
// /proc/net/tcp so that no connection (and no milter session) is made.
func listening(port int) bool {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return false
	}
	defer f.Close()
	want := fmt.Sprintf("0100007F:%04X", port)
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 3 && fields[1] == want && fields[3] == "0A" {
			return true
		}
	}
	return false
}

// waitFor polls cond every 20ms until it is true or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tail returns at most the last n bytes of s, cut at a line start.
// waitListening waits until port listens (ready) or the process whose end
// closes exited has died (dead).
func waitListening(exited <-chan struct{}, port int, timeout time.Duration) (dead, ready bool) {
	ready = waitFor(timeout, func() bool {
		select {
		case <-exited:
			dead = true
			return true
		default:
		}
		return listening(port)
	})
	return dead, ready
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "…\n" + s
}
