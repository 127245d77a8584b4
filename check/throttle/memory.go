package throttle

import (
	"container/list"
	"sync"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

// Counting is in memory: a throttle runs on every message, and a write to
// the state store per message and throttle would cost the session more
// than everything else at MAIL (about 1 ms at p99 with the four default
// throttles). Counters are kept per state store, so a config reload, which
// keeps the store, keeps them; a restart starts them from zero, and hosts
// sharing one store count apart. Blocks are in the store (a restart does
// not lift them, and every host sees them): each is read once and then
// remembered, and a key found unblocked is looked up again after
// [blockRecheck].

// maxKeys bounds the counters kept per store; past it the counter used
// least recently is dropped (its key starts again from zero).
const maxKeys = 65536

// blockRecheck is how long a key found unblocked in the store is taken as
// unblocked before the store is asked again (for blocks another host set).
const blockRecheck = 10 * time.Second

// buckets is how many steps a window slides in, as the store's counters.
const buckets = 16

var (
	memMu sync.Mutex
	mems  = map[store.State]*memory{}
)

// memoryFor returns the counters and block cache kept for st.
func memoryFor(st store.State) *memory {
	memMu.Lock()
	defer memMu.Unlock()
	m := mems[st]
	if m == nil {
		m = &memory{keys: map[string]*list.Element{}, lru: list.New(), blocks: map[string]cachedBlock{}}
		mems[st] = m
	}
	return m
}

type memory struct {
	mu     sync.Mutex
	keys   map[string]*list.Element // of *counter
	lru    *list.List               // front: used last
	blocks map[string]cachedBlock
}

// counter is a sliding window of buckets+1 slots: slot i holds the count
// of bucket number idx[i] (time divided by the bucket width).
type counter struct {
	key string
	idx [buckets + 1]int64
	n   [buckets + 1]int64
}

// cachedBlock is what the store said of a key's block, and when.
type cachedBlock struct {
	entry   store.Entry
	blocked bool
	checked time.Time
}

// width is the bucket width of a window: ceil(window/16).
func width(window time.Duration) int64 {
	return max(1, (int64(window)+buckets-1)/buckets)
}

// add adds n to key's counter at at and returns the count over the window
// ending at at: every increment in (at-window, at], and possibly some up
// to a sixteenth of the window older, as the store's counters.
func (m *memory) add(key string, window time.Duration, n int64, at time.Time) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var c *counter
	if e, ok := m.keys[key]; ok {
		m.lru.MoveToFront(e)
		c = e.Value.(*counter)
	} else {
		if n == 0 {
			return 0
		}
		c = &counter{key: key}
		m.keys[key] = m.lru.PushFront(c)
		for m.lru.Len() > maxKeys {
			old := m.lru.Back()
			m.lru.Remove(old)
			delete(m.keys, old.Value.(*counter).key)
		}
	}
	b := at.UnixNano() / width(window)
	slot := int(((b % (buckets + 1)) + buckets + 1) % (buckets + 1))
	if c.idx[slot] != b {
		c.idx[slot], c.n[slot] = b, 0
	}
	c.n[slot] += n
	var sum int64
	for i := range c.idx {
		if c.idx[i] <= b && c.idx[i] >= b-buckets {
			sum += c.n[i]
		}
	}
	return sum
}

// block returns the cached word on key's block, and whether it is still
// good at at.
func (m *memory) block(key string, at time.Time) (cachedBlock, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blocks[key]
	switch {
	case !ok:
		return b, false
	case b.blocked && at.Before(b.entry.Expires):
		return b, true
	case !b.blocked && at.Sub(b.checked) < blockRecheck:
		return b, true
	}
	delete(m.blocks, key)
	return b, false
}

// remember caches the store's word on key's block. Unblocked keys are
// remembered only while the cache is small, so a flood of new keys
// cannot grow it without bound.
func (m *memory) remember(key string, b cachedBlock) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.blocks) >= maxKeys {
		// Drop what no longer holds: ended blocks and stale "not
		// blocked" words. Amortised: a sweep frees room for many adds,
		// or the cache is full of live blocks and takes no more.
		for k, c := range m.blocks {
			if (c.blocked && !b.checked.Before(c.entry.Expires)) || (!c.blocked && b.checked.Sub(c.checked) >= blockRecheck) {
				delete(m.blocks, k)
			}
		}
		if len(m.blocks) >= maxKeys && !b.blocked {
			return
		}
	}
	m.blocks[key] = b
}
