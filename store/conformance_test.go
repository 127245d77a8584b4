package store_test

import (
	"context"
	"testing"

	"github.com/mailwarden/mailwarden/store"
	"github.com/mailwarden/mailwarden/store/storetest"
)

// TestConformance runs the backend conformance suite against the SQLite
// store.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend {
		s, err := store.Open(context.Background(), t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}
