package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ClaimRelease records that the release token nonce was used for rcpts and
// returns the recipients claimed now; a recipient already claimed under the
// same nonce is left out, so a release header lets a message past its rule
// once per recipient, however often the copy is replayed.
func (s *Store) ClaimRelease(ctx context.Context, nonce string, rcpts []string, at time.Time) ([]string, error) {
	at = nowIfZero(at)
	// Urgent, like a quarantine commit: the message's reply waits for it.
	tx, done, err := s.beginWrite(ctx, urgent)
	if err != nil {
		return nil, fmt.Errorf("store: claim release: %w", err)
	}
	defer done()
	defer tx.Rollback()
	var claimed []string
	for _, r := range rcpts {
		res, err := tx.ExecContext(ctx, `INSERT INTO release_claims (nonce, address, time_ns) VALUES (?, ?, ?)
			ON CONFLICT (nonce, address) DO NOTHING`,
			nonce, strings.ToLower(r), unixNano(at))
		if err != nil {
			return nil, fmt.Errorf("store: claim release: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			claimed = append(claimed, r)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: claim release: commit: %w", err)
	}
	return claimed, nil
}
