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
	s, err := openReadOnly(ctx, path, false, log)
	if err != nil {
		if _, werr := os.Stat(path + "-wal"); !errors.Is(werr, os.ErrNotExist) {
			return nil, err
		}
		var ierr error
		if s, ierr = openReadOnly(ctx, path, true, log); ierr != nil {
			return nil, err // the first error says more
		}
	}
	return s, nil
}

func openReadOnly(ctx context.Context, path string, immutable bool, log *slog.Logger) (*Store, error) {
	db, err := sql.Open("sqlite", readOnlyDSN(path, immutable))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(readerConns)
	db.SetMaxIdleConns(readerConns)
	s := &Store{w: db, r: db, log: log}
	if err := s.checkReadOnly(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	log.Debug("store: opened read-only", "path", path, "immutable", immutable)
	return s, nil
}

// checkReadOnly reads the schema version and refuses a database of another
// schema than this program's.
func (s *Store) checkReadOnly(ctx context.Context) error {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'schema_version'`).Scan(&n); err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: no schema_version table", ErrNoStore)
	}
	cur, err := schemaVersion(ctx, s.r)
	if err != nil {
		return err
	}
	switch {
	case cur > len(migrations):
		return fmt.Errorf("%w: database is at version %d, this program knows %d", ErrSchemaTooNew, cur, len(migrations))
	case cur < len(migrations):
		return fmt.Errorf("%w: database is at version %d, this program needs %d; the daemon upgrades it when it starts", ErrSchemaTooOld, cur, len(migrations))
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
