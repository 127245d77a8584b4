package dns

import (
	mdns "github.com/miekg/dns"
	"net/netip"
	"time"
)

// key identifies a cached answer: the canonical name (lower case, without
// the final dot) and the record type.
type key struct {
	name  string
	qtype uint16
}

// entry is one cached answer, immutable once in the cache except for its
// place in the LRU list. The typed values are extracted once, at insert,
// so a cache hit only copies them.
type entry struct {
	records  []RR
	notFound error // nil, or ErrNXDomain/ErrNoData wrapped with the name
	expires  time.Time

	addrs []netip.Addr // A, AAAA
	strs  []string     // TXT (joined per record), PTR (names)
	mx    []MX

	key        key
	size       int
	prev, next *entry
}

// cache is a fixed-capacity LRU of answers, bounded by entry count and by
// an estimate of their bytes. It is not safe for concurrent use; the
// [Resolver]'s mutex guards it.
type cache struct {
	maxEntries, maxBytes int
	bytes                int
	evictions            uint64
	m                    map[key]*entry
	root                 entry // root.next is the most recently used
}

func newCache(maxEntries, maxBytes int) *cache {
	c := &cache{maxEntries: maxEntries, maxBytes: maxBytes, m: make(map[key]*entry)}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// get returns the live entry for k and marks it used; an expired entry is
// dropped.
func (c *cache) get(k key, now time.Time) *entry {
	e := c.m[k]
	if e == nil {
		return nil
	}
	if !now.Before(e.expires) {
		c.remove(e)
		return nil
	}
	c.unlink(e)
	c.pushFront(e)
	return e
}

// put stores e under its key, replacing any older entry, and evicts the
// least recently used entries until both bounds hold again. An entry
// bigger than the whole byte bound is not stored.
func (c *cache) put(e *entry) {
	if old := c.m[e.key]; old != nil {
		c.remove(old)
	}
	if e.size > c.maxBytes {
		return
	}
	c.m[e.key] = e
	c.pushFront(e)
	c.bytes += e.size
	for len(c.m) > c.maxEntries || c.bytes > c.maxBytes {
		c.remove(c.root.prev)
		c.evictions++
	}
}

func (c *cache) remove(e *entry) {
	c.unlink(e)
	delete(c.m, e.key)
	c.bytes -= e.size
}

func (c *cache) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *cache) pushFront(e *entry) {
	e.prev, e.next = &c.root, c.root.next
	c.root.next.prev = e
	c.root.next = e
}

// entryOverhead approximates what an entry costs beyond its names and
// records: the struct, the map slot and the slice headers.
const entryOverhead = 200

// sizeOf estimates the bytes e holds, for the cache's byte bound.
func sizeOf(e *entry) int {
	n := entryOverhead + len(e.key.name)
	for _, rr := range e.records {
		n += mdns.Len(rr) + 48 // wire length plus the Go header struct
	}
	n += len(e.addrs) * 24
	for _, s := range e.strs {
		n += len(s) + 16
	}
	for _, m := range e.mx {
		n += len(m.Host) + 24
	}
	return n
}
