package milter

// The tracking-log writer.
//
// A row goes to the journal (data_dir/journal/, package store/journal)
// before the session answers: [eventWriter.Add] returns once the row is
// fsynced there. Sessions that finish at the same time share one fsync
// (group commit), so the cost is about one fsync per burst, not per row
// (see BenchmarkTrackingRow). A background goroutine moves rows from the
// journal to the store in transactions of at most storeBatch rows and
// acknowledges them once committed; the journal then frees their space.
//
// The store's speed never reaches a session. While the store is locked,
// slow or out of disk the rows stay in the journal, bounded by
// store.journal_max, and the writer retries with backoff; at start, before
// serving, it replays what an earlier run left. Each row carries a unique
// key, and the store stores a key once, so a replay after a crash between
// the store commit and the journal's acknowledgement does not duplicate it.
//
// Only when the journal cannot take a row (full, unwritable, or its fsync
// slower than journalWait) does the writer write that row to the store
// directly, waiting at most directWait; when that fails too, Add returns
// [ErrRowLost], the row is logged in full at error level and counted in
// mailwarden_tracking_rows_lost_total, and the session's on_error decides
// its answer.
//
// What a kill -9 (or a power cut) can still lose: nothing whose Add
// returned nil, which is every row of a session that got its reply. Rows
// of sessions killed before their reply (the MTA applies its
// milter_default_action to those messages), and a record torn by the kill,
// which the next start detects, logs and skips. After a journal fsync
// slower than journalWait, a row reported lost may still turn up later.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailwarden/mailwarden/store"
	"github.com/mailwarden/mailwarden/store/journal"
)

// ErrRowLost reports a tracking row that neither the journal nor the store
// could take in time; the session's on_error decides what to answer.
var ErrRowLost = errors.New("milter: tracking row not recorded")

// eventStore is what the writer needs of the store; tests give it fakes.
type eventStore interface {
	AddEvents(ctx context.Context, events []*store.Event) error
	Checkpoint(ctx context.Context, truncate bool) (store.Checkpoint, error)
	WALBytes() int64
}

// writerTimes are the writer's waits, variables so tests can shrink them.
type writerTimes struct {
	journalWait time.Duration // a session's wait for the journal's fsync
	directWait  time.Duration // a session's wait for the store when the journal cannot take its row
	storeWait   time.Duration // one store write attempt by the background writer
	retryMin    time.Duration // backoff between failed attempts, doubling up to retryMax
	retryMax    time.Duration
	linger      time.Duration // wait for more rows before a store write
	startWait   time.Duration // replay at start, before serving
	closeWait   time.Duration // the last store writes at shutdown
	checkpoint  time.Duration // WAL checkpoint interval
}

// Sessions wait at most journalWait+directWait (4 s) for their row, well
// under Sendmail's 10 s default reply timeout.
var defaultWriterTimes = writerTimes{
	journalWait: 2 * time.Second,
	directWait:  2 * time.Second,
	storeWait:   5 * time.Second,
	retryMin:    250 * time.Millisecond,
	retryMax:    10 * time.Second,
	linger:      50 * time.Millisecond,
	startWait:   30 * time.Second,
	closeWait:   10 * time.Second,
	checkpoint:  30 * time.Second,
}

// storeBatch caps the rows of one store transaction. A quarantine commit
// waits for at most one such transaction (store's write gate).
const storeBatch = 64

// eventWriter is the tracking-log writer; see the comment at the top of
// this file.
type eventWriter struct {
	st  eventStore
	j   *journal.Journal // nil when it could not be opened
	log *slog.Logger
	t   writerTimes

	ctx       context.Context // cancelled by Close: ends a store attempt
	cancel    context.CancelFunc
	quit      chan struct{}
	runDone   chan struct{}
	ckptDone  chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool

	// held is the batch read from the journal and not yet stored, with the
	// journal position to acknowledge once it is. Only run uses it, or the
	// replay before run starts and after it ends.
	held    []*store.Event
	heldPos journal.Pos
	holding bool

	storeDown  atomic.Bool
	stored     atomic.Int64 // rows the background writer committed
	journaled  atomic.Int64
	direct     atomic.Int64
	lost       atomic.Int64
	ckptFailed atomic.Int64
	warnDirect everySecond
}

// newEventWriter starts the daemon's writer on st, with its journal in
// st's data directory, bounded to journalMax bytes.
func newEventWriter(st *store.Store, journalMax int64, log *slog.Logger) *eventWriter {
	return openEventWriter(st, filepath.Join(st.Dir(), "journal"), journalMax, defaultWriterTimes, log)
}

