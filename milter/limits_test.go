package milter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/session"

	gomilter "github.com/d--j/go-milter"

	"github.com/mailwarden/mailwarden/store"
)

// nextRow runs send and returns the tracking row it added.
func nextRow(t *testing.T, st *store.Store, send func()) store.Event {
	t.Helper()
	rows := func() []store.Event {
		evs, err := st.Events(context.Background(), store.EventQuery{Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	before := len(rows())
	send()
	var got []store.Event
	if !waitFor(5*time.Second, func() bool { got = rows(); return len(got) > before }) {
		t.Fatalf("no new tracking row (%d rows)", len(got))
	}
	return got[0]
}

// TestHeaderLimits: a header past any of its limits is refused at end of
// headers with 552 5.3.4 naming the limit, before the body is sent, and the
// tracking row has what was known: subject, From, Message-ID, size, and the
// deciding rule for each recipient.
func TestHeaderLimits(t *testing.T) {
	ts := startServer(t, "[limits]\nmax_header_fields = 50\nmax_header_bytes = \"64KiB\"\nmax_header_field_bytes = \"8KiB\"\n"+testConfig)
	head := "From: Alice <alice@example.net>\r\nTo: bob@example.com\r\nSubject: flood\r\nMessage-ID: <flood@example.net>\r\n"
	for _, tc := range []struct {
		name, extra, rule string
	}{
		{"fields", strings.Repeat("X-A: b\r\n", 60), "limits.max_header_fields"},
		{"one big field", "X-Big: " + strings.Repeat("a", 9000) + "\r\n", "limits.max_header_field_bytes"},
		{"folded big field", "X-Big: " + strings.Repeat("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n ", 200) + "end\r\n", "limits.max_header_field_bytes"},
		{"total bytes", strings.Repeat("X-Pad: "+strings.Repeat("p", 7000)+"\r\n", 10), "limits.max_header_bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o outcome
			ev := nextRow(t, ts.store, func() {
				o = send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"bob@example.com", "carol@example.com"},
					msg: head + tc.extra + "\r\nbody\r\n"})
			})
			if o.stage != "eoh" || o.action.SMTPCode != 552 || !strings.Contains(o.action.SMTPReply, "5.3.4") ||
				!strings.Contains(o.action.SMTPReply, "rule "+tc.rule) {
				t.Fatalf("stage %s, %+v; want 552 5.3.4 at end of headers naming %s", o.stage, o.action, tc.rule)
			}
			if ev.Stage != "eoh" || ev.Subject != "flood" || ev.MessageID != "<flood@example.net>" ||
				!strings.Contains(ev.HeaderFrom, "alice@example.net") || ev.Size < int64(len(head)) {
				t.Errorf("row lacks what was known: stage %q subject %q message-id %q from %q size %d",
					ev.Stage, ev.Subject, ev.MessageID, ev.HeaderFrom, ev.Size)
			}
			if len(ev.Recipients) != 2 {
				t.Fatalf("recipients %+v", ev.Recipients)
			}
			for _, r := range ev.Recipients {
				if r.Rule != tc.rule || r.Action != "reject" {
					t.Errorf("recipient %+v: want rule %s, action reject", r, tc.rule)
				}
			}
			if len(ev.Matches) == 0 || ev.Matches[0].Rule != tc.rule || len(ev.Matches[0].Findings) == 0 ||
				ev.Matches[0].Findings[0].Name != "scan.exclusion" {
				t.Errorf("matches %+v: want %s with scan.exclusion", ev.Matches, tc.rule)
			}
		})
	}
}

