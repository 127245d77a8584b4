package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
)

// Checkpoint is the outcome of one WAL checkpoint, as SQLite reports it.
type Checkpoint struct {
	// Truncate is set for a TRUNCATE checkpoint, clear for a PASSIVE one.
	Truncate bool
	// Busy reports that a TRUNCATE could not get its locks (a reader, of
	// this process or another, was still using the WAL), so the WAL file
	// was not emptied.
	Busy bool
	// Frames is the number of frames in the WAL; Done how many of them are
	// now in the database file.
	Frames, Done int
}

// Complete reports whether the whole WAL reached the database file. A busy
// TRUNCATE can still be complete: it then only could not empty the file.
func (c Checkpoint) Complete() bool { return c.Done >= c.Frames }

// Checkpoint copies the write-ahead log into the database file. PASSIVE
// (truncate false) copies what no reader still needs and never waits;
// TRUNCATE also empties the WAL file, and needs every reader to be on the
// newest snapshot. It runs as a bulk write, so a quarantine commit goes
// first, and a busy TRUNCATE returns at once (Busy set) rather than holding
// the writer for busy_timeout.
//
// SQLite also checkpoints on its own (PASSIVE, every 1000 pages), but an
// incomplete automatic checkpoint is silent: a reader that keeps a snapshot
// open lets the WAL grow without bound. The daemon calls Checkpoint
// periodically to make that visible.
func (s *Store) Checkpoint(ctx context.Context, truncate bool) (Checkpoint, error) {
	c := Checkpoint{Truncate: truncate}
	if err := s.gate.lock(ctx, bulk); err != nil {
		return c, fmt.Errorf("store: checkpoint: wait for the writer: %w", err)
	}
	defer s.gate.unlock()
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return c, fmt.Errorf("store: checkpoint: %w", err)
	}
	defer conn.Close()
	mode := "PASSIVE"
	if truncate {
		mode = "TRUNCATE"
		if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
			return c, fmt.Errorf("store: checkpoint: %w", err)
		}
		defer func() {
			// The writer must get its busy timeout back; a connection
			// without it would fail where it should wait.
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeoutMS)); err != nil {
				s.log.Error("store: restoring busy_timeout after a checkpoint failed; reopening the writer connection", "err", err)
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	var busy int
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &c.Frames, &c.Done); err != nil {
		return c, fmt.Errorf("store: checkpoint %s: %w", mode, err)
	}
	c.Busy = busy != 0
	return c, nil
}

// WALBytes is the size of the write-ahead log file, 0 when there is none.
func (s *Store) WALBytes() int64 {
	fi, err := os.Stat(filepath.Join(s.dir, DBFile+"-wal"))
	if err != nil {
		return 0
	}
	return fi.Size()
}