// openEventWriter opens the journal in dir, replays it into st (waiting up
// to t.startWait) and starts the background writer and checkpointer. When
// the journal cannot be opened, rows go to the store directly.
func openEventWriter(st eventStore, dir string, journalMax int64, t writerTimes, log *slog.Logger) *eventWriter {
	w := &eventWriter{st: st, log: log, t: t, quit: make(chan struct{}),
		runDone: make(chan struct{}), ckptDone: make(chan struct{})}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	j, err := journal.Open(dir, journal.Options{MaxBytes: journalMax, Log: log})
	if err != nil {
		log.Error("tracking log: journal unavailable; rows go to the store directly, and are lost when it fails",
			"dir", dir, "err", err)
		close(w.runDone)
	} else {
		w.j = j
		if n, _ := j.Pending(); n > 0 {
			log.Info("tracking log: replaying the journal", "rows", n)
			ctx, cancel := context.WithTimeout(w.ctx, t.startWait)
			stored, err := w.drain(ctx)
			cancel()
			if err != nil {
				left, _ := j.Pending()
				log.Warn("tracking log: journal not replayed in full at start; the rest is written in the background",
					"stored", stored, "left", left, "err", err)
			} else {
				log.Info("tracking log: journal replayed", "rows", stored)
			}
		}
		go w.run()
	}
	go w.maintain()
	return w
}

