package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Errors returned by the store. Test for them with [errors.Is]; they are
// usually wrapped with the operation and the underlying cause.
var (
	// ErrNotFound reports that the event, quarantine entry or recipient asked
	// for does not exist (any more).
	ErrNotFound = errors.New("store: not found")
	// ErrSchemaTooNew reports a database written by a newer mailwarden; it is
	// refused rather than modified by code that does not know its tables.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this program")
	// ErrCorrupt reports a quarantined message whose bytes no longer match
	// the digest recorded when it was stored.
	ErrCorrupt = errors.New("store: quarantine digest mismatch")
	// ErrPragma reports a connection on which a required setting (WAL,
	// synchronous=FULL, foreign keys, busy timeout) did not take effect.
	ErrPragma = errors.New("store: sqlite setting not in effect")
)

const (
	// DBFile is the name of the database file inside the directory given to
	// [Open].
	DBFile = "mailwarden.db"

	busyTimeoutMS = 5000
	defaultLimit  = 1000
	readerConns   = 4
)

// pruneBatch is how many rows one prune transaction deletes, which bounds
// how long a prune holds the write lock. A variable so tests can shrink it.
var pruneBatch = 500

// Store is mailwarden's persistent state in two SQLite databases: the log,
// the quarantine and the release claims in dir/mailwarden.db, and the
// checks' [State] in dir/state.db. It is safe for concurrent use; the writes
// of each database are serialised on one connection.
type Store struct {
	w    *sql.DB   // the one writer: MaxOpenConns(1), BEGIN IMMEDIATE; r when read-only
	gate writeGate // orders this process's writers on w: quarantine first
	r    *sql.DB   // reader pool: query_only
	log  *slog.Logger
	dir  string // the directory given to Open, absolute

	readOnly bool
	st       stateDB
}

// Open opens dir/mailwarden.db, creating the directory and the database if
// needed, checks the connection settings and applies pending migrations.
// dir/state.db is opened the same way at the first state call, or by
// [Store.OpenState]. A nil log discards log output.
func Open(ctx context.Context, dir string, log *slog.Logger) (*Store, error) {
	return open(ctx, dir, log, false)
}

// open is [Open]; sharedState keeps the state's tables in mailwarden.db on
// its writer, as they would be without a database of their own, which tests
// and benchmarks compare against.
func open(ctx context.Context, dir string, log *slog.Logger, sharedState bool) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create directory: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dir, DBFile))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	w, r, err := openPools(ctx, path, syncFull, func(w *sql.DB) error {
		return migrateDB(ctx, w, "schema_version", migrations, log)
	})
	if err != nil {
		return nil, err
	}
	s := &Store{w: w, r: r, log: log, dir: filepath.Dir(path)}
	s.st.path = filepath.Join(s.dir, StateFile)
	s.SetBayesCache(BayesCacheTokens)
	if sharedState {
		s.st.w, s.st.r, s.st.gate, s.st.path = w, r, &s.gate, ""
		if err := migrateDB(ctx, w, stateVersionTable, stateMigrations, log); err != nil {
			s.Close()
			return nil, err
		}
		s.st.ready.Store(true)
	}
	log.Debug("store: opened", "path", path)
	return s, nil
}

// Synchronous settings, as PRAGMA synchronous reads them back.
const (
	syncNormal = "1"
	syncFull   = "2"
)

// openPools opens the writer and the reader pool of the database at path,
// creating it with mode 0600, checks their settings and runs migrate on the
// writer before the readers open.
func openPools(ctx context.Context, path, synchronous string, migrate func(w *sql.DB) error) (w, r *sql.DB, err error) {
	// Create the file ourselves so that it, and the -wal and -shm files
	// SQLite derives from it, are not readable by others: it holds mail.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("store: create database: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, nil, fmt.Errorf("store: create database: %w", err)
	}
	w, err = sql.Open("sqlite", dsn(path, false, synchronous))
	if err != nil {
		return nil, nil, fmt.Errorf("store: open writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := checkPragmas(ctx, w, true, synchronous); err != nil {
		w.Close()
		return nil, nil, err
	}
	if err := migrate(w); err != nil {
		w.Close()
		return nil, nil, err
	}
	r, err = sql.Open("sqlite", dsn(path, true, synchronous))
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("store: open readers: %w", err)
	}
	r.SetMaxOpenConns(readerConns)
	r.SetMaxIdleConns(readerConns)
	if err := checkPragmas(ctx, r, false, synchronous); err != nil {
		r.Close()
		w.Close()
		return nil, nil, err
	}
	return w, r, nil
}

