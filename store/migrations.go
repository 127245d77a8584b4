package store

import (
	"context"
	"database/sql"
	"fmt"
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
}

// migrate brings the schema up to len(list), applying each missing version in
// its own transaction together with its schema_version row.
func (s *Store) migrate(ctx context.Context, list []string) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY,
		applied_ns INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("store: create schema_version: %w", err)
	}
	cur, err := schemaVersion(ctx, s.w)
	if err != nil {
		return err
	}
	if cur > len(list) {
		return fmt.Errorf("%w: database is at version %d, this program knows %d", ErrSchemaTooNew, cur, len(list))
	}
	for v := cur + 1; v <= len(list); v++ {
		if err := s.applyMigration(ctx, v, list[v-1]); err != nil {
			return err
		}
	}
	return nil
}

// applyMigration applies migration v unless another process got there first;
// the version is checked again inside the IMMEDIATE transaction, which holds
// the write lock, so two processes opening a fresh database cannot both
// apply it.
func (s *Store) applyMigration(ctx context.Context, v int, script string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migration %d: %w", v, err)
	}
	defer tx.Rollback()
	cur, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if cur >= v {
		return nil
	}
	if _, err := tx.ExecContext(ctx, script); err != nil {
		return fmt.Errorf("store: migration %d: %w", v, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_ns) VALUES (?, ?)`,
		v, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("store: migration %d: record version: %w", v, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migration %d: commit: %w", v, err)
	}
	s.log.Info("store: applied migration", "version", v)
	return nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// schemaVersion returns the highest applied migration, 0 for a new database.
func schemaVersion(ctx context.Context, db queryRower) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	return v, nil
}
