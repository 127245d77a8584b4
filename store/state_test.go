package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// openState opens s's state database, as the daemon does at start.
func openState(t *testing.T, s *Store) {
	t.Helper()
	if err := s.OpenState(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStatePragmas(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	openState(t, s)
	for _, tt := range []struct {
		pool, pragma, want string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "synchronous", syncNormal},
		{"writer", "foreign_keys", "1"},
		{"writer", "busy_timeout", "5000"},
		{"writer", "query_only", "0"},
		{"reader", "synchronous", syncNormal},
		{"reader", "query_only", "1"},
	} {
		db := s.st.w
		if tt.pool == "reader" {
			db = s.st.r
		}
		var got string
		if err := db.QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("state %s: PRAGMA %s = %q, want %q", tt.pool, tt.pragma, got, tt.want)
		}
	}
	if n := s.st.w.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("state writer allows %d connections, want 1", n)
	}
	if s.st.w == s.w {
		t.Error("the state shares the quarantine's writer")
	}
	// The state holds addresses and IPs: not for other users either.
	if _, err := s.Incr(context.Background(), "k", time.Minute, 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{StateFile, StateFile + "-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", name, perm)
		}
	}
}

// TestStateWriteNotBehindQuarantine is the check-pipeline issue's "state
// writes must not queue behind quarantine commits": with a quarantine
// commit in progress, holding this process's writer (the gate and its
// connection) or SQLite's write lock on mailwarden.db (another process),
// every state write still completes. The context only turns a hang into a
// failure; nothing is timed.
func TestStateWriteNotBehindQuarantine(t *testing.T) {
	writes := []struct {
		name string
		run  func(ctx context.Context, s *Store) error
	}{
		{"Incr", func(ctx context.Context, s *Store) error {
			n, err := s.Incr(ctx, "ip:192.0.2.1", time.Minute, 1, time.Time{})
			if err == nil && n < 1 {
				err = fmt.Errorf("count %d", n)
			}
			return err
		}},
		{"SetEntry", func(ctx context.Context, s *Store) error {
			return s.SetEntry(ctx, "grey", "triplet", []byte("v"), time.Hour, time.Time{})
		}},
		{"AddEntry", func(ctx context.Context, s *Store) error {
			_, _, err := s.AddEntry(ctx, "grey", "other", []byte("v"), time.Hour, time.Time{})
			return err
		}},
		{"DeleteEntry", func(ctx context.Context, s *Store) error { return s.DeleteEntry(ctx, "grey", "triplet") }},
		{"ListPut", func(ctx context.Context, s *Store) error {
			_, err := s.ListPut(ctx, "block", ListItem{Value: "192.0.2.0/24"})
			return err
		}},
	}
	holders := []struct {
		name string
		hold func(t *testing.T, dir string, s *Store) (release func())
	}{
		{"this process's quarantine commit", func(t *testing.T, _ string, s *Store) func() {
			tx, done, err := s.beginWrite(context.Background(), urgent)
			if err != nil {
				t.Fatal(err)
			}
			insertQuarantineRow(t, tx)
			return func() { tx.Rollback(); done() }
		}},
		{"another process's write lock", func(t *testing.T, dir string, _ *Store) func() {
			other := openTest(t, dir)
			tx, err := other.w.Begin() // IMMEDIATE: holds mailwarden.db's write lock
			if err != nil {
				t.Fatal(err)
			}
			insertQuarantineRow(t, tx)
			return func() { tx.Rollback() }
		}},
	}
	for _, h := range holders {
		t.Run(h.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTest(t, dir)
			release := h.hold(t, dir, s)
			defer release()
			for _, w := range writes {
				// busy_timeout is 5 s: a write that waited for the lock
				// would fail with SQLITE_BUSY or this deadline first.
				ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
				if err := w.run(ctx, s); err != nil {
					t.Errorf("%s while a quarantine commit holds the writer: %v", w.name, err)
				}
				cancel()
			}
		})
	}
}

