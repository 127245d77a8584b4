package dmarc

import (
	"context"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/dkim"
)

// BenchmarkEOM is the end-of-message cost of DKIM (one Ed25519 signature)
// and DMARC with every DNS answer in the resolver's cache, as for a
// sender seen a moment ago; SPF's result is given, as MAIL found it.
func BenchmarkEOM(b *testing.B) {
	f := newFixture(b)
	raw := f.sign(b, msgFrom("Alice <alice@example.org>"), "example.org")
	c := &Check{timeout: time.Second}
	d := &dkim.Check{}
	in := f.input(raw, spfPass("other.example"))
	ctx := context.Background()
	if fs, _ := c.Run(ctx, in); len(fs) == 0 || fs[0].Value != Pass {
		b.Fatalf("warm-up: %v", fs)
	}
	f.srv.ResetLog()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		in.Shared = &check.Shared{}
		if _, err := d.Run(ctx, in); err != nil {
			b.Fatal(err)
		}
		if fs, _ := c.Run(ctx, in); fs[0].Value != Pass {
			b.Fatal(fs)
		}
	}
	if n := f.srv.Total(); n != 0 {
		b.Errorf("%d DNS queries, want every answer from the cache", n)
	}
}
