package store

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// The token cache. Classifying a message looks up about a thousand
// tokens; from SQLite that costs some 6 µs a token, from memory well under
// 0.1 µs. [Store.BayesCounts] therefore keeps the counts it read, and the
// absence of the tokens it did not find, in a bounded in-process cache,
// and answers exactly what the database holds, never a stale count:
//
//   - Every write of the token database (learn, forget, expire, import),
//     by any process or host sharing it, increments a generation in
//     bayes_totals in the same transaction.
//   - A lookup reads the generation in the read transaction of its
//     misses. When it is newer than the one the cache holds, a process
//     the cache knows nothing of wrote: the cache is emptied and starts
//     at the new generation. So a database shared by several hosts
//     (PostgreSQL) is honoured at the next message, with no staleness.
//   - This process's own learning invalidates just the tokens it
//     learned, then moves the cache to the generation it wrote; an expiry
//     empties it.
//   - A lookup fills the cache with what it read only when no write and
//     no emptying happened since before its read transaction began
//     (epoch), so a read of an older snapshot can never put old counts
//     back after a write invalidated them. Entries carry the generation
//     they were read at and serve only lookups at that generation or a
//     later one, and none older than the last emptying (base).
//
// The cache is bounded by entries (a random one is evicted from a full
// shard) and sharded by hash, so concurrent lookups rarely contend.
type bayesCache struct {
	perShard int
	gen      atomic.Int64  // the database generation the entries are valid at
	base     atomic.Int64  // no entry read before this generation is valid
	epoch    atomic.Uint64 // incremented by every invalidation
	shards   [bayesShards]bayesShard

	// filter answers for the tokens the database does not hold; see
	// [bayesFilter].
	filter      atomic.Pointer[bayesFilter]
	next        atomic.Pointer[bayesFilter] // being built; the filter serves meanwhile
	building    atomic.Bool
	filterStart atomic.Int64 // unix ns of the last build's start
	ctx         context.Context
	stop        context.CancelFunc
	bg          sync.WaitGroup
	log         *slog.Logger
}

// bayesShards is how many shards the cache has: enough that two lookups
// on different cores seldom wait for each other.
const bayesShards = 64

// BayesCacheTokens is how many tokens the token cache holds by default:
// about 15 MB, the tokens of some thousand typical messages, which holds
// the common ones of a site's mail.
const BayesCacheTokens = 256 << 10

type bayesShard struct {
	mu sync.Mutex
	m  map[uint64]bayesEntry
}

// bayesEntry is a token's counts at generation gen, or its absence then
// (known false).
type bayesEntry struct {
	c     BayesCounts
	gen   int64
	known bool
}

// newBayesCache is a cache of about tokens tokens, or nil (no cache) when it
// is 0 or less.
func newBayesCache(tokens int, log *slog.Logger) *bayesCache {
	if tokens <= 0 {
		return nil
	}
	c := &bayesCache{perShard: max(1, tokens/bayesShards), log: log}
	c.ctx, c.stop = context.WithCancel(context.Background())
	c.gen.Store(-1) // no generation read yet: the first lookup starts it
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]bayesEntry)
	}
	return c
}

func (c *bayesCache) shard(h uint64) *bayesShard {
	// The hashes are uniform (FNV-1a of the token): the top bits do.
	return &c.shards[h>>58]
}

// begin is called in a lookup's read transaction, before it reads, with
// the generation that transaction sees; it reports whether the cache may
// serve and be filled at gen. A generation newer than the cache's empties
// it; an older one (a snapshot taken before a write this process has
// already seen) bypasses it.
func (c *bayesCache) begin(gen int64) bool {
	for {
		cur := c.gen.Load()
		switch {
		case gen == cur:
			return true
		case gen < cur:
			return false
		}
		c.reset(cur, gen)
	}
}

