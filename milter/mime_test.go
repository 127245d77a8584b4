package milter

import (
	"context"
	"os"
	"strings"
	"testing"

	gomilter "github.com/d--j/go-milter"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/store"
)

// TestDefaultConfigHostileMIME runs the embedded default against messages
// built to hide content: each is held, never delivered unscanned.
func TestDefaultConfigHostileMIME(t *testing.T) {
	ts := startServer(t, string(config.DefaultTOML()))
	ambiguous, err := os.ReadFile("../testdata/messages/ambiguous-boundary-gtube.eml")
	if err != nil {
		t.Fatal(err)
	}
	gtubeBareCR := "From: a@example.net\r\nSubject: bare cr\r\n\r\nline one\rXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\rline three\r"
	for _, tc := range []struct {
		name, msg, area string
	}{
		// CVE-2024-28054: GTUBE in a base64 part under the second of two
		// boundary parameters.
		{"two boundaries", string(ambiguous), "exclusion"},
		{"GTUBE after bare CR line ends", gtubeBareCR, "spam"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: tc.msg})
			if o.action.Type != gomilter.ActionDiscard {
				t.Fatalf("action %v, want discard after a quarantine copy", o.action.Type)
			}
			qs, err := ts.store.ListQuarantine(context.Background(), store.QuarantineQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if len(qs) == 0 || qs[0].Area != tc.area {
				t.Fatalf("quarantine %+v: want the newest entry in area %s", qs, tc.area)
			}
		})
	}
}

// TestHeaderCharsets: header rules see raw 8-bit text as a mail client
// shows it: windows-1252 when nothing says otherwise, the header's own
// declared charset first.
func TestHeaderCharsets(t *testing.T) {
	ts := startServer(t, testConfig+`
[[rule]]
name = "pound"
subject = "£7,000"
action = "reject"
reply = "550 5.7.1 Lottery"

[[rule]]
name = "korean"
subject = "안녕"
action = "reject"
reply = "550 5.7.1 Korean"
`)
	for _, tc := range []struct {
		name, head, rule string
	}{
		{"undeclared windows-1252", "Subject: Gambler wins \xa37,000\r\n", "pound"},
		{"declared euc-kr elsewhere", "Subject: \xbe\xc8\xb3\xe7\r\nContent-Type: text/plain; charset=euc-kr\r\n", "korean"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"bob@example.com"},
				msg: "From: a@example.net\r\n" + tc.head + "\r\nbody\r\n"})
			if o.action.SMTPCode != 550 || !strings.Contains(o.action.SMTPReply, "rule "+tc.rule) {
				t.Fatalf("%+v: want rule %s to refuse it", o.action, tc.rule)
			}
		})
	}
}
