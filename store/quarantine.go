package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// QuarantineEntry is one quarantined copy of a message, held for the
// recipients it applies to until it is released, deleted or pruned.
type QuarantineEntry struct {
	// ID is random and URL-safe (32 lower-case hex digits); assigned by
	// [Store.AddQuarantine].
	ID   string
	Time time.Time // when the message was quarantined; read back in UTC
	// Area is the named quarantine area, e.g. "spam", "virus", "policy".
	Area     string
	Rule     string
	Reason   string
	QueueID  string
	ClientIP string
	// ClientName and Helo are the client's reverse name and HELO name, kept
	// with the queue ID and the time so that a release can name the
	// original hop in its trace.
	ClientName string
	Helo       string
	Sender     string
	Recipients []string // the recipients this copy applies to
	HeaderFrom string   // decoded UTF-8
	Subject    string   // decoded UTF-8
	MessageID  string
	Size       int64
	// Digest is the hex SHA-256 of Raw, computed by [Store.AddQuarantine].
	Digest string
	// Raw is the message exactly as reconstructed; filled only by
	// [Store.GetQuarantine].
	Raw []byte
	// Released maps each released recipient, spelled as in Recipients, to
	// when it was released; filled by [Store.ListQuarantine] and
	// [Store.GetQuarantine].
	Released map[string]time.Time
}

