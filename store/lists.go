package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

func checkListItem(it ListItem) error {
	if err := checkKey("list value", it.Value); err != nil {
		return err
	}
	if len(it.Note) > MaxKeyLen {
		return fmt.Errorf("%w: list note of %d bytes, over %d", ErrInvalid, len(it.Note), MaxKeyLen)
	}
	return nil
}

// expiresArg is an expiry as its column holds it: NULL for never.
func expiresArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return unixNano(t)
}

// ListPut adds items to list name or updates their notes and expiries; see
// [Lists]. It commits with synchronous=FULL: an operator's edit survives a
// power cut.
func (s *Store) ListPut(ctx context.Context, name string, items ...ListItem) (int64, error) {
	if err := checkKey("list name", name); err != nil {
		return 0, fmt.Errorf("store: list put: %w", err)
	}
	for _, it := range items {
		if err := checkListItem(it); err != nil {
			return 0, fmt.Errorf("store: list put: %w", err)
		}
	}
	st, err := s.stateWriter(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: list put: %w", err)
	}
	now := time.Now()
	var version int64
	err = st.durableTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO lists (name, version) VALUES (?, 0)
			ON CONFLICT (name) DO NOTHING`, name); err != nil {
			return err
		}
		var changed int64
		for _, it := range items {
			added := it.Added
			if added.IsZero() {
				added = now
			}
			// A value that had expired by the new Added is put anew, with
			// that Added. (IS DISTINCT FROM: SQLite 3.39 and PostgreSQL.)
			res, err := tx.ExecContext(ctx, `INSERT INTO list_items (name, value, note, added_ns, expires_ns)
				VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (name, value) DO UPDATE SET note = excluded.note, expires_ns = excluded.expires_ns,
					added_ns = CASE WHEN list_items.expires_ns <= excluded.added_ns
						THEN excluded.added_ns ELSE list_items.added_ns END
				WHERE list_items.note <> excluded.note
					OR list_items.expires_ns IS DISTINCT FROM excluded.expires_ns
					OR list_items.expires_ns <= excluded.added_ns`,
				name, it.Value, it.Note, unixNano(added), expiresArg(it.Expires))
			if err != nil {
				return fmt.Errorf("%q: %w", it.Value, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			changed += n
		}
		return bumpVersion(ctx, tx, name, changed > 0, &version)
	})
	if err != nil {
		return 0, fmt.Errorf("store: list put %q: %w", name, err)
	}
	return version, nil
}

// bumpVersion raises the version of list name by one when changed, and
// reads it into version; a list without a row has version 0.
func bumpVersion(ctx context.Context, tx *sql.Tx, name string, changed bool, version *int64) error {
	q := `SELECT version FROM lists WHERE name = ?`
	if changed {
		q = `UPDATE lists SET version = version + 1 WHERE name = ? RETURNING version`
	}
	err := tx.QueryRowContext(ctx, q, name).Scan(version)
	if errors.Is(err, sql.ErrNoRows) {
		*version = 0
		return nil
	}
	return err
}

// ListRemove removes values from list name; see [Lists].
func (s *Store) ListRemove(ctx context.Context, name string, values ...string) (int64, error) {
	if err := checkKey("list name", name); err != nil {
		return 0, fmt.Errorf("store: list remove: %w", err)
	}
	st, err := s.stateWriter(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: list remove: %w", err)
	}
	var version int64
	err = st.durableTx(ctx, func(tx *sql.Tx) error {
		var changed int64
		for _, v := range values {
			res, err := tx.ExecContext(ctx, `DELETE FROM list_items WHERE name = ? AND value = ?`, name, v)
			if err != nil {
				return fmt.Errorf("%q: %w", v, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			changed += n
		}
		return bumpVersion(ctx, tx, name, changed > 0, &version)
	})
	if err != nil {
		return 0, fmt.Errorf("store: list remove %q: %w", name, err)
	}
	return version, nil
}

// ListItems returns list name's items live at at and its version from one
// snapshot; see [Lists].
func (s *Store) ListItems(ctx context.Context, name string, at time.Time) ([]ListItem, int64, error) {
	if err := checkKey("list name", name); err != nil {
		return nil, 0, fmt.Errorf("store: list items: %w", err)
	}
	st, err := s.state(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list items: %w", err)
	}
	if st.r == nil {
		return nil, 0, nil
	}
	tx, err := st.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("store: list items: %w", err)
	}
	defer tx.Rollback()
	var version int64
	if err := bumpVersion(ctx, tx, name, false, &version); err != nil {
		return nil, 0, fmt.Errorf("store: list items %q: %w", name, err)
	}
	// BINARY collation: byte order. (PostgreSQL: COLLATE "C".)
	rows, err := tx.QueryContext(ctx, `SELECT value, note, added_ns, expires_ns FROM list_items
		WHERE name = ? AND (expires_ns IS NULL OR expires_ns > ?) ORDER BY value`, name, unixNano(nowIfZero(at)))
	if err != nil {
		return nil, 0, fmt.Errorf("store: list items %q: %w", name, err)
	}
	defer rows.Close()
	var items []ListItem
	for rows.Next() {
		var (
			it      ListItem
			added   int64
			expires sql.NullInt64
		)
		if err := rows.Scan(&it.Value, &it.Note, &added, &expires); err != nil {
			return nil, 0, fmt.Errorf("store: list items %q: %w", name, err)
		}
		it.Added = fromNano(added)
		if expires.Valid {
			it.Expires = fromNano(expires.Int64)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: list items %q: %w", name, err)
	}
	return items, version, nil
}

// ListVersion returns list name's version; see [Lists].
func (s *Store) ListVersion(ctx context.Context, name string) (int64, error) {
	if err := checkKey("list name", name); err != nil {
		return 0, fmt.Errorf("store: list version: %w", err)
	}
	st, err := s.state(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: list version: %w", err)
	}
	if st.r == nil {
		return 0, nil
	}
	var v int64
	err = st.r.QueryRowContext(ctx, `SELECT version FROM lists WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: list version %q: %w", name, err)
	}
	return v, nil
}

// Lists describes every list, ordered by name, with its items live at at;
// see [Lists].
func (s *Store) Lists(ctx context.Context, at time.Time) ([]ListInfo, error) {
	st, err := s.state(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: lists: %w", err)
	}
	if st.r == nil {
		return nil, nil
	}
	rows, err := st.r.QueryContext(ctx, `SELECT l.name, l.version,
		(SELECT count(*) FROM list_items i WHERE i.name = l.name AND (i.expires_ns IS NULL OR i.expires_ns > ?))
		FROM lists l ORDER BY l.name`, unixNano(nowIfZero(at)))
	if err != nil {
		return nil, fmt.Errorf("store: lists: %w", err)
	}
	defer rows.Close()
	var out []ListInfo
	for rows.Next() {
		var l ListInfo
		if err := rows.Scan(&l.Name, &l.Version, &l.Items); err != nil {
			return nil, fmt.Errorf("store: lists: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: lists: %w", err)
	}
	return out, nil
}
