package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// StateFile is the name of the state database inside the store's
// directory.
const StateFile = "state.db"

// Files returns the names of the files the store may create in its
// directory: the databases and their -wal and -shm files. A command run as
// root gives them back to the daemon's user.
func Files() []string {
	var names []string
	for _, db := range []string{DBFile, StateFile} {
		names = append(names, db, db+"-wal", db+"-shm")
	}
	return names
}

// stateVersionTable records the state schema's migrations. It is not
// schema_version, so that the state's tables can also live in
// mailwarden.db (as in the tests' shared mode).
const stateVersionTable = "state_schema_version"

// stateMigrations is the state schema's history, kept like [migrations]:
// version N is stateMigrations[N-1], append only. WITHOUT ROWID is
// SQLite's; the statements that read and write these tables are the SQL
// that PostgreSQL runs too (ON CONFLICT, RETURNING, row values).
var stateMigrations = []string{
	// 1: counters, entries, lists.
	`
CREATE TABLE counters (
	key        TEXT NOT NULL,
	window_ns  INTEGER NOT NULL,
	bucket     INTEGER NOT NULL, -- floor(time_ns / ceil(window_ns / 16))
	n          INTEGER NOT NULL,
	expires_ns INTEGER NOT NULL, -- when no window covers the bucket any more
	PRIMARY KEY (key, window_ns, bucket)
) WITHOUT ROWID;
CREATE INDEX counters_expires ON counters (expires_ns);

CREATE TABLE entries (
	ns         TEXT NOT NULL,
	key        TEXT NOT NULL,
	value      BLOB NOT NULL,
	stored_ns  INTEGER NOT NULL,
	expires_ns INTEGER NOT NULL,
	PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE INDEX entries_expires ON entries (expires_ns);

CREATE TABLE lists (
	name    TEXT PRIMARY KEY,
	version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE list_items (
	name     TEXT NOT NULL REFERENCES lists (name),
	value    TEXT NOT NULL,
	note     TEXT NOT NULL DEFAULT '',
	added_ns INTEGER NOT NULL,
	PRIMARY KEY (name, value)
) WITHOUT ROWID;
`,
	// 2: list items that expire (NULL: never).
	`
ALTER TABLE list_items ADD COLUMN expires_ns INTEGER;
CREATE INDEX list_items_expires ON list_items (expires_ns) WHERE expires_ns IS NOT NULL;
`,
	// 3: the Bayesian classifier's tokens (by 64-bit hash), its learned
	// messages (by digest) and their totals; see [Bayes].
	`
CREATE TABLE bayes_tokens (
	hash    INTEGER PRIMARY KEY,          -- the token's 64-bit hash, as a signed integer
	spam    INTEGER NOT NULL,             -- learned spam messages holding it
	ham     INTEGER NOT NULL,
	seen_ns INTEGER NOT NULL              -- when a message holding it was last learned
);
CREATE INDEX bayes_tokens_seen ON bayes_tokens (seen_ns);
CREATE INDEX bayes_tokens_once ON bayes_tokens (seen_ns) WHERE spam + ham <= 1;

CREATE TABLE bayes_learned (
	digest  TEXT PRIMARY KEY,
	label   INTEGER NOT NULL,             -- 1 spam, 2 ham
	time_ns INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE bayes_totals (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	spam INTEGER NOT NULL,
	ham  INTEGER NOT NULL
);
INSERT INTO bayes_totals (id, spam, ham) VALUES (1, 0, 0);
`,
	// 4: the token database's generation, incremented by every write of
	// it, so that a process caching tokens sees another's writes (see
	// [bayesCache]).
	`
ALTER TABLE bayes_totals ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;
`,
}

