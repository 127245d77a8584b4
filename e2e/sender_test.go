package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check/dns/dnstest"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/store"
)

// senderConfig is added to the embedded default (which brings the
// store-backed lists blocked-clients, blocked-senders and approved-senders,
// and the rules blocked-client and unknown-recipient). %s are the fake DNS
// server and the valid-recipient file. Every client on 127/8 is inbound:
// no trusted_networks. Each case uses its own client address and sender,
// so the throttle, the profiler and the greylist of one case never see
// another's mail.
const senderConfig = `
[organization]
internal_domains = ["example.com"]

[dns]
servers = ["%s"]
timeout = "1s"

[[dnsbl]]
name = "zen"
zone = "zen.test"
codes = { "127.0.0.2" = "spam source", "127.0.0.4-7" = "exploited host" }

[[dnsbl]]
name = "bl"
zone = "bl.test"
codes = { "127.0.0.2" = "listed" }

[[throttle]]
name = "s"
key = "sender"
messages = 3
window = "1m"
block = "1m"

[recipients]
files = ["list:%s"]

[profiler]
enabled = true
harvest_invalid = 3

[greylist]
delay = "2s"

[[rule]]
name = "dnsbl-zen"
findings = ["dnsbl.zen"]
action = "reject"
reply = "554 5.7.1 Listed"

[[rule]]
name = "dnsbl-bl"
findings = ["dnsbl.bl"]
findings_except = ["sender.approved"]
action = "reject"
reply = "554 5.7.1 Listed at bl"

[[rule]]
name = "throttle-s"
findings = ["throttle.s"]
action = "tempfail"
reply = "451 4.7.1 Too much mail from this sender"

[[rule]]
name = "profiler-blocked"
findings = ["profiler.blocked"]
action = "reject"
reply = "554 5.7.1 Client blocked by the profiler"

[[rule]]
name = "greylist-inbound"
direction = "inbound"
clients = ["127.0.0.100"]
action = "greylist"
`

// senderRows returns the tracking-log rows matching filter, newest first,
// with every field (finding values too), waiting up to 10 s for at least n.
func senderRows(t *testing.T, mw *daemon, n int, filter ...string) []store.Event {
	t.Helper()
	var rows []store.Event
	if !waitFor(10*time.Second, func() bool {
		rows = nil
		out := mw.cli(t, append([]string{"log", "--format", "json"}, filter...)...)
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var e store.Event
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			rows = append(rows, e)
		}
		return len(rows) >= n
	}) {
		t.Fatalf("%d tracking rows for %v, want %d", len(rows), filter, n)
	}
	return rows
}

// checkRow checks a tracking row's stage and action, and that its deciding
// match is rule with the finding; it returns that finding.
func checkRow(t *testing.T, e store.Event, stage, action, rule, finding string) scanner.Finding {
	t.Helper()
	if e.Stage != stage || e.Action != action {
		t.Errorf("tracking row: stage %q action %q, want %q %q: %+v", e.Stage, e.Action, stage, action, e)
	}
	for _, m := range e.Matches {
		if m.Rule != rule {
			continue
		}
		for _, f := range m.Findings {
			if f.Name == finding {
				return f
			}
		}
	}
	t.Errorf("tracking row has no match %s[%s]: %+v", rule, finding, e.Matches)
	return scanner.Finding{}
}

// checkReply checks an SMTP reply's code, enhanced code, and that its text
// names the rule and the finding, as "(rule NAME: FINDING)".
func checkReply(t *testing.T, what string, r Reply, code int, enhanced, rule, finding string) {
	t.Helper()
	if r.Code != code || !strings.HasPrefix(r.Text, enhanced+" ") || !strings.Contains(r.Text, "(rule "+rule+": "+finding+")") {
		t.Errorf("%s: reply %v, want %d %s naming (rule %s: %s)", what, r, code, enhanced, rule, finding)
	}
}

