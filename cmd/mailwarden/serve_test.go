package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPrintAttach(t *testing.T) {
	for _, tc := range []struct {
		spec, bound, problem string
		want, not            []string
	}{
		{"inet:127.0.0.1:8899", "127.0.0.1:8899", "", []string{"smtpd_milters = inet:127.0.0.1:8899\n", "S=inet:8899@127.0.0.1,"}, []string{"chroot"}},
		{"inet:[::1]:8899", "[::1]:8899", "", []string{"smtpd_milters = inet:[::1]:8899\n", "S=inet6:8899@::1,"}, nil},
		// Inside Postfix's queue directory: the path as a chrooted smtpd
		// must write it, and the whole path for one that is not chrooted.
		{"unix:/var/spool/postfix/mailwarden/milter.sock", "/var/spool/postfix/mailwarden/milter.sock", "",
			[]string{"smtpd_milters = unix:/mailwarden/milter.sock\n", "write unix:/var/spool/postfix/mailwarden/milter.sock",
				"S=local:/var/spool/postfix/mailwarden/milter.sock,"}, nil},
		{"unix:/run/mailwarden/milter.sock", "/run/mailwarden/milter.sock", "user postfix cannot connect",
			[]string{"smtpd_milters = unix:/run/mailwarden/milter.sock\n", "a chrooted smtpd (Debian's default) cannot reach this socket",
				"# WARNING: user postfix cannot connect"}, nil},
	} {
		var b bytes.Buffer
		printAttach(&b, tc.spec, tc.bound, tc.problem)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: lacks %q:\n%s", tc.spec, w, b.String())
			}
		}
		for _, n := range tc.not {
			if strings.Contains(b.String(), n) {
				t.Errorf("%s: has %q:\n%s", tc.spec, n, b.String())
			}
		}
	}
}

func TestSocketProblem(t *testing.T) {
	pf, err := user.Lookup("postfix")
	if err != nil {
		t.Skip("no postfix user on this machine")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the socket another group")
	}
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		mode  os.FileMode
		group string // "" root's group
		want  string // "" no problem
	}{
		{0o600, "", "set server.socket_mode (or --socket-mode) to 0660 and server.socket_group (or --socket-group) to postfix"},
		{0o660, "", "which postfix is not in"},
		{0o660, pf.Gid, ""},
		{0o666, "", ""},
	} {
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		gid := 0
		if tc.group != "" {
			gid, _ = strconv.Atoi(tc.group)
		}
		if err := os.Chown(path, 0, gid); err != nil {
			t.Fatal(err)
		}
		got := socketProblem(path, "postfix")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("mode %o group %q: %q, want %q", tc.mode, tc.group, got, tc.want)
		}
	}
}

// TestServeUnixSocketFlags: --socket-mode and --socket-group apply to a
// socket given with --listen; the banner is for terminals only, so a
// non-terminal standard error (the journal) gets the log lines alone.
func TestServeUnixSocketFlags(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "milter.sock")
	ctx, cancel := context.WithCancel(context.Background())
	var errOut syncWriter
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "unix:" + sock, "--socket-mode", "0606", "--data", filepath.Join(dir, "data")}, &errOut, &errOut)
	}()
	var fi os.FileInfo
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if fi, err = os.Stat(sock); err == nil && fi.Mode().Perm() == 0o606 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("socket %v %v\n%s", fi, err, errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The group flag is checked by the daemon: a group that does not exist
	// stops it before it serves.
	code, _, errOut2 := runCmd(t, "serve", "--listen", "unix:"+filepath.Join(dir, "other.sock"), "--socket-group", "no-such-group-mw", "--data", filepath.Join(dir, "data2"))
	if code != 1 || !strings.Contains(errOut2, "no-such-group-mw") {
		t.Errorf("bad --socket-group: exit %d %s", code, errOut2)
	}
	if code, _, errOut := runCmd(t, "serve", "--socket-mode", "rw", "--data", filepath.Join(dir, "data3")); code != 1 || !strings.Contains(errOut, "--socket-mode") {
		t.Errorf("bad --socket-mode: exit %d %s", code, errOut)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exit %d\n%s", code, errOut.String())
	}
	if s := errOut.String(); strings.Contains(s, "Postfix: add to main.cf") {
		t.Errorf("banner written to a non-terminal:\n%s", s)
	}
}

// syncWriter is a buffer safe for the daemon's goroutines and the test.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
