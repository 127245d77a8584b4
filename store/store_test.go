package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// openTest opens a store in dir, or in a fresh temporary directory when dir
// is empty, and closes it when the test ends.
func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(context.Background(), dir, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// count returns the number of rows of table, read on the writer so that it
// sees every committed write.
func count(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.w.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestPragmas(t *testing.T) {
	s := openTest(t, "")
	tests := []struct {
		pool   string
		pragma string
		want   string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "synchronous", "2"},
		{"writer", "foreign_keys", "1"},
		{"writer", "busy_timeout", "5000"},
		{"writer", "query_only", "0"},
		{"reader", "journal_mode", "wal"},
		{"reader", "synchronous", "2"},
		{"reader", "foreign_keys", "1"},
		{"reader", "busy_timeout", "5000"},
		{"reader", "query_only", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.pool+"/"+tt.pragma, func(t *testing.T) {
			db := s.w
			if tt.pool == "reader" {
				db = s.r
			}
			var got string
			if err := db.QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
}

func TestPoolSizes(t *testing.T) {
	s := openTest(t, "")
	if n := s.w.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer allows %d connections, want exactly 1", n)
	}
	if n := s.r.Stats().MaxOpenConnections; n < 2 {
		t.Errorf("reader pool allows %d connections, want several", n)
	}
}

func TestWriterTransactionsAreImmediate(t *testing.T) {
	// With BEGIN IMMEDIATE the writer holds the write lock from the start of
	// its transaction, so a second connection cannot begin writing.
	dir := t.TempDir()
	a := openTest(t, dir)
	b := openTest(t, dir)
	tx, err := a.w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = b.w.BeginTx(ctx, nil)
	if err == nil {
		t.Fatal("second writer began a transaction while the first held one; _txlock=immediate not in effect")
	}
}

func TestFileMode(t *testing.T) {
	// The database holds mail: neither it nor the WAL files SQLite derives
	// from it may be readable by others, whatever the umask.
	dir := t.TempDir()
	s := openTest(t, dir)
	if _, err := s.AddEvent(context.Background(), &Event{QueueID: "Q"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{DBFile, DBFile + "-wal", DBFile + "-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode = %v, want 0600", name, perm)
		}
	}
}

func TestOpenOddDirectoryName(t *testing.T) {
	// '?', '#' and '%' would be taken for URI syntax if the path were not
	// escaped, and the database would land somewhere else.
	dir := filepath.Join(t.TempDir(), "we?ird #dir %41 ü")
	s := openTest(t, dir)
	if _, err := s.AddEvent(context.Background(), &Event{QueueID: "Q"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, DBFile)); err != nil {
		t.Errorf("database not at the expected path: %v", err)
	}
}

// versions returns the schema_version table as version -> applied_ns.
func versions(t *testing.T, s *Store) map[int]int64 {
	t.Helper()
	rows, err := s.w.Query("SELECT version, applied_ns FROM schema_version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[int]int64{}
	for rows.Next() {
		var v int
		var ns int64
		if err := rows.Scan(&v, &ns); err != nil {
			t.Fatal(err)
		}
		m[v] = ns
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMigrationsIdempotentOnReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	first := versions(t, s)
	if len(first) != len(migrations) {
		t.Fatalf("after first open: %d versions recorded, want %d", len(first), len(migrations))
	}
	for v := 1; v <= len(migrations); v++ {
		if _, ok := first[v]; !ok {
			t.Errorf("version %d not recorded", v)
		}
	}
	if _, err := s.AddEvent(ctx, &Event{QueueID: "KEEP"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		s, err := Open(ctx, dir, testLogger(t))
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		again := versions(t, s)
		if fmt.Sprint(again) != fmt.Sprint(first) {
			t.Errorf("reopen %d: schema_version = %v, want unchanged %v", i, again, first)
		}
		evs, err := s.Events(ctx, EventQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].QueueID != "KEEP" {
			t.Errorf("reopen %d: events = %+v, want the one added before", i, evs)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrateAppliesOnlyNew(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	before := versions(t, s)
	list := append(slices.Clone(migrations), `CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (1);`)
	for range 2 { // the second run must be a no-op
		if err := s.migrate(ctx, list); err != nil {
			t.Fatal(err)
		}
	}
	after := versions(t, s)
	if len(after) != len(list) {
		t.Fatalf("versions = %v, want %d", after, len(list))
	}
	for v, ns := range before {
		if after[v] != ns {
			t.Errorf("version %d re-applied", v)
		}
	}
	if n := count(t, s, "extra"); n != 1 {
		t.Errorf("extra has %d rows, want 1 (migration ran %d times)", n, n)
	}
}

func TestMigrationFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	list := append(slices.Clone(migrations), `CREATE TABLE half (x INTEGER); SELEC oops;`)
	if err := s.migrate(ctx, list); err == nil {
		t.Fatal("broken migration applied without error")
	}
	if got := versions(t, s); len(got) != len(migrations) {
		t.Errorf("versions after failure = %v, want %d", got, len(migrations))
	}
	var n int
	if err := s.w.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name = 'half'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("first statement of the failed migration was committed")
	}
}

func TestSchemaTooNew(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO schema_version (version, applied_ns) VALUES (?, 0)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, dir, testLogger(t))
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open = %v, want ErrSchemaTooNew", err)
	}
}

func TestPrune(t *testing.T) {
	defer func(n int) { pruneBatch = n }(pruneBatch)
	pruneBatch = 2 // exercise several batches

	ctx := context.Background()
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ages := []time.Duration{40 * day, 35 * day, 20 * day, 10 * day, 9 * day, 1 * day, 0}

	tests := []struct {
		name                  string
		eventsBefore, qBefore time.Time
		wantEvents, wantQuar  int64
		leftEvents, leftQuar  int
	}{
		{"nothing old enough", now.Add(-100 * day), now.Add(-100 * day), 0, 0, 7, 7},
		{"zero times prune nothing", time.Time{}, time.Time{}, 0, 0, 7, 7},
		{"events only", now.Add(-15 * day), time.Time{}, 3, 0, 4, 7},
		{"quarantine only", time.Time{}, now.Add(-30 * day), 0, 2, 7, 5},
		{"both", now.Add(-5 * day), now.Add(-9 * day), 5, 4, 2, 3},
		{"boundary is exclusive", now.Add(-9 * day), now.Add(-9 * day), 4, 4, 3, 3},
		{"everything", now.Add(time.Second), now.Add(time.Second), 7, 7, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, "")
			for i, age := range ages {
				at := now.Add(-age)
				if _, err := s.AddEvent(ctx, &Event{Time: at, QueueID: fmt.Sprint(i),
					Recipients: []RecipientOutcome{{Address: "a@example.com"}, {Address: "b@example.com"}}}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.AddQuarantine(ctx, &QuarantineEntry{Time: at, Raw: []byte("x"),
					Recipients: []string{"a@example.com"}}); err != nil {
					t.Fatal(err)
				}
			}
			ev, qu, err := s.Prune(ctx, tt.eventsBefore, tt.qBefore)
			if err != nil {
				t.Fatal(err)
			}
			if ev != tt.wantEvents || qu != tt.wantQuar {
				t.Errorf("Prune = (%d, %d), want (%d, %d)", ev, qu, tt.wantEvents, tt.wantQuar)
			}
			if n := count(t, s, "events"); n != tt.leftEvents {
				t.Errorf("%d events left, want %d", n, tt.leftEvents)
			}
			if n := count(t, s, "event_recipients"); n != 2*tt.leftEvents {
				t.Errorf("%d event recipients left, want %d", n, 2*tt.leftEvents)
			}
			if n := count(t, s, "quarantine"); n != tt.leftQuar {
				t.Errorf("%d quarantine entries left, want %d", n, tt.leftQuar)
			}
			if n := count(t, s, "quarantine_raw"); n != tt.leftQuar {
				t.Errorf("%d raw messages left, want %d", n, tt.leftQuar)
			}
			if n := count(t, s, "quarantine_recipients"); n != tt.leftQuar {
				t.Errorf("%d quarantine recipients left, want %d", n, tt.leftQuar)
			}
		})
	}
}

func TestConcurrentAddEvent(t *testing.T) {
	tests := []struct {
		name   string
		stores int // independent Stores on one database, as daemon + CLI
	}{
		{"one store", 1},
		{"two stores", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			var stores []*Store
			for range tt.stores {
				stores = append(stores, openTest(t, dir))
			}
			const goroutines, each = 8, 20
			var wg sync.WaitGroup
			errs := make(chan error, goroutines*each*2)
			for g := range goroutines {
				s := stores[g%len(stores)]
				wg.Go(func() {
					for i := range each {
						e := &Event{QueueID: fmt.Sprintf("%d-%d", g, i), Direction: "inbound",
							Recipients: []RecipientOutcome{{Address: "x@example.com", Action: "accept"}}}
						if _, err := s.AddEvent(ctx, e); err != nil {
							errs <- err
						}
						// Readers run alongside the writers.
						if _, err := s.Events(ctx, EventQuery{Limit: 5}); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			evs, err := stores[0].Events(ctx, EventQuery{Limit: 10000})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != goroutines*each {
				t.Errorf("%d events stored, want %d", len(evs), goroutines*each)
			}
			seen := map[string]bool{}
			for _, e := range evs {
				if seen[e.QueueID] {
					t.Errorf("duplicate event %s", e.QueueID)
				}
				seen[e.QueueID] = true
				if len(e.Recipients) != 1 {
					t.Errorf("event %s has %d recipients, want 1", e.QueueID, len(e.Recipients))
				}
			}
		})
	}
}

func TestAddrKey(t *testing.T) {
	tests := []struct {
		in, key, domain string
	}{
		{"Alice@Example.COM", "alice@example.com", "example.com"},
		{" <Bob@Example.org> ", "bob@example.org", "example.org"},
		{"<>", "", ""},
		{"", "", ""},
		{"postmaster", "postmaster", ""},
		{`"a@b"@Example.NET`, `"a@b"@example.net`, "example.net"},
		{"ÜSER@Bücher.Example", "üser@bücher.example", "bücher.example"},
	}
	for _, tt := range tests {
		key, dom := addrKey(tt.in)
		if key != tt.key || dom != tt.domain {
			t.Errorf("addrKey(%q) = %q, %q; want %q, %q", tt.in, key, dom, tt.key, tt.domain)
		}
	}
}

func TestClaimRelease(t *testing.T) {
	st, err := Open(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	claim := func(nonce string, rcpts ...string) string {
		t.Helper()
		got, err := st.ClaimRelease(ctx, nonce, rcpts, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(got, ",")
	}
	if got := claim("n1", "a@example.com", "b@example.com"); got != "a@example.com,b@example.com" {
		t.Errorf("first claim: %q", got)
	}
	if got := claim("n1", "A@example.com", "c@example.com"); got != "c@example.com" {
		t.Errorf("replay: %q, want only the new recipient", got)
	}
	if got := claim("n2", "a@example.com"); got != "a@example.com" {
		t.Errorf("new nonce: %q", got)
	}
	if _, _, err := st.Prune(ctx, time.Now().Add(time.Hour), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := claim("n1", "a@example.com"); got != "a@example.com" {
		t.Errorf("after prune: %q", got)
	}
}
