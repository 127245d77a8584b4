package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// migrations is the schema history: version N is migrations[N-1]. Append
// only; never edit a migration that has shipped, add a new one instead.
var migrations = []string{
	// 1: the message-tracking log.
	`
CREATE TABLE events (
	id             INTEGER PRIMARY KEY,
	time_ns        INTEGER NOT NULL,
	queue_id       TEXT NOT NULL DEFAULT '',
	client_ip      TEXT NOT NULL DEFAULT '',
	client_name    TEXT NOT NULL DEFAULT '',
	helo           TEXT NOT NULL DEFAULT '',
	tls_version    TEXT NOT NULL DEFAULT '',
	tls_cipher     TEXT NOT NULL DEFAULT '',
	auth_user      TEXT NOT NULL DEFAULT '',
	direction      TEXT NOT NULL DEFAULT '',
	stage          TEXT NOT NULL DEFAULT '',
	sender         TEXT NOT NULL DEFAULT '',
	sender_key     TEXT NOT NULL DEFAULT '', -- lower-cased sender
	sender_domain  TEXT NOT NULL DEFAULT '', -- lower-cased domain of sender
	header_from    TEXT NOT NULL DEFAULT '',
	header_to      TEXT NOT NULL DEFAULT '',
	subject        TEXT NOT NULL DEFAULT '',
	subject_fold   TEXT NOT NULL DEFAULT '', -- Unicode lower-cased subject
	message_id     TEXT NOT NULL DEFAULT '',
	size           INTEGER NOT NULL DEFAULT 0,
	attachments    TEXT,                     -- JSON array of names, NULL if none
	matches        TEXT,                     -- JSON array of Match, NULL if none
	action         TEXT NOT NULL DEFAULT '',
	reply          TEXT NOT NULL DEFAULT '',
	duration_ns    INTEGER NOT NULL DEFAULT 0,
	quarantine_ids TEXT                      -- JSON array, NULL if none
);
CREATE INDEX events_time ON events (time_ns);
CREATE INDEX events_direction ON events (direction, time_ns);
CREATE INDEX events_sender ON events (sender_key, time_ns);
CREATE INDEX events_sender_domain ON events (sender_domain, time_ns);
CREATE INDEX events_client_ip ON events (client_ip, time_ns);
CREATE INDEX events_action ON events (action, time_ns);

CREATE TABLE event_recipients (
	event_id INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
	seq      INTEGER NOT NULL,           -- order within the event
	address  TEXT NOT NULL,
	addr_key TEXT NOT NULL,              -- lower-cased address
	domain   TEXT NOT NULL,              -- lower-cased domain
	action   TEXT NOT NULL DEFAULT '',
	rule     TEXT NOT NULL DEFAULT '',
	reply    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (event_id, seq)
) WITHOUT ROWID;
CREATE INDEX event_recipients_addr ON event_recipients (addr_key);
CREATE INDEX event_recipients_domain ON event_recipients (domain);
`,
	// 2: the quarantine.
	`
CREATE TABLE quarantine (
	id            TEXT PRIMARY KEY,
	time_ns       INTEGER NOT NULL,
	area          TEXT NOT NULL DEFAULT '',
	rule          TEXT NOT NULL DEFAULT '',
	reason        TEXT NOT NULL DEFAULT '',
	queue_id      TEXT NOT NULL DEFAULT '',
	client_ip     TEXT NOT NULL DEFAULT '',
	sender        TEXT NOT NULL DEFAULT '',
	sender_key    TEXT NOT NULL DEFAULT '',
	sender_domain TEXT NOT NULL DEFAULT '',
	header_from   TEXT NOT NULL DEFAULT '',
	subject       TEXT NOT NULL DEFAULT '',
	subject_fold  TEXT NOT NULL DEFAULT '',
	message_id    TEXT NOT NULL DEFAULT '',
	size          INTEGER NOT NULL DEFAULT 0,
	digest        TEXT NOT NULL              -- hex SHA-256 of raw
);
CREATE INDEX quarantine_time ON quarantine (time_ns);
CREATE INDEX quarantine_area ON quarantine (area, time_ns);
CREATE INDEX quarantine_sender ON quarantine (sender_key, time_ns);
CREATE INDEX quarantine_sender_domain ON quarantine (sender_domain, time_ns);

-- The message bytes, apart so that listing never reads them.
CREATE TABLE quarantine_raw (
	quarantine_id TEXT PRIMARY KEY REFERENCES quarantine (id) ON DELETE CASCADE,
	raw           BLOB NOT NULL
);

CREATE TABLE quarantine_recipients (
	quarantine_id TEXT NOT NULL REFERENCES quarantine (id) ON DELETE CASCADE,
	seq           INTEGER NOT NULL,
	address       TEXT NOT NULL,
	addr_key      TEXT NOT NULL,
	domain        TEXT NOT NULL,
	released_ns   INTEGER,                   -- NULL until released
	PRIMARY KEY (quarantine_id, seq)
) WITHOUT ROWID;
CREATE INDEX quarantine_recipients_addr ON quarantine_recipients (addr_key);
CREATE INDEX quarantine_recipients_domain ON quarantine_recipients (domain);
`,
	// 3: one use per release token and recipient; the findings of each event.
	`
CREATE TABLE release_claims (
	nonce     TEXT NOT NULL,
	address   TEXT NOT NULL,                 -- lower-cased recipient
	time_ns   INTEGER NOT NULL,
	PRIMARY KEY (nonce, address)
) WITHOUT ROWID;
CREATE INDEX release_claims_time ON release_claims (time_ns);
ALTER TABLE events ADD COLUMN findings TEXT;  -- JSON array of Finding, NULL if none
`,
	// 4: the original hop of a quarantined message, for the trace of its release.
	`
ALTER TABLE quarantine ADD COLUMN helo TEXT NOT NULL DEFAULT '';
ALTER TABLE quarantine ADD COLUMN client_name TEXT NOT NULL DEFAULT '';
`,
	// 5: a unique key per tracking row, so a row replayed from the daemon's
	// journal is stored once. NULL keys (rows written without one) never
	// conflict.
	`
ALTER TABLE events ADD COLUMN event_key TEXT;
CREATE UNIQUE INDEX events_key ON events (event_key);
`,
	// 6: the queue ID and client network filters of the log, in SQL. The
	// client address as 16 bytes (IPv4 mapped into IPv6, NULL when not an
	// address) makes a network one range of an index; rows written before
	// are filled by mailwarden_ip16, a Go function (see ipaddr.go). Queue
	// IDs are matched case-insensitively, as ASCII.
	`
ALTER TABLE events ADD COLUMN client_addr BLOB;
UPDATE events SET client_addr = mailwarden_ip16(client_ip) WHERE client_ip <> '';
CREATE INDEX events_client_addr ON events (client_addr, time_ns);
CREATE INDEX events_queue_id ON events (lower(queue_id), time_ns);
`,
	// 7: who has written to whom: one row per (recipient, envelope sender)
	// pair with mail delivered, kept by AddEvents, so that "has this
	// sender written to this recipient before" is one primary-key lookup
	// however long the log (see correspondents.go). Filled from the rows
	// already logged.
	`
CREATE TABLE correspondents (
	rcpt_key   TEXT NOT NULL,                -- lower-cased recipient
	sender_key TEXT NOT NULL,                -- lower-cased envelope sender
	first_ns   INTEGER NOT NULL,
	last_ns    INTEGER NOT NULL,
	messages   INTEGER NOT NULL,
	PRIMARY KEY (rcpt_key, sender_key)
) WITHOUT ROWID;
CREATE INDEX correspondents_last ON correspondents (last_ns);
INSERT INTO correspondents (rcpt_key, sender_key, first_ns, last_ns, messages)
	SELECT r.addr_key, e.sender_key, MIN(e.time_ns), MAX(e.time_ns), COUNT(*)
	FROM events e JOIN event_recipients r ON r.event_id = e.id
	WHERE e.stage = 'eom' AND e.action IN ('accept', 'split') AND r.action = 'accept' AND e.sender_key <> ''
	GROUP BY r.addr_key, e.sender_key;
`,
}

