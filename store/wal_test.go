package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// TestCheckpointReportsStuckReader: a reader holding an old snapshot keeps
// the WAL from being checkpointed; Checkpoint says so instead of failing
// silently, a TRUNCATE does not wait busy_timeout for it, and once the
// reader is gone a TRUNCATE empties the WAL file.
func TestCheckpointReportsStuckReader(t *testing.T) {
	s := openTest(t, "")
	ctx := context.Background()
	add := func(n int) {
		t.Helper()
		for i := range n {
			if _, err := s.AddEvent(ctx, &Event{Action: "accept", Subject: fmt.Sprint("row ", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(20)
	reader, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	var n int
	if err := reader.QueryRow("SELECT COUNT(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	add(20) // frames the reader's snapshot does not see

	for _, truncate := range []bool{false, true} {
		c, err := s.Checkpoint(ctx, truncate)
		if err != nil {
			t.Fatalf("Checkpoint(truncate=%v): %v", truncate, err)
		}
		if c.Complete() {
			t.Errorf("Checkpoint(truncate=%v) = %+v, complete with a reader on an old snapshot", truncate, c)
		}
	}
	if s.WALBytes() == 0 {
		t.Error("WALBytes = 0 with uncheckpointed frames")
	}
	// The writer's busy_timeout is back after the TRUNCATE.
	var bt int
	if err := s.w.QueryRow("PRAGMA busy_timeout").Scan(&bt); err != nil || bt != busyTimeoutMS {
		t.Errorf("writer busy_timeout after a TRUNCATE = %d, %v; want %d", bt, err, busyTimeoutMS)
	}

	reader.Rollback()
	c, err := s.Checkpoint(ctx, true)
	if err != nil || !c.Complete() {
		t.Errorf("Checkpoint(truncate) with no reader = %+v, %v; want complete", c, err)
	}
	if n := s.WALBytes(); n != 0 {
		t.Errorf("WALBytes = %d after a complete TRUNCATE, want 0", n)
	}
}
