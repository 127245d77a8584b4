package milter

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

// testTimes shrink the writer's waits so outages can be simulated quickly.
var testTimes = writerTimes{
	journalWait: 5 * time.Second,
	directWait:  200 * time.Millisecond,
	storeWait:   time.Second, // 64 rows take 200 ms with -race, more on a loaded disk
	retryMin:    10 * time.Millisecond,
	retryMax:    50 * time.Millisecond,
	linger:      5 * time.Millisecond,
	startWait:   5 * time.Second,
	closeWait:   5 * time.Second,
	checkpoint:  time.Hour,
}

// syncLog is a log sink tests can read.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *syncLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// flakyStore is a real store whose writes fail while fail is set, as on a
// full disk, and which, while commitThenFail is set, commits and then
// reports failure, as when the process dies between the store's commit and
// the journal's acknowledgement.
type flakyStore struct {
	*store.Store
	fail           atomic.Bool
	commitThenFail atomic.Bool
	attempt        atomic.Int64
}

var errDiskFull = errors.New("database or disk is full (SQLITE_FULL)")

func (f *flakyStore) AddEvents(ctx context.Context, evs []*store.Event) error {
	f.attempt.Add(1)
	if f.fail.Load() {
		return errDiskFull
	}
	err := f.Store.AddEvents(ctx, evs)
	if err == nil && f.commitThenFail.Load() {
		return errors.New("killed after the commit")
	}
	return err
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func row(i int) *store.Event {
	return &store.Event{Time: time.Unix(1700000000, 0), QueueID: fmt.Sprintf("Q%04d", i), Stage: "eom", Action: "accept",
		Sender: "alice@example.net", Recipients: []store.RecipientOutcome{{Address: "bob@example.com", Action: "accept"}}}
}

// storedRows returns the queue IDs in st, each with its count.
func storedRows(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	evs, err := st.Events(context.Background(), store.EventQuery{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, e := range evs {
		m[e.QueueID]++
	}
	return m
}

// waitRows waits until st holds n rows, then checks that each of the n
// queue IDs is there exactly once.
func waitRows(t *testing.T, st *store.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := storedRows(t, st)
		total := 0
		for _, c := range got {
			total += c
		}
		if total >= n || time.Now().After(deadline) {
			for i := range n {
				if c := got[row(i).QueueID]; c != 1 {
					t.Errorf("row %s stored %d times, want once", row(i).QueueID, c)
				}
			}
			if total != n {
				t.Errorf("%d rows stored, want %d", total, n)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// addAll adds rows [from, to) and fails the test if one is not recorded or
// if they do not all return within a generous bound (an Add that waited
// for an unavailable store would not).
func addAll(t *testing.T, w *eventWriter, from, to int) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		for i := from; i < to; i++ {
			if err := w.Add(row(i)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Add waits for the store")
	}
}

// TestTrackingStoreLocked is the hardening issue's 40 s lock: another
// process holds the database's write lock for far longer than the
// writer's store attempts. Sessions are not held up, no row is dropped,
// and every row is stored once when the lock goes.
func TestTrackingStoreLocked(t *testing.T) {
	dir := t.TempDir()
	fs := &flakyStore{Store: openStore(t, dir)} // counts attempts, fails none
	lg := &syncLog{}
	w := openEventWriter(fs, filepath.Join(dir, "journal"), 1<<20, testTimes, lg.logger())
	defer w.Close()

	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	lock, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	const n = 100
	addAll(t, w, 0, n)
	// Let the writer fail several store attempts (each gives up after
	// storeWait): the old writer dropped its batch after three.
	for fs.attempt.Load() < 4 {
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(lg.String(), "store unavailable; rows are kept in the journal") {
		t.Errorf("outage not logged:\n%s", lg.String())
	}
	if q, _ := w.queued(); q != n {
		t.Errorf("%d rows queued in the journal during the lock, want %d", q, n)
	}
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	lock.Close()
	waitRows(t, fs.Store, n)
	if !strings.Contains(lg.String(), "store available again") {
		t.Errorf("recovery not logged:\n%s", lg.String())
	}
	if w.lost.Load() != 0 || w.journaled.Load() != n {
		t.Errorf("lost %d, journaled %d; want 0, %d", w.lost.Load(), w.journaled.Load(), n)
	}
}

// TestTrackingDiskFull: while the store cannot write (a full disk) rows
// wait in the journal; once it can, they are all stored once.
func TestTrackingDiskFull(t *testing.T) {
	dir := t.TempDir()
	fs := &flakyStore{Store: openStore(t, dir)}
	fs.fail.Store(true)
	w := openEventWriter(fs, filepath.Join(dir, "journal"), 1<<20, testTimes, (&syncLog{}).logger())
	defer w.Close()
	const n = 182
	addAll(t, w, 0, n)
	for fs.attempt.Load() < 10 {
		time.Sleep(5 * time.Millisecond)
	}
	fs.fail.Store(false)
	waitRows(t, fs.Store, n)
	if w.lost.Load() != 0 {
		t.Errorf("%d rows lost", w.lost.Load())
	}
}

// TestTrackingJournalUnavailable: when the journal cannot take a row
// either, the row goes to the store directly; when neither can, Add says
// so (ErrRowLost), logs the row and counts it.
func TestTrackingJournalUnavailable(t *testing.T) {
	t.Run("full journal, store down", func(t *testing.T) {
		dir := t.TempDir()
		fs := &flakyStore{Store: openStore(t, dir)}
		fs.fail.Store(true)
		lg := &syncLog{}
		w := openEventWriter(fs, filepath.Join(dir, "journal"), 4096, testTimes, lg.logger())
		defer w.Close()
		var lost []int
		for i := range 40 {
			err := w.Add(row(i))
			if errors.Is(err, ErrRowLost) {
				lost = append(lost, i)
			} else if err != nil {
				t.Fatalf("row %d: %v, want nil or ErrRowLost", i, err)
			}
		}
		if len(lost) == 0 || int64(len(lost)) != w.lost.Load() {
			t.Fatalf("%d rows reported lost, counter %d; want some, equal", len(lost), w.lost.Load())
		}
		if !strings.Contains(lg.String(), "tracking row lost") || !strings.Contains(lg.String(), row(lost[0]).QueueID) {
			t.Errorf("lost row %s not logged:\n%s", row(lost[0]).QueueID, lg.String())
		}
		// The journaled ones are kept and stored on recovery.
		fs.fail.Store(false)
		waitRows(t, fs.Store, lost[0])
	})
	t.Run("no journal, store up", func(t *testing.T) {
		dir := t.TempDir()
		st := openStore(t, dir)
		notDir := filepath.Join(dir, "journal")
		if err := os.WriteFile(notDir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		lg := &syncLog{}
		w := openEventWriter(st, notDir, 1<<20, testTimes, lg.logger())
		defer w.Close()
		if !strings.Contains(lg.String(), "journal unavailable") {
			t.Errorf("no log line for the missing journal:\n%s", lg.String())
		}
		addAll(t, w, 0, 5)
		waitRows(t, st, 5)
		if w.direct.Load() != 5 {
			t.Errorf("%d rows written directly, want 5", w.direct.Load())
		}
	})
}

// TestTrackingReplayIsIdempotent: the store commits a batch whose journal
// records are never acknowledged (the process dies in between); the next
// writer replays the journal at start and every row is stored exactly once.
func TestTrackingReplayIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	fs := &flakyStore{Store: openStore(t, dir)}
	fs.commitThenFail.Store(true)
	w1 := openEventWriter(fs, filepath.Join(dir, "journal"), 1<<20, testTimes, (&syncLog{}).logger())
	const n = 150
	addAll(t, w1, 0, n)
	for len(storedRows(t, fs.Store)) == 0 {
		time.Sleep(5 * time.Millisecond) // a batch is committed, not acknowledged
	}
	w1.Close()
	if q, _ := w1.queued(); q != n {
		t.Fatalf("%d rows left in the journal, want all %d", q, n)
	}
	w2 := openEventWriter(fs.Store, filepath.Join(dir, "journal"), 1<<20, testTimes, (&syncLog{}).logger())
	defer w2.Close()
	if q, _ := w2.queued(); q != 0 {
		t.Errorf("%d rows still queued after the replay at start, want 0", q)
	}
	waitRows(t, fs.Store, n)
}

// TestTrackingTornJournal: a record torn by a crash is skipped with a log
// line; the rows before it are stored.
func TestTrackingTornJournal(t *testing.T) {
	dir := t.TempDir()
	fs := &flakyStore{Store: openStore(t, dir)}
	fs.fail.Store(true)
	jdir := filepath.Join(dir, "journal")
	w1 := openEventWriter(fs, jdir, 1<<20, testTimes, (&syncLog{}).logger())
	addAll(t, w1, 0, 3)
	w1.Close() // the rows stay in the journal
	segs, _ := filepath.Glob(filepath.Join(jdir, "*.jnl"))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	f, err := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, '{', '"'}) // half a record
	f.Close()
	lg := &syncLog{}
	w2 := openEventWriter(fs.Store, jdir, 1<<20, testTimes, lg.logger())
	defer w2.Close()
	waitRows(t, fs.Store, 3)
	if !strings.Contains(lg.String(), "torn or damaged record") {
		t.Errorf("torn record not logged:\n%s", lg.String())
	}
}

func TestTrackingCloseFlushes(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	lg := &syncLog{}
	w := openEventWriter(st, filepath.Join(dir, "journal"), 1<<20, writerTimes{
		journalWait: 10 * time.Second, directWait: 10 * time.Second, storeWait: 10 * time.Second,
		retryMin: time.Hour, retryMax: time.Hour, linger: time.Hour, // Close writes the rest
		startWait: 10 * time.Second, closeWait: 30 * time.Second, checkpoint: time.Hour,
	}, lg.logger())
	addAll(t, w, 0, 200)
	w.Close()
	if err := w.Add(row(200)); err != nil { // a session cut off by shutdown
		t.Fatal(err)
	}
	waitRows(t, st, 201)
	if segs, _ := filepath.Glob(filepath.Join(dir, "journal", "*.jnl")); len(segs) != 0 {
		t.Errorf("journal segments left after a clean close: %v", segs)
	}
}

// TestTrackingCheckpointFailureVisible is the hardening issue's silent WAL
// checkpoint: with a reader keeping an old snapshot, the periodic
// checkpoint cannot finish; that is logged and counted.
func TestTrackingCheckpointFailureVisible(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	reader, err := sql.Open("sqlite", "file:"+filepath.Join(dir, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := st.AddEvent(context.Background(), row(0)); err != nil {
		t.Fatal(err)
	}
	tx, err := reader.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	lg := &syncLog{}
	tt := testTimes
	tt.checkpoint = 10 * time.Millisecond
	w := openEventWriter(st, filepath.Join(dir, "journal"), 1<<20, tt, lg.logger())
	defer w.Close()
	addAll(t, w, 1, 50)
	deadline := time.Now().Add(10 * time.Second)
	for w.ckptFailed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if w.ckptFailed.Load() == 0 {
		t.Fatal("no checkpoint failure counted with a reader holding an old snapshot")
	}
	if !strings.Contains(lg.String(), "WAL checkpoint incomplete") {
		t.Errorf("not logged:\n%s", lg.String())
	}
	tx.Rollback()
}

// TestTrackingMetrics: the writer's metrics are on the server's registry.
func TestTrackingMetrics(t *testing.T) {
	ts := startServer(t, testConfig)
	send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("hi", "x")})
	mfs, err := ts.srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				got[mf.GetName()] = c.GetValue()
			} else if g := m.GetGauge(); g != nil {
				got[mf.GetName()] = g.GetValue()
			}
		}
	}
	for name, want := range map[string]float64{
		"mailwarden_tracking_rows_journaled_total":   1,
		"mailwarden_tracking_rows_direct_total":      0,
		"mailwarden_tracking_rows_lost_total":        0,
		"mailwarden_tracking_queue_rows":             -1,
		"mailwarden_tracking_journal_bytes":          -1,
		"mailwarden_store_checkpoint_failures_total": 0,
		"mailwarden_store_wal_bytes":                 -1,
	} {
		v, ok := got[name]
		if !ok {
			t.Errorf("metric %s missing", name)
		} else if want >= 0 && v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
}

// TestTrackingKill9 kills (SIGKILL) a process while it records rows, then
// opens the store and the journal again: every row whose Add had returned
// before the kill is stored, and no row is stored twice.
func TestTrackingKill9(t *testing.T) {
	if os.Getenv("MAILWARDEN_KILL9_CHILD") != "" {
		kill9Child()
		return
	}
	for round := range 3 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestTrackingKill9$")
		cmd.Env = append(os.Environ(), "MAILWARDEN_KILL9_CHILD="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill at a different point each round, mid-stream.
		killAt := 150 + 100*round
		sc := bufio.NewScanner(out)
		confirmed := -1
		for sc.Scan() {
			if i, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "added ")); err == nil {
				confirmed = i
				if i == killAt {
					break
				}
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		if confirmed != killAt {
			t.Fatalf("child confirmed rows up to %d, want %d", confirmed, killAt)
		}

		st := openStore(t, dir)
		lg := &syncLog{}
		w := openEventWriter(st, filepath.Join(dir, "journal"), 1<<20, testTimes, lg.logger())
		got := storedRows(t, st)
		for i := 0; i <= confirmed; i++ {
			if c := got[row(i).QueueID]; c != 1 {
				t.Errorf("round %d: row %d (confirmed before the kill) stored %d times, want once", round, i, c)
			}
		}
		for id, c := range got {
			if c != 1 {
				t.Errorf("round %d: row %s stored %d times", round, id, c)
			}
		}
		t.Logf("round %d: killed after row %d; %d rows after the replay (%d were confirmed)", round, killAt, len(got), confirmed+1)
		w.Close()
	}
}

// kill9Child records rows as fast as it can into a store made slow (each
// write waits 20 ms), printing each one whose Add returned, until killed.
func kill9Child() {
	dir := os.Getenv("MAILWARDEN_KILL9_CHILD")
	st, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := openEventWriter(slowStore{st}, filepath.Join(dir, "journal"), 1<<30, defaultWriterTimes,
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	for i := 0; ; i++ {
		if err := w.Add(row(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("added %d\n", i)
	}
}

type slowStore struct{ *store.Store }

func (s slowStore) AddEvents(ctx context.Context, evs []*store.Event) error {
	time.Sleep(20 * time.Millisecond)
	return s.Store.AddEvents(ctx, evs)
}

// BenchmarkTrackingRow is what a session pays for its tracking row: the
// journal's append and fsync, shared by the sessions finishing at the same
// time, with the store written in the background.
func BenchmarkTrackingRow(b *testing.B) {
	for _, par := range []int{1, 8} {
		b.Run(fmt.Sprint("sessions=", par), func(b *testing.B) {
			dir := b.TempDir()
			st, err := store.Open(context.Background(), dir, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			w := openEventWriter(st, filepath.Join(dir, "journal"), 256<<20, defaultWriterTimes, slog.New(slog.DiscardHandler))
			defer w.Close()
			e := row(0)
			e.Subject, e.MessageID, e.Size = "Quarterly report", "<1@example.net>", 20000
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ev := *e
					if err := w.Add(&ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
