package dlp

import (
	"context"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/textscan"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// BenchmarkRun: every template over a 1 MB body of mixed prose, numbers,
// dates and Japanese text (bytes per second of body).
func BenchmarkRun(b *testing.B) {
	line := "Order 1234-5678-9012 of 2026-11-23, tel 03-1234-5678, mail a@example.com. 山田様のご注文は発送済みです。\r\n"
	body := strings.Repeat(line, (1<<20)/len(line))
	msg := []byte("Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body)
	m := message.ParseBytes(msg, message.DefaultLimits())
	c := &Check{templates: Templates, min: Defaults().MinCount}
	c.entities, _ = textscan.Parse(Defaults().Entities)
	in := &check.Input{Message: m}
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for range b.N {
		if _, err := c.Run(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
