package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

// RunBayes tests the token database.
func RunBayes(t *testing.T, open func(t *testing.T) store.Bayes) {
	t.Run("LearnOnce", func(t *testing.T) { testBayesLearnOnce(t, open(t)) })
	t.Run("Expire", func(t *testing.T) { testBayesExpire(t, open(t)) })
	t.Run("Concurrent", func(t *testing.T) { testBayesConcurrent(t, open(t)) })
}

// bayesCounts is the counts of the hashes the database knows.
func bayesCounts(t *testing.T, b store.Bayes, hashes ...uint64) map[uint64]store.BayesCounts {
	t.Helper()
	c, err := b.BayesCounts(ctx, hashes)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != len(hashes) {
		t.Fatalf("%d counts for %d hashes", len(c), len(hashes))
	}
	known := map[uint64]store.BayesCounts{}
	for i, h := range hashes {
		if c[i] != (store.BayesCounts{}) {
			known[h] = c[i]
		}
	}
	return known
}

func bayesTotals(t *testing.T, b store.Bayes) store.BayesTotals {
	t.Helper()
	tot, err := b.BayesTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return tot
}

// testBayesLearnOnce: a message learned twice counts once, relearning it
// as the other kind moves its counts, forgetting takes them off, and a
// hash of 2⁶³ or more comes back as itself.
func testBayesLearnOnce(t *testing.T, b store.Bayes) {
	const big = 1<<64 - 1
	toks := []uint64{1, 2, big, 2} // a repeated hash counts once
	steps := []struct {
		digest   string
		hashes   []uint64
		label    store.BayesLabel
		prev     store.BayesLabel
		tot      store.BayesTotals
		counts   map[uint64]store.BayesCounts
		learned1 store.BayesLabel // of m1 after the step
	}{
		{"m1", toks, store.BayesSpam, store.BayesNone, store.BayesTotals{Spam: 1},
			map[uint64]store.BayesCounts{1: {Spam: 1}, 2: {Spam: 1}, big: {Spam: 1}}, store.BayesSpam},
		{"m1", toks, store.BayesSpam, store.BayesSpam, store.BayesTotals{Spam: 1},
			map[uint64]store.BayesCounts{1: {Spam: 1}, 2: {Spam: 1}, big: {Spam: 1}}, store.BayesSpam},
		{"m2", []uint64{2, 3}, store.BayesHam, store.BayesNone, store.BayesTotals{Spam: 1, Ham: 1},
			map[uint64]store.BayesCounts{1: {Spam: 1}, 2: {Spam: 1, Ham: 1}, 3: {Ham: 1}, big: {Spam: 1}}, store.BayesSpam},
		{"m1", toks, store.BayesHam, store.BayesSpam, store.BayesTotals{Ham: 2},
			map[uint64]store.BayesCounts{1: {Ham: 1}, 2: {Ham: 2}, 3: {Ham: 1}, big: {Ham: 1}}, store.BayesHam},
		{"m1", toks, store.BayesNone, store.BayesHam, store.BayesTotals{Ham: 1},
			map[uint64]store.BayesCounts{2: {Ham: 1}, 3: {Ham: 1}}, store.BayesNone},
		{"m1", toks, store.BayesNone, store.BayesNone, store.BayesTotals{Ham: 1},
			map[uint64]store.BayesCounts{2: {Ham: 1}, 3: {Ham: 1}}, store.BayesNone},
		// Forgetting with tokens it never taught (a changed tokenizer)
		// never takes a count below zero.
		{"m2", []uint64{2, 3, 4}, store.BayesNone, store.BayesHam, store.BayesTotals{},
			map[uint64]store.BayesCounts{}, store.BayesNone},
	}
	for i, s := range steps {
		prev, err := b.BayesLearn(ctx, s.digest, s.hashes, s.label, base.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if prev != s.prev {
			t.Errorf("step %d: BayesLearn(%s, %v) returned %v, want %v", i, s.digest, s.label, prev, s.prev)
		}
		if tot := bayesTotals(t, b); tot != s.tot {
			t.Errorf("step %d: totals %+v, want %+v", i, tot, s.tot)
		}
		got := bayesCounts(t, b, 1, 2, 3, 4, big)
		if fmt.Sprint(got) != fmt.Sprint(s.counts) {
			t.Errorf("step %d: counts %v, want %v", i, got, s.counts)
		}
		if l, err := b.BayesLearned(ctx, "m1"); err != nil || l != s.learned1 {
			t.Errorf("step %d: BayesLearned(m1) = %v, %v; want %v", i, l, err, s.learned1)
		}
	}
	if _, err := b.BayesLearn(ctx, "m3", toks, store.BayesLabel(7), base); !errors.Is(err, store.ErrBayesLabel) {
		t.Errorf("learning with label 7: %v, want ErrBayesLabel", err)
	}
	if _, err := b.BayesLearn(ctx, "", toks, store.BayesSpam, base); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("learning with an empty digest: %v, want ErrInvalid", err)
	}
	if c := bayesCounts(t, b); len(c) != 0 {
		t.Errorf("counts of no hashes: %v", c)
	}
}