// stateDB is the state's database: its own writer, gate and readers.
type stateDB struct {
	w    *sql.DB
	gate *writeGate
	r    *sql.DB
	own  writeGate // the gate of a database of its own
	path string    // of state.db; "" when the tables live in mailwarden.db
	// state.db is opened at its first use (or [Store.OpenState]), so that
	// commands that only read or edit the log and the quarantine never
	// create it, nor depend on it; a failed open is tried again at the
	// next use.
	mu    sync.Mutex
	ready atomic.Bool
	// bayes caches token counts (nil: none); see [Store.SetBayesCache].
	bayes atomic.Pointer[bayesCache]
	// reads are the statements every classification runs, prepared
	// once on r.
	reads preparedReads
}

// The reads every classification runs, prepared once: preparing them at
// each use (sqlite3_prepare_v2) stood out in a warm lookup's profile.
const (
	readBayesTotals = `SELECT spam, ham FROM bayes_totals WHERE id = 1`
	readBayesGen    = `SELECT gen FROM bayes_totals WHERE id = 1`
)

// preparedReads holds readBayesTotals and readBayesGen prepared on the
// read pool (database/sql prepares them again on each connection once).
type preparedReads struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// queryRow runs one of the prepared reads on r, preparing it at the first
// use; a statement that does not prepare runs unprepared.
func (st *stateDB) queryRow(ctx context.Context, query string) *sql.Row {
	st.reads.mu.Lock()
	stmt := st.reads.stmts[query]
	if stmt == nil {
		if p, err := st.r.PrepareContext(ctx, query); err == nil {
			if st.reads.stmts == nil {
				st.reads.stmts = map[string]*sql.Stmt{}
			}
			st.reads.stmts[query], stmt = p, p
		}
	}
	st.reads.mu.Unlock()
	if stmt == nil {
		return st.r.QueryRowContext(ctx, query)
	}
	return stmt.QueryRowContext(ctx)
}

// open opens state.db at path with synchronous=NORMAL, creating and
// migrating it.
func (st *stateDB) open(ctx context.Context, path string, log *slog.Logger) error {
	w, r, err := openPools(ctx, path, syncNormal, func(w *sql.DB) error {
		return migrateDB(ctx, w, stateVersionTable, stateMigrations, log)
	})
	if err != nil {
		return err
	}
	// The writer's page cache holds the token table's pages a learn
	// touches (64 MiB, against SQLite's default of 2): with the default,
	// learning a corpus read every page back from the kernel at every
	// message. A performance setting only, so a connection that loses it
	// is still correct.
	if _, err := w.ExecContext(ctx, "PRAGMA cache_size = -65536"); err != nil {
		w.Close()
		if r != w {
			r.Close()
		}
		return fmt.Errorf("state writer cache size: %w", err)
	}
	st.w, st.r, st.gate = w, r, &st.own
	return nil
}

func (st *stateDB) close() error {
	if st.path == "" { // none, or the tables in mailwarden.db
		return nil
	}
	var errs []error
	st.reads.mu.Lock()
	for _, stmt := range st.reads.stmts {
		errs = append(errs, stmt.Close())
	}
	st.reads.stmts = nil
	st.reads.mu.Unlock()
	if st.r != nil && st.r != st.w {
		errs = append(errs, st.r.Close())
	}
	if st.w != nil {
		errs = append(errs, st.w.Close())
	}
	return errors.Join(errs...)
}

// state returns the state database, opening it at the first use: in a
// read-only store its w and r are nil when the directory has no state.db.
func (s *Store) state(ctx context.Context) (*stateDB, error) {
	if s.st.ready.Load() {
		return &s.st, nil
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if !s.st.ready.Load() {
		var err error
		if s.readOnly {
			err = s.openStateReadOnly(ctx)
		} else {
			err = s.st.open(ctx, s.st.path, s.log)
		}
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", StateFile, err)
		}
		s.st.ready.Store(true)
	}
	return &s.st, nil
}

// OpenState opens the state database now, creating and migrating
// data_dir/state.db when needed, instead of at the first state call. The
// daemon calls it at start, so that a state.db it cannot open stops it
// there; commands that do not use the state never create the file.
func (s *Store) OpenState(ctx context.Context) error {
	_, err := s.state(ctx)
	return err
}

