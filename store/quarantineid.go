package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrAmbiguous reports an ID prefix that more than one quarantine entry
// starts with.
var ErrAmbiguous = errors.New("store: ambiguous ID prefix")

// MinIDPrefix is the shortest ID prefix [Store.ResolveQuarantineID] takes,
// as git does for commits: shorter ones match too much by accident.
const MinIDPrefix = 4

// ResolveQuarantineID returns the ID of the one quarantine entry whose ID
// starts with prefix (case-insensitive). It returns an error wrapping
// [ErrNotFound] when none does, and one wrapping [ErrAmbiguous] that names
// a few candidates when several do.
func (s *Store) ResolveQuarantineID(ctx context.Context, prefix string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(prefix))
	if strings.Trim(p, "0123456789abcdef") != "" || p == "" {
		return "", fmt.Errorf("store: quarantine %q: %w (an ID is hexadecimal)", prefix, ErrNotFound)
	}
	if len(p) < MinIDPrefix {
		return "", fmt.Errorf("store: quarantine ID prefix %q is shorter than %d digits", prefix, MinIDPrefix)
	}
	// IDs are lower-case hex, so every ID starting with p sorts in
	// [p, p+"g"): the primary key answers without a scan.
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM quarantine WHERE id >= ? AND id < ? ORDER BY id LIMIT 5`, p, p+"g")
	if err != nil {
		return "", fmt.Errorf("store: resolve quarantine ID: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", fmt.Errorf("store: resolve quarantine ID: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("store: resolve quarantine ID: %w", err)
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("store: quarantine %q: %w", prefix, ErrNotFound)
	case 1:
		return ids[0], nil
	}
	more := ""
	if len(ids) == 5 {
		more = ", …"
	}
	return "", fmt.Errorf("%w: %q is the start of %s%s", ErrAmbiguous, prefix, strings.Join(ids, ", "), more)
}
