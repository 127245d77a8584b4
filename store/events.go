package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/scanner"
)

// RecipientOutcome is the decision for one recipient; recipients of one
// message can have different outcomes.
type RecipientOutcome struct {
	Address string `json:"address"`
	Action  string `json:"action"`
	Rule    string `json:"rule"`
	Reply   string `json:"reply"`
}

// Event is one row of the message-tracking log: one SMTP transaction (or a
// connection that ended before one) with its facts and the decision taken.
type Event struct {
	ID int64 `json:"id"` // assigned by [Store.AddEvent]
	// Key, when set, identifies the row for good: a second row with the
	// same key is not stored, so a tracking row replayed from the daemon's
	// journal after a crash appears once however often it is replayed.
	Key        string             `json:"key,omitempty"`
	Time       time.Time          `json:"time"` // start of the transaction or connection; read back in UTC
	QueueID    string             `json:"queue_id,omitempty"`
	ClientIP   string             `json:"client_ip,omitempty"`
	ClientName string             `json:"client_name,omitempty"`
	Helo       string             `json:"helo,omitempty"`
	TLSVersion string             `json:"tls_version,omitempty"`
	TLSCipher  string             `json:"tls_cipher,omitempty"`
	AuthUser   string             `json:"auth_user,omitempty"`
	Direction  string             `json:"direction,omitempty"`
	Stage      string             `json:"stage"` // stage at which the transaction ended: connect, helo, mail, rcpt, data, eoh, eom, abort
	Sender     string             `json:"sender,omitempty"`
	Recipients []RecipientOutcome `json:"recipients,omitempty"`
	HeaderFrom string             `json:"header_from,omitempty"` // decoded UTF-8
	HeaderTo   string             `json:"header_to,omitempty"`   // decoded UTF-8
	Subject    string             `json:"subject,omitempty"`     // decoded UTF-8
	MessageID  string             `json:"message_id,omitempty"`
	Size       int64              `json:"size,omitempty"`
	// Attachments are the attachment file names.
	Attachments []string        `json:"attachments,omitempty"`
	Matches     []scanner.Match `json:"matches,omitempty"`
	// Findings are every finding of the message's checks, matched by a rule
	// or not (a failed release header, a malformed part).
	Findings []scanner.Finding `json:"findings,omitempty"`
	// Action is the final action, free text from the caller: accept, reject,
	// tempfail, discard, quarantine, mixed(…).
	Action        string        `json:"action"`
	Reply         string        `json:"reply,omitempty"` // SMTP reply sent, e.g. "550 5.7.1 ..."
	Duration      time.Duration `json:"duration_ns,omitempty"`
	QuarantineIDs []string      `json:"quarantine_ids,omitempty"`
}

// AddEvent appends e to the tracking log and sets e.ID. A zero e.Time is set
// to the current time.
func (s *Store) AddEvent(ctx context.Context, e *Event) (int64, error) {
	if err := s.AddEvents(ctx, []*Event{e}); err != nil {
		return 0, err
	}
	return e.ID, nil
}

// AddEvents appends several events in one transaction, so a busy daemon pays
// one commit (and one fsync) per batch rather than per message. It sets each
// ID; on error none is stored. An event whose Key is already stored is not
// stored again: it gets the ID of the stored row.
//
// Tracking rows are bulk writes: a quarantine commit waiting for the writer
// goes before them, but not before a transaction already running, so keep
// batches small (the daemon writes at most 64 rows at a time).
func (s *Store) AddEvents(ctx context.Context, events []*Event) error {
	tx, done, err := s.beginWrite(ctx, bulk)
	if err != nil {
		return fmt.Errorf("store: add event: %w", err)
	}
	defer done()
	defer tx.Rollback()
	ids := make([]int64, len(events))
	for i, e := range events {
		if ids[i], err = insertEvent(ctx, tx, e); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: add event: commit: %w", err)
	}
	for i, e := range events {
		e.ID = ids[i]
	}
	return nil
}

