package main

import (
	"io"
	"net"
	"slices"
	"testing"

	"github.com/emersion/go-smtp"
)

// startRefusingSink is an SMTP server that refuses the given recipients
// with 550 and accepts (and discards) everything else.
func startRefusingSink(t *testing.T, refuse ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return refusingSession(refuse), nil }))
	srv.Domain = "refusing.test"
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

type refusingSession []string

func (refusingSession) Reset()                               {}
func (refusingSession) Logout() error                        { return nil }
func (refusingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s refusingSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if slices.Contains(s, to) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return nil
}
func (refusingSession) Data(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
