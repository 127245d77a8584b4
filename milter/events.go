package milter

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

// eventWriter writes tracking-log rows in the background, in batches, so a
// session never waits for the log. The queue is bounded: when the store
// falls behind, sessions wait rather than lose rows.
type eventWriter struct {
	st   *store.Store
	log  *slog.Logger
	ch   chan *store.Event
	done chan struct{}

	mu     sync.RWMutex
	closed bool
}

// batchLinger is how long the writer waits to fill a batch of rows.
const batchLinger = 50 * time.Millisecond

func newEventWriter(st *store.Store, log *slog.Logger) *eventWriter {
	w := &eventWriter{st: st, log: log, ch: make(chan *store.Event, 4096), done: make(chan struct{})}
	go w.run()
	return w
}

// Add queues a row. After Close (a session cut off by shutdown) the row is
// written directly.
func (w *eventWriter) Add(e *store.Event) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.write([]*store.Event{e})
		return
	}
	w.ch <- e
}

func (w *eventWriter) run() {
	defer close(w.done)
	batch := make([]*store.Event, 0, 256)
	for e := range w.ch {
		batch = append(batch[:0], e)
		// Linger briefly so a steady trickle of messages shares commits.
		linger := time.NewTimer(batchLinger)
	fill:
		for len(batch) < cap(batch) {
			select {
			case e, ok := <-w.ch:
				if !ok {
					break fill
				}
				batch = append(batch, e)
			case <-linger.C:
				break fill
			}
		}
		linger.Stop()
		w.write(batch)
	}
}

func (w *eventWriter) write(batch []*store.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := w.st.AddEvents(ctx, batch)
		if err == nil {
			return
		}
		if attempt == 2 {
			w.log.Error("tracking log write failed; rows lost", "rows", len(batch), "err", err)
			return
		}
		w.log.Warn("tracking log write failed; retrying", "rows", len(batch), "err", err)
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
}

// Close flushes queued rows and stops the writer.
func (w *eventWriter) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
	w.mu.Unlock()
	<-w.done
}