// stateWriter returns the state database for a write, or an error when there is
// none (a read-only store without state.db).
func (s *Store) stateWriter(ctx context.Context) (*stateDB, error) {
	st, err := s.state(ctx)
	if err != nil {
		return nil, err
	}
	if st.w == nil {
		return nil, fmt.Errorf("%w: %s does not exist (opened read-only)", ErrNoStore, st.path)
	}
	return st, nil
}

// beginWrite takes the state's gate at priority p and begins an IMMEDIATE
// transaction on its writer; call done after Commit or Rollback.
func (st *stateDB) beginWrite(ctx context.Context, p priority) (tx *sql.Tx, done func(), err error) {
	if err := st.gate.lock(ctx, p); err != nil {
		return nil, nil, fmt.Errorf("wait for the state writer: %w", err)
	}
	tx, err = st.w.BeginTx(ctx, nil)
	if err != nil {
		st.gate.unlock()
		return nil, nil, err
	}
	return tx, st.gate.unlock, nil
}

// execWrite runs one statement on the state's writer under its gate.
func (st *stateDB) execWrite(ctx context.Context, p priority, query string, args ...any) (sql.Result, error) {
	if err := st.gate.lock(ctx, p); err != nil {
		return nil, fmt.Errorf("wait for the state writer: %w", err)
	}
	defer st.gate.unlock()
	return st.w.ExecContext(ctx, query, args...)
}

// durableTx runs fn in a transaction committed with synchronous=FULL, for
// the operator's list edits, which cannot be recomputed. The writer
// connection gets its own setting back afterwards, or is discarded.
func (st *stateDB) durableTx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	if err := st.gate.lock(ctx, bulk); err != nil {
		return fmt.Errorf("wait for the state writer: %w", err)
	}
	defer st.gate.unlock()
	conn, err := st.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var prev string
	if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&prev); err != nil {
		return err
	}
	if prev != syncFull {
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = "+syncFull); err != nil {
			return err
		}
		defer func() {
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous = "+prev); rerr != nil {
				// A writer left at FULL is only slower, but do not keep it.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// checkKey reports an empty or oversized key, namespace or name.
func checkKey(what, k string) error {
	if k == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	}
	if len(k) > MaxKeyLen {
		return fmt.Errorf("%w: %s of %d bytes, over %d", ErrInvalid, what, len(k), MaxKeyLen)
	}
	return nil
}

// counterBuckets says which buckets of a counter a time falls in and
// covers.
type counterBuckets struct {
	window     int64 // ns
	width      int64 // ns, ceil(window/16)
	cur, first int64 // the bucket of at, and the oldest one its window covers
	curExpires int64 // when no window covers cur any more
}

// bucketsPerWindow is how many buckets a window is divided into; a count
// covers one more (the current, partial one).
const bucketsPerWindow = 16

func newCounterBuckets(window time.Duration, at time.Time) counterBuckets {
	w := int64(window)
	width := w / bucketsPerWindow
	if w%bucketsPerWindow != 0 {
		width++
	}
	ns := unixNano(nowIfZero(at))
	cur := ns / width
	if ns%width < 0 { // floor, not truncation, for times before 1970
		cur--
	}
	first := cur - bucketsPerWindow
	if first > cur { // overflowed
		first = math.MinInt64
	}
	// The bucket leaves every window at the start of bucket cur+17.
	exp := int64(math.MaxInt64)
	if next := cur + bucketsPerWindow + 1; next > cur && next <= math.MaxInt64/width && next >= math.MinInt64/width {
		exp = next * width
	}
	return counterBuckets{window: w, cur: cur, first: first, curExpires: exp, width: width}
}

func checkCounter(key string, window time.Duration) error {
	if err := checkKey("counter key", key); err != nil {
		return err
	}
	if window <= 0 {
		return fmt.Errorf("%w: counter window %v is not positive", ErrInvalid, window)
	}
	return nil
}

