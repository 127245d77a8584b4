package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

// BenchmarkBayesCounts looks up one message's tokens (1000: half known,
// half not) in a database of a million tokens, and reports the time per
// message. Learning the million tokens (100 messages of 10,000) takes
// about a minute first.
func BenchmarkBayesCounts(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	const total, perMsg = 1_000_000, 10_000
	known := make([]uint64, 0, total)
	start := time.Now()
	for m := 0; m < total/perMsg; m++ {
		hs := make([]uint64, perMsg)
		for i := range hs {
			hs[i] = r.Uint64()
		}
		known = append(known, hs...)
		l := store.BayesSpam
		if m%2 == 1 {
			l = store.BayesHam
		}
		if _, err := s.BayesLearn(ctx, fmt.Sprint(m), hs, l, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	_, n, err := s.BayesExpire(ctx, 0, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d tokens learned in %v", n, time.Since(start).Round(time.Millisecond))
	// A sub-benchmark, so the million tokens are learned once, not once
	// per b.N tried.
	b.Run("1000-tokens", func(b *testing.B) { benchLookup(b, s, r, known) })
}

func benchLookup(b *testing.B, s *store.Store, r *rand.Rand, known []uint64) {
	ctx := context.Background()
	msg := make([]uint64, 1000)
	for i := 0; i < b.N; i++ {
		for j := range msg {
			if j%2 == 0 {
				msg[j] = known[r.IntN(len(known))]
			} else {
				msg[j] = r.Uint64()
			}
		}
		c, err := s.BayesCounts(ctx, msg)
		if err != nil {
			b.Fatal(err)
		}
		if len(c) < 490 { // a known token can be drawn twice
			b.Fatalf("%d of 500 known tokens found", len(c))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/message")
}
