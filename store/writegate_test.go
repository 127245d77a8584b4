package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestGateOrder checks the gate's hand-over order: urgent waiters before
// bulk ones, first come first served within a priority, and a waiter whose
// context ends leaves the queue without taking the gate.
func TestGateOrder(t *testing.T) {
	var g writeGate
	ctx := context.Background()
	if err := g.lock(ctx, bulk); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 8)
	start := func(name string, p priority) {
		before := g.waiting(p)
		go func() {
			if err := g.lock(ctx, p); err != nil {
				order <- name + ": " + err.Error()
				return
			}
			order <- name
			g.unlock()
		}()
		for g.waiting(p) == before {
			time.Sleep(time.Millisecond)
		}
	}
	start("bulk1", bulk)
	start("bulk2", bulk)
	start("urgent1", urgent)
	// A bulk waiter that gives up.
	gone, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- g.lock(gone, bulk) }()
	for g.waiting(bulk) != 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v, want context.Canceled", err)
	}
	start("urgent2", urgent)
	g.unlock()
	var got []string
	for range 4 {
		got = append(got, <-order)
	}
	if want := "[urgent1 urgent2 bulk1 bulk2]"; fmt.Sprint(got) != want {
		t.Errorf("hand-over order %v, want %s", got, want)
	}
	// Everyone is done: the gate is free again.
	if err := g.lock(ctx, bulk); err != nil {
		t.Fatal(err)
	}
	g.unlock()
}

// TestQuarantineNotBehindEventBatches is the hardening issue's "a
// quarantine is not stuck behind a log batch": with a tracking-log
// transaction running and many more batches queued for the one writer, a
// quarantine commit is the next write, not one at a random place in the
// queue (database/sql hands a freed connection to a random waiter).
func TestQuarantineNotBehindEventBatches(t *testing.T) {
	s := openTest(t, "")
	ctx := context.Background()
	// The batch being written: a bulk transaction holding the writer.
	tx, done, err := s.beginWrite(ctx, bulk)
	if err != nil {
		t.Fatal(err)
	}
	const queued = 20
	finished := make(chan string, queued+1)
	for i := range queued {
		go func() {
			batch := make([]*Event, 64)
			for j := range batch {
				batch[j] = &Event{QueueID: fmt.Sprintf("%d-%d", i, j), Action: "accept",
					Recipients: []RecipientOutcome{{Address: "bob@example.com", Action: "accept"}}}
			}
			if err := s.AddEvents(ctx, batch); err != nil {
				t.Error(err)
			}
			finished <- "events"
		}()
	}
	for s.gate.waiting(bulk) < queued {
		time.Sleep(time.Millisecond)
	}
	go func() {
		if _, err := s.AddQuarantine(ctx, &QuarantineEntry{Area: "spam", Recipients: []string{"bob@example.com"}, Raw: rawMessage}); err != nil {
			t.Error(err)
		}
		finished <- "quarantine"
	}()
	for s.gate.waiting(urgent) < 1 {
		time.Sleep(time.Millisecond)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	done()
	var order []string
	for range queued + 1 {
		order = append(order, <-finished)
	}
	if order[0] != "quarantine" {
		for i, o := range order {
			if o == "quarantine" {
				t.Errorf("the quarantine commit finished after %d queued tracking-log batches, want first", i)
			}
		}
	}
	if n := count(t, s, "events"); n != queued*64 {
		t.Errorf("%d events stored, want %d", n, queued*64)
	}
}

// TestWritesPassTheGate checks that every write of mailwarden.db takes
// the write gate: with the gate held, none of them reaches the writer
// connection, and a release claim (which holds an SMTP reply, like a
// quarantine commit) goes before queued tracking-log batches.
func TestWritesPassTheGate(t *testing.T) {
	s := openTest(t, "")
	ctx := context.Background()
	id, err := s.AddQuarantine(ctx, &QuarantineEntry{Area: "spam", Recipients: []string{"bob@example.com"}, Raw: rawMessage})
	if err != nil {
		t.Fatal(err)
	}
	writes := []struct {
		name string
		p    priority
		run  func() error
	}{
		{"ClaimRelease", urgent, func() error {
			_, err := s.ClaimRelease(ctx, "nonce", []string{"bob@example.com"}, time.Time{})
			return err
		}},
		{"MarkReleased", bulk, func() error { return s.MarkReleased(ctx, id, nil, time.Time{}) }},
		{"DeleteQuarantine", bulk, func() error { return s.DeleteQuarantine(ctx, id) }},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			if err := s.gate.lock(ctx, bulk); err != nil {
				t.Fatal(err)
			}
			before := s.gate.waiting(w.p)
			errc := make(chan error, 1)
			go func() { errc <- w.run() }()
			// Either it queues at the gate, or it bypasses it and finishes.
			for s.gate.waiting(w.p) == before && len(errc) == 0 {
				time.Sleep(time.Millisecond)
			}
			if len(errc) > 0 {
				t.Errorf("%s wrote while another writer held the gate", w.name)
			}
			s.gate.unlock()
			if err := <-errc; err != nil {
				t.Error(err)
			}
		})
	}
}