// migrate brings mailwarden.db's schema up to len(list).
func (s *Store) migrate(ctx context.Context, list []string) error {
	return migrateDB(ctx, s.w, "schema_version", list, s.log)
}

// migrateDB brings the schema of db up to len(list), applying each missing
// version in its own transaction together with its row in table.
func migrateDB(ctx context.Context, db *sql.DB, table string, list []string, log *slog.Logger) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (
		version    INTEGER PRIMARY KEY,
		applied_ns INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("store: create %s: %w", table, err)
	}
	cur, err := tableVersion(ctx, db, table)
	if err != nil {
		return err
	}
	if cur > len(list) {
		return fmt.Errorf("%w: %s is at version %d, this program knows %d", ErrSchemaTooNew, table, cur, len(list))
	}
	for v := cur + 1; v <= len(list); v++ {
		if err := applyMigration(ctx, db, table, v, list[v-1], log); err != nil {
			return err
		}
	}
	return nil
}

// applyMigration applies migration v unless another process got there first;
// the version is checked again inside the IMMEDIATE transaction, which holds
// the write lock, so two processes opening a fresh database cannot both
// apply it.
func applyMigration(ctx context.Context, db *sql.DB, table string, v int, script string, log *slog.Logger) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %s %d: %w", table, v, err)
	}
	defer tx.Rollback()
	cur, err := tableVersion(ctx, tx, table)
	if err != nil {
		return err
	}
	if cur >= v {
		return nil
	}
	if _, err := tx.ExecContext(ctx, script); err != nil {
		return fmt.Errorf("store: %s %d: %w", table, v, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (version, applied_ns) VALUES (?, ?)`,
		v, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("store: %s %d: record version: %w", table, v, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: %s %d: commit: %w", table, v, err)
	}
	log.Info("store: applied migration", "table", table, "version", v)
	return nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tableVersion returns the highest version recorded in table.
func tableVersion(ctx context.Context, db queryRower, table string) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+table).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: read %s: %w", table, err)
	}
	return v, nil
}
