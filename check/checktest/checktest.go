// Package checktest holds what the tests of check packages share: the real
// SQLite state store on a temporary directory, a fake clock, and loading a
// config that must be valid. It is imported by tests only.
package checktest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/store"
)

// T0 is the tests' clock start, off any counter bucket boundary.
var T0 = time.Date(2025, 3, 1, 12, 0, 3, 0, time.UTC)

// OpenState opens the real store, with its state database, in dir; it is
// closed when the test ends.
func OpenState(t testing.TB, dir string) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.OpenState(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Clock is a fake clock a test moves by hand; safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time, for check.Env.Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Config decodes src and fails the test on any problem.
func Config(t testing.TB, src string) *config.Config {
	t.Helper()
	cfg, rep, err := config.Decode("t.toml", []byte(src))
	if err == nil {
		err = rep.Err()
	}
	if err != nil {
		t.Fatalf("config:\n%v", err)
	}
	return cfg
}
