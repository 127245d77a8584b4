package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// bayesFilter answers "certainly not in the token database" without a
// read: most of a message's tokens (its rarer word pairs, above all) were
// never learned, and a read of each would cost more than the rest of the
// classification. It is a blocked Bloom filter, one 64-bit word a token
// with 6 bits set, of 16 bits a token at its build (about 3% false
// positives, which are read from the database as before; 2 MB at a million
// tokens).
//
// It holds every token of the database at generation gen, and some
// deleted since (a deletion does not clear bits: a deleted token then costs
// a read, never a wrong answer). It is built from one read transaction's
// snapshot; this process's later writes add their tokens and move gen on,
// as they move the cache's. A write by another process leaves gen behind:
// lookups then read every token until the filter is built again, at most
// once per [bayesFilterRebuild]; so is one that this process filled past
// its room.
type bayesFilter struct {
	words []atomic.Uint64
	gen   atomic.Int64 // -1 while it is being built
	room  int64        // tokens it can take after its build before false positives grow
	fresh atomic.Int64 // tokens this process added since the build

	mu    sync.Mutex
	added map[int64]bool // generations of this process added, not yet passed by gen
}

// bayesFilterRebuild is the least time between two builds of the filter
// (the first is at once).
var bayesFilterRebuild = time.Minute

// bayesFilterBits is the filter's size in bits per token at its build.
const bayesFilterBits = 16

func newBayesFilter(tokens, room int) *bayesFilter {
	n := max(1024, (tokens+room)*bayesFilterBits/64)
	f := &bayesFilter{words: make([]atomic.Uint64, n), added: map[int64]bool{}, room: int64(room)}
	f.gen.Store(-1)
	return f
}

// mix spreads a token's hash (FNV-1a, weak in its low bits) over all 64
// bits: splitmix64's finalizer.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

func (f *bayesFilter) slot(h uint64) (*atomic.Uint64, uint64) {
	x := mix(h)
	w := &f.words[(x>>32)*uint64(len(f.words))>>32]
	var m uint64
	for i := range 6 {
		m |= 1 << (x >> (6 * i) & 63)
	}
	return w, m
}

func (f *bayesFilter) add(h uint64) {
	w, m := f.slot(h)
	w.Or(m)
}

func (f *bayesFilter) mayHold(h uint64) bool {
	w, m := f.slot(h)
	return w.Load()&m == m
}

// learned adds hashes, which generation gen of this process wrote, and
// moves the filter to gen if it is at the one before.
func (f *bayesFilter) learned(gen int64, hashes []uint64) {
	var fresh int64
	for _, h := range hashes {
		if !f.mayHold(h) {
			fresh++
			f.add(h)
		}
	}
	f.fresh.Add(fresh)
	f.mu.Lock()
	f.added[gen] = true
	f.advance()
	f.mu.Unlock()
}

// advance moves gen over this process's consecutive generations; under mu.
func (f *bayesFilter) advance() {
	g := f.gen.Load()
	if g < 0 {
		return
	}
	for f.added[g+1] {
		g++
	}
	for a := range f.added {
		if a <= g {
			delete(f.added, a)
		}
	}
	f.gen.Store(g)
}

// full reports whether more tokens were learned since the build than the
// filter has room for: it is then built again, with room for them.
func (f *bayesFilter) full() bool { return f.fresh.Load() > f.room }

// filterAt returns the filter if it holds the database at generation gen,
// or nil.
func (c *bayesCache) filterAt(gen int64) *bayesFilter {
	if f := c.filter.Load(); f != nil && f.gen.Load() == gen {
		return f
	}
	return nil
}

// startFilter builds a filter in the background unless one is being
// built or was started less than [bayesFilterRebuild] ago.
func (c *bayesCache) startFilter(st *stateDB) {
	if last := c.filterStart.Load(); last != 0 && time.Since(time.Unix(0, last)) < bayesFilterRebuild {
		return
	}
	if !c.building.CompareAndSwap(false, true) {
		return
	}
	c.filterStart.Store(time.Now().UnixNano())
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer c.building.Store(false)
		if err := c.buildFilter(c.ctx, st); err != nil && c.ctx.Err() == nil {
			c.log.Warn("store: bayes token filter not built; every token is read", "err", err)
		}
	}()
}

// buildFilter builds a filter from one snapshot of the database and
// publishes it.
func (c *bayesCache) buildFilter(ctx context.Context, st *stateDB) error {
	var n int64
	if err := st.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM bayes_tokens`).Scan(&n); err != nil {
		return err
	}
	f := newBayesFilter(int(n), int(n/4+10_000)) // room for what is learned until the next build
	// Published as the next one before the snapshot (at -1): this
	// process's writes from now on add their tokens to it.
	c.next.Store(f)
	defer c.next.CompareAndSwap(f, nil)
	tx, err := st.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var gen int64
	if err := tx.QueryRowContext(ctx, `SELECT gen FROM bayes_totals WHERE id = 1`).Scan(&gen); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT hash FROM bayes_tokens`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var h int64
		if err := rows.Scan(&h); err != nil {
			return err
		}
		f.add(uint64(h))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read tokens: %w", err)
	}
	f.mu.Lock()
	f.gen.Store(gen)
	f.advance()
	f.mu.Unlock()
	c.filter.Store(f)
	return nil
}
