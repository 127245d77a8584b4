package clamav

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/mailwarden/mailwarden/scanner/clamd"
)

// cache keeps verdicts by the SHA-256 of the message for a TTL, at most
// max of them: when full, the oldest goes (a ring of keys in insertion
// order). A verdict put again stays in its old place in the ring, which
// only makes it go a little early.
type cache struct {
	mu     sync.Mutex
	ttl    time.Duration
	max    int
	m      map[[sha256.Size]byte]cached
	ring   [][sha256.Size]byte // keys in insertion order, up to max
	oldest int                 // once the ring is full, the index of its oldest key
}

type cached struct {
	res     clamd.Result
	expires time.Time
}

func newCache(ttl time.Duration, max int) *cache {
	return &cache{ttl: ttl, max: max, m: map[[sha256.Size]byte]cached{}}
}

func (c *cache) get(k [sha256.Size]byte, now time.Time) (clamd.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !now.Before(e.expires) {
		return clamd.Result{}, false
	}
	return e.res, true
}

func (c *cache) put(k [sha256.Size]byte, res clamd.Result, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok {
		if len(c.ring) < c.max {
			c.ring = append(c.ring, k)
		} else {
			delete(c.m, c.ring[c.oldest])
			c.ring[c.oldest] = k
			c.oldest = (c.oldest + 1) % c.max
		}
	}
	c.m[k] = cached{res: res, expires: now.Add(c.ttl)}
}

// len is the number of verdicts kept, for tests.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