// testBayesExpire: expiry deletes old tokens seen once, then bounds the
// size, seen-once tokens first and least recently seen first.
func testBayesExpire(t *testing.T, b store.Bayes) {
	learn := func(digest string, l store.BayesLabel, at time.Time, hashes ...uint64) {
		t.Helper()
		if _, err := b.BayesLearn(ctx, digest, hashes, l, at); err != nil {
			t.Fatal(err)
		}
	}
	// 1..10 in two messages (seen twice) at base; 11..20 once at base+1h;
	// 21..30 once at base+2h; 31..40 in two messages at base+3h.
	var twiceOld, onceA, onceB, twiceNew []uint64
	for i := uint64(1); i <= 10; i++ {
		twiceOld, onceA, onceB, twiceNew = append(twiceOld, i), append(onceA, 10+i), append(onceB, 20+i), append(twiceNew, 30+i)
	}
	learn("a", store.BayesSpam, base, twiceOld...)
	learn("b", store.BayesHam, base, twiceOld...)
	learn("c", store.BayesSpam, base.Add(time.Hour), onceA...)
	learn("d", store.BayesHam, base.Add(2*time.Hour), onceB...)
	learn("e", store.BayesSpam, base.Add(3*time.Hour), twiceNew...)
	learn("f", store.BayesSpam, base.Add(3*time.Hour), twiceNew...) // another message, same tokens
	all := func() []uint64 {
		var h []uint64
		for i := uint64(1); i <= 40; i++ {
			h = append(h, i)
		}
		return h
	}
	have := func(want string) {
		t.Helper()
		c := bayesCounts(t, b, all()...)
		var got []uint64
		for i := uint64(1); i <= 40; i++ {
			if _, ok := c[i]; ok {
				got = append(got, i)
			}
		}
		if fmt.Sprint(ranges(got)) != want {
			t.Errorf("tokens left %v, want %s", ranges(got), want)
		}
	}
	for _, s := range []struct {
		max        int64
		onceBefore time.Time
		deleted    int64
		remaining  int64
		left       string
	}{
		{0, time.Time{}, 0, 40, "[1-40]"},                       // no bound
		{40, time.Time{}, 0, 40, "[1-40]"},                      // at the bound
		{0, base.Add(90 * time.Minute), 10, 30, "[1-10 21-40]"}, // seen once before base+1.5h
		{30, base.Add(30 * time.Minute), 0, 30, "[1-10 21-40]"}, // nothing that old once; at the bound
		{20, time.Time{}, 12, 18, "[3-10 31-40]"},               // to 18: 21..30 (once) then 1,2 (oldest)
		{18, base.Add(24 * time.Hour), 0, 18, "[3-10 31-40]"},   // tokens seen twice never expire by age
	} {
		del, rem, err := b.BayesExpire(ctx, s.max, s.onceBefore)
		if err != nil {
			t.Fatal(err)
		}
		if del != s.deleted || rem != s.remaining {
			t.Errorf("BayesExpire(%d, %v) = %d deleted, %d remaining; want %d, %d", s.max, s.onceBefore, del, rem, s.deleted, s.remaining)
		}
		have(s.left)
	}
	// The totals are the messages learned, whatever expired.
	if tot := bayesTotals(t, b); tot != (store.BayesTotals{Spam: 4, Ham: 2}) {
		t.Errorf("totals after expiry %+v", tot)
	}
}

// ranges writes sorted numbers as runs: [1-3 5].
func ranges(ns []uint64) []string {
	var out []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if i == j {
			out = append(out, fmt.Sprint(ns[i]))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", ns[i], ns[j]))
		}
		i = j + 1
	}
	return out
}

// testBayesConcurrent: concurrent learners of one message count it once,
// and of different messages count each.
func testBayesConcurrent(t *testing.T, b store.Bayes) {
	parallel(8, func(i int) {
		if _, err := b.BayesLearn(ctx, "same", []uint64{1, 2}, store.BayesSpam, time.Time{}); err != nil {
			t.Error(err)
		}
		if _, err := b.BayesLearn(ctx, fmt.Sprint("m", i), []uint64{2, 3}, store.BayesHam, time.Time{}); err != nil {
			t.Error(err)
		}
	})
	if tot := bayesTotals(t, b); tot != (store.BayesTotals{Spam: 1, Ham: 8}) {
		t.Errorf("totals %+v, want 1 spam, 8 ham", tot)
	}
	if c := bayesCounts(t, b, 1, 2, 3); c[1] != (store.BayesCounts{Spam: 1}) || c[2] != (store.BayesCounts{Spam: 1, Ham: 8}) || c[3] != (store.BayesCounts{Ham: 8}) {
		t.Errorf("counts %v", c)
	}
}