// AddQuarantine stores q, sets q.ID and q.Digest, and returns the ID. It
// returns only after the commit is on disk (synchronous=FULL), so the caller
// may then tell the MTA the message is taken care of. A zero q.Time is set
// to the current time and a zero q.Size to len(q.Raw).
func (s *Store) AddQuarantine(ctx context.Context, q *QuarantineEntry) (string, error) {
	id := newID()
	sum := sha256.Sum256(q.Raw)
	digest := hex.EncodeToString(sum[:])
	t := nowIfZero(q.Time)
	size := q.Size
	if size == 0 {
		size = int64(len(q.Raw))
	}
	raw := q.Raw
	if raw == nil {
		raw = []byte{} // NOT NULL column; an empty message is still a message
	}
	senderKey, senderDomain := addrKey(q.Sender)

	// Urgent: the MTA waits for this commit, so it goes before queued
	// tracking-log batches.
	tx, done, err := s.beginWrite(ctx, urgent)
	if err != nil {
		return "", fmt.Errorf("store: add quarantine: %w", err)
	}
	defer done()
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO quarantine (
		id, time_ns, area, rule, reason, queue_id, client_ip, client_name, helo, sender, sender_key,
		sender_domain, header_from, subject, subject_fold, message_id, size, digest
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, unixNano(t), q.Area, q.Rule, q.Reason, q.QueueID, q.ClientIP, q.ClientName, q.Helo, q.Sender, senderKey,
		senderDomain, q.HeaderFrom, q.Subject, foldText(q.Subject), q.MessageID, size, digest,
	); err != nil {
		return "", fmt.Errorf("store: add quarantine: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO quarantine_raw (quarantine_id, raw) VALUES (?, ?)`,
		id, raw); err != nil {
		return "", fmt.Errorf("store: add quarantine: raw: %w", err)
	}
	if len(q.Recipients) > 0 {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO quarantine_recipients
			(quarantine_id, seq, address, addr_key, domain) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return "", fmt.Errorf("store: add quarantine: %w", err)
		}
		defer stmt.Close()
		for i, r := range q.Recipients {
			key, dom := addrKey(r)
			if _, err := stmt.ExecContext(ctx, id, i, r, key, dom); err != nil {
				return "", fmt.Errorf("store: add quarantine: recipient %q: %w", r, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("store: add quarantine: commit: %w", err)
	}
	q.ID, q.Digest, q.Time, q.Size = id, digest, t, size
	s.log.Debug("store: quarantined", "id", id, "area", q.Area, "size", size)
	return id, nil
}

// newID returns 16 random bytes as hex, unguessable so that an ID can appear
// in a release link.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// QuarantineQuery selects entries for [Store.ListQuarantine], with the same
// conventions as [EventQuery]: zero fields do not filter, [Since, Until) is
// half-open, Sender and Recipient match case-insensitively or as "*@domain",
// Subject is a case-insensitive substring, and Limit 0 means 1000.
type QuarantineQuery struct {
	Since, Until time.Time
	Area         string // exact
	Sender       string
	Recipient    string
	Subject      string
	Limit        int
}

const quarantineColumns = `id, time_ns, area, rule, reason, queue_id, client_ip, client_name, helo, sender,
	header_from, subject, message_id, size, digest`

// ListQuarantine returns the entries matching q, newest first, with their
// recipients and releases but without Raw.
func (s *Store) ListQuarantine(ctx context.Context, q QuarantineQuery) ([]QuarantineEntry, error) {
	var w whereBuilder
	w.period("q.time_ns", q.Since, q.Until)
	if q.Area != "" {
		w.add("q.area = ?", q.Area)
	}
	w.address("q.sender_key", "q.sender_domain", q.Sender)
	if q.Recipient != "" {
		var rw whereBuilder
		rw.address("r.addr_key", "r.domain", q.Recipient)
		w.add("EXISTS (SELECT 1 FROM quarantine_recipients r WHERE r.quarantine_id = q.id AND "+rw.conds[0]+")", rw.args...)
	}
	if q.Subject != "" {
		w.add("instr(q.subject_fold, ?) > 0", foldText(q.Subject))
	}
	query := "SELECT " + quarantineColumns + " FROM quarantine q" + w.String() +
		" ORDER BY q.time_ns DESC, q.id DESC LIMIT ?"
	args := append(w.args, limitOrDefault(q.Limit))

	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: list quarantine: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list quarantine: %w", err)
	}
	var list []QuarantineEntry
	for rows.Next() {
		e, err := scanQuarantine(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: list quarantine: %w", err)
		}
		list = append(list, e)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("store: list quarantine: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list quarantine: %w", err)
	}
	if err := loadQuarantineRecipients(ctx, tx, list); err != nil {
		return nil, fmt.Errorf("store: list quarantine: recipients: %w", err)
	}
	return list, nil
}

type rowScanner interface {
	Scan(dest ...any) error
}

func scanQuarantine(row rowScanner) (QuarantineEntry, error) {
	var (
		e      QuarantineEntry
		timeNS int64
	)
	err := row.Scan(&e.ID, &timeNS, &e.Area, &e.Rule, &e.Reason, &e.QueueID, &e.ClientIP, &e.ClientName, &e.Helo,
		&e.Sender, &e.HeaderFrom, &e.Subject, &e.MessageID, &e.Size, &e.Digest)
	e.Time = fromNano(timeNS)
	return e, err
}

// loadQuarantineRecipients fills in Recipients and Released of list with one
// query.
func loadQuarantineRecipients(ctx context.Context, tx *sql.Tx, list []QuarantineEntry) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]string, len(list))
	index := make(map[string]int, len(list))
	for i, e := range list {
		ids[i] = e.ID
		index[e.ID] = i
	}
	rows, err := tx.QueryContext(ctx, `SELECT quarantine_id, address, released_ns
		FROM quarantine_recipients
		WHERE quarantine_id IN (SELECT value FROM json_each(?))
		ORDER BY quarantine_id, seq`, idsJSON(ids))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, addr string
			released sql.NullInt64
		)
		if err := rows.Scan(&id, &addr, &released); err != nil {
			return err
		}
		i, ok := index[id]
		if !ok {
			continue
		}
		e := &list[i]
		e.Recipients = append(e.Recipients, addr)
		if released.Valid {
			if e.Released == nil {
				e.Released = make(map[string]time.Time)
			}
			e.Released[addr] = fromNano(released.Int64)
		}
	}
	return rows.Err()
}

