package milter

import (
	"testing"
)

// TestFirstTimeSender: the daemon gives the first-time-sender check the
// tracking log, which learns from each delivered message: the second
// message from a sender to a recipient is no longer a first, while the
// same sender to another recipient still is.
func TestFirstTimeSender(t *testing.T) {
	ts := startServer(t, `
[organization]
internal_domains = ["example.com"]

[[rule]]
name = "first-time"
findings = ["sender.first_time"]
add_headers = ["X-First-Time: yes"]
`)
	msg := "From: a@ext.example\r\nSubject: hi\r\n\r\nhello\r\n"
	steps := []struct {
		rcpt  string
		first bool
	}{
		{"bob@example.com", true},
		{"bob@example.com", false},
		{"carol@example.com", true},
	}
	for i, s := range steps {
		o := send(t, ts.addr, txn{from: "a@ext.example", rcpts: []string{s.rcpt}, msg: msg})
		if _, got := o.header("X-First-Time"); got != s.first {
			t.Errorf("message %d to %s: first time = %v, want %v (outcome %+v)", i+1, s.rcpt, got, s.first, o)
		}
		waitEvents(t, ts.store, i+1)
	}
}
