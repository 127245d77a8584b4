package store

import (
	"context"
	"database/sql"
	"fmt"
)

// The correspondents table answers [Correspondents.Corresponded] without
// reading the log: one row per (recipient, envelope sender) pair that had
// a message delivered, with the first and last time and the count, upserted
// by [Store.AddEvents] in the transaction that logs the message. A lookup
// is one probe of the primary key, (rcpt_key, sender_key), whatever the
// size of the log; BenchmarkCorresponded measures it on a million pairs.
//
// "Delivered" means what the tracking row says at end of message: the
// transaction's action is accept or split (some copies quarantined), and
// the recipient's own outcome is accept. Rejected, tempfailed, discarded
// and quarantined copies do not count, nor do transactions that ended
// before end of message, so a spammer who was refused a hundred times is
// still a first-time sender. A row replayed from the journal (a key stored
// already) counts once. A pair goes when [Store.Prune] removes the log
// rows older than its last delivered message, so the table remembers what
// the log does, and is bounded by it.
func addCorrespondents(ctx context.Context, tx *sql.Tx, e *Event, senderKey string) error {
	if senderKey == "" || e.Stage != "eom" || (e.Action != "accept" && e.Action != "split") {
		return nil
	}
	at := unixNano(e.Time)
	for _, r := range e.Recipients {
		if r.Action != "accept" {
			continue
		}
		key, _ := addrKey(r.Address)
		if key == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO correspondents
			(rcpt_key, sender_key, first_ns, last_ns, messages) VALUES (?, ?, ?, ?, 1)
			ON CONFLICT (rcpt_key, sender_key) DO UPDATE SET
				first_ns = min(first_ns, excluded.first_ns),
				last_ns = max(last_ns, excluded.last_ns),
				messages = messages + 1`,
			key, senderKey, at, at); err != nil {
			return fmt.Errorf("store: add event: correspondent %q: %w", r.Address, err)
		}
	}
	return nil
}

// Corresponded reports whether mail from sender was delivered to rcpt
// before; see [Correspondents].
func (s *Store) Corresponded(ctx context.Context, sender, rcpt string) (bool, error) {
	sk, _ := addrKey(sender)
	rk, _ := addrKey(rcpt)
	if sk == "" || rk == "" {
		return false, nil
	}
	var n int
	err := s.r.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM correspondents WHERE rcpt_key = ? AND sender_key = ?`, rk, sk).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: corresponded: %w", err)
	}
	return n > 0, nil
}
