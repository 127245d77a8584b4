package e2e

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/d--j/go-milter"
)

// harnessMilter adds "X-Harness: yes" to every message and refuses the
// recipient reject@… at RCPT. It records what it saw.
type harnessMilter struct {
	milter.NoOpMilter
	rec *milterRecord
}

type milterRecord struct {
	mu    sync.Mutex
	addrs []string // client address per connection
	rcpts []string
	body  bytes.Buffer
}

func (h *harnessMilter) Connect(host, family string, port uint16, addr string, m milter.Modifier) (*milter.Response, error) {
	h.rec.mu.Lock()
	h.rec.addrs = append(h.rec.addrs, addr)
	h.rec.mu.Unlock()
	return milter.RespContinue, nil
}

func (h *harnessMilter) RcptTo(rcpt, esmtpArgs string, m milter.Modifier) (*milter.Response, error) {
	h.rec.mu.Lock()
	h.rec.rcpts = append(h.rec.rcpts, rcpt)
	h.rec.mu.Unlock()
	if strings.HasPrefix(strings.ToLower(rcpt), "reject@") {
		return milter.RejectWithCodeAndReason(550, "5.7.1 harness refuses this recipient")
	}
	return milter.RespContinue, nil
}

func (h *harnessMilter) BodyChunk(chunk []byte, m milter.Modifier) (*milter.Response, error) {
	h.rec.mu.Lock()
	h.rec.body.Write(chunk)
	h.rec.mu.Unlock()
	return milter.RespContinue, nil
}

func (h *harnessMilter) EndOfMessage(m milter.Modifier) (*milter.Response, error) {
	if err := m.AddHeader("X-Harness", "yes"); err != nil {
		return nil, err
	}
	return milter.RespAccept, nil
}

func startHarnessMilter(t *testing.T) (string, *milterRecord) {
	rec := &milterRecord{}
	addr := StartMilter(t,
		milter.WithMilter(func() milter.Milter { return &harnessMilter{rec: rec} }),
		milter.WithAction(milter.OptAddHeader),
	)
	return addr, rec
}

// harnessBody has the things MTAs like to mangle: a leading dot, 8-bit
// text, trailing white space, an empty line, a long line, no final CRLF.
var harnessBody = ".leading dot line\r\n" +
	"..two dots\r\n" +
	"Grüße aus Köln – 8bit UTF-8\r\n" +
	"trailing spaces   \r\n" +
	"\r\n" +
	strings.Repeat("0123456789", 90) + "\r\n" +
	"last line"

const harnessHeader = "From: Sender <sender@example.com>\r\n" +
	"To: ok@example.net\r\n" +
	"Subject: harness test\r\n" +
	"Message-ID: <harness-1@example.com>\r\n" +
	"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: 8bit\r\n"