// insertQuarantineRow writes a quarantine row with a message of 1 MB in
// tx, which the caller leaves open.
func insertQuarantineRow(t *testing.T, tx *sql.Tx) {
	t.Helper()
	id := newID()
	if _, err := tx.Exec(`INSERT INTO quarantine (id, time_ns, digest) VALUES (?, 0, '')`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO quarantine_raw (quarantine_id, raw) VALUES (?, ?)`, id, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
}

// TestStateOpenedAtFirstUse: state.db is not created by opening the store,
// nor by using the log and the quarantine (a command run as root would
// leave it root-owned); the first state call or OpenState creates it. A
// state.db that cannot be opened fails the state calls, not the log.
func TestStateOpenedAtFirstUse(t *testing.T) {
	ctx := context.Background()
	exists := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, StateFile))
		return err == nil
	}
	dir := t.TempDir()
	s := openTest(t, dir)
	if _, err := s.AddEvent(ctx, &Event{QueueID: "Q"}); err != nil {
		t.Fatal(err)
	}
	id, err := s.AddQuarantine(ctx, &QuarantineEntry{Raw: rawMessage, Recipients: []string{"a@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkReleased(ctx, id, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if exists(dir) {
		t.Fatalf("%s created without a state call", StateFile)
	}
	if n, err := s.Incr(ctx, "k", time.Minute, 1, time.Time{}); err != nil || n != 1 {
		t.Fatalf("first Incr: %d, %v", n, err)
	}
	if !exists(dir) {
		t.Errorf("%s not created by the first state call", StateFile)
	}

	dir = t.TempDir()
	openState(t, openTest(t, dir))
	if !exists(dir) {
		t.Errorf("%s not created by OpenState", StateFile)
	}

	dir = t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, StateFile), 0o700); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	if err := s.OpenState(ctx); err == nil {
		t.Error("OpenState on a directory named state.db succeeded")
	}
	if _, err := s.Incr(ctx, "k", time.Minute, 1, time.Time{}); err == nil {
		t.Error("Incr without a usable state.db succeeded")
	}
	if _, err := s.AddEvent(ctx, &Event{QueueID: "Q"}); err != nil {
		t.Errorf("the log failed with the state: %v", err)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	openState(t, s)
	if _, err := s.Incr(context.Background(), "k", time.Minute, 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !slices.Contains(Files(), e.Name()) {
			t.Errorf("%s made by the store is not in Files() %v", e.Name(), Files())
		}
	}
}

// TestCounterRowsBounded: a counter keeps at most 17 buckets however long
// it is incremented, and PruneState removes the buckets of idle counters.
func TestCounterRowsBounded(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	const w = 16 * time.Second
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 300 {
		at := t0.Add(time.Duration(i) * 700 * time.Millisecond)
		if _, err := s.Incr(ctx, "busy", w, 1, at); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if _, err := s.Incr(ctx, fmt.Sprint("idle", i), w, 1, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	var rows int
	if err := s.st.w.QueryRow(`SELECT count(*) FROM counters WHERE key = 'busy'`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows > bucketsPerWindow+1 {
		t.Errorf("one counter holds %d rows, want at most %d", rows, bucketsPerWindow+1)
	}
	end := t0.Add(300 * 700 * time.Millisecond)
	if _, err := s.PruneState(ctx, end.Add(2*w)); err != nil {
		t.Fatal(err)
	}
	if n := countState(t, s, "counters"); n != 0 {
		t.Errorf("%d counter rows after pruning past every window, want 0", n)
	}
}

func countState(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.st.w.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPruneStateBatches: pruning more rows than one batch deletes them all,
// in several transactions.
func TestPruneStateBatches(t *testing.T) {
	defer func(n int) { pruneBatch = n }(pruneBatch)
	pruneBatch = 3
	ctx := context.Background()
	s := openTest(t, "")
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		if err := s.SetEntry(ctx, "ns", fmt.Sprint(i), nil, time.Minute, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Incr(ctx, fmt.Sprint(i), time.Minute, 1, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetEntry(ctx, "ns", "live", nil, time.Hour, t0); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneState(ctx, t0.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if n != 20 || countState(t, s, "entries") != 1 || countState(t, s, "counters") != 0 {
		t.Errorf("pruned %d rows, left %d entries and %d counter rows; want 20, 1 and 0",
			n, countState(t, s, "entries"), countState(t, s, "counters"))
	}
}

// TestListEditsDurable: a list edit commits with synchronous=FULL, and the
// state writer is back at NORMAL afterwards, also when the edit fails.
func TestListEditsDurable(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	openState(t, s)
	sync := func(q interface{ QueryRow(string, ...any) *sql.Row }) string {
		t.Helper()
		var v string
		if err := q.QueryRow("PRAGMA synchronous").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	var during string
	if err := s.st.durableTx(ctx, func(tx *sql.Tx) error { during = sync(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	if during != syncFull {
		t.Errorf("synchronous in a list edit = %s, want %s (FULL)", during, syncFull)
	}
	if after := sync(s.st.w); after != syncNormal {
		t.Errorf("synchronous after a list edit = %s, want %s (NORMAL)", after, syncNormal)
	}
	failed := errors.New("failed")
	if err := s.st.durableTx(ctx, func(*sql.Tx) error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("durableTx = %v, want its function's error", err)
	}
	if after := sync(s.st.w); after != syncNormal {
		t.Errorf("synchronous after a failed list edit = %s, want NORMAL", after)
	}
	// A put and a remove that change nothing still end well.
	if _, err := s.ListPut(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListRemove(ctx, "l", "x"); err != nil {
		t.Fatal(err)
	}
	if after := sync(s.st.w); after != syncNormal {
		t.Errorf("synchronous after list calls = %s, want NORMAL", after)
	}
}

// TestOpenReadOnlyState: a read-only store reads the state the daemon
// wrote, creates no state.db where there is none (and reads it as empty),
// and refuses state writes; a state.db it cannot use does not keep it from
// reading the log.
func TestOpenReadOnlyState(t *testing.T) {
	ctx := context.Background()
	t.Run("written", func(t *testing.T) {
		dir := t.TempDir()
		s := openTest(t, dir)
		if _, err := s.ListPut(ctx, "block", ListItem{Value: "192.0.2.0/24", Note: "n"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Incr(ctx, "k", time.Hour, 3, time.Time{}); err != nil {
			t.Fatal(err)
		}
		ro, err := OpenReadOnly(ctx, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		items, v, err := ro.ListItems(ctx, "block", time.Time{})
		if err != nil || v != 1 || len(items) != 1 || items[0].Note != "n" {
			t.Errorf("ListItems = %v, %d, %v", items, v, err)
		}
		if n, err := ro.Count(ctx, "k", time.Hour, time.Time{}); err != nil || n != 3 {
			t.Errorf("Count = %d, %v; want 3", n, err)
		}
		if _, err := ro.ListPut(ctx, "block", ListItem{Value: "x"}); err == nil {
			t.Error("a read-only store edited a list")
		}
		if _, err := ro.Incr(ctx, "k", time.Hour, 1, time.Time{}); err == nil {
			t.Error("a read-only store incremented a counter")
		}
	})
	t.Run("none", func(t *testing.T) {
		dir := t.TempDir()
		openTest(t, dir)
		for _, f := range []string{StateFile, StateFile + "-wal", StateFile + "-shm"} {
			if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
		ro, err := OpenReadOnly(ctx, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		if items, v, err := ro.ListItems(ctx, "block", time.Time{}); err != nil || items != nil || v != 0 {
			t.Errorf("ListItems = %v, %d, %v; want an empty list", items, v, err)
		}
		if ls, err := ro.Lists(ctx, time.Time{}); err != nil || ls != nil {
			t.Errorf("Lists = %v, %v", ls, err)
		}
		if n, err := ro.Count(ctx, "k", time.Hour, time.Time{}); err != nil || n != 0 {
			t.Errorf("Count = %d, %v", n, err)
		}
		if _, err := ro.GetEntry(ctx, "ns", "k", time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetEntry = %v, want ErrNotFound", err)
		}
		if _, err := ro.Incr(ctx, "k", time.Hour, 1, time.Time{}); !errors.Is(err, ErrNoStore) {
			t.Errorf("Incr = %v, want ErrNoStore", err)
		}
		if _, err := os.Stat(filepath.Join(dir, StateFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a read-only store created %s: %v", StateFile, err)
		}
	})
	t.Run("too new", func(t *testing.T) {
		dir := t.TempDir()
		s := openTest(t, dir)
		openState(t, s)
		if _, err := s.st.w.Exec(`INSERT INTO `+stateVersionTable+` (version, applied_ns) VALUES (?, 0)`, len(stateMigrations)+1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddEvent(ctx, &Event{QueueID: "Q"}); err != nil {
			t.Fatal(err)
		}
		ro, err := OpenReadOnly(ctx, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		if evs, err := ro.Events(ctx, EventQuery{}); err != nil || len(evs) != 1 {
			t.Errorf("Events = %v, %v; want the one event", evs, err)
		}
		if _, _, err := ro.ListItems(ctx, "l", time.Time{}); !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("ListItems = %v, want ErrSchemaTooNew", err)
		}
		// And the daemon refuses to start on it.
		rw, err := Open(ctx, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer rw.Close()
		if err := rw.OpenState(ctx); !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("OpenState = %v, want ErrSchemaTooNew", err)
		}
	})
}

// TestMigration6FillsClientAddr: rows written before migration 6 are found
// by the network filter after it, and by the queue ID filter.
func TestMigration6FillsClientAddr(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	// Take the database back to version 5, as an older mailwarden left it.
	for _, stmt := range []string{
		`DROP TABLE correspondents`,
		`DELETE FROM schema_version WHERE version = 7`,
		`DROP INDEX events_client_addr`,
		`DROP INDEX events_queue_id`,
		`ALTER TABLE events DROP COLUMN client_addr`,
		`DELETE FROM schema_version WHERE version = 6`,
	} {
		if _, err := s.w.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	for i, ip := range []string{"192.0.2.1", "::ffff:192.0.2.9", "2001:db8::1", "", "garbage"} {
		if _, err := s.w.Exec(`INSERT INTO events (time_ns, queue_id, client_ip) VALUES (?, ?, ?)`, i, fmt.Sprint("Q", i), ip); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.migrate(ctx, migrations); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    EventQuery
		want []string
	}{
		{EventQuery{ClientNet: netip.MustParsePrefix("192.0.2.0/24")}, []string{"Q1", "Q0"}},
		{EventQuery{ClientNet: netip.MustParsePrefix("2001:db8::/32")}, []string{"Q2"}},
		{EventQuery{QueueID: "q3"}, []string{"Q3"}},
	} {
		evs, err := s.Events(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.QueueID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Events(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	var nulls int
	if err := s.w.QueryRow(`SELECT count(*) FROM events WHERE client_addr IS NULL`).Scan(&nulls); err != nil {
		t.Fatal(err)
	}
	if nulls != 2 {
		t.Errorf("%d rows without client_addr, want 2 (empty and garbage)", nulls)
	}
}

// TestEventFilterIndexes: the queue ID and network filters are answered by
// their indexes, not a scan of the log.
func TestEventFilterIndexes(t *testing.T) {
	s := openTest(t, "")
	for _, tc := range []struct {
		q     EventQuery
		index string
	}{
		{EventQuery{QueueID: "4XyZ"}, "events_queue_id"},
		{EventQuery{ClientNet: netip.MustParsePrefix("192.0.2.0/24")}, "events_client_addr"},
	} {
		query, args := eventsQuery(tc.q)
		rows, err := s.r.Query("EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if !strings.Contains(strings.Join(plan, "; "), "INDEX "+tc.index) {
			t.Errorf("%+v: plan %q, want it to use %s", tc.q, plan, tc.index)
		}
	}
}

// BenchmarkIncrDuringQuarantine measures a counter increment (one per
// connection on the hot path) while quarantine commits of 1 MB run back to
// back, with the state in its own database ("state.db", the design) and
// with its tables in mailwarden.db behind the quarantine's writer
// ("shared", for comparison), and without the quarantine load ("idle"). It
// reports the increments' latency percentiles and the quarantine commits
// done meanwhile.
func BenchmarkIncrDuringQuarantine(b *testing.B) {
	for _, mode := range []struct {
		name         string
		shared, idle bool
	}{{"state.db", false, false}, {"shared", true, false}, {"idle", false, true}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			s, err := open(ctx, b.TempDir(), testLogger(b), mode.shared)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.OpenState(ctx); err != nil {
				b.Fatal(err)
			}
			raw := make([]byte, 1<<20)
			for i := range raw {
				raw[i] = byte(i*7 + i>>8)
			}
			stop := make(chan struct{})
			commits := make(chan int)
			go func() {
				n := 0
				defer func() { commits <- n }()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if mode.idle {
						<-stop
						return
					}
					if _, err := s.AddQuarantine(ctx, &QuarantineEntry{Area: "spam", Recipients: []string{"bob@example.com"}, Raw: raw}); err != nil {
						b.Error(err)
						return
					}
					n++
				}
			}()
			var lat []time.Duration
			i := 0
			start := time.Now()
			for b.Loop() {
				t0 := time.Now()
				if _, err := s.Incr(ctx, fmt.Sprint("ip:192.0.2.", i%256), time.Minute, 1, time.Time{}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				i++
			}
			elapsed := time.Since(start)
			close(stop)
			n := <-commits
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Microsecond)
			}
			b.ReportMetric(pct(0.5), "p50-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
			b.ReportMetric(float64(lat[len(lat)-1])/float64(time.Microsecond), "max-µs")
			b.ReportMetric(float64(n)/elapsed.Seconds(), "quarantines/s")
		})
	}
}

// TestStateMigration2ListExpiry: list items written before state migration
// 2 read as never expiring after it, and expiring items can be put.
func TestStateMigration2ListExpiry(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	openState(t, s)
	// Take the state back to version 1, as an older mailwarden left it.
	for _, stmt := range []string{
		`DROP TABLE bayes_tokens`, `DROP TABLE bayes_learned`, `DROP TABLE bayes_totals`,
		`DELETE FROM ` + stateVersionTable + ` WHERE version >= 3`,
		`DROP INDEX list_items_expires`,
		`ALTER TABLE list_items DROP COLUMN expires_ns`,
		`DELETE FROM ` + stateVersionTable + ` WHERE version = 2`,
		`INSERT INTO lists (name, version) VALUES ('block', 1)`,
		`INSERT INTO list_items (name, value, note, added_ns) VALUES ('block', '192.0.2.0/24', 'old', 7)`,
	} {
		if _, err := s.st.w.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := migrateDB(ctx, s.st.w, stateVersionTable, stateMigrations, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	far := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.ListPut(ctx, "block", ListItem{Value: "198.51.100.7", Expires: far}); err != nil {
		t.Fatal(err)
	}
	items, v, err := s.ListItems(ctx, "block", far.Add(-time.Hour))
	if err != nil || v != 2 || len(items) != 2 {
		t.Fatalf("ListItems = %v, %d, %v", items, v, err)
	}
	if it := items[0]; it.Value != "192.0.2.0/24" || it.Note != "old" || !it.Expires.IsZero() || !it.Added.Equal(time.Unix(0, 7)) {
		t.Errorf("the old item reads %+v", it)
	}
	if !items[1].Expires.Equal(far) {
		t.Errorf("the new item reads %+v", items[1])
	}
}

// TestPruneListItemsIndex: pruning finds expired list items by their
// partial index, not by a scan of every list.
func TestPruneListItemsIndex(t *testing.T) {
	s := openTest(t, "")
	openState(t, s)
	rows, err := s.st.r.Query(`EXPLAIN QUERY PLAN SELECT name, value FROM list_items WHERE expires_ns <= ? LIMIT ?`, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if !strings.Contains(strings.Join(plan, "; "), "INDEX list_items_expires") {
		t.Errorf("plan %q, want it to use list_items_expires", plan)
	}
}

// TestStateMigration3Bayes: a state at version 2 gets the empty token
// database, and keeps what it held.
func TestStateMigration3Bayes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	openState(t, s)
	if _, err := s.ListPut(ctx, "block", ListItem{Value: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`DROP TABLE bayes_tokens`, `DROP TABLE bayes_learned`, `DROP TABLE bayes_totals`,
		`DELETE FROM ` + stateVersionTable + ` WHERE version >= 3`,
	} {
		if _, err := s.st.w.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := migrateDB(ctx, s.st.w, stateVersionTable, stateMigrations, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if tot, err := s.BayesTotals(ctx); err != nil || tot != (BayesTotals{}) {
		t.Errorf("totals after migration: %+v, %v", tot, err)
	}
	if _, err := s.BayesLearn(ctx, "d", []uint64{1}, BayesSpam, time.Time{}); err != nil {
		t.Error(err)
	}
	if items, _, err := s.ListItems(ctx, "block", time.Time{}); err != nil || len(items) != 1 {
		t.Errorf("list after migration: %v, %v", items, err)
	}
}
