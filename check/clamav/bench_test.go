package clamav

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/scanner/clamd/clamdtest"
)

// BenchmarkScan is the end-of-message cost of the check with a real clamd
// on the test database (a handful of signatures: clamd with the official
// database is slower per byte), for the 5 KB, 300 KB and 10 MB messages,
// the attachment base64 as mail carries it.
func BenchmarkScan(b *testing.B) {
	s := clamdtest.Start(b, clamdtest.Options{})
	ch, err := New(func() Config { c := Defaults(); c.Address = s.Address(); return c }())
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{5 << 10, 300 << 10, 10 << 20} {
		content := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. 0123456789\n"), size/56+1)[:size*3/4]
		msg := withAttachment("data.bin", content)
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), ch.Budget())
				fs, err := ch.Run(ctx, &check.Input{Raw: msg, Env: &check.Env{}})
				cancel()
				if err != nil || len(fs) != 0 {
					b.Fatalf("%v %v", fs, err)
				}
			}
		})
	}
}
