package e2e

import (
	"net"
	"os/exec"
	"testing"
	"time"
)

// TestDescriptorFlood opens more idle TCP connections to the milter port
// than the daemon has file descriptors (prlimit --nofile=128). Accept then
// fails with "too many open files"; the daemon must back off and keep
// serving (go-milter's Serve alone returns, and the daemon would exit),
// close the idle connections after the handshake timeout, and then carry
// real mail through Postfix.
func TestDescriptorFlood(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		missing(t, "prlimit (util-linux) is not installed: %v", err)
	}
	mw := startMailwardenWith(t, e2eConfig, daemonOptions{prefix: []string{prlimit, "--nofile=128:128"}})
	sink := StartSink(t)
	mta := StartPostfix(t, mw.addr, sink.Addr())

	var idle []net.Conn
	for range 300 {
		c, err := net.DialTimeout("tcp", mw.addr, 2*time.Second)
		if err != nil {
			break // the backlog is full: flood enough
		}
		idle = append(idle, c)
	}
	if len(idle) < 200 {
		t.Fatalf("only %d connections opened; the flood did not exceed the limit", len(idle))
	}
	// The daemon is still alive while the flood lasts.
	time.Sleep(2 * time.Second)
	select {
	case <-mw.exited:
		t.Fatalf("mailwarden exited under the connection flood: %v\n%s", mw.waitErr, tail(mw.log.String(), 30))
	default:
	}
	// Every idle connection is closed by the server (none negotiated).
	closed := 0
	for _, c := range idle {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != nil {
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				closed++
			}
		}
		c.Close()
	}
	if closed != len(idle) {
		t.Errorf("%d of %d idle connections were closed by the daemon", closed, len(idle))
	}
	r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"bob@example.com"}, msg("after-flood", "clean after the flood", "x"))
	if !r.Accepted() {
		t.Fatalf("after the flood: %s\n%s", r, tail(mw.log.String(), 30))
	}
	waitDelivered(t, sink, mta, "after-flood", 1)
}
