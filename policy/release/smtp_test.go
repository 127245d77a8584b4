package release

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// mta is an in-process SMTP server that refuses the recipients and senders
// it is told to, and keeps what it accepts.
type mta struct {
	refuseRcpt map[string]bool
	refuseMail bool
	refuseData bool

	mu   sync.Mutex
	got  []delivery
	data int // DATA commands seen
}

type delivery struct {
	from string
	to   []string
	data string
}

func startMTA(t *testing.T, m *mta) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mtaSession{m: m}, nil }))
	srv.Domain = "mta.test"
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

type mtaSession struct {
	m    *mta
	from string
	to   []string
}

func (s *mtaSession) Reset()        { s.from, s.to = "", nil }
func (s *mtaSession) Logout() error { return nil }

func (s *mtaSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.m.refuseMail {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "sender refused"}
	}
	s.from = from
	return nil
}

func (s *mtaSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.m.refuseRcpt[to] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user " + to}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *mtaSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.data++
	if s.m.refuseData {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "content refused"}
	}
	s.m.got = append(s.m.got, delivery{s.from, s.to, string(b)})
	return nil
}

// TestSendPartialRefusal: a recipient the MTA refuses at RCPT costs only
// that recipient; the others get the message, and the result says which.
func TestSendPartialRefusal(t *testing.T) {
	msg := Message{From: "a@example.net", Recipients: []string{"ann@example.com", "gone@example.com", "bob@example.com"},
		Data: []byte("Subject: x\r\n\r\nbody\r\n")}
	tests := []struct {
		name     string
		mta      *mta
		wantErr  error // nil: delivered
		accepted string
		refused  string
	}{
		{"one refused", &mta{refuseRcpt: map[string]bool{"gone@example.com": true}}, nil,
			"ann@example.com,bob@example.com", "gone@example.com"},
		{"none refused", &mta{}, nil, "ann@example.com,gone@example.com,bob@example.com", ""},
		{"all refused", &mta{refuseRcpt: map[string]bool{"ann@example.com": true, "gone@example.com": true, "bob@example.com": true}},
			ErrAllRefused, "", "ann@example.com,gone@example.com,bob@example.com"},
		{"sender refused", &mta{refuseMail: true}, errors.New("any"), "", ""},
		{"data refused", &mta{refuseData: true}, errors.New("any"), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.mta
			in := Injector{Addr: startMTA(t, m), Helo: "mailwarden.test"}
			res, err := in.Send(context.Background(), msg)
			if res == nil {
				t.Fatalf("nil result, err %v", err)
			}
			var refused []string
			for _, r := range res.Refused {
				refused = append(refused, r.Recipient)
				if r.Reply != "550 5.1.1 no such user "+r.Recipient || r.Err == nil {
					t.Errorf("refusal of %s lacks the MTA's reply: %v", r.Recipient, r.Err)
				}
			}
			if got := strings.Join(res.Accepted, ","); got != tc.accepted {
				t.Errorf("accepted %q, want %q", got, tc.accepted)
			}
			if got := strings.Join(refused, ","); got != tc.refused {
				t.Errorf("refused %q, want %q", got, tc.refused)
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			switch {
			case tc.wantErr == nil:
				if err != nil {
					t.Fatalf("err %v", err)
				}
				if len(m.got) != 1 || strings.Join(m.got[0].to, ",") != tc.accepted || m.got[0].data != string(msg.Data) {
					t.Fatalf("the MTA got %+v", m.got)
				}
				if res.Reply == "" {
					t.Error("no end-of-DATA reply reported")
				}
			case errors.Is(tc.wantErr, ErrAllRefused):
				if !errors.Is(err, ErrAllRefused) || m.data != 0 {
					t.Errorf("err %v, %d DATA commands; want ErrAllRefused and none", err, m.data)
				}
			default:
				if err == nil || len(m.got) != 0 {
					t.Errorf("err %v, delivered %+v; want an error and nothing delivered", err, m.got)
				}
			}
		})
	}
}
