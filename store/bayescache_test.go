package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// bayesOps runs a random learn, forget, relearn, expiry or import on one
// of stores; hashes are drawn from 0..universe-1.
type bayesOps struct {
	r        *rand.Rand
	universe uint64
	msgs     map[string][]uint64
}

func (o *bayesOps) step(t *testing.T, s *Store, now time.Time) string {
	t.Helper()
	ctx := context.Background()
	var err error
	var what string
	switch k := o.r.IntN(10); {
	case k < 5: // learn a new message, or the same again as the other kind
		d := fmt.Sprint("m", o.r.IntN(40))
		hs, ok := o.msgs[d]
		if !ok {
			for range 5 + o.r.IntN(20) {
				hs = append(hs, o.r.Uint64N(o.universe))
			}
			o.msgs[d] = hs
		}
		l := BayesSpam
		if o.r.IntN(2) == 0 {
			l = BayesHam
		}
		what = fmt.Sprintf("learn %s as %v", d, l)
		_, err = s.BayesLearn(ctx, d, hs, l, now)
	case k < 7: // forget
		d := fmt.Sprint("m", o.r.IntN(40))
		what = "forget " + d
		_, err = s.BayesLearn(ctx, d, o.msgs[d], BayesNone, now)
	case k < 9: // expire: the once-seen old ones, or down to a bound
		what = "expire"
		_, _, err = s.BayesExpire(ctx, int64(o.r.IntN(60)+1), now.Add(-time.Duration(o.r.IntN(5))*time.Minute))
	default:
		what = "import"
		toks := []BayesToken{{Hash: o.r.Uint64N(o.universe), BayesCounts: BayesCounts{Spam: 1}}, {Hash: o.r.Uint64N(o.universe), BayesCounts: BayesCounts{Ham: 2}}}
		err = s.BayesImport(ctx, BayesTotals{Spam: 1}, toks)
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return what
}

// TestBayesCacheSameAnswers: after every learn, forget, relearn, expiry
// and import, by this process or another (a second Store on the same
// directory), the cached counts are those an uncached reader gets, with
// the filter built and before it is.
func TestBayesCacheSameAnswers(t *testing.T) {
	for _, tc := range []struct {
		warm bool
		size int
	}{{false, 4096}, {true, 4096}, {true, 64}} {
		warm, size := tc.warm, tc.size
		t.Run(fmt.Sprintf("warm=%v,size=%d", warm, size), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			a, b, plain := openTest(t, dir), openTest(t, dir), openTest(t, dir)
			plain.SetBayesCache(0)
			for _, s := range []*Store{a, b} {
				s.SetBayesCache(size) // 64: eviction happens too
				if warm {
					if err := s.WarmBayesCache(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			ops := &bayesOps{r: rand.New(rand.NewPCG(1, 2)), universe: 200, msgs: map[string][]uint64{}}
			all := make([]uint64, ops.universe+10) // and some never learned
			for i := range all {
				all[i] = uint64(i)
			}
			now := time.Unix(1_800_000_000, 0)
			for i := range 200 {
				now = now.Add(time.Minute)
				w := a
				if i%4 == 3 {
					w = b
				}
				what := ops.step(t, w, now)
				want, err := plain.BayesCounts(ctx, all)
				if err != nil {
					t.Fatal(err)
				}
				for name, s := range map[string]*Store{"writer": w, "other": map[*Store]*Store{a: b, b: a}[w]} {
					// Twice: the second is served from the cache.
					for range 2 {
						got, err := s.BayesCounts(ctx, all)
						if err != nil {
							t.Fatal(err)
						}
						if !slices.Equal(got, want) {
							t.Fatalf("step %d (%s), %s store: counts %v, want %v", i, what, name, got, want)
						}
					}
				}
			}
			if n := a.st.bayes.Load().len(); n > size {
				t.Errorf("cache holds %d tokens, bound %d", n, size)
			}
		})
	}
}

// TestBayesCacheConcurrent: lookups concurrent with learning (run with
// -race) see no torn state, and once learning stops they answer as an
// uncached reader does.
func TestBayesCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, plain := openTest(t, dir), openTest(t, dir)
	plain.SetBayesCache(0)
	s.SetBayesCache(1000)
	hs := make([]uint64, 100)
	for i := range hs {
		hs[i] = uint64(i)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := s.BayesCounts(ctx, hs)
				if err != nil {
					t.Error(err)
					return
				}
				// Each message learned below holds hashes 0-9 and
				// one of 10-99, so 0-9 count alike in any snapshot.
				if c[0] != c[9] {
					t.Errorf("reader %d: torn counts %v and %v", g, c[0], c[9])
					return
				}
			}
		})
	}
	if err := s.WarmBayesCache(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		d := fmt.Sprint("m", i%20)
		l := []BayesLabel{BayesSpam, BayesHam, BayesNone}[i%3]
		if _, err := s.BayesLearn(ctx, d, append(slicesRange(10), uint64(10+i%90)), l, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	got, err := s.BayesCounts(ctx, hs)
	if err != nil {
		t.Fatal(err)
	}
	want, err := plain.BayesCounts(ctx, hs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("after learning: %v, want %v", got, want)
	}
}

func slicesRange(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i)
	}
	return out
}