// connectRefusal opens a session from ip and, past a refusing banner,
// goes on to EHLO and MAIL: Postfix answers a milter's refusal at connect
// with its own banner text ("554 HOST ESMTP not accepting connections")
// and gives the milter's reply, with its rule and finding, to MAIL.
func connectRefusal(t *testing.T, mtaAddr, ip string) (banner, mail Reply) {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err := d.Dial("tcp", mtaAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := &smtpConn{r: bufio.NewReader(conn), w: conn}
	if banner, err = c.reply(); err == nil {
		if _, err = c.cmd("EHLO client.mailwarden.test"); err == nil {
			mail, err = c.cmd("MAIL FROM:<probe@example.org>")
		}
	}
	if err != nil {
		t.Fatalf("session from %s: %v\n%s", ip, err, c.log.String())
	}
	_, _ = c.cmd("QUIT")
	return banner, mail
}

// checkConnectRefusal checks that a client from ip is refused at connect
// by rule on finding with a 554 5.7.1.
func checkConnectRefusal(t *testing.T, mtaAddr, ip, rule, finding string) {
	t.Helper()
	banner, mail := connectRefusal(t, mtaAddr, ip)
	if banner.Code != 554 {
		t.Errorf("banner %v, want 554", banner)
	}
	checkReply(t, "MAIL after the refusing banner", mail, 554, "5.7.1", rule, finding)
}

// TestSender runs the sender-filtering cases of issue 7 through real
// Postfix, with a fake DNS server on loopback: a blocked client, DNSBL
// listings with and without an approved-sender exception, a sender
// throttle, the IP profiler's harvest block and greylisting.
func TestSender(t *testing.T) {
	start := time.Now()
	dnsSrv := dnstest.New(t)
	dnsSrv.Add("77.0.0.127.zen.test. 60 IN A 127.0.0.2")
	dnsSrv.Add("79.0.0.127.bl.test. 60 IN A 127.0.0.2")
	valid := filepath.Join(t.TempDir(), "valid")
	if err := os.WriteFile(valid, []byte("bob@example.com\ncarol@example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := string(config.DefaultTOML()) + fmt.Sprintf(senderConfig, dnsSrv.Addr(), valid)
	sink := StartSink(t)
	mw := startMailwarden(t, conf)
	// Store lists are read again at most once a second: edit them before
	// any traffic, and note when, so a case can wait out the rest.
	mw.cli(t, "list", "add", "blocked-clients", "127.0.0.66")
	mw.cli(t, "list", "add", "approved-senders", "friend@example.org")
	listed := time.Now()
	mta := StartPostfix(t, mw.addr, sink.Addr())
	t.Logf("setup (fake DNS, sink, mailwarden, store lists, Postfix): %v", time.Since(start).Round(time.Millisecond))

	// refused are the Message-IDs that must never be delivered.
	var refused []string
	send := func(ip, from string, rcpts []string, id string) *SendResult {
		t.Helper()
		r := Send(t, mta.SMTPAddr, ip, from, rcpts, msg("sender-"+id, "sender "+id, "x"))
		if r.Err != nil {
			t.Fatalf("%s: %v\n%s", id, r.Err, r.Transcript)
		}
		return r
	}
	delivered := func(t *testing.T, r *SendResult, id string) {
		t.Helper()
		if !r.Accepted() {
			t.Fatalf("%s not accepted: %s", id, r)
		}
		waitDelivered(t, sink, mta, "sender-"+id, 1)
	}

	t.Run("blocked client gets 5xx at connect, and is let in once removed", func(t *testing.T) {
		r := send("127.0.0.66", "c1@example.org", []string{"bob@example.com"}, "blocked")
		refused = append(refused, "blocked")
		if stage, reply := r.Rejected(); stage != StageConnect {
			t.Fatalf("refused at %q with %v, want at connect: %s", stage, reply, r)
		}
		checkConnectRefusal(t, mta.SMTPAddr, "127.0.0.66", "blocked-client", "list.blocked-clients")
		f := checkRow(t, senderRows(t, mw, 2, "--ip", "127.0.0.66")[0], "connect", "reject", "blocked-client", "list.blocked-clients")
		if f.Value != "127.0.0.66" {
			t.Errorf("finding value %q, want the matched entry 127.0.0.66", f.Value)
		}

		mw.cli(t, "list", "remove", "blocked-clients", "127.0.0.66")
		removed := time.Now()
		var attempts int
		var last *SendResult
		if !waitFor(5*time.Second, func() bool {
			attempts++
			last = send("127.0.0.66", "c1@example.org", []string{"bob@example.com"}, fmt.Sprintf("unblocked-%d", attempts))
			if !last.Accepted() {
				if stage, _ := last.Rejected(); stage != StageConnect {
					t.Fatalf("attempt %d: refused at %q, want at connect or not at all: %s", attempts, stage, last)
				}
				refused = append(refused, fmt.Sprintf("unblocked-%d", attempts))
				time.Sleep(100 * time.Millisecond)
				return false
			}
			return true
		}) {
			t.Fatalf("still refused 5 s after list remove (%d attempts): %s", attempts, last)
		}
		t.Logf("let in %v after list remove, at attempt %d, without a reload", time.Since(removed).Round(time.Millisecond), attempts)
		waitDelivered(t, sink, mta, fmt.Sprintf("sender-unblocked-%d", attempts), 1)
	})

	t.Run("DNSBL-listed client is rejected at connect, an unlisted one delivered", func(t *testing.T) {
		r := send("127.0.0.77", "d1@example.org", []string{"bob@example.com"}, "zen-listed")
		refused = append(refused, "zen-listed")
		if stage, reply := r.Rejected(); stage != StageConnect {
			t.Fatalf("refused at %q with %v, want at connect: %s", stage, reply, r)
		}
		checkConnectRefusal(t, mta.SMTPAddr, "127.0.0.77", "dnsbl-zen", "dnsbl.zen")
		f := checkRow(t, senderRows(t, mw, 2, "--ip", "127.0.0.77")[0], "connect", "reject", "dnsbl-zen", "dnsbl.zen")
		if !strings.Contains(f.Value, "127.0.0.2") || !strings.Contains(f.Value+f.Reason, "spam source") {
			t.Errorf("finding %+v: want the answer 127.0.0.2 and its meaning", f)
		}

		r = send("127.0.0.78", "d1@example.org", []string{"bob@example.com"}, "zen-unlisted")
		delivered(t, r, "zen-unlisted")
		if n := dnsSrv.Count("78.0.0.127.zen.test.", 1); n == 0 { // type A
			t.Errorf("the unlisted client was never looked up in zen.test")
		}
	})

	t.Run("DNSBL rule with an approved-sender exception is decided at MAIL", func(t *testing.T) {
		out := mw.cli(t, "config", "check")
		for rule, stage := range map[string]string{"dnsbl-zen": "connect", "dnsbl-bl": "MAIL FROM"} {
			if !regexp.MustCompile(`rule "` + rule + `", line \d+: decided at ` + stage + ` -> reject`).MatchString(out) {
				t.Errorf("config check does not show %s decided at %s:\n%s", rule, stage, out)
			}
		}
		// The approved sender was added at setup; the list is read again
		// within a second of that.
		time.Sleep(time.Until(listed.Add(1100 * time.Millisecond)))

		r := send("127.0.0.79", "friend@example.org", []string{"bob@example.com"}, "bl-approved")
		delivered(t, r, "bl-approved")
		if r.Banner.Code != 220 {
			t.Errorf("banner %v: the exception rule must not decide at connect", r.Banner)
		}

		r = send("127.0.0.79", "stranger@example.org", []string{"bob@example.com"}, "bl-stranger")
		refused = append(refused, "bl-stranger")
		if stage, reply := r.Rejected(); stage != StageMail {
			t.Fatalf("refused at %q with %v, want at MAIL: %s", stage, reply, r)
		}
		checkReply(t, "MAIL", r.Mail, 554, "5.7.1", "dnsbl-bl", "dnsbl.bl")
		checkRow(t, senderRows(t, mw, 1, "--sender", "stranger@example.org")[0], "mail", "reject", "dnsbl-bl", "dnsbl.bl")
	})

	t.Run("throttled sender gets 4xx at MAIL after 3 messages, another sender is unaffected", func(t *testing.T) {
		for i := 1; i <= 3; i++ {
			id := fmt.Sprintf("flood-%d", i)
			delivered(t, send("127.0.0.50", "flood@example.org", []string{"bob@example.com"}, id), id)
		}
		r := send("127.0.0.50", "flood@example.org", []string{"bob@example.com"}, "flood-4")
		refused = append(refused, "flood-4")
		if stage, reply := r.Rejected(); stage != StageMail {
			t.Fatalf("4th message refused at %q with %v, want at MAIL: %s", stage, reply, r)
		}
		checkReply(t, "MAIL", r.Mail, 451, "4.7.1", "throttle-s", "throttle.s")
		checkRow(t, senderRows(t, mw, 1, "--sender", "flood@example.org", "--action", "tempfail")[0], "mail", "tempfail", "throttle-s", "throttle.s")

		delivered(t, send("127.0.0.50", "calm@example.org", []string{"bob@example.com"}, "calm"), "calm")
	})

	t.Run("client is refused at connect after 4 invalid recipients, another client is not", func(t *testing.T) {
		var rcpts []string
		for i := range 4 { // harvest_invalid = 3: more than 3 blocks
			rcpts = append(rcpts, fmt.Sprintf("harvest%d@example.com", i))
		}
		r := send("127.0.0.90", "h@example.org", rcpts, "harvest")
		refused = append(refused, "harvest")
		for i, rep := range r.Rcpt {
			checkReply(t, "RCPT "+rcpts[i], rep, 550, "5.1.1", "unknown-recipient", "recipient.unknown")
		}
		row := senderRows(t, mw, 1, "--ip", "127.0.0.90")[0]
		checkRow(t, row, "rcpt", "reject", "unknown-recipient", "recipient.unknown")
		if len(row.Recipients) != 4 {
			t.Errorf("tracking row has %d recipients, want 4: %+v", len(row.Recipients), row.Recipients)
		}

		r = send("127.0.0.90", "h@example.org", []string{"bob@example.com"}, "harvest-next")
		refused = append(refused, "harvest-next")
		if stage, reply := r.Rejected(); stage != StageConnect {
			t.Fatalf("next connection refused at %q with %v, want at connect: %s", stage, reply, r)
		}
		checkConnectRefusal(t, mta.SMTPAddr, "127.0.0.90", "profiler-blocked", "profiler.blocked")
		f := checkRow(t, senderRows(t, mw, 3, "--ip", "127.0.0.90")[0], "connect", "reject", "profiler-blocked", "profiler.blocked")
		if f.Value != "harvest" {
			t.Errorf("profiler.blocked value %q, want harvest", f.Value)
		}
		if out := mw.cli(t, "profiler", "list"); !strings.Contains(out, "127.0.0.90") || !strings.Contains(out, "harvest") {
			t.Errorf("profiler list does not show 127.0.0.90 blocked for harvest:\n%s", out)
		}

		delivered(t, send("127.0.0.91", "h@example.org", []string{"bob@example.com"}, "harvest-other"), "harvest-other")
	})

	t.Run("greylisted sender is accepted on retry after the delay", func(t *testing.T) {
		retryIn := regexp.MustCompile(`retry in (\d+) seconds`)
		attempt := func(id string) (*SendResult, int) {
			t.Helper()
			r := send("127.0.0.100", "grey@example.org", []string{"bob@example.com"}, id)
			m := retryIn.FindStringSubmatch(r.Rcpt[0].Text)
			if m == nil {
				return r, -1
			}
			n, _ := strconv.Atoi(m[1])
			return r, n
		}
		r, secs := attempt("grey-1")
		first := time.Now()
		refused = append(refused, "grey-1")
		checkReply(t, "first RCPT", r.Rcpt[0], 451, "4.7.1", "greylist-inbound", "greylist.pending")
		if secs != 2 {
			t.Errorf("first RCPT %v: want retry in 2 seconds", r.Rcpt[0])
		}
		checkRow(t, senderRows(t, mw, 1, "--sender", "grey@example.org")[0], "rcpt", "tempfail", "greylist-inbound", "greylist.pending")

		r, secs = attempt("grey-2")
		refused = append(refused, "grey-2")
		checkReply(t, "immediate retry", r.Rcpt[0], 451, "4.7.1", "greylist-inbound", "greylist.pending")
		if secs < 1 || secs > 2 {
			t.Errorf("immediate retry %v: want retry in 1 or 2 seconds", r.Rcpt[0])
		}

		time.Sleep(time.Until(first.Add(2*time.Second + 100*time.Millisecond)))
		r, _ = attempt("grey-3")
		delivered(t, r, "grey-3")
		t.Logf("accepted %v after the first attempt", time.Since(first).Round(time.Millisecond))
		rows := senderRows(t, mw, 3, "--sender", "grey@example.org")
		if rows[0].Action != "accept" || rows[0].Stage != "eom" {
			t.Errorf("tracking row of the retry: stage %q action %q, want eom accept", rows[0].Stage, rows[0].Action)
		}
	})

	// Refused mail never reached DATA; give the MTA a moment all the same.
	time.Sleep(500 * time.Millisecond)
	for _, id := range refused {
		if n := len(deliveriesOf(sink, "sender-"+id)); n != 0 {
			t.Errorf("%s was refused but delivered %d times", id, n)
		}
	}
	t.Logf("whole test: %v", time.Since(start).Round(time.Millisecond))
}
