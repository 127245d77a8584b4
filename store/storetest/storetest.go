// Package storetest is the conformance suite of the store's interfaces
// ([store.EventLog], [store.Quarantine], [store.ReleaseClaims],
// [store.Pruner], [store.State] and [store.Bayes]). Every backend must pass it: the
// embedded SQLite store runs it from store's tests, and a PostgreSQL
// backend will run it against a fresh schema per test.
//
// The suite asserts behaviour through the interfaces only, never tables or
// SQL. What it requires beyond the interfaces' doc comments:
//
//   - times come back as the same instant in UTC, to the microsecond at
//     least (the suite uses microsecond times);
//   - a backend given to the suite is empty, and each test gets its own
//     (open is called once per test and cleans up through t.Cleanup);
//   - writes are atomic under concurrency: the suite runs several
//     goroutines against one backend.
//
// No test is timed; the suite's times are explicit at arguments, except
// where it checks that a zero time means now.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

// Run runs the whole suite against backends made by open.
func Run(t *testing.T, open func(t *testing.T) store.Backend) {
	t.Run("EventLog", func(t *testing.T) {
		RunEventLog(t, func(t *testing.T) store.EventLog { return open(t) })
	})
	t.Run("Quarantine", func(t *testing.T) {
		RunQuarantine(t, func(t *testing.T) store.Quarantine { return open(t) })
	})
	t.Run("ReleaseClaims", func(t *testing.T) {
		RunReleaseClaims(t, func(t *testing.T) store.ReleaseClaims { return open(t) })
	})
	t.Run("Pruner", func(t *testing.T) { RunPruner(t, open) })
	t.Run("Correspondents", func(t *testing.T) { RunCorrespondents(t, open) })
	t.Run("State", func(t *testing.T) {
		RunState(t, func(t *testing.T) store.State { return open(t) })
	})
	t.Run("Bayes", func(t *testing.T) {
		RunBayes(t, func(t *testing.T) store.Bayes { return open(t) })
	})
}

// RunState runs the counters, entries and lists tests and those of
// PruneState.
func RunState(t *testing.T, open func(t *testing.T) store.State) {
	t.Run("Counters", func(t *testing.T) {
		RunCounters(t, func(t *testing.T) store.Counters { return open(t) })
	})
	t.Run("Entries", func(t *testing.T) {
		RunEntries(t, func(t *testing.T) store.Entries { return open(t) })
	})
	t.Run("Lists", func(t *testing.T) {
		RunLists(t, func(t *testing.T) store.Lists { return open(t) })
	})
	t.Run("PruneState", func(t *testing.T) { testPruneState(t, open(t)) })
}

// base is the suite's reference time: microseconds, so that any backend
// keeps it exactly.
var base = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)

// sameTime reports whether got is want's instant, in UTC.
func sameTime(got, want time.Time) bool {
	return got.Equal(want) && got.Location() == time.UTC
}

// aboutNow reports whether t lies in [before, now], give or take the
// microsecond a backend may round to.
func aboutNow(t, before time.Time) bool {
	return !t.Before(before.Add(-time.Microsecond)) && !t.After(time.Now().Add(time.Microsecond))
}

var ctx = context.Background()

// parallel runs n copies of f at once and waits for them.
func parallel(n int, f func(i int)) {
	done := make(chan struct{}, n)
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			f(i)
		}()
	}
	for range n {
		<-done
	}
}
