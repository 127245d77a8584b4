package session

import (
	"net/netip"
	"testing"
)

// TestDryRunAllRefused: when every recipient is refused at RCPT the
// transaction ends there, and its action is what the client is told to do
// with the message: tempfail when any recipient may be retried (a
// greylisted one), reject only when every one is refused for good.
func TestDryRunAllRefused(t *testing.T) {
	rt := runtimeWith(t, `
[[rule]]
name = "gone"
recipients = ["gone@example.com"]
action = "reject"
reply = "550 5.1.1 No such user"

[[rule]]
name = "full"
recipients = ["full@example.com"]
action = "tempfail"
reply = "452 4.2.2 Mailbox full"
`)
	for _, tc := range []struct {
		rcpts []string
		want  string
	}{
		{[]string{"gone@example.com"}, "reject"},
		{[]string{"full@example.com"}, "tempfail"},
		{[]string{"gone@example.com", "full@example.com"}, "tempfail"},
		{[]string{"full@example.com", "gone@example.com"}, "tempfail"},
		{[]string{"full@example.com", "bob@example.com"}, "accept"},
	} {
		rep := DryRun(rt, DryRunInput{ClientIP: netip.MustParseAddr("198.51.100.7"), From: "a@example.net",
			Rcpts: tc.rcpts, Message: []byte("Subject: x\n\nbody\n")}, quiet)
		if rep.Action != tc.want {
			t.Errorf("recipients %v: action %q, want %q", tc.rcpts, rep.Action, tc.want)
		}
	}
}
