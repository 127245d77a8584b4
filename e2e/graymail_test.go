package e2e

import (
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/config"
)

// graymailExtra excludes one loopback client from graymail, as an
// operator excludes a partner's relay.
const graymailExtra = `
[graymail]
exclude_clients = ["127.0.0.131/32"]
`

// newsletter is a Mailchimp-style newsletter.
func newsletter(id string) []byte {
	return []byte("From: \"The Weekly Brief\" <news@weeklybrief.example>\r\nTo: bob@example.com\r\n" +
		"Subject: Issue #212: what changed this month\r\nDate: " + dateNow() + "\r\n" +
		"Message-ID: <" + id + "@weeklybrief.example>\r\n" +
		"List-Unsubscribe: <https://weeklybrief.example/unsubscribe?u=abc>, <mailto:unsubscribe@weeklybrief.example>\r\n" +
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nX-MC-User: 0a1b2c3d4e5f\r\nPrecedence: bulk\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"View this email in your browser: https://weeklybrief.example/view\r\n\r\nThis month: three RFCs.\r\n\r\n" +
		"Unsubscribe: https://weeklybrief.example/unsubscribe\r\n")
}

// TestGraymail runs the embedded default through real Postfix: a
// newsletter is delivered with X-Mailwarden-Graymail: newsletter and its
// tracking row names the rule and the finding; person-to-person mail and
// a newsletter from an excluded client arrive untagged.
func TestGraymail(t *testing.T) {
	sink := StartSink(t)
	mw := startMailwarden(t, string(config.DefaultTOML())+graymailExtra)
	mta := StartPostfix(t, mw.addr, sink.Addr())

	send := func(ip, from, id string, data []byte) Delivery {
		t.Helper()
		r := SendWith(t, SendOptions{Addr: mta.SMTPAddr, SrcIP: ip, Helo: "client.mailwarden.test", From: from,
			To: []string{"bob@example.com"}, Data: data})
		if r.Err != nil || !r.Accepted() {
			t.Fatalf("%s: not accepted: %v\n%s", id, r.Err, r.Transcript)
		}
		return waitDelivered(t, sink, mta, id, 1)[0]
	}

	t.Run("a newsletter is tagged and delivered", func(t *testing.T) {
		d := send("127.0.0.130", "bounce-mc@mail.weeklybrief.example", "graymail-news", newsletter("graymail-news"))
		if got := d.HeaderValues("X-Mailwarden-Graymail"); len(got) != 1 || strings.TrimSpace(got[0]) != "newsletter" {
			t.Errorf("X-Mailwarden-Graymail %q, want one \"newsletter\"", got)
		}
		f := checkRow(t, senderRows(t, mw, 1, "--sender", "bounce-mc@mail.weeklybrief.example")[0], "eom", "accept",
			"graymail-newsletter", "graymail.newsletter")
		if f.Value != "newsletter" || !strings.Contains(f.Reason, "List-Unsubscribe") || !strings.Contains(f.Reason, "Mailchimp") {
			t.Errorf("finding %+v: want value newsletter and the cues List-Unsubscribe, Mailchimp", f)
		}
	})

	t.Run("person-to-person mail is not graymail", func(t *testing.T) {
		d := send("127.0.0.130", "alice@example.net", "graymail-person",
			msg("graymail-person", "lunch", "Hi Bob, lunch on Friday?\r\n--\r\nAlice, https://example.net"))
		if v, ok := d.Header("X-Mailwarden-Graymail"); ok {
			t.Errorf("person-to-person mail tagged %q", v)
		}
	})

	t.Run("an excluded client's newsletter is not tagged", func(t *testing.T) {
		d := send("127.0.0.131", "bounce-mc@mail.weeklybrief.example", "graymail-excluded", newsletter("graymail-excluded"))
		if v, ok := d.Header("X-Mailwarden-Graymail"); ok {
			t.Errorf("newsletter from an excluded client tagged %q", v)
		}
	})
}
