package e2e

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/config"
)

// spamExtra adds scored rules on the subject to the embedded default, so
// the score reaches its levels without the spam-specific checks. The long
// rule name makes X-Spam-Status fold.
const spamExtra = `
[[rule]]
name = "pills"
subject = "(?i)pills"
score = 3.5

[[rule]]
name = "cheap"
subject = "(?i)cheap"
score = 2

[[rule]]
name = "a-rather-long-rule-name-that-makes-the-status-fold"
subject = "(?i)pills"
score = 0.1
`

// TestSpamScore runs the embedded default's spam rules through real
// Postfix: a message over the threshold is quarantined in the area spam,
// its tracking row naming the score and the tests; one between the
// thresholds arrives tagged [SPAM?] with X-Spam-Status: No, score=…
// folded, and the X-Spam-* fields its sender forged are gone.
func TestSpamScore(t *testing.T) {
	sink := StartSink(t)
	mw := startMailwarden(t, string(config.DefaultTOML())+spamExtra)
	mta := StartPostfix(t, mw.addr, sink.Addr())

	send := func(from string, data []byte) {
		t.Helper()
		r := SendWith(t, SendOptions{Addr: mta.SMTPAddr, SrcIP: "127.0.0.140", Helo: "client.mailwarden.test", From: from,
			To: []string{"bob@example.com"}, Data: data})
		if r.Err != nil || !r.Accepted() {
			t.Fatalf("not accepted: %v\n%s", r.Err, r.Transcript)
		}
	}

	t.Run("spam is quarantined", func(t *testing.T) {
		send("alice@spam.example.net", msg("spam-over", "cheap pills", "Buy now."))
		row := senderRows(t, mw, 1, "--sender", "alice@spam.example.net")[0]
		f := checkRow(t, row, "eom", "quarantine", "spam", "spam")
		if want := "score=5.6 required=5.0 tests=a-rather-long-rule-name-that-makes-the-status-fold,cheap,pills"; f.Value != "5.6" || f.Reason != want {
			t.Errorf("finding %+v, want value 5.6 and reason %q", f, want)
		}
		var found bool
		for _, q := range mw.quarantined(t) {
			if q.Rule == "spam" && q.Area == "spam" {
				found = true
			}
		}
		if !found {
			t.Errorf("no quarantine entry in area spam by rule spam: %+v", mw.quarantined(t))
		}
		if got := deliveriesOf(sink, "spam-over"); len(got) != 0 {
			t.Errorf("spam delivered %d times", len(got))
		}
	})

	t.Run("probable spam is tagged and delivered", func(t *testing.T) {
		data := msg("spam-probable", "pills for you", "Hello.")
		forged := []byte("X-Spam-Flag: YES\r\nX-Spam-Status: No, score=-10.0 required=5.0 tests=ALL_TRUSTED\r\nX-Spam-Score: -10.0\r\n")
		send("alice@probable.example.net", append(forged, data...))
		d := waitDelivered(t, sink, mta, "spam-probable", 1)[0]
		if s, _ := d.Header("Subject"); s != "[SPAM?] pills for you" {
			t.Errorf("Subject %q, want the [SPAM?] tag", s)
		}
		status := d.HeaderValues("X-Spam-Status")
		want := "No, score=3.6 required=5.0 tests=a-rather-long-rule-name-that-makes-the-status-fold, pills" // unfolded
		if len(status) != 1 || status[0] != want {
			t.Errorf("X-Spam-Status %q, want only ours, %q", status, want)
		}
		if head, _ := d.Split(); !bytes.Contains(head, []byte("fold,\r\n\tpills")) {
			t.Errorf("X-Spam-Status not folded between tests:\n%s", head)
		}
		if got := d.HeaderValues("X-Spam-Score"); len(got) != 1 || got[0] != "3.6" {
			t.Errorf("X-Spam-Score %q, want only ours, 3.6", got)
		}
		if v, ok := d.Header("X-Spam-Flag"); ok {
			t.Errorf("forged X-Spam-Flag %q kept", v)
		}
		row := senderRows(t, mw, 1, "--sender", "alice@probable.example.net")[0]
		if f := checkRow(t, row, "eom", "accept", "spam-probable", "spam.probable"); !strings.HasSuffix(f.Reason, ",pills") {
			t.Errorf("finding %+v: reason does not name the tests", f)
		}
	})
}
