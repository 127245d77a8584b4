package milter

import (
	"container/list"
	"context"
	"sync"
)

// budget is limits.scan_memory, in bytes. End-of-message scans wait for
// their share in turn (first come, first served, so a large message is
// not starved by small ones). What a session holds before end of message
// is taken without waiting, and, unlike TryAcquire of x/sync's semaphore.Weighted,
// also while scans wait: with x/sync's semaphore a queue of large scans
// made every session still receiving its message fail, and be tempfailed,
// however much of the budget was free.
type budget struct {
	mu      sync.Mutex
	size    int64
	cur     int64
	waiters list.List // of *budgetWaiter, in arrival order
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when n has been taken for the waiter
}

func newBudget(size int64) *budget { return &budget{size: size} }

// TryAcquire takes n bytes if they are free now, waiting scans or not.
func (b *budget) TryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur+n > b.size {
		return false
	}
	b.cur += n
	return true
}

// Acquire takes n bytes, waiting behind the earlier waiters until they are
// free or ctx ends.
func (b *budget) Acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.cur+n <= b.size {
		b.cur += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	elem := b.waiters.PushBack(w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready: // taken just now: give it back
			b.cur -= n
		default:
			b.waiters.Remove(elem)
		}
		b.wake() // the waiters behind may fit now
		return ctx.Err()
	}
}

// Release gives back n bytes.
func (b *budget) Release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cur -= n
	if b.cur < 0 {
		panic("milter: scan memory released more than was taken")
	}
	b.wake()
}

// wake serves the waiters in order while the first one fits.
func (b *budget) wake() {
	for e := b.waiters.Front(); e != nil; e = b.waiters.Front() {
		w := e.Value.(*budgetWaiter)
		if b.cur+w.n > b.size {
			return
		}
		b.cur += w.n
		b.waiters.Remove(e)
		close(w.ready)
	}
}