func insertEvent(ctx context.Context, tx *sql.Tx, e *Event) (int64, error) {
	e.Time = nowIfZero(e.Time)
	atts, err := marshalList(e.Attachments)
	if err != nil {
		return 0, fmt.Errorf("store: add event: attachments: %w", err)
	}
	matches, err := marshalList(e.Matches)
	if err != nil {
		return 0, fmt.Errorf("store: add event: matches: %w", err)
	}
	findings, err := marshalList(e.Findings)
	if err != nil {
		return 0, fmt.Errorf("store: add event: findings: %w", err)
	}
	qids, err := marshalList(e.QuarantineIDs)
	if err != nil {
		return 0, fmt.Errorf("store: add event: quarantine ids: %w", err)
	}
	senderKey, senderDomain := addrKey(e.Sender)
	var key any // NULL: rows without a key never conflict
	if e.Key != "" {
		key = e.Key
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO events (
		time_ns, queue_id, client_ip, client_name, helo, tls_version, tls_cipher,
		auth_user, direction, stage, sender, sender_key, sender_domain,
		header_from, header_to, subject, subject_fold, message_id, size,
		attachments, matches, action, reply, duration_ns, quarantine_ids, findings, event_key, client_addr
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (event_key) DO NOTHING RETURNING id`,
		unixNano(e.Time), e.QueueID, e.ClientIP, e.ClientName, e.Helo, e.TLSVersion, e.TLSCipher,
		e.AuthUser, e.Direction, e.Stage, e.Sender, senderKey, senderDomain,
		e.HeaderFrom, e.HeaderTo, e.Subject, foldText(e.Subject), e.MessageID, e.Size,
		atts, matches, e.Action, e.Reply, int64(e.Duration), qids, findings, key, ip16(e.ClientIP)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		// Stored before (a replay): keep that row and its recipients.
		if err := tx.QueryRowContext(ctx, `SELECT id FROM events WHERE event_key = ?`, e.Key).Scan(&id); err != nil {
			return 0, fmt.Errorf("store: add event: find stored key: %w", err)
		}
		return id, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: add event: %w", err)
	}
	for i, r := range e.Recipients {
		key, dom := addrKey(r.Address)
		if _, err := tx.ExecContext(ctx, `INSERT INTO event_recipients
			(event_id, seq, address, addr_key, domain, action, rule, reply)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, i, r.Address, key, dom, r.Action, r.Rule, r.Reply); err != nil {
			return 0, fmt.Errorf("store: add event: recipient %q: %w", r.Address, err)
		}
	}
	if err := addCorrespondents(ctx, tx, e, senderKey); err != nil {
		return 0, err
	}
	return id, nil
}

// EventQuery selects events for [Store.Events]. Zero fields do not filter;
// set fields are AND-ed.
type EventQuery struct {
	// Since and Until bound Time to the half-open interval [Since, Until);
	// a zero bound is open.
	Since, Until time.Time
	// Direction, Action and ClientIP match exactly.
	Direction string
	// Sender and Recipient match an address exactly but case-insensitively,
	// or, written "*@domain", any address at that domain (not subdomains).
	// Recipient matches events with at least one such recipient.
	Sender, Recipient string
	Action            string
	// ClientIP matches the client address as stored, exactly.
	ClientIP string
	// ClientNet matches client addresses in a network; the zero Prefix
	// does not filter. An IPv4 network matches IPv4 clients however their
	// address was written (192.0.2.1 or ::ffff:192.0.2.1); an IPv6 network
	// matches IPv6 clients only, unless it is written IPv4-mapped
	// (::ffff:192.0.2.0/120), as netip.Prefix.Contains on unmapped
	// addresses does.
	ClientNet netip.Prefix
	// QueueID matches the MTA's queue ID exactly but case-insensitively.
	QueueID string
	// Subject matches a case-insensitive substring of the decoded subject;
	// case folding is Unicode-aware.
	Subject string
	// Limit caps the number of events returned; 0 means 1000.
	Limit int
}

const eventColumns = `id, COALESCE(event_key, ''), time_ns, queue_id, client_ip, client_name, helo, tls_version, tls_cipher,
	auth_user, direction, stage, sender, header_from, header_to, subject, message_id, size,
	attachments, matches, action, reply, duration_ns, quarantine_ids, findings`