// Dir is the store's data directory, absolute; the daemon keeps its
// tracking-log journal there too.
func (s *Store) Dir() string { return s.dir }

// Close closes the connection pools. The last connection to a database to
// close checkpoints its write-ahead log into the database file.
func (s *Store) Close() error {
	var errs []error
	if c := s.st.bayes.Load(); c != nil {
		c.close()
	}
	errs = append(errs, s.st.close())
	if s.r != nil && s.r != s.w { // a read-only store has one pool
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// dsn builds the modernc.org/sqlite data source name for path, with
// synchronous set to syncFull or syncNormal. The path is given as a file:
// URI so that characters such as '?' and '#' in it are escaped instead of
// being taken for URI syntax.
func dsn(path string, reader bool, synchronous string) string {
	v := url.Values{}
	v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	if !reader {
		v.Add("_pragma", "journal_mode(WAL)")
	}
	v.Add("_pragma", "synchronous("+synchronous+")")
	v.Add("_pragma", "foreign_keys(ON)")
	// Read-only transactions begin DEFERRED regardless (the driver only
	// applies _txlock to read-write ones), so readers never take the lock.
	v.Set("_txlock", "immediate")
	if reader {
		v.Set("_query_only", "1")
		// Readers map up to 256 MiB of the file: random reads (a message's
		// Bayes tokens, one page each) then cost no system call per page,
		// which halves a lookup in a million tokens.
		v.Add("_pragma", "mmap_size(268435456)")
	}
	u := url.URL{Path: filepath.ToSlash(path)}
	return "file:" + u.EscapedPath() + "?" + v.Encode()
}

// checkPragmas verifies on one connection of db that the DSN settings took
// effect; a silent fallback (say, to a rollback journal) would weaken the
// durability the milter relies on.
func checkPragmas(ctx context.Context, db *sql.DB, writer bool, synchronous string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: connect: %w", err)
	}
	defer conn.Close()
	want := []struct {
		pragma, value string
	}{
		{"journal_mode", "wal"},
		{"synchronous", synchronous},
		{"foreign_keys", "1"},
		{"busy_timeout", fmt.Sprint(busyTimeoutMS)},
	}
	if !writer {
		want = append(want, struct{ pragma, value string }{"query_only", "1"})
	}
	for _, p := range want {
		var got string
		if err := conn.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
			return fmt.Errorf("store: read pragma %s: %w", p.pragma, err)
		}
		if !strings.EqualFold(got, p.value) {
			return fmt.Errorf("%w: %s is %q, want %q", ErrPragma, p.pragma, got, p.value)
		}
	}
	return nil
}

var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// unixNano returns t as unix nanoseconds, clamped to the int64 range, for
// which [time.Time.UnixNano] is undefined.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(minNanoTime):
		return math.MinInt64
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// fromNano is the inverse of unixNano, in UTC.
func fromNano(ns int64) time.Time {
	return time.Unix(0, ns).UTC()
}

// nowIfZero returns t, or the current time when t is zero.
func nowIfZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// limitOrDefault maps the query Limit convention (0 or less = default) to a
// row count.
func limitOrDefault(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

// addrKey returns the lower-cased form of an address and its lower-cased
// domain, the keys that the sender and recipient filters match on. Angle
// brackets around the whole address are dropped.
func addrKey(addr string) (key, domain string) {
	key = strings.TrimSpace(addr)
	if len(key) >= 2 && key[0] == '<' && key[len(key)-1] == '>' {
		key = key[1 : len(key)-1]
	}
	key = strings.ToLower(key)
	if i := strings.LastIndexByte(key, '@'); i >= 0 {
		domain = key[i+1:]
	}
	return key, domain
}

// foldText lower-cases text for the subject substring filter. It is
// Unicode-aware, unlike SQLite's lower() and LIKE.
func foldText(s string) string {
	return strings.ToLower(s)
}

// whereBuilder collects the AND-ed conditions of a query and their
// arguments.
type whereBuilder struct {
	conds []string
	args  []any
}

func (w *whereBuilder) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *whereBuilder) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// period adds the half-open interval [since, until) on column; zero bounds
// are open.
func (w *whereBuilder) period(column string, since, until time.Time) {
	if !since.IsZero() {
		w.add(column+" >= ?", unixNano(since))
	}
	if !until.IsZero() {
		w.add(column+" < ?", unixNano(until))
	}
}