// TestHarness proves the harness on both MTAs with an in-process milter:
// one recipient is refused at RCPT, the other gets the message with the
// milter's header and the body unchanged.
func TestHarness(t *testing.T) {
	for _, mta := range MTAs {
		t.Run(mta.Name, func(t *testing.T) {
			start := time.Now()
			sink := StartSink(t)
			milterAddr, rec := startHarnessMilter(t)
			m := mta.Start(t, milterAddr, sink.Addr())

			msg := []byte(harnessHeader + "\r\n" + harnessBody)
			res := Send(t, m.SMTPAddr, "127.0.0.2", "sender@example.com",
				[]string{"ok@example.net", "reject@example.net"}, msg)
			if res.Err != nil || res.Banner.Code != 220 || res.Mail.Code != 250 {
				t.Fatalf("session: %v\n%s", res, res.Transcript)
			}
			if got := res.Rcpt[0]; got.Code != 250 {
				t.Errorf("RCPT ok@: got %v, want 250", got)
			}
			if got := res.Rcpt[1]; got.Code != 550 || !strings.HasPrefix(got.Text, "5.7.1") {
				t.Errorf("RCPT reject@: got %v, want 550 5.7.1", got)
			}
			if !res.Accepted() {
				t.Fatalf("message not accepted: %v\n%s", res, res.Transcript)
			}
			if stage, _ := res.Rejected(); stage != "" {
				t.Errorf("Rejected() = %q, want \"\" (one recipient was accepted)", stage)
			}

			d := sink.Wait(t, 1, 30*time.Second)[0]
			if d.From != "sender@example.com" {
				t.Errorf("envelope from %q, want sender@example.com", d.From)
			}
			if len(d.To) != 1 || d.To[0] != "ok@example.net" {
				t.Errorf("envelope to %q, want [ok@example.net]", d.To)
			}
			if v, ok := d.Header("X-Harness"); !ok || v != "yes" {
				t.Errorf("X-Harness header = %q, %v; want yes\n%s", v, ok, d.Data)
			}
			if v, _ := d.Header("Subject"); v != "harness test" {
				t.Errorf("Subject = %q", v)
			}
			wantBody := NormalizeCRLF([]byte(harnessBody + "\r\n"))
			if !bytes.Equal(d.Body(), wantBody) {
				t.Errorf("body changed:\n got %q\nwant %q", d.Body(), wantBody)
			}

			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.addrs) != 1 || rec.addrs[0] != "127.0.0.2" {
				t.Errorf("milter saw clients %q, want [127.0.0.2]", rec.addrs)
			}
			if !bytes.Equal(rec.body.Bytes(), wantBody) {
				t.Errorf("milter saw body %q, want %q", rec.body.Bytes(), wantBody)
			}
			if extra := sink.Deliveries(); len(extra) != 1 {
				t.Errorf("sink got %d deliveries, want 1", len(extra))
			}
			t.Logf("%s: whole round trip in %v", mta.Name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestSendStages checks the client's bookkeeping against a milter that
// refuses at connect: nothing after the refusal may be attempted.
func TestSendStages(t *testing.T) {
	for _, mta := range MTAs {
		t.Run(mta.Name, func(t *testing.T) {
			sink := StartSink(t)
			addr := StartMilter(t, milter.WithMilter(func() milter.Milter { return connectRejecter{} }))
			m := mta.Start(t, addr, sink.Addr())
			res := Send(t, m.SMTPAddr, "127.0.0.3", "a@example.com", []string{"b@example.net"}, []byte("Subject: x\r\n\r\nx\r\n"))
			stage, reply := res.Rejected()
			if reply.Class() != 5 || stage == StageRcpt || stage == StageEOM || stage == "" {
				t.Fatalf("want a 5xx before RCPT, got %s %v\n%s", stage, reply, res.Transcript)
			}
			if res.Accepted() || res.DataStart.Code != 0 {
				t.Errorf("went on to DATA after a refusal: %v", res)
			}
			t.Logf("%s refuses a connect-rejected client at %s with %v", mta.Name, stage, reply)
		})
	}
}

type connectRejecter struct{ milter.NoOpMilter }

func (connectRejecter) Connect(host, family string, port uint16, addr string, m milter.Modifier) (*milter.Response, error) {
	return milter.RejectWithCodeAndReason(554, "5.7.1 harness refuses this client")
}

func TestNormalizeAndStuff(t *testing.T) {
	for _, tc := range []struct{ in, norm, stuffed string }{
		{"", "", ".\r\n"},
		{"a\nb", "a\r\nb", "a\r\nb\r\n.\r\n"},
		{"a\r\n.b\r\n", "a\r\n.b\r\n", "a\r\n..b\r\n.\r\n"},
		{".\r\n", ".\r\n", "..\r\n.\r\n"},
		{"a\rb\r\n", "a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
	} {
		if got := string(NormalizeCRLF([]byte(tc.in))); got != tc.norm {
			t.Errorf("NormalizeCRLF(%q) = %q, want %q", tc.in, got, tc.norm)
		}
		if got := string(dotStuff([]byte(tc.in))); got != tc.stuffed {
			t.Errorf("dotStuff(%q) = %q, want %q", tc.in, got, tc.stuffed)
		}
	}
}

func TestDeliveryHeader(t *testing.T) {
	d := Delivery{Data: []byte("Received: a\r\n\tb\r\nX-A: 1\r\nx-a:  2 \r\nSubject: s\r\n\r\nX-A: body\r\n")}
	if got := d.HeaderValues("X-A"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Errorf("HeaderValues(X-A) = %q", got)
	}
	if v, _ := d.Header("received"); v != "a b" {
		t.Errorf("Header(received) = %q", v)
	}
	if string(d.Body()) != "X-A: body\r\n" {
		t.Errorf("Body() = %q", d.Body())
	}
}
