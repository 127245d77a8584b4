package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
)

// ErrNoStore reports that a directory holds no database: [OpenReadOnly]
// never creates one, so a command pointed at the wrong directory says so
// instead of showing an empty log.
var ErrNoStore = errors.New("store: no database")

// ErrSchemaTooOld reports a database that has not been migrated to this
// program's schema, which a read-only store cannot do.
var ErrSchemaTooOld = errors.New("store: database schema is older than this program")

// OpenReadOnly opens an existing dir/mailwarden.db for reading only. It
// creates nothing of its own and changes no schema, and it works on a
// database the caller may not write: a file or directory without write
// permission, or a read-only file system. Every write method of the
// returned store fails. It returns an error wrapping [ErrNoStore] when there
// is no database in dir.
//
// The state database (state.db) is opened the same way when a state method
// first needs it; a directory without one reads as an empty state.
//
// SQLite may still create the -wal and -shm files next to the database when
// it can, as every reader of a WAL database must share them. When it cannot
// and no -wal file exists, so that the main file is the whole database and
// no process has it open for writing, the file is opened immutable.
func OpenReadOnly(ctx context.Context, dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path, err := filepath.Abs(filepath.Join(dir, DBFile))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoStore, path)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a file", ErrNoStore, path)
	}
	db, err := openReadOnlyDB(ctx, path, "schema_version", len(migrations))
	if err != nil {
		return nil, err
	}
	s := &Store{w: db, r: db, log: log, dir: filepath.Dir(path), readOnly: true}
	s.st.path = filepath.Join(s.dir, StateFile)
	s.SetBayesCache(BayesCacheTokens)
	log.Debug("store: opened read-only", "path", path)
	return s, nil
}

// openReadOnlyDB opens an existing database at path for reading, as
// [OpenReadOnly] does mailwarden.db: immutable when it cannot be opened
// otherwise and has no WAL; its schema, recorded in table, must be at
// version want.
func openReadOnlyDB(ctx context.Context, path, table string, want int) (*sql.DB, error) {
	db, err := openReadOnlyPool(ctx, path, false, table, want)
	if err != nil {
		if _, werr := os.Stat(path + "-wal"); !errors.Is(werr, os.ErrNotExist) {
			return nil, err
		}
		var ierr error
		if db, ierr = openReadOnlyPool(ctx, path, true, table, want); ierr != nil {
			return nil, err // the first error says more
		}
	}
	return db, nil
}

func openReadOnlyPool(ctx context.Context, path string, immutable bool, table string, want int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", readOnlyDSN(path, immutable))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(readerConns)
	db.SetMaxIdleConns(readerConns)
	if err := checkReadOnly(ctx, db, table, want); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}

// checkReadOnly reads the schema version recorded in table and refuses a
// database of another schema than this program's.
func checkReadOnly(ctx context.Context, db *sql.DB, table string, want int) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = ?`, table).Scan(&n); err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: no %s table", ErrNoStore, table)
	}
	cur, err := tableVersion(ctx, db, table)
	if err != nil {
		return err
	}
	switch {
	case cur > want:
		return fmt.Errorf("%w: database is at version %d, this program knows %d", ErrSchemaTooNew, cur, want)
	case cur < want:
		return fmt.Errorf("%w: database is at version %d, this program needs %d; the daemon upgrades it when it starts", ErrSchemaTooOld, cur, want)
	}
	return nil
}

// readOnlyDSN is [dsn] for a reader that may not write the file at all.
func readOnlyDSN(path string, immutable bool) string {
	v := url.Values{}
	v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	v.Add("_pragma", "query_only(1)")
	v.Set("mode", "ro")
	if immutable {
		v.Set("immutable", "1")
	}
	u := url.URL{Path: filepath.ToSlash(path)}
	return "file:" + u.EscapedPath() + "?" + v.Encode()
}
