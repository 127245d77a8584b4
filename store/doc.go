// Package store is mailwarden's persistence: versioned schema migrations, the
// message-tracking log ([Event]), the quarantine ([QuarantineEntry]), release
// claims, and the state that checks keep between messages. It imports
// nothing else of mailwarden.
//
// # Interfaces
//
// Callers take the interface they use: [EventLog] (the milter's tracking
// rows, the `log` command), [Quarantine], [ReleaseClaims], [Pruner], and
// [State] for checks, itself [Counters], [Entries] and [Lists]. [Backend] is
// all of them. [*Store] is the embedded SQLite implementation of every one;
// a PostgreSQL backend, for several MTA hosts sharing one policy, must pass
// the same conformance suite, store/storetest, which store's own tests run
// against SQLite. Maintenance that only SQLite has ([Store.Checkpoint],
// [Store.WALBytes]) stays off the interfaces.
//
// The SQL is what PostgreSQL also runs where that costs nothing: upserts
// are ON CONFLICT, inserts that need their row back use RETURNING, batched
// deletes use row values, null-safe comparisons IS DISTINCT FROM. What is SQLite's own: INTEGER PRIMARY KEY and
// WITHOUT ROWID in the schema, json_each for ID lists, instr() for
// substrings, PRAGMAs, and the Go function mailwarden_ip16 that migration 6
// uses to fill the client address column.
//
// # Design
//
// The embedded backend is two SQLite databases (modernc.org/sqlite, pure
// Go) in the data directory: mailwarden.db holds the log, the quarantine and
// the claims; state.db holds the state. Each is opened through database/sql
// twice:
//
//   - One writer: a *sql.DB with a single connection. Every write in the
//     process queues in Go for that connection instead of racing for SQLite's
//     write lock, so writers in one process never see SQLITE_BUSY. Its
//     transactions begin IMMEDIATE (_txlock=immediate), so a second process
//     (the `mailwarden quarantine` command next to a running daemon) waits
//     on busy_timeout (5 s) for the lock up front rather than failing when a
//     deferred transaction tries to upgrade.
//   - A small reader pool with query_only set. In WAL mode readers never
//     block the writer and the writer never blocks readers, so a console
//     listing the log cannot delay a milter reply.
//
// # Never lose mail
//
// mailwarden answers a discard or a quarantine only after the quarantine copy
// is committed (architecture rule 5). Every connection to mailwarden.db
// therefore runs with synchronous=FULL: in WAL mode SQLite fsyncs the write-ahead log before
// COMMIT returns, so once [Store.AddQuarantine] returns nil the message
// survives a power cut. [Open] reads the pragmas back and refuses a
// connection on which they did not take effect (for example a file system
// without shared memory for WAL) rather than silently running less durable.
// Both database files are created with mode 0600, since they hold other
// people's mail and addresses; SQLite gives the -wal and -shm files the
// same mode.
//
// The price of synchronous=FULL is one fsync per committed write, events
// included. That bounds the write rate to what the disk can sync, which is
// far above what one MTA's milter produces; batching events is the lever to
// pull if it ever is not.
//
// # Quarantine first
//
// All writes of one process share the writer connection, and database/sql
// hands a freed connection to a random waiter. A quarantine commit, which
// holds an SMTP reply, must not wait behind a queue of tracking-log batches:
// writers pass a gate in which an urgent writer ([Store.AddQuarantine],
// [Store.ClaimRelease]) goes before every waiting bulk writer
// ([Store.AddEvents], prune batches, [Store.Checkpoint], the operator's
// deletes and releases). A bulk transaction already running is not
// interrupted; bulk writers keep their transactions small instead, so an
// urgent one waits for at most one of them.
//
// # State apart
//
// Checks write state on the hot path: a counter per connection, a
// greylisting triplet per recipient. Those writes must not queue behind the
// fsync of a 1 MB quarantine commit, so the state has a database of its own,
// state.db, with its own writer, its own gate (counter and entry writes are
// urgent there, prunes and list edits bulk) and its own SQLite write lock.
// A quarantine commit in progress, in this process or another, never delays
// a state write, and BenchmarkIncrDuringQuarantine measures it. state.db
// is opened (created, migrated) at the first state call or by
// [Store.OpenState], which the daemon calls at start; a command that only
// touches the log or the quarantine, perhaps run as root, never creates it.
//
// state.db runs with synchronous=NORMAL: in WAL mode a commit is then not
// fsynced, only written to the WAL, and the WAL is synced at checkpoints.
// A crash of the process loses nothing; a power cut or kernel crash can
// lose the counter increments and entries of the last moments before it
// (the database stays consistent). That is state that rebuilds itself: a
// client counted a little low for one window, a greylisted triplet asked to
// retry once more. List edits are the exception, since an operator made
// them: they commit with synchronous=FULL on the same connection.
//
// Counters keep a window in 16 buckets plus the current one (see
// [Counters]), so a counter has at most 17 rows, and each increment deletes
// the buckets its window has left. [Store.PruneState] removes expired
// entries, expired list items and the buckets of idle counters.
//
// # Checkpoints
//
// SQLite checkpoints the WAL into the database file on its own, but an
// automatic checkpoint that cannot finish (a reader keeps an old snapshot
// open) is silent, and the WAL grows. [Store.Checkpoint] runs one and says
// how far it got, and [Store.WALBytes] gives the WAL's size; the daemon
// runs them periodically, logs an incomplete checkpoint and exports both as
// metrics.
//
// # Schema
//
// Migrations are an ordered slice of SQL scripts; version N is migrations[N-1].
// Each is applied in its own transaction together with its row in
// schema_version, so a crash leaves the schema at a whole version. A database
// newer than the program is refused with [ErrSchemaTooNew] instead of being
// written by code that does not know its tables.
//
// A tracking row may carry a unique key ([Event.Key]); a row whose key is
// stored already is not stored again, which makes replaying the daemon's
// tracking-log journal idempotent.
//
// The client address of a tracking row is also kept as 16 bytes (IPv4 as
// IPv4-mapped IPv6), so that a network filter ([EventQuery].ClientNet) is
// one range of an index; queue IDs have an index on their lower-cased form.
//
// Times are stored as INTEGER unix nanoseconds (UTC by definition), which
// index and compare as numbers; they are read back as UTC [time.Time].
// Addresses are kept as given, plus a lower-cased copy and its lower-cased
// domain for the case-insensitive and "*@domain" filters. Subjects get a
// lower-cased copy too, because SQLite's LIKE and lower() fold ASCII only and
// subjects are often not ASCII. The subject copy is deliberately not indexed:
// a B-tree cannot serve a substring search, so the filter is a scan along the
// time index that stops at the limit.
//
// Raw quarantined messages live in their own table (quarantine_raw) so that
// listing and filtering the quarantine reads small rows and never touches the
// message pages. [Store.GetQuarantine] checks the stored SHA-256 digest
// against the bytes it returns and reports [ErrCorrupt] on a mismatch, so a
// damaged copy is never released as if it were the original.
//
// Large deletions in [Store.Prune] run in small batches, each its own
// transaction, so a milter waiting to commit a quarantine copy waits for one
// batch, not for the whole prune.
package store