// Incr adds n to key's counter over window at at; see [Counters]. It is an
// urgent write on the state's own writer, so it never waits for a
// quarantine commit.
func (s *Store) Incr(ctx context.Context, key string, window time.Duration, n int64, at time.Time) (int64, error) {
	if err := checkCounter(key, window); err != nil {
		return 0, fmt.Errorf("store: incr: %w", err)
	}
	if n < 0 {
		return 0, fmt.Errorf("store: incr: %w: negative increment %d", ErrInvalid, n)
	}
	st, err := s.stateWriter(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: incr: %w", err)
	}
	b := newCounterBuckets(window, at)
	tx, done, err := st.beginWrite(ctx, urgent)
	if err != nil {
		return 0, fmt.Errorf("store: incr: %w", err)
	}
	defer done()
	defer tx.Rollback()
	if n > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO counters (key, window_ns, bucket, n, expires_ns)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (key, window_ns, bucket) DO UPDATE SET n = counters.n + excluded.n`,
			key, b.window, b.cur, n, b.curExpires); err != nil {
			return 0, fmt.Errorf("store: incr: %w", err)
		}
		// The buckets no window reaching at covers: at most 17 stay.
		if _, err := tx.ExecContext(ctx, `DELETE FROM counters WHERE key = ? AND window_ns = ? AND bucket < ?`,
			key, b.window, b.first); err != nil {
			return 0, fmt.Errorf("store: incr: %w", err)
		}
	}
	var count int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM counters
		WHERE key = ? AND window_ns = ? AND bucket BETWEEN ? AND ?`,
		key, b.window, b.first, b.cur).Scan(&count); err != nil {
		return 0, fmt.Errorf("store: incr: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: incr: commit: %w", err)
	}
	return count, nil
}