// TestBayesFilterNoFalseNegative: every hash added is reported as maybe
// held, and most of those never added are not.
func TestBayesFilterNoFalseNegative(t *testing.T) {
	f := newBayesFilter(10_000, 0)
	r := rand.New(rand.NewPCG(3, 4))
	in := make([]uint64, 10_000)
	for i := range in {
		in[i] = r.Uint64()
		f.add(in[i])
	}
	for _, h := range in {
		if !f.mayHold(h) {
			t.Fatalf("%x added, reported absent", h)
		}
	}
	fp := 0
	for range 100_000 {
		if f.mayHold(r.Uint64()) {
			fp++
		}
	}
	if fp > 6000 { // about 3% expected
		t.Errorf("%d of 100000 absent hashes reported maybe held", fp)
	}
}

// TestBayesFilterGeneration: the filter serves the generation it was
// built at and those this process wrote after it, not one another
// process wrote.
func TestBayesFilterGeneration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := openTest(t, dir), openTest(t, dir)
	if _, err := a.BayesLearn(ctx, "m1", []uint64{1}, BayesSpam, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := a.WarmBayesCache(ctx); err != nil {
		t.Fatal(err)
	}
	c := a.st.bayes.Load()
	gen := func() int64 {
		var g int64
		if err := a.st.r.QueryRow(`SELECT gen FROM bayes_totals`).Scan(&g); err != nil {
			t.Fatal(err)
		}
		return g
	}
	if c.filterAt(gen()) == nil {
		t.Fatal("no filter at the generation it was built at")
	}
	if _, err := a.BayesLearn(ctx, "m2", []uint64{2}, BayesHam, time.Time{}); err != nil {
		t.Fatal(err)
	}
	f := c.filterAt(gen())
	if f == nil || !f.mayHold(2) {
		t.Fatal("no filter holding 2 after this process learned it")
	}
	if _, err := b.BayesLearn(ctx, "m3", []uint64{3}, BayesHam, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c.filterAt(gen()) != nil {
		t.Error("a filter at a generation another process wrote")
	}
	// The counts are right all the same, and the lookup rebuilds the
	// filter in the background.
	got, err := a.BayesCounts(ctx, []uint64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := []BayesCounts{{Spam: 1}, {Ham: 1}, {Ham: 1}}; !slices.Equal(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
}

// TestBayesLearnMany: a batch is each message learned in turn (the same
// digest twice moves it), its cache invalidation covers every message,
// and a batch with a bad label learns nothing.
func TestBayesLearnMany(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, plain := openTest(t, dir), openTest(t, dir)
	plain.SetBayesCache(0)
	hs := []uint64{1, 2, 3}
	if _, err := s.BayesCounts(ctx, hs); err != nil { // cached before
		t.Fatal(err)
	}
	prev, err := s.BayesLearnMany(ctx, []BayesLearning{
		{Digest: "a", Hashes: []uint64{1, 2}, Label: BayesSpam},
		{Digest: "b", Hashes: []uint64{2, 3}, Label: BayesHam},
		{Digest: "a", Hashes: []uint64{1, 2}, Label: BayesHam},
		{Digest: "b", Hashes: []uint64{2, 3}, Label: BayesHam},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []BayesLabel{BayesNone, BayesNone, BayesSpam, BayesHam}; !slices.Equal(prev, want) {
		t.Errorf("prev %v, want %v", prev, want)
	}
	want := []BayesCounts{{Ham: 1}, {Ham: 2}, {Ham: 1}}
	for name, st := range map[string]*Store{"cached": s, "uncached": plain} {
		if got, err := st.BayesCounts(ctx, hs); err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: counts %v, %v, want %v", name, got, err, want)
		}
	}
	if tot, err := s.BayesTotals(ctx); err != nil || tot != (BayesTotals{Ham: 2}) {
		t.Errorf("totals %+v, %v", tot, err)
	}
	if _, err := s.BayesLearnMany(ctx, []BayesLearning{{Digest: "c", Hashes: hs, Label: BayesSpam}, {Digest: "d", Label: 7}}); !errors.Is(err, ErrBayesLabel) {
		t.Errorf("bad label: %v", err)
	}
	if l, err := s.BayesLearned(ctx, "c"); err != nil || l != BayesNone {
		t.Errorf("c of the refused batch learned as %v, %v", l, err)
	}
}

// TestBayesImportLeavesOutEmpty: an imported token with no counts is not
// kept, as learning keeps none: a known token never counts zero, which
// [Store.BayesCounts]' callers rely on.
func TestBayesImportLeavesOutEmpty(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	if err := s.BayesImport(ctx, BayesTotals{Spam: 1}, []BayesToken{{Hash: 1}, {Hash: 2, BayesCounts: BayesCounts{Spam: 1}}}); err != nil {
		t.Fatal(err)
	}
	st, err := s.state(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := st.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM bayes_tokens`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d tokens kept (%v), want 1", n, err)
	}
	if got, err := s.BayesCounts(ctx, []uint64{1, 2}); err != nil || !slices.Equal(got, []BayesCounts{{}, {Spam: 1}}) {
		t.Errorf("counts %v, %v", got, err)
	}
}
