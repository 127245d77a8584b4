package release

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-smtp"
)

func sendSMTP(ctx context.Context, in Injector, from string, rcpts []string, data []byte) (*Result, error) {
	res := &Result{}
	timeout := in.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", in.Addr)
	if err != nil {
		return res, fmt.Errorf("release: connect %s: %w", in.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello(in.Helo); err != nil {
		return res, fmt.Errorf("release: EHLO: %w", err)
	}
	if err := c.Mail(from, nil); err != nil {
		return res, fmt.Errorf("release: MAIL FROM:<%s>: %w", from, err)
	}
	var accepted []string
	var refusals []error
	for _, r := range rcpts {
		err := c.Rcpt(r, nil)
		var se *smtp.SMTPError
		switch {
		case err == nil:
			accepted = append(accepted, r)
		case errors.As(err, &se):
			// The MTA refused this one recipient; the session goes on.
			res.Refused = append(res.Refused, Refusal{Recipient: r, Reply: replyText(se), Err: err})
			refusals = append(refusals, fmt.Errorf("release: RCPT TO:<%s>: %w", r, err))
		default:
			return res, fmt.Errorf("release: RCPT TO:<%s>: %w", r, err)
		}
	}
	if len(accepted) == 0 {
		return res, errors.Join(append([]error{ErrAllRefused}, refusals...)...)
	}
	w, err := c.Data()
	if err != nil {
		return res, fmt.Errorf("release: DATA: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return res, fmt.Errorf("release: DATA: %w", err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return res, fmt.Errorf("release: end of DATA: %w", err)
	}
	res.Accepted, res.Reply = accepted, resp.StatusText
	_ = c.Quit() // the MTA has taken the message; a failed QUIT changes nothing
	return res, nil
}

// replyText is an SMTP error as the MTA wrote it: code, enhanced code, text.
func replyText(e *smtp.SMTPError) string {
	s := fmt.Sprint(e.Code)
	if c := e.EnhancedCode; c != (smtp.EnhancedCode{}) && c != smtp.NoEnhancedCode {
		s += fmt.Sprintf(" %d.%d.%d", c[0], c[1], c[2])
	}
	return s + " " + e.Message
}
