package milter

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// TestOneLogLinePerMessage: each transaction gives exactly one info line,
// with the client, the sender, every recipient with its outcome, and the
// deciding rules with their findings; a connect-stage refusal shows no
// sender.
func TestOneLogLinePerMessage(t *testing.T) {
	var buf lockedBuffer
	ts := startServerLog(t, testConfig, &buf)
	send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"nobody@example.com", "bob@example.com", "ceo@example.com"},
		msg: mkmsg("lottery win", "x")})
	send(t, ts.addr, txn{ip: "192.0.2.9", from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("x", "y")})
	var lines []string
	if !waitFor(5*time.Second, func() bool { lines = buf.lines("level=INFO"); return len(lines) >= 2 }) {
		t.Fatalf("info lines: %q", lines)
	}
	time.Sleep(100 * time.Millisecond)
	if lines = buf.lines("level=INFO"); len(lines) != 2 {
		t.Fatalf("want one info line per transaction, got %d:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, want := range []string{"msg=message", "client=198.51.100.1", "sender=<a@example.net>", "action=split",
		"nobody@example.com=reject(no-such-user)", "bob@example.com=accept", "ceo@example.com=quarantine(ceo-subject)",
		"no-such-user[recipient.match=nobody@example.com]", "ceo-subject[", "quarantine=", `subject="lottery win"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("message line lacks %q:\n%s", want, lines[0])
		}
	}
	for _, want := range []string{"client=192.0.2.9", "stage=connect", "action=reject", "blocked-net[client.network=192.0.2.9]"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("connect line lacks %q:\n%s", want, lines[1])
		}
	}
	if strings.Contains(lines[1], "sender=") {
		t.Errorf("a connect-stage refusal shows a sender:\n%s", lines[1])
	}
}