// TestRefusedRecipientsBounded: a client may send any number of refused
// RCPTs; the session keeps max_recipients of them for the tracking row and
// counts the rest.
func TestRefusedRecipientsBounded(t *testing.T) {
	ts := startServer(t, "[limits]\nmax_recipients = 10\n"+testConfig)
	rcpts := make([]string, 0, 500)
	for range 500 {
		rcpts = append(rcpts, "nobody@example.com")
	}
	ev := nextRow(t, ts.store, func() {
		c := gomilter.NewClient("tcp", ts.addr, gomilter.WithActions(gomilter.AllClientSupportedActionMasks))
		s, err := c.Session(gomilter.NewMacroBag())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Conn("c", gomilter.FamilyInet, 25, "198.51.100.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Helo("c"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Mail("a@example.net", ""); err != nil {
			t.Fatal(err)
		}
		for _, r := range rcpts {
			a, err := s.Rcpt(r, "")
			if err != nil || a.SMTPCode != 550 {
				t.Fatalf("rcpt: %+v %v", a, err)
			}
		}
		if err := s.Abort(nil); err != nil {
			t.Fatal(err)
		}
	})
	if len(ev.Recipients) != 10 {
		t.Errorf("row keeps %d refused recipients, want 10 (max_recipients)", len(ev.Recipients))
	}
	n := 0
	for _, m := range ev.Matches {
		if m.Rule == "no-such-user" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("matches %+v: want no-such-user once", ev.Matches)
	}
}

