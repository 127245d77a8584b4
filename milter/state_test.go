package milter

import (
	"strings"
	"testing"

	gomilter "github.com/d--j/go-milter"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailwarden/mailwarden/check/profiler"
	"github.com/mailwarden/mailwarden/check/throttle"
	"github.com/mailwarden/mailwarden/scanner/message"
)

const stateConfig = `
[[throttle]]
name = "sender"
key = "sender"
messages = 2
window = "1h"

[profiler]
enabled = true
spam = 1

[[rule]]
name = "throttled"
findings = ["throttle.sender"]
action = "tempfail"
reply = "451 4.7.1 Too much mail, try again later"

[[rule]]
name = "profiled"
findings = ["profiler.blocked"]
action = "reject"
reply = "554 5.7.1 Blocked"

[[rule]]
name = "gtube"
findings = ["content.gtube"]
action = "quarantine"
quarantine = "spam"
`

// TestStateWired: the daemon's sessions reach the state store. A sender
// over its throttle is tempfailed at MAIL, and a client that sent two GTUBE
// messages (the profiler learning from the rules' verdicts) is refused at
// connect; both blocks are counted in the metrics.
func TestStateWired(t *testing.T) {
	ts := startServer(t, stateConfig)
	throttleBlocks, profilerBlocks := throttle.Blocks(), profiler.Blocks()
	x := txn{ip: "198.51.100.1", from: "flood@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("hi", "hello")}
	for i := range 2 {
		if o := send(t, ts.addr, x); o.stage != "eom" {
			t.Fatalf("message %d stopped at %s: %+v", i+1, o.stage, o.action)
		}
	}
	o := send(t, ts.addr, x)
	if o.stage != "mail" || o.action.Type != gomilter.ActionRejectWithCode || o.action.SMTPCode != 451 ||
		!strings.Contains(o.action.SMTPReply, "4.7.1 Too much mail, try again later (rule throttled: throttle.sender)") {
		t.Errorf("third message: stage %s, %+v", o.stage, o.action)
	}

	spam := txn{ip: "203.0.113.5", from: "a@spam.example", rcpts: []string{"bob@example.com"}, msg: mkmsg("hi", message.GTUBE)}
	for i := range 2 {
		if o := send(t, ts.addr, spam); o.stage != "eom" {
			t.Fatalf("spam %d stopped at %s", i+1, o.stage)
		}
	}
	if o := send(t, ts.addr, spam); o.stage != "connect" || o.action.SMTPCode != 554 {
		t.Errorf("after two spam messages: stage %s, %+v; want a reject at connect", o.stage, o.action)
	}
	if n := throttle.Blocks() - throttleBlocks; n != 1 {
		t.Errorf("throttle blocks counted: %d, want 1", n)
	}
	if n := profiler.Blocks() - profilerBlocks; n != 1 {
		t.Errorf("profiler blocks counted: %d, want 1", n)
	}
	if got := testutil.ToFloat64(ts.srv.metrics.ruleMatches.WithLabelValues("profiled")); got != 1 {
		t.Errorf("profiled rule matches: %v", got)
	}
}
