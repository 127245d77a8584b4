package release

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-smtp"
)

func sendSMTP(ctx context.Context, in Injector, from string, rcpts []string, data []byte) error {
	timeout := in.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", in.Addr)
	if err != nil {
		return fmt.Errorf("release: connect %s: %w", in.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello(in.Helo); err != nil {
		return fmt.Errorf("release: EHLO: %w", err)
	}
	if err := c.Mail(from, nil); err != nil {
		return fmt.Errorf("release: MAIL FROM:<%s>: %w", from, err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return fmt.Errorf("release: RCPT TO:<%s>: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("release: DATA: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("release: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("release: end of DATA: %w", err)
	}
	return c.Quit()
}