// address adds an exact, case-insensitive address match against keyCol, or a
// domain match against domainCol when pattern is "*@domain".
func (w *whereBuilder) address(keyCol, domainCol, pattern string) {
	if pattern == "" {
		return
	}
	if dom, ok := strings.CutPrefix(strings.TrimSpace(pattern), "*@"); ok {
		w.add(domainCol+" = ?", strings.ToLower(dom))
		return
	}
	key, _ := addrKey(pattern)
	w.add(keyCol+" = ?", key)
}

// marshalList encodes v as JSON for a list column; an empty list is stored
// as NULL.
func marshalList[T any](v []T) (any, error) {
	if len(v) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// unmarshalList decodes a list column written by marshalList.
func unmarshalList[T any](s sql.NullString) ([]T, error) {
	if !s.Valid || s.String == "" {
		return nil, nil
	}
	var v []T
	if err := json.Unmarshal([]byte(s.String), &v); err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// idsJSON encodes ids as a JSON array for json_each, which keeps the IN list
// one bound parameter whatever its length.
func idsJSON[T any](ids []T) string {
	b, _ := json.Marshal(ids) // ints and strings cannot fail
	return string(b)
}

// Prune deletes events older than eventsBefore and quarantine entries older
// than quarantineBefore, and returns how many of each it deleted. A zero time
// leaves that kind alone. It deletes in small transactions so that it never
// holds up a quarantine commit for long. The state has its own
// [Store.PruneState].
func (s *Store) Prune(ctx context.Context, eventsBefore, quarantineBefore time.Time) (events, quarantined int64, err error) {
	start := time.Now()
	if !eventsBefore.IsZero() {
		events, err = s.pruneTable(ctx,
			`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_ns < ? LIMIT ?)`,
			unixNano(eventsBefore))
		if err != nil {
			return events, 0, fmt.Errorf("store: prune events: %w", err)
		}
		// A pair whose last delivered message has left the log is
		// forgotten with it.
		if _, err := s.pruneTable(ctx,
			`DELETE FROM correspondents WHERE (rcpt_key, sender_key) IN (SELECT rcpt_key, sender_key FROM correspondents WHERE last_ns < ? LIMIT ?)`,
			unixNano(eventsBefore)); err != nil {
			return events, 0, fmt.Errorf("store: prune correspondents: %w", err)
		}
		// Release claims outlive every token (token_ttl is far below the
		// log's retention), so they go with the events.
		if _, err := s.pruneTable(ctx,
			`DELETE FROM release_claims WHERE (nonce, address) IN (SELECT nonce, address FROM release_claims WHERE time_ns < ? LIMIT ?)`,
			unixNano(eventsBefore)); err != nil {
			return events, 0, fmt.Errorf("store: prune release claims: %w", err)
		}
	}
	if !quarantineBefore.IsZero() {
		quarantined, err = s.pruneTable(ctx,
			`DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine WHERE time_ns < ? LIMIT ?)`,
			unixNano(quarantineBefore))
		if err != nil {
			return events, quarantined, fmt.Errorf("store: prune quarantine: %w", err)
		}
	}
	s.log.Info("store: pruned", "events", events, "quarantined", quarantined,
		"duration", time.Since(start))
	return events, quarantined, nil
}

// pruneTable runs the batched delete query until it deletes nothing. Each
// batch is a bulk write, so a quarantine commit goes before the next one.
func (s *Store) pruneTable(ctx context.Context, query string, before int64) (int64, error) {
	var total int64
	for {
		res, err := s.execWrite(ctx, bulk, query, before, pruneBatch)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(pruneBatch) {
			return total, nil
		}
	}
}
