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

// ListPut adds items to list name or updates their notes; see [Lists]. It
// commits with synchronous=FULL: an operator's edit survives a power cut.
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
			res, err := tx.ExecContext(ctx, `INSERT INTO list_items (name, value, note, added_ns)
				VALUES (?, ?, ?, ?)
				ON CONFLICT (name, value) DO UPDATE SET note = excluded.note
				WHERE list_items.note <> excluded.note`,
				name, it.Value, it.Note, unixNano(added))
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

// ListItems returns list name's items and version from one snapshot; see
// [Lists].
func (s *Store) ListItems(ctx context.Context, name string) ([]ListItem, int64, error) {
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
	rows, err := tx.QueryContext(ctx, `SELECT value, note, added_ns FROM list_items
		WHERE name = ? ORDER BY value`, name)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list items %q: %w", name, err)
	}
	defer rows.Close()
	var items []ListItem
	for rows.Next() {
		var (
			it    ListItem
			added int64
		)
		if err := rows.Scan(&it.Value, &it.Note, &added); err != nil {
			return nil, 0, fmt.Errorf("store: list items %q: %w", name, err)
		}
		it.Added = fromNano(added)
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

// Lists describes every list, ordered by name; see [Lists].
func (s *Store) Lists(ctx context.Context) ([]ListInfo, error) {
	st, err := s.state(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: lists: %w", err)
	}
	if st.r == nil {
		return nil, nil
	}
	rows, err := st.r.QueryContext(ctx, `SELECT l.name, l.version,
		(SELECT count(*) FROM list_items i WHERE i.name = l.name)
		FROM lists l ORDER BY l.name`)
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
