package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/d--j/go-milter"
)

// benchConfig is the embedded baseline plus one header rule, so the
// daemon does its usual work on every message.
const benchConfig = `
[server]
socket_mode = "0666"

[[rule]]
name = "gtube"
findings = ["content.gtube"]
action = "quarantine"
quarantine = "spam"

[[rule]]
name = "stamp"
subject = "^bench"
add_headers = ["X-Mailwarden-Scanned: yes"]
`

// BenchmarkMTASession measures what an MTA administrator sees: one
// SMTP session carrying 50 messages through a real Postfix and a real
// Sendmail, with
// mailwarden as the milter and with a do-nothing go-milter server, over
// TCP and over a unix socket. go-milter's client never showed the
// per-message stall this catches (Postfix writes packets that expect no
// reply; over TCP the second small write waits for a delayed ACK).
func BenchmarkMTASession(b *testing.B) {
	const perSession = 50
	sink := StartSink(b)
	// Postfix's smtpd (user postfix) must reach the sockets, and Sendmail
	// refuses a socket below a world-writable directory such as /tmp.
	sockDir, err := os.MkdirTemp("/run", "mailwarden-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(sockDir) })
	if err := os.Chmod(sockDir, 0o755); err != nil {
		b.Fatal(err)
	}

	msgs := make([][]byte, perSession)
	for i := range msgs {
		msgs[i] = benchMessage(i)
	}
	mwTCP := startMailwarden(b, benchConfig)
	mwUnix := startMailwardenOn(b, benchConfig, filepath.Join(sockDir, "mailwarden.sock"))
	noopTCP := StartMilter(b, milter.WithMilter(func() milter.Milter { return milter.NoOpMilter{} }))
	noopUnix := startNoopUnix(b, filepath.Join(sockDir, "noop.sock"))

	starters := map[string]func(testing.TB, Options) *MTA{"postfix": StartPostfixWith, "sendmail": StartSendmailWith}
	for _, mtaName := range []string{"postfix", "sendmail"} {
		for _, tr := range []struct {
			name     string
			mw, noop string // milter addresses for [Options.MilterAddr]
		}{
			{"tcp", mwTCP.addr, noopTCP},
			{"unix", "unix:" + mwUnix.addr, "unix:" + noopUnix},
		} {
			b.Run("mta="+mtaName+"/transport="+tr.name, func(b *testing.B) {
				start := starters[mtaName]
				mw := start(b, Options{RelayAddr: sink.Addr(), MilterAddr: tr.mw})
				noop := start(b, Options{RelayAddr: sink.Addr(), MilterAddr: tr.noop})
				var tMW, tNoop time.Duration
				for b.Loop() {
					tNoop += session(b, noop, msgs)
					tMW += session(b, mw, msgs)
				}
				n := time.Duration(b.N)
				b.ReportMetric(float64((tMW / n).Milliseconds()), "mailwarden-ms/session")
				b.ReportMetric(float64((tNoop / n).Milliseconds()), "noop-ms/session")
				b.ReportMetric(float64(tMW)/float64(tNoop), "ratio")
				b.Logf("%s over %s: %d messages on one SMTP session: mailwarden %v, do-nothing milter %v, ratio %.2f",
					mtaName, tr.name, perSession, (tMW / n).Round(time.Millisecond), (tNoop / n).Round(time.Millisecond), float64(tMW)/float64(tNoop))
			})
		}
	}
}

// session sends msgs over one SMTP session and returns how long it took.
func session(b *testing.B, mta *MTA, msgs [][]byte) time.Duration {
	start := time.Now()
	replies, err := SendSession(b, mta.SMTPAddr, "alice@example.net", []string{"bob@example.com"}, msgs)
	d := time.Since(start)
	if err != nil || len(replies) != len(msgs) {
		b.Fatalf("%s: %d of %d sent: %v\n%s", mta, len(replies), len(msgs), err, tail(mta.Logs(), 40))
	}
	for i, r := range replies {
		if r.Class() != 2 {
			b.Fatalf("%s: message %d: %v", mta, i, r)
		}
	}
	return d
}

// benchMessage is a plain ~5 KB message with the header fields of
// ordinary mail.
func benchMessage(i int) []byte {
	body := make([]byte, 0, 5000)
	for len(body) < 5000 {
		body = append(body, "The quick brown fox jumps over the lazy dog, again and again.\r\n"...)
	}
	return fmt.Appendf(nil, "Received: from client.example.net (client.example.net [192.0.2.7])\r\n"+
		"\tby mx.example.net with ESMTPS id 4Qx%04d; Tue, 1 Dec 2026 10:00:00 +0000\r\n"+
		"From: Alice <alice@example.net>\r\nTo: Bob <bob@example.com>\r\nSubject: bench %d\r\n"+
		"Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <bench-%d@example.net>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"+
		"X-Mailer: bench\r\nList-Id: <bench.example.net>\r\n\r\n%s", i, i, i, body)
}

// startNoopUnix serves a do-nothing go-milter server on a unix socket.
func startNoopUnix(b *testing.B, path string) string {
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	_ = os.Chmod(path, 0o666)
	srv := milter.NewServer(milter.WithMilter(func() milter.Milter { return milter.NoOpMilter{} }))
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close(); <-done })
	return path
}
