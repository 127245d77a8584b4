package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpenReadOnlyNoStore(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	for _, dir := range []string{filepath.Join(parent, "missing"), parent} {
		s, err := OpenReadOnly(ctx, dir, nil)
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, ErrNoStore) {
			t.Errorf("%s: err = %v, want ErrNoStore", dir, err)
		}
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("OpenReadOnly created %v", ents)
	}
	// An empty file (say, left by a store.Open that crashed) is no store
	// either, and stays empty.
	if err := os.WriteFile(filepath.Join(parent, DBFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReadOnly(ctx, parent, nil); !errors.Is(err, ErrNoStore) {
		t.Errorf("empty file: err = %v, want ErrNoStore", err)
	}
	if fi, err := os.Stat(filepath.Join(parent, DBFile)); err != nil || fi.Size() != 0 {
		t.Errorf("empty file after OpenReadOnly: %v %v", fi.Size(), err)
	}
}

func TestOpenReadOnlyReadsAndRefusesWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := openTest(t, dir)
	if _, err := w.AddEvent(ctx, &Event{QueueID: "Q1", Action: "accept"}); err != nil {
		t.Fatal(err)
	}
	qid, err := w.AddQuarantine(ctx, &QuarantineEntry{Area: "spam", Helo: "mx.example.net", Raw: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	before := versions(t, w)

	r, err := OpenReadOnly(ctx, dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A read-only store sees what the writer commits, as it commits it.
	if _, err := w.AddEvent(ctx, &Event{QueueID: "Q2", Action: "reject"}); err != nil {
		t.Fatal(err)
	}
	evs, err := r.Events(ctx, EventQuery{})
	if err != nil || len(evs) != 2 || evs[0].QueueID != "Q2" {
		t.Fatalf("events %+v, %v", evs, err)
	}
	if e, err := r.GetQuarantine(ctx, qid); err != nil || e.Helo != "mx.example.net" {
		t.Fatalf("quarantine %+v, %v", e, err)
	}
	if _, err := r.AddEvent(ctx, &Event{}); err == nil {
		t.Error("a read-only store wrote an event")
	}
	if err := r.DeleteQuarantine(ctx, qid); err == nil {
		t.Error("a read-only store deleted an entry")
	}
	if _, err := w.GetQuarantine(ctx, qid); err != nil {
		t.Errorf("entry gone after a refused delete: %v", err)
	}
	if got := versions(t, w); len(got) != len(before) {
		t.Errorf("schema changed: %v -> %v", before, got)
	}
}

func TestOpenReadOnlySchema(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		version int
		want    error
	}{
		{"older", len(migrations) - 1, ErrSchemaTooOld},
		{"newer", len(migrations) + 1, ErrSchemaTooNew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(ctx, dir, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.w.Exec(`DELETE FROM schema_version WHERE version > ?`, tc.version); err != nil {
				t.Fatal(err)
			}
			if _, err := s.w.Exec(`INSERT OR IGNORE INTO schema_version (version, applied_ns) VALUES (?, 0)`, tc.version); err != nil {
				t.Fatal(err)
			}
			s.Close()
			r, err := OpenReadOnly(ctx, dir, nil)
			if err == nil {
				r.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestOpenReadOnlyUnwritable opens a database that the process may read
// but not write, in a directory it may not write either: as root the test
// runs itself again as nobody, since root may write anything.
func TestOpenReadOnlyUnwritable(t *testing.T) {
	if dir := os.Getenv("MAILWARDEN_TEST_RO_DIR"); dir != "" {
		readUnwritable(t, dir)
		return
	}
	ctx := context.Background()
	// Not t.TempDir: nobody must reach the directory and the test binary.
	top, err := os.MkdirTemp("", "mailwarden-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(top, "data"), 0o755); os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(top, "data")
	s, err := Open(ctx, dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddEvent(ctx, &Event{QueueID: "RO1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, DBFile), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		readUnwritable(t, dir)
		return
	}
	bin := filepath.Join(top, "store.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestOpenReadOnlyUnwritable$", "-test.v")
	cmd.Dir = top
	cmd.Env = append(os.Environ(), "MAILWARDEN_TEST_RO_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestOpenReadOnlyUnwritable") {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

func readUnwritable(t *testing.T, dir string) {
	ctx := context.Background()
	if f, err := os.OpenFile(filepath.Join(dir, DBFile), os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Fatal("the database is writable; the test proves nothing")
	}
	s, err := OpenReadOnly(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, err := s.Events(ctx, EventQuery{})
	if err != nil || len(evs) != 1 || evs[0].QueueID != "RO1" {
		t.Fatalf("events %+v, %v", evs, err)
	}
}