// newEventKey returns a random key for a row, unique for good.
func newEventKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// Add records e durably, waiting a bounded time (see writerTimes), and
// returns nil once it is in the journal or the store. An error wraps
// [ErrRowLost]; the row is then logged and counted as lost.
func (w *eventWriter) Add(e *store.Event) error {
	if e.Key == "" {
		e.Key = newEventKey()
	}
	var jerr error
	switch {
	case w.j == nil:
		jerr = errors.New("no journal")
	case w.closed.Load():
		jerr = journal.ErrClosed
	default:
		data, err := json.Marshal(e)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), w.t.journalWait)
			err = w.j.Append(ctx, data)
			cancel()
			if err == nil {
				w.journaled.Add(1)
				return nil
			}
		}
		jerr = err
	}
	if w.storeDown.Load() {
		// The background writer is failing already: do not make the
		// session wait for a write that would fail too.
		return w.loseRow(e, jerr, errors.New("store unavailable"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.t.directWait)
	err := w.st.AddEvents(ctx, []*store.Event{e})
	cancel()
	if err != nil {
		return w.loseRow(e, jerr, err)
	}
	w.direct.Add(1)
	if !errors.Is(jerr, journal.ErrClosed) && w.warnDirect.allow() {
		w.log.Warn("tracking log: the journal could not take a row; written to the store directly", "err", jerr)
	}
	return nil
}

func (w *eventWriter) loseRow(e *store.Event, jerr, serr error) error {
	w.lost.Add(1)
	// The log line stands in for the row, so it names the message.
	w.log.Error("tracking row lost: neither the journal nor the store could take it",
		"journal_err", jerr, "store_err", serr, "time", e.Time, "queue_id", e.QueueID,
		"client", e.ClientIP, "sender", e.Sender, "rcpts", len(e.Recipients), "stage", e.Stage,
		"action", e.Action, "message_id", e.MessageID, "subject", e.Subject, "quarantine", e.QuarantineIDs)
	return fmt.Errorf("%w: journal: %w; store: %w", ErrRowLost, jerr, serr)
}

// fill makes held the next batch from the journal; false when there is
// none.
func (w *eventWriter) fill() bool {
	if w.holding {
		return true
	}
	recs := w.j.Read(storeBatch)
	if len(recs) == 0 {
		return false
	}
	w.held = w.held[:0]
	for _, r := range recs {
		if r.Data == nil {
			continue // damaged bytes, logged by the journal
		}
		e := new(store.Event)
		if err := json.Unmarshal(r.Data, e); err != nil {
			w.lost.Add(1)
			w.log.Error("tracking log: unreadable journal record skipped", "bytes", len(r.Data), "err", err)
			continue
		}
		w.held = append(w.held, e)
	}
	w.heldPos, w.holding = recs[len(recs)-1].Pos, true
	return true
}

// flush makes one attempt to store held, and acknowledges it in the
// journal on success.
func (w *eventWriter) flush(ctx context.Context) error {
	if len(w.held) > 0 {
		ctx, cancel := context.WithTimeout(ctx, w.t.storeWait)
		err := w.st.AddEvents(ctx, w.held)
		cancel()
		if err != nil {
			return err
		}
		w.stored.Add(int64(len(w.held)))
	}
	w.j.Ack(w.heldPos)
	clear(w.held)
	w.held, w.holding = w.held[:0], false
	return nil
}

// drain stores journaled rows until none is left, ctx ends or a store
// write fails, and returns how many it stored.
func (w *eventWriter) drain(ctx context.Context) (int, error) {
	n := 0
	for w.fill() {
		k := len(w.held)
		if err := w.flush(ctx); err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// run moves rows from the journal to the store until Close, retrying
// failed writes with backoff; rows wait in the journal meanwhile.
func (w *eventWriter) run() {
	defer close(w.runDone)
	backoff := w.t.retryMin
	var downSince, lastWarn time.Time
	for {
		ready := w.j.Notify()
		if !w.fill() {
			select {
			case <-ready:
			case <-w.quit:
				return
			}
			// Let a trickle of rows share a store commit.
			select {
			case <-time.After(w.t.linger):
			case <-w.quit:
				return
			}
			continue
		}
		err := w.flush(w.ctx)
		if err == nil {
			if w.storeDown.Swap(false) {
				left, _ := w.j.Pending()
				w.log.Info("tracking log: store available again; writing the journaled rows",
					"unavailable_for", time.Since(downSince).Round(time.Millisecond), "pending", left)
			}
			backoff = w.t.retryMin
			continue
		}
		if w.ctx.Err() != nil {
			return
		}
		now := time.Now()
		left, _ := w.j.Pending()
		if !w.storeDown.Swap(true) {
			downSince, lastWarn = now, now
			w.log.Warn("tracking log: store unavailable; rows are kept in the journal", "pending", left, "err", err)
		} else if now.Sub(lastWarn) >= time.Minute {
			lastWarn = now
			w.log.Warn("tracking log: store still unavailable; rows are kept in the journal",
				"for", now.Sub(downSince).Round(time.Second), "pending", left, "err", err)
		}
		select {
		case <-time.After(backoff):
		case <-w.quit:
			return
		}
		backoff = min(2*backoff, w.t.retryMax)
	}
}

// maintain checkpoints the store's WAL every t.checkpoint: PASSIVE while
// rows are being written, TRUNCATE when none were since the last time.
func (w *eventWriter) maintain() {
	defer close(w.ckptDone)
	tick := time.NewTicker(w.t.checkpoint)
	defer tick.Stop()
	last := w.stored.Load()
	for {
		select {
		case <-w.quit:
			return
		case <-tick.C:
		}
		cur := w.stored.Load()
		w.checkpoint(cur == last)
		last = cur
	}
}

// checkpoint runs one WAL checkpoint and logs and counts one that fails or
// leaves frames behind (a reader holding an old snapshot).
func (w *eventWriter) checkpoint(truncate bool) {
	ctx, cancel := context.WithTimeout(w.ctx, w.t.storeWait)
	defer cancel()
	c, err := w.st.Checkpoint(ctx, truncate)
	switch {
	case err != nil:
		if w.ctx.Err() != nil {
			return // shutting down
		}
		w.ckptFailed.Add(1)
		w.log.Error("store: WAL checkpoint failed", "truncate", truncate, "wal_bytes", w.st.WALBytes(), "err", err)
	case !c.Complete():
		w.ckptFailed.Add(1)
		w.log.Warn("store: WAL checkpoint incomplete; a reader is holding an old snapshot, and the WAL grows until it ends",
			"truncate", truncate, "wal_frames", c.Frames, "checkpointed", c.Done, "wal_bytes", w.st.WALBytes())
	default:
		w.log.Debug("store: WAL checkpoint", "truncate", truncate, "busy", c.Busy, "wal_frames", c.Frames,
			"wal_bytes", w.st.WALBytes())
	}
}

// queued returns the rows in the journal not yet in the store, and their
// bytes.
func (w *eventWriter) queued() (rows, bytes int64) {
	if w.j == nil {
		return 0, 0
	}
	return w.j.Pending()
}

// Close stops the writer: rows added from now on go to the store
// directly, and journaled rows are written to the store for up to
// t.closeWait; any left stay in the journal for the next start.
func (w *eventWriter) Close() {
	w.closeOnce.Do(func() {
		w.closed.Store(true)
		close(w.quit)
		w.cancel()
		<-w.runDone
		<-w.ckptDone
		if w.j == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), w.t.closeWait)
		_, err := w.drain(ctx)
		cancel()
		if left, _ := w.j.Pending(); left > 0 || err != nil {
			w.log.Warn("tracking log: rows left in the journal; they are written to the store at the next start",
				"rows", left, "err", err)
		}
		if err := w.j.Close(); err != nil {
			w.log.Error("tracking log: close journal", "err", err)
		}
	})
}
