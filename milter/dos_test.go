package milter

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"
)

// flakyListener fails its first n accepts with err, as a listener does
// while the process is out of file descriptors.
type flakyListener struct {
	net.Listener
	n   atomic.Int32
	err error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.n.Add(-1) >= 0 {
		return nil, l.err
	}
	return l.Listener.Accept()
}

func TestAcceptErrorsAreRetried(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED} {
		t.Run(errno.Error(), func(t *testing.T) {
			ts := startServer(t, testConfig)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			fl := &flakyListener{Listener: ln, err: &net.OpError{Op: "accept", Net: "tcp", Err: errno}}
			fl.n.Store(5)
			served := make(chan error, 1)
			go func() { served <- ts.srv.Serve(fl) }()
			o := send(t, ln.Addr().String(), txn{from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("x", "y")})
			if o.action.Type != gomilter.ActionAccept {
				t.Fatalf("after %d accept errors: %+v", 5, o.action)
			}
			select {
			case err := <-served:
				t.Fatalf("Serve returned on an accept error: %v", err)
			default:
			}
			if got := ts.srv.acceptErrors.Load(); got != 5 {
				t.Errorf("accept errors counted: %d, want 5", got)
			}
			ln.Close()
			if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
				t.Logf("Serve after close: %v", err)
			}
		})
	}
}

// A session over max_sessions gets its 421 and then its connection is
// closed, not held until the MTA quits or read_timeout (an hour here).
func TestSessionCapClosesConnection(t *testing.T) {
	ts := startServer(t, "[server]\nmax_sessions = 1\nread_timeout = \"1h\"\n"+testConfig)
	c := gomilter.NewClient("tcp", ts.addr, gomilter.WithActions(gomilter.AllClientSupportedActionMasks))
	first, err := c.Session(gomilter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := first.Conn("a", gomilter.FamilyInet, 25, "198.51.100.1"); err != nil {
		t.Fatal(err)
	}
	second, err := c.Session(gomilter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	a, err := second.Conn("b", gomilter.FamilyInet, 25, "198.51.100.2")
	if err != nil || a.SMTPCode != 421 {
		t.Fatalf("second session: %+v, %v; want 421", a, err)
	}
	// The server hangs up: the next command fails rather than waiting.
	done := make(chan error, 1)
	go func() {
		_, err := second.Helo("b")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the refused session still answers commands")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the refused session's connection is still open")
	}
	if !waitFor(5*time.Second, func() bool { return ts.srv.Active() == 1 }) {
		t.Errorf("active sessions %d, want 1 (the refused one is gone)", ts.srv.Active())
	}
}

// A connection that never negotiates is closed after the handshake
// timeout, so idle connections cannot pile up to the descriptor limit.
func TestIdleConnectionIsClosed(t *testing.T) {
	ts := startServer(t, "[server]\nread_timeout = \"1h\"\n"+testConfig)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		t.Fatalf("an idle connection was not closed by the server: %v", err)
	}
	if n != 0 {
		t.Errorf("server sent %d bytes to a peer that never negotiated", n)
	}
}

func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