// Count returns key's count over window at at; see [Counters].
func (s *Store) Count(ctx context.Context, key string, window time.Duration, at time.Time) (int64, error) {
	if err := checkCounter(key, window); err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	st, err := s.state(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	if st.r == nil {
		return 0, nil
	}
	b := newCounterBuckets(window, at)
	var count int64
	if err := st.r.QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM counters
		WHERE key = ? AND window_ns = ? AND bucket BETWEEN ? AND ?`,
		key, b.window, b.first, b.cur).Scan(&count); err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	return count, nil
}

// ResetCounter deletes key's buckets in every window; see [Counters].
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	if err := checkKey("counter key", key); err != nil {
		return fmt.Errorf("store: reset counter: %w", err)
	}
	st, err := s.stateWriter(ctx)
	if err != nil {
		return fmt.Errorf("store: reset counter: %w", err)
	}
	if _, err := st.execWrite(ctx, urgent, `DELETE FROM counters WHERE key = ?`, key); err != nil {
		return fmt.Errorf("store: reset counter: %w", err)
	}
	return nil
}

// entryTimes returns the stored and expiry times of an entry written at at
// with ttl, as unix nanoseconds.
func entryTimes(ttl time.Duration, at time.Time) (stored, expires int64) {
	stored = unixNano(nowIfZero(at))
	expires = stored + int64(ttl)
	if expires < stored { // overflowed
		expires = math.MaxInt64
	}
	return stored, expires
}

func checkEntry(ns, key string, value []byte, ttl time.Duration) error {
	if err := checkKey("entry namespace", ns); err != nil {
		return err
	}
	if err := checkKey("entry key", key); err != nil {
		return err
	}
	if len(value) > MaxValueLen {
		return fmt.Errorf("%w: entry value of %d bytes, over %d", ErrInvalid, len(value), MaxValueLen)
	}
	if ttl <= 0 {
		return fmt.Errorf("%w: entry ttl %v is not positive", ErrInvalid, ttl)
	}
	return nil
}

// SetEntry stores value under (ns, key) for ttl; see [Entries].
func (s *Store) SetEntry(ctx context.Context, ns, key string, value []byte, ttl time.Duration, at time.Time) error {
	if err := checkEntry(ns, key, value, ttl); err != nil {
		return fmt.Errorf("store: set entry: %w", err)
	}
	st, err := s.stateWriter(ctx)
	if err != nil {
		return fmt.Errorf("store: set entry: %w", err)
	}
	stored, expires := entryTimes(ttl, at)
	if value == nil {
		value = []byte{}
	}
	if _, err := st.execWrite(ctx, urgent, `INSERT INTO entries (ns, key, value, stored_ns, expires_ns)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (ns, key) DO UPDATE SET
			value = excluded.value, stored_ns = excluded.stored_ns, expires_ns = excluded.expires_ns`,
		ns, key, value, stored, expires); err != nil {
		return fmt.Errorf("store: set entry: %w", err)
	}
	return nil
}

// AddEntry stores value under (ns, key) unless a live entry is there; see
// [Entries].
func (s *Store) AddEntry(ctx context.Context, ns, key string, value []byte, ttl time.Duration, at time.Time) (Entry, bool, error) {
	if err := checkEntry(ns, key, value, ttl); err != nil {
		return Entry{}, false, fmt.Errorf("store: add entry: %w", err)
	}
	st, err := s.stateWriter(ctx)
	if err != nil {
		return Entry{}, false, fmt.Errorf("store: add entry: %w", err)
	}
	stored, expires := entryTimes(ttl, at)
	if value == nil {
		value = []byte{}
	}
	tx, done, err := st.beginWrite(ctx, urgent)
	if err != nil {
		return Entry{}, false, fmt.Errorf("store: add entry: %w", err)
	}
	defer done()
	defer tx.Rollback()
	// The upsert replaces only an expired entry; a live one makes it
	// return no row, and is read instead.
	e, err := scanEntry(tx.QueryRowContext(ctx, `INSERT INTO entries (ns, key, value, stored_ns, expires_ns)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (ns, key) DO UPDATE SET
			value = excluded.value, stored_ns = excluded.stored_ns, expires_ns = excluded.expires_ns
		WHERE entries.expires_ns <= excluded.stored_ns
		RETURNING value, stored_ns, expires_ns`,
		ns, key, value, stored, expires))
	added := err == nil
	if errors.Is(err, sql.ErrNoRows) {
		e, err = scanEntry(tx.QueryRowContext(ctx, `SELECT value, stored_ns, expires_ns FROM entries
			WHERE ns = ? AND key = ?`, ns, key))
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("store: add entry: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Entry{}, false, fmt.Errorf("store: add entry: commit: %w", err)
	}
	return e, added, nil
}

func scanEntry(row rowScanner) (Entry, error) {
	var (
		e               Entry
		stored, expires int64
	)
	if err := row.Scan(&e.Value, &stored, &expires); err != nil {
		return Entry{}, err
	}
	if e.Value == nil {
		e.Value = []byte{}
	}
	e.Stored, e.Expires = fromNano(stored), fromNano(expires)
	return e, nil
}

// GetEntry returns the entry (ns, key) live at at; see [Entries].
func (s *Store) GetEntry(ctx context.Context, ns, key string, at time.Time) (Entry, error) {
	if err := checkKey("entry namespace", ns); err != nil {
		return Entry{}, fmt.Errorf("store: get entry: %w", err)
	}
	if err := checkKey("entry key", key); err != nil {
		return Entry{}, fmt.Errorf("store: get entry: %w", err)
	}
	st, err := s.state(ctx)
	if err != nil {
		return Entry{}, fmt.Errorf("store: get entry: %w", err)
	}
	if st.r == nil {
		return Entry{}, fmt.Errorf("store: entry %s/%s: %w", ns, key, ErrNotFound)
	}
	e, err := scanEntry(st.r.QueryRowContext(ctx, `SELECT value, stored_ns, expires_ns FROM entries
		WHERE ns = ? AND key = ? AND expires_ns > ?`, ns, key, unixNano(nowIfZero(at))))
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, fmt.Errorf("store: entry %s/%s: %w", ns, key, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("store: get entry: %w", err)
	}
	return e, nil
}

// DeleteEntry removes (ns, key); see [Entries].
func (s *Store) DeleteEntry(ctx context.Context, ns, key string) error {
	if err := checkKey("entry namespace", ns); err != nil {
		return fmt.Errorf("store: delete entry: %w", err)
	}
	if err := checkKey("entry key", key); err != nil {
		return fmt.Errorf("store: delete entry: %w", err)
	}
	st, err := s.stateWriter(ctx)
	if err != nil {
		return fmt.Errorf("store: delete entry: %w", err)
	}
	if _, err := st.execWrite(ctx, urgent, `DELETE FROM entries WHERE ns = ? AND key = ?`, ns, key); err != nil {
		return fmt.Errorf("store: delete entry: %w", err)
	}
	return nil
}

// ListEntries returns a page of the live entries of ns, by key; see
// [Entries].
func (s *Store) ListEntries(ctx context.Context, ns, after string, limit int, at time.Time) ([]KeyedEntry, error) {
	if err := checkKey("entry namespace", ns); err != nil {
		return nil, fmt.Errorf("store: list entries: %w", err)
	}
	if limit <= 0 {
		return nil, fmt.Errorf("store: list entries: %w: limit %d is not positive", ErrInvalid, limit)
	}
	st, err := s.state(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: list entries: %w", err)
	}
	if st.r == nil {
		return nil, nil
	}
	rows, err := st.r.QueryContext(ctx, `SELECT key, value, stored_ns, expires_ns FROM entries
		WHERE ns = ? AND key > ? AND expires_ns > ? ORDER BY key LIMIT ?`, ns, after, unixNano(nowIfZero(at)), limit)
	if err != nil {
		return nil, fmt.Errorf("store: list entries: %w", err)
	}
	defer rows.Close()
	var out []KeyedEntry
	for rows.Next() {
		var (
			ke              KeyedEntry
			stored, expires int64
		)
		if err := rows.Scan(&ke.Key, &ke.Value, &stored, &expires); err != nil {
			return nil, fmt.Errorf("store: list entries: %w", err)
		}
		if ke.Value == nil {
			ke.Value = []byte{}
		}
		ke.Stored, ke.Expires = fromNano(stored), fromNano(expires)
		out = append(out, ke)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list entries: %w", err)
	}
	return out, nil
}

// PruneState deletes expired entries and counter buckets in small bulk
// transactions, so that a counter increment waits for one batch at most;
// see [State].
func (s *Store) PruneState(ctx context.Context, at time.Time) (int64, error) {
	st, err := s.stateWriter(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: prune state: %w", err)
	}
	ns := unixNano(nowIfZero(at))
	var total int64
	for _, q := range []string{
		`DELETE FROM counters WHERE (key, window_ns, bucket) IN
			(SELECT key, window_ns, bucket FROM counters WHERE expires_ns <= ? LIMIT ?)`,
		`DELETE FROM entries WHERE (ns, key) IN
			(SELECT ns, key FROM entries WHERE expires_ns <= ? LIMIT ?)`,
		// The version stays: reads already ignore these items.
		`DELETE FROM list_items WHERE (name, value) IN
			(SELECT name, value FROM list_items WHERE expires_ns <= ? LIMIT ?)`,
	} {
		for {
			res, err := st.execWrite(ctx, bulk, q, ns, pruneBatch)
			if err != nil {
				return total, fmt.Errorf("store: prune state: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, fmt.Errorf("store: prune state: %w", err)
			}
			total += n
			if n < int64(pruneBatch) {
				break
			}
		}
	}
	s.log.Debug("store: pruned state", "rows", total)
	return total, nil
}

// openStateReadOnly opens state.db of a read-only store, or leaves the
// state empty when there is none.
func (s *Store) openStateReadOnly(ctx context.Context) error {
	path := s.st.path
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil // reads find nothing, writes fail
	}
	db, err := openReadOnlyDB(ctx, path, stateVersionTable, len(stateMigrations))
	if err != nil {
		return err
	}
	s.st.w, s.st.r, s.st.gate = db, db, &s.st.own
	return nil
}