// eventsQuery builds the query of [Store.Events] for q.
func eventsQuery(q EventQuery) (query string, args []any) {
	var w whereBuilder
	w.period("e.time_ns", q.Since, q.Until)
	if q.Direction != "" {
		w.add("e.direction = ?", q.Direction)
	}
	w.address("e.sender_key", "e.sender_domain", q.Sender)
	if q.Recipient != "" {
		var rw whereBuilder
		rw.address("r.addr_key", "r.domain", q.Recipient)
		w.add("EXISTS (SELECT 1 FROM event_recipients r WHERE r.event_id = e.id AND "+rw.conds[0]+")", rw.args...)
	}
	if q.Action != "" {
		w.add("e.action = ?", q.Action)
	}
	if q.ClientIP != "" {
		w.add("e.client_ip = ?", q.ClientIP)
	}
	if q.ClientNet.IsValid() {
		lo, hi := prefixRange(q.ClientNet)
		w.add("e.client_addr BETWEEN ? AND ?", lo, hi)
		if overlapsMapped(q.ClientNet) {
			lo, hi := prefixRange(ipv4Mapped)
			w.add("e.client_addr NOT BETWEEN ? AND ?", lo, hi)
		}
	}
	if id := strings.TrimSpace(q.QueueID); id != "" {
		// lower(), as ASCII, matches the expression index events_queue_id.
		w.add("lower(e.queue_id) = ?", asciiLower(id))
	}
	if q.Subject != "" {
		w.add("instr(e.subject_fold, ?) > 0", foldText(q.Subject))
	}
	query = "SELECT " + eventColumns + " FROM events e" + w.String() +
		" ORDER BY e.time_ns DESC, e.id DESC LIMIT ?"
	return query, append(w.args, limitOrDefault(q.Limit))
}

// Events returns the events matching q, newest first, each with its
// recipients.
func (s *Store) Events(ctx context.Context, q EventQuery) ([]Event, error) {
	query, args := eventsQuery(q)

	// One read transaction, so events and their recipients come from one
	// snapshot even while a prune runs.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	var events []Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: events: %w", err)
		}
		events = append(events, e)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	if err := loadEventRecipients(ctx, tx, events); err != nil {
		return nil, fmt.Errorf("store: events: recipients: %w", err)
	}
	return events, nil
}

func scanEvent(rows *sql.Rows) (Event, error) {
	var (
		e                   Event
		timeNS, durNS       int64
		atts, matches, qids sql.NullString
		findings            sql.NullString
	)
	err := rows.Scan(&e.ID, &e.Key, &timeNS, &e.QueueID, &e.ClientIP, &e.ClientName, &e.Helo,
		&e.TLSVersion, &e.TLSCipher, &e.AuthUser, &e.Direction, &e.Stage, &e.Sender,
		&e.HeaderFrom, &e.HeaderTo, &e.Subject, &e.MessageID, &e.Size,
		&atts, &matches, &e.Action, &e.Reply, &durNS, &qids, &findings)
	if err != nil {
		return e, err
	}
	e.Time = fromNano(timeNS)
	e.Duration = time.Duration(durNS)
	if e.Attachments, err = unmarshalList[string](atts); err != nil {
		return e, fmt.Errorf("event %d: attachments: %w", e.ID, err)
	}
	if e.Matches, err = unmarshalList[scanner.Match](matches); err != nil {
		return e, fmt.Errorf("event %d: matches: %w", e.ID, err)
	}
	if e.Findings, err = unmarshalList[scanner.Finding](findings); err != nil {
		return e, fmt.Errorf("event %d: findings: %w", e.ID, err)
	}
	if e.QuarantineIDs, err = unmarshalList[string](qids); err != nil {
		return e, fmt.Errorf("event %d: quarantine ids: %w", e.ID, err)
	}
	return e, nil
}

// loadEventRecipients fills in Recipients of events with one query.
func loadEventRecipients(ctx context.Context, tx *sql.Tx, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	ids := make([]int64, len(events))
	index := make(map[int64]int, len(events))
	for i, e := range events {
		ids[i] = e.ID
		index[e.ID] = i
	}
	rows, err := tx.QueryContext(ctx, `SELECT event_id, address, action, rule, reply
		FROM event_recipients
		WHERE event_id IN (SELECT value FROM json_each(?))
		ORDER BY event_id, seq`, idsJSON(ids))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id int64
			r  RecipientOutcome
		)
		if err := rows.Scan(&id, &r.Address, &r.Action, &r.Rule, &r.Reply); err != nil {
			return err
		}
		if i, ok := index[id]; ok {
			events[i].Recipients = append(events[i].Recipients, r)
		}
	}
	return rows.Err()
}

// asciiLower lower-cases the ASCII letters of s only, as SQLite's lower()
// does.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