// TestScanMemoryCountsHeaders: what sessions hold before end of message
// counts against limits.scan_memory. With a budget of 1 MiB, one session
// holding a 700 KiB header leaves too little for a second one, which is
// tempfailed (451 4.3.1) rather than growing the daemon's memory; once
// the first ends, the second gets through.
func TestScanMemoryCountsHeaders(t *testing.T) {
	ts := startServer(t, "[limits]\nmax_message_size = \"1MiB\"\nscan_memory = \"1MiB\"\n"+testConfig)
	big := strings.Repeat("X-Pad: "+strings.Repeat("p", 7000)+"\r\n", 100) // ~700 KiB
	c := gomilter.NewClient("tcp", ts.addr, gomilter.WithActions(gomilter.AllClientSupportedActionMasks))
	open := func() *gomilter.ClientSession {
		s, err := c.Session(gomilter.NewMacroBag())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Conn("c", gomilter.FamilyInet, 25, "198.51.100.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Helo("c"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Mail("a@example.net", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rcpt("bob@example.com", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DataStart(); err != nil {
			t.Fatal(err)
		}
		hs, _ := session.SplitMessage([]byte("Subject: held\r\n" + big + "\r\n"))
		for _, h := range hs {
			if _, err := s.HeaderField(h.Name, h.Value, nil); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	first := open()
	second := open()
	a, err := second.HeaderEnd()
	if err != nil {
		t.Fatal(err)
	}
	if a.SMTPCode != 451 || !strings.Contains(a.SMTPReply, "4.3.1") || !strings.Contains(a.SMTPReply, "limits.scan_memory") {
		t.Fatalf("second session at end of headers: %+v; want 451 4.3.1 naming limits.scan_memory", a)
	}
	second.Close()
	first.Close()
	if !waitFor(5*time.Second, func() bool { return ts.srv.Active() == 0 }) {
		t.Fatal("sessions did not end")
	}
	third := open()
	defer third.Close()
	if a, err := third.HeaderEnd(); err != nil || a.Type != gomilter.ActionContinue {
		t.Fatalf("after the memory was given back: %+v %v", a, err)
	}
}

// TestScanMemorySpillsBody: a session whose body no longer fits in
// limits.scan_memory, because another session holds most of it, spools
// the body to disk instead of being tempfailed; its end-of-message scan
// gets through once the other session has ended, and sees the whole body.
func TestScanMemorySpillsBody(t *testing.T) {
	ts := startServer(t, "[limits]\nmax_message_size = \"1MiB\"\nscan_memory = \"1MiB\"\n"+testConfig)
	c := gomilter.NewClient("tcp", ts.addr, gomilter.WithActions(gomilter.AllClientSupportedActionMasks))
	first := openToBody(t, c, "Subject: held\r\n"+strings.Repeat("X-Pad: "+strings.Repeat("p", 7000)+"\r\n", 100)) // ~700 KiB
	second := openToBody(t, c, "Subject: spilled\r\n")
	line := strings.Repeat("b", 998) + "\r\n"
	for i := range 500 { // 500 KB of body, more than the budget has left
		a, err := second.BodyChunk([]byte(line))
		if err != nil || a.Type != gomilter.ActionContinue {
			t.Fatalf("body chunk %d: %+v %v; want it spooled to disk, not refused", i, a, err)
		}
	}
	first.Close()
	if !waitFor(5*time.Second, func() bool { return ts.srv.Active() == 1 }) {
		t.Fatal("the first session did not end")
	}
	_, a, err := second.End()
	if err != nil || a.Type != gomilter.ActionAccept {
		t.Fatalf("end of message: %+v %v", a, err)
	}
	second.Close()
	var ev *store.Event
	waitFor(5*time.Second, func() bool {
		evs, _ := ts.store.Events(context.Background(), store.EventQuery{Limit: 10})
		for i := range evs {
			if evs[i].Subject == "spilled" {
				ev = &evs[i]
			}
		}
		return ev != nil
	})
	if ev == nil || ev.Size < 500*1000 || ev.Action != "accept" {
		t.Errorf("tracking row %+v: want the whole body, accepted", ev)
	}
}

// TestScanMemoryHoldWhileScanWaits: while an end-of-message scan waits for
// limits.scan_memory, a new session with small header fields still gets
// what is free, instead of being tempfailed behind the waiting scan.
func TestScanMemoryHoldWhileScanWaits(t *testing.T) {
	ts := startServer(t, "[limits]\nmax_message_size = \"1MiB\"\nscan_memory = \"1MiB\"\n"+testConfig)
	c := gomilter.NewClient("tcp", ts.addr, gomilter.WithActions(gomilter.AllClientSupportedActionMasks))
	first := openToBody(t, c, "Subject: held\r\n"+strings.Repeat("X-Pad: "+strings.Repeat("p", 7000)+"\r\n", 100)) // ~700 KiB
	// The second session's scan wants more than is free: it waits.
	scanning := openToBody(t, c, "Subject: waits\r\n")
	for range 5 {
		if _, err := scanning.BodyChunk([]byte(strings.Repeat("b", 60<<10))); err != nil {
			t.Fatal(err)
		}
	}
	ended := make(chan *gomilter.Action, 1)
	go func() {
		_, a, err := scanning.End()
		if err != nil {
			t.Error(err)
		}
		ended <- a
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case a := <-ended:
		t.Fatalf("the scan did not wait for memory: %+v", a)
	default:
	}
	third := openToBody(t, c, "Subject: small\r\n") // fails the test on a 451 at end of headers
	third.Close()
	first.Close()
	select {
	case a := <-ended:
		if a == nil || a.Type != gomilter.ActionAccept {
			t.Errorf("the waiting scan ended with %+v, want accept", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting scan did not go on once the memory was given back")
	}
	scanning.Close()
}

// openToBody opens a milter session through end of headers, the header
// fields given as text, and fails t unless each step continues.
func openToBody(t *testing.T, c *gomilter.Client, header string) *gomilter.ClientSession {
	t.Helper()
	s, err := c.Session(gomilter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() (*gomilter.Action, error){
		func() (*gomilter.Action, error) { return s.Conn("c", gomilter.FamilyInet, 25, "198.51.100.1") },
		func() (*gomilter.Action, error) { return s.Helo("c") },
		func() (*gomilter.Action, error) { return s.Mail("a@example.net", "") },
		func() (*gomilter.Action, error) { return s.Rcpt("bob@example.com", "") },
		func() (*gomilter.Action, error) { return s.DataStart() },
	} {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	hs, _ := session.SplitMessage([]byte(header + "\r\n"))
	for _, h := range hs {
		if _, err := s.HeaderField(h.Name, h.Value, nil); err != nil {
			t.Fatal(err)
		}
	}
	if a, err := s.HeaderEnd(); err != nil || a.Type != gomilter.ActionContinue {
		t.Fatalf("end of headers: %+v %v", a, err)
	}
	return s
}
