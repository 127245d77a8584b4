package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Delivery is one message as the [Sink] received it: the envelope and the
// DATA bytes after dot-unstuffing, byte for byte (CRLF line ends included).
type Delivery struct {
	From string
	To   []string
	Data []byte
}

// Sink is an SMTP server on 127.0.0.1 that accepts every message and keeps
// it. The MTAs under test relay all mail to it.
type Sink struct {
	srv  *smtp.Server
	addr string

	// headersOnly keeps only the header block of each message (see
	// [Sink.KeepHeadersOnly]).
	headersOnly atomic.Bool

	mu         sync.Mutex
	deliveries []Delivery
	changed    chan struct{} // closed and replaced on every delivery
}

// StartSink starts a [Sink] on a random 127.0.0.1 port; t.Cleanup stops it.
func StartSink(t testing.TB) *Sink {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("e2e: sink: %v", err)
	}
	s := &Sink{addr: ln.Addr().String(), changed: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: s}, nil
	}))
	srv.Domain = "sink.mailwarden.test"
	srv.MaxLineLength = 0 // unlimited: the sink must not judge what it is given
	srv.MaxMessageBytes = 0
	srv.MaxRecipients = 0
	srv.ReadTimeout = 5 * time.Minute
	srv.WriteTimeout = time.Minute
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = tbLogger{t}
	s.srv = srv
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return s
}

// Addr is the sink's "127.0.0.1:port".
func (s *Sink) Addr() string { return s.addr }

// KeepHeadersOnly makes the sink keep only the header block of every
// message from now on, so a benchmark relaying gigabytes does not hold
// them all in the test's memory.
func (s *Sink) KeepHeadersOnly() { s.headersOnly.Store(true) }

// Deliveries returns a copy of everything received so far, in order.
func (s *Sink) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneDeliveries(s.deliveries)
}

// Wait waits until the sink holds at least n deliveries and returns all of
// them. It fails the test when timeout passes first.
func (s *Sink) Wait(t testing.TB, n int, timeout time.Duration) []Delivery {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.deliveries) >= n {
			d := cloneDeliveries(s.deliveries)
			s.mu.Unlock()
			return d
		}
		ch, got := s.changed, len(s.deliveries)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("e2e: sink: got %d deliveries after %v, want %d", got, timeout, n)
			return nil
		}
	}
}

func (s *Sink) add(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, d)
	close(s.changed)
	s.changed = make(chan struct{})
}

func cloneDeliveries(in []Delivery) []Delivery {
	out := make([]Delivery, len(in))
	for i, d := range in {
		out[i] = Delivery{
			From: d.From,
			To:   append([]string(nil), d.To...),
			Data: bytes.Clone(d.Data),
		}
	}
	return out
}

// Header returns the value of the first header field name in the message,
// unfolded, and whether it exists. It is a test convenience, not a parser.
func (d Delivery) Header(name string) (string, bool) {
	vals := d.HeaderValues(name)
	if len(vals) == 0 {
		return "", false
	}
	return vals[0], true
}

// HeaderValues returns the unfolded values of every header field name.
func (d Delivery) HeaderValues(name string) []string {
	head, _ := d.Split()
	var out []string
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		k, v, ok := strings.Cut(lines[i], ":")
		if !ok || k == "" || k[0] == ' ' || k[0] == '\t' ||
			!strings.EqualFold(strings.TrimRight(k, " \t"), name) {
			continue
		}
		for i+1 < len(lines) && lines[i+1] != "" && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			v += " " + strings.TrimLeft(lines[i], " \t")
		}
		out = append(out, strings.TrimSpace(v))
	}
	return out
}

// Split returns the header block (with its line ends, without the empty
// line) and the body (everything after the first empty line).
func (d Delivery) Split() (header, body []byte) {
	if i := bytes.Index(d.Data, []byte("\r\n\r\n")); i >= 0 {
		return d.Data[:i+2], d.Data[i+4:]
	}
	if i := bytes.Index(d.Data, []byte("\n\n")); i >= 0 {
		return d.Data[:i+1], d.Data[i+2:]
	}
	return d.Data, nil
}

// Body returns the message body: everything after the first empty line.
func (d Delivery) Body() []byte {
	_, b := d.Split()
	return b
}

type sinkSession struct {
	sink *Sink
	from string
	to   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from, ss.to = from, nil
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.sink.headersOnly.Load() {
		head, _ := Delivery{Data: data}.Split()
		data = bytes.Clone(head)
	}
	ss.sink.add(Delivery{From: ss.from, To: append([]string(nil), ss.to...), Data: data})
	return nil
}

type tbLogger struct{ t testing.TB }

func (l tbLogger) Printf(format string, v ...any) { l.log(fmt.Sprintf(format, v...)) }
func (l tbLogger) Println(v ...any)               { l.log(fmt.Sprintln(v...)) }

// log drops messages after the test ended (t.Log would panic then).
func (l tbLogger) log(msg string) {
	defer func() { _ = recover() }()
	l.t.Log("e2e: sink: " + strings.TrimSpace(msg))
}
