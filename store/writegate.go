package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
)

// priority orders this process's writers on the one writer connection.
type priority int

const (
	// bulk writers (tracking rows, prune batches, checkpoints) can wait.
	bulk priority = iota
	// urgent writers (a quarantine commit) hold an SMTP reply: they go
	// before every waiting bulk writer.
	urgent
)

// writeGate is a mutex for the writer connection in which a waiting urgent
// writer always goes before the waiting bulk writers, first come first
// served within a priority. database/sql hands a freed connection to a
// random waiter, so without the gate a quarantine commit could wait behind
// every tracking-log batch queued at the time. A bulk transaction already
// running is never interrupted: bulk writers keep their transactions small
// instead (see [Store.AddEvents]), which bounds the wait of an urgent one.
type writeGate struct {
	mu     sync.Mutex
	held   bool
	queues [2][]chan struct{} // waiters by priority, oldest first
}

// lock takes the gate, or returns ctx's error while waiting.
func (g *writeGate) lock(ctx context.Context, p priority) error {
	g.mu.Lock()
	if !g.held { // a free gate has no waiters: unlock hands it to them
		g.held = true
		g.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	g.queues[p] = append(g.queues[p], ch)
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		if i := slices.Index(g.queues[p], ch); i >= 0 {
			g.queues[p] = slices.Delete(g.queues[p], i, i+1)
			return ctx.Err()
		}
		// Handed the gate just as ctx expired: pass it on.
		g.unlockLocked()
		return ctx.Err()
	}
}

// unlock hands the gate to the oldest urgent waiter, else the oldest bulk
// one, else frees it.
func (g *writeGate) unlock() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unlockLocked()
}

func (g *writeGate) unlockLocked() {
	for _, p := range []priority{urgent, bulk} {
		if q := g.queues[p]; len(q) > 0 {
			g.queues[p] = q[1:]
			close(q[0]) // held stays true: ownership passes to the waiter
			return
		}
	}
	g.held = false
}

// waiting returns the number of writers waiting at priority p; for tests.
func (g *writeGate) waiting(p priority) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queues[p])
}

// beginWrite takes the gate at priority p and begins an IMMEDIATE
// transaction on the writer. Call done after Commit or Rollback, which
// return the connection; defer it before deferring the Rollback.
func (s *Store) beginWrite(ctx context.Context, p priority) (tx *sql.Tx, done func(), err error) {
	if err := s.gate.lock(ctx, p); err != nil {
		return nil, nil, fmt.Errorf("wait for the writer: %w", err)
	}
	tx, err = s.w.BeginTx(ctx, nil)
	if err != nil {
		s.gate.unlock()
		return nil, nil, err
	}
	return tx, s.gate.unlock, nil
}

// execWrite runs one statement on the writer under the gate at priority p.
func (s *Store) execWrite(ctx context.Context, p priority, query string, args ...any) (sql.Result, error) {
	if err := s.gate.lock(ctx, p); err != nil {
		return nil, fmt.Errorf("wait for the writer: %w", err)
	}
	defer s.gate.unlock()
	return s.w.ExecContext(ctx, query, args...)
}
