package store_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

// BenchmarkBayesCounts looks up one message's tokens (1000: half known,
// half not) in a database of a million tokens, and reports the time per
// message: uncached (every token read from SQLite), and through the token
// cache with a repeated message (every token a hit, after the first).
func BenchmarkBayesCounts(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	const total = 1_000_000
	known := make([]uint64, total)
	toks := make([]store.BayesToken, total)
	for i := range toks {
		known[i] = r.Uint64()
		toks[i] = store.BayesToken{Hash: known[i], BayesCounts: store.BayesCounts{Spam: int64(r.IntN(3)), Ham: int64(1 + r.IntN(2))}}
	}
	start := time.Now()
	if err := s.BayesImport(ctx, store.BayesTotals{Spam: 500, Ham: 500}, toks); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d tokens imported in %v", total, time.Since(start).Round(time.Millisecond))
	// Sub-benchmarks, so the million tokens are written once, not once
	// per b.N tried.
	b.Run("uncached", func(b *testing.B) {
		s.SetBayesCache(0)
		benchLookup(b, s, r, known, false)
	})
	b.Run("cached-same-message", func(b *testing.B) {
		s.SetBayesCache(store.BayesCacheTokens)
		benchLookup(b, s, r, known, true)
	})
}

func benchLookup(b *testing.B, s *store.Store, r *rand.Rand, known []uint64, same bool) {
	ctx := context.Background()
	msg := make([]uint64, 1000)
	draw := func() {
		for j := range msg {
			if j%2 == 0 {
				msg[j] = known[r.IntN(len(known))]
			} else {
				msg[j] = r.Uint64()
			}
		}
	}
	draw()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !same {
			draw()
		}
		c, err := s.BayesCounts(ctx, msg)
		if err != nil {
			b.Fatal(err)
		}
		found := 0
		for _, k := range c {
			if k != (store.BayesCounts{}) {
				found++
			}
		}
		if found < 500 {
			b.Fatalf("%d of 500 known tokens found", found)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/message")
}