// GetQuarantine returns the entry id with its raw message. It returns an
// error wrapping [ErrNotFound] when there is no such entry, and one wrapping
// [ErrCorrupt] (with the entry) when the bytes do not match the digest.
func (s *Store) GetQuarantine(ctx context.Context, id string) (*QuarantineEntry, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: get quarantine: %w", err)
	}
	defer tx.Rollback()
	row := tx.QueryRowContext(ctx, "SELECT "+quarantineColumns+`, r.raw
		FROM quarantine q JOIN quarantine_raw r ON r.quarantine_id = q.id
		WHERE q.id = ?`, id)
	var (
		e      QuarantineEntry
		timeNS int64
	)
	err = row.Scan(&e.ID, &timeNS, &e.Area, &e.Rule, &e.Reason, &e.QueueID, &e.ClientIP, &e.ClientName, &e.Helo,
		&e.Sender, &e.HeaderFrom, &e.Subject, &e.MessageID, &e.Size, &e.Digest, &e.Raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: quarantine %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get quarantine %q: %w", id, err)
	}
	e.Time = fromNano(timeNS)
	if e.Raw == nil {
		e.Raw = []byte{}
	}
	list := []QuarantineEntry{e}
	if err := loadQuarantineRecipients(ctx, tx, list); err != nil {
		return nil, fmt.Errorf("store: get quarantine %q: recipients: %w", id, err)
	}
	e = list[0]
	sum := sha256.Sum256(e.Raw)
	if hex.EncodeToString(sum[:]) != e.Digest {
		return &e, fmt.Errorf("store: quarantine %q: %w", id, ErrCorrupt)
	}
	return &e, nil
}

// DeleteQuarantine removes the entry id with its message and recipients. It
// returns an error wrapping [ErrNotFound] when there is no such entry.
func (s *Store) DeleteQuarantine(ctx context.Context, id string) error {
	res, err := s.execWrite(ctx, bulk, `DELETE FROM quarantine WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("store: delete quarantine %q: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: delete quarantine %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: quarantine %q: %w", id, ErrNotFound)
	}
	s.log.Debug("store: deleted quarantine", "id", id)
	return nil
}

// MarkReleased records that the entry id was released to rcpts at at (zero
// means now). Recipients match case-insensitively; an empty rcpts releases
// every recipient of the entry. Releasing again overwrites the time. It
// returns an error wrapping [ErrNotFound], and changes nothing, when the
// entry or one of rcpts is not there.
func (s *Store) MarkReleased(ctx context.Context, id string, rcpts []string, at time.Time) error {
	ns := unixNano(nowIfZero(at))
	tx, done, err := s.beginWrite(ctx, bulk)
	if err != nil {
		return fmt.Errorf("store: mark released: %w", err)
	}
	defer done()
	defer tx.Rollback()

	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM quarantine WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: quarantine %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: mark released %q: %w", id, err)
	}

	if len(rcpts) == 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE quarantine_recipients SET released_ns = ?
			WHERE quarantine_id = ?`, ns, id); err != nil {
			return fmt.Errorf("store: mark released %q: %w", id, err)
		}
	} else {
		stmt, err := tx.PrepareContext(ctx, `UPDATE quarantine_recipients SET released_ns = ?
			WHERE quarantine_id = ? AND addr_key = ?`)
		if err != nil {
			return fmt.Errorf("store: mark released %q: %w", id, err)
		}
		defer stmt.Close()
		var missing []string
		for _, r := range rcpts {
			key, _ := addrKey(r)
			res, err := stmt.ExecContext(ctx, ns, id, key)
			if err != nil {
				return fmt.Errorf("store: mark released %q: %w", id, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("store: mark released %q: %w", id, err)
			} else if n == 0 {
				missing = append(missing, r)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("store: quarantine %q: recipient %s: %w", id, strings.Join(missing, ", "), ErrNotFound)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: mark released %q: commit: %w", id, err)
	}
	s.log.Info("store: released", "id", id, "recipients", rcpts)
	return nil
}