// reset empties the cache and moves it from generation from to to, unless
// it is at another generation by now.
func (c *bayesCache) reset(from, to int64) {
	c.epoch.Add(1)
	storeMax(&c.base, to) // before gen: a lookup that sees gen to also sees base to
	if !c.gen.CompareAndSwap(from, to) {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// close stops a filter build and waits for it.
func (c *bayesCache) close() {
	c.stop()
	c.bg.Wait()
}

// flush empties the cache after this process wrote generation gen
// without knowing which tokens changed (an expiry, an import), which
// added the tokens added (none for an expiry).
func (c *bayesCache) flush(gen int64, added []uint64) {
	c.filterLearned(gen, added)
	for {
		cur := c.gen.Load()
		if cur >= gen {
			// A lookup has already seen gen (and emptied the cache) or
			// a later one.
			c.epoch.Add(1)
			storeMax(&c.base, gen)
			for i := range c.shards {
				s := &c.shards[i]
				s.mu.Lock()
				for h, e := range s.m {
					if e.gen < gen {
						delete(s.m, h)
					}
				}
				s.mu.Unlock()
			}
			return
		}
		c.reset(cur, gen)
	}
}

// learned invalidates hashes after this process committed generation gen,
// which changed their counts and nothing else, and moves the cache to it
// if it was at the generation before.
func (c *bayesCache) learned(gen int64, hashes []uint64) {
	c.epoch.Add(1) // before the deletes: a fill that read before them is refused
	for _, h := range hashes {
		s := c.shard(h)
		s.mu.Lock()
		delete(s.m, h)
		s.mu.Unlock()
	}
	c.filterLearned(gen, hashes)
	c.gen.CompareAndSwap(gen-1, gen)
}

// filterLearned adds what generation gen of this process wrote to the
// filter and to the one being built.
func (c *bayesCache) filterLearned(gen int64, hashes []uint64) {
	// next before filter: a build that publishes its filter between the
	// two has it already.
	next := c.next.Load()
	if f := c.filter.Load(); f != nil && f != next {
		f.learned(gen, hashes)
	}
	if next != nil {
		next.learned(gen, hashes)
	}
}

// get sets out[i] to the cached count of hashes[i], valid at gen, for
// each index i of want, and returns the indexes of those it does not hold,
// appended to miss (which may share want's array: it is written behind
// the read).
func (c *bayesCache) get(gen int64, hashes []uint64, want []int, out []BayesCounts, miss []int) []int {
	base := c.base.Load()
	for _, i := range want {
		h := hashes[i]
		s := c.shard(h)
		s.mu.Lock()
		e, ok := s.m[h]
		s.mu.Unlock()
		if !ok || e.gen > gen || e.gen < base {
			miss = append(miss, i)
			continue
		}
		if e.known {
			out[i] = e.c
		}
	}
	return miss
}

// put caches what a lookup at generation gen, begun at epoch, read of
// asked: found holds the counts of those the database has. It caches
// nothing when the cache was invalidated since epoch.
func (c *bayesCache) put(gen int64, epoch uint64, asked []uint64, found map[uint64]BayesCounts) {
	for _, h := range asked {
		cnt, known := found[h]
		s := c.shard(h)
		s.mu.Lock()
		// Under the shard's lock: an invalidation that increments epoch
		// after this check deletes after this insert.
		if c.epoch.Load() != epoch || c.gen.Load() != gen {
			s.mu.Unlock()
			return
		}
		if _, ok := s.m[h]; !ok && len(s.m) >= c.perShard {
			for old := range s.m { // a random entry: map order is random
				delete(s.m, old)
				break
			}
		}
		s.m[h] = bayesEntry{c: cnt, gen: gen, known: known}
		s.mu.Unlock()
	}
}

// len is how many tokens the cache holds.
func (c *bayesCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// storeMax sets a to v if v is more.
func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if cur >= v || a.CompareAndSwap(cur, v) {
			return
		}
	}
}
