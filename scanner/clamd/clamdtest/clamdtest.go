// Package clamdtest starts a private, real clamd for tests: Debian's
// clamd on the test signature database in testdata/clamav (EICAR, the
// clamav-testfiles sample and two custom signatures), listening on a unix
// socket in the test's temporary directory and, if asked, on a loopback
// TCP port. There is no freshclam and no official database.
//
// A missing clamd fails the test instead of skipping it: CI installs it
// with e2e/install-deps.sh, and a skipped antivirus test would prove
// nothing.
package clamdtest

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/scanner/clamd"
)

// EICAR is the 68-byte EICAR antivirus test file.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// The custom test samples and the names of their signatures in
// testdata/clamav/test.ndb.
const (
	Custom              = "MAILWARDEN-CLAMAV-CUSTOM-SAMPLE-5e1f0c"
	CustomSignature     = "Mailwarden.Test.Custom"
	MassMailer          = "MAILWARDEN-CLAMAV-MASSMAILER-SAMPLE-9b27d4"
	MassMailerSignature = "Email.Worm.MailwardenTest"
	EICARSignature      = "Eicar-Test-Signature"
	TestFileSignature   = "ClamAV-Test-File" // clam.exe of clamav-testfiles
)

// SameSignature reports whether clamd's name got is the database's name
// want, which clamd may report with ".UNOFFICIAL" appended.
func SameSignature(got, want string) bool {
	return got == want || got == want+".UNOFFICIAL"
}

// Options configure the clamd started.
type Options struct {
	// StreamMaxLength is clamd's StreamMaxLength ("1M"); empty means 25M,
	// clamd's default.
	StreamMaxLength string
	// TCP also listens on a loopback TCP port.
	TCP bool
	// Extra are more clamd.conf lines, e.g. "MaxFileSize 1K".
	Extra []string
}

// Server is a running clamd.
type Server struct {
	Dir    string // its directory: clamd.conf, clamd.log, db/
	Socket string // the unix socket's path
	TCP    string // "127.0.0.1:port" when Options.TCP
	cmd    *exec.Cmd
	exited chan struct{}
}

// Address is the socket as mailwarden's config takes it: "unix:/path".
func (s *Server) Address() string { return "unix:" + s.Socket }

// TCPAddress is "inet:127.0.0.1:port", or "" without Options.TCP.
func (s *Server) TCPAddress() string {
	if s.TCP == "" {
		return ""
	}
	return "inet:" + s.TCP
}

// Binary finds clamd: on $PATH or in /usr/sbin, which a non-root PATH
// often lacks.
func Binary() (string, error) {
	if p, err := exec.LookPath("clamd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/clamd"); err == nil {
		return "/usr/sbin/clamd", nil
	}
	return "", fmt.Errorf("clamdtest: clamd not found (install Debian's clamav-daemon: sudo bash e2e/install-deps.sh)")
}

// DBDir is testdata/clamav of the repository.
func DBDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "clamav")
}

// Start starts clamd and waits until it answers PING; t.Cleanup stops it.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := shortTempDir(t)
	db := filepath.Join(dir, "db")
	if err := copyDB(DBDir(), db); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &Server{Dir: dir, Socket: filepath.Join(dir, "clamd.sock"), exited: make(chan struct{})}
	max := o.StreamMaxLength
	if max == "" {
		max = "25M"
	}
	conf := []string{
		"LocalSocket " + s.Socket,
		"DatabaseDirectory " + db,
		"TemporaryDirectory " + tmp,
		"LogFile " + filepath.Join(dir, "clamd.log"),
		"LogVerbose yes",
		"Foreground yes",
		"ScanMail yes",
		"ScanArchive yes",
		"AlertExceedsMax yes",
		"StreamMaxLength " + max,
		"MaxThreads 4",
		"SelfCheck 0",
	}
	conf = append(conf, o.Extra...)
	if o.TCP {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s.TCP = "127.0.0.1:" + strconv.Itoa(port)
		conf = append(conf, "TCPSocket "+strconv.Itoa(port), "TCPAddr 127.0.0.1")
	}
	confPath := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "--config-file="+confPath)
	s.cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "clamd.out"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("clamdtest: starting %s: %v", bin, err)
	}
	go func() { _ = s.cmd.Wait(); out.Close(); close(s.exited) }()
	t.Cleanup(s.Stop)
	if err := s.waitReady(30 * time.Second); err != nil {
		s.Stop()
		t.Fatalf("clamdtest: %v\n%s", err, s.Log())
	}
	return s
}

// Stop stops clamd and waits for it to exit; calling it again is a no-op.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// Log is clamd's log and output so far, for a failure message.
func (s *Server) Log() string {
	var b strings.Builder
	for _, f := range []string{"clamd.log", "clamd.out"} {
		data, _ := os.ReadFile(filepath.Join(s.Dir, f))
		fmt.Fprintf(&b, "--- %s\n%s", f, data)
	}
	return b.String()
}

func (s *Server) waitReady(limit time.Duration) error {
	addrs := []string{s.Address()}
	if s.TCP != "" {
		addrs = append(addrs, s.TCPAddress())
	}
	deadline := time.Now().Add(limit)
	for _, a := range addrs {
		c, err := clamd.New(a, clamd.Options{})
		if err != nil {
			return err
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err = c.Ping(ctx)
			cancel()
			if err == nil {
				break
			}
			select {
			case <-s.exited:
				return fmt.Errorf("clamd exited before answering PING: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("clamd did not answer PING on %s within %v: %v", a, limit, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// shortTempDir is a temporary directory with a path short enough for a
// unix socket (108 bytes), which t.TempDir's may not be.
func shortTempDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "clamd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func copyDB(from, to string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(p) {
		case ".hdb", ".ndb", ".hsb", ".ldb", ".yara":
		default:
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, d.Name()), data, 0o644)
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
