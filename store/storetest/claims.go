package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

// RunReleaseClaims tests release claims.
func RunReleaseClaims(t *testing.T, open func(t *testing.T) store.ReleaseClaims) {
	t.Run("Once", func(t *testing.T) { testClaimOnce(t, open(t)) })
	t.Run("Concurrent", func(t *testing.T) { testClaimConcurrent(t, open(t)) })
}

func testClaimOnce(t *testing.T, c store.ReleaseClaims) {
	steps := []struct {
		nonce string
		rcpts []string
		want  string
	}{
		{"n1", []string{"a@example.com", "B@example.com"}, "a@example.com,B@example.com"},
		{"n1", []string{"a@example.com"}, ""},
		{"n1", []string{"A@EXAMPLE.COM", "c@example.com"}, "c@example.com"}, // case-insensitive; spelled as given
		{"n1", []string{"b@example.com"}, ""},
		{"n2", []string{"a@example.com"}, "a@example.com"}, // another token
		{"N1", []string{"a@example.com"}, "a@example.com"}, // nonces are exact
		{"n3", []string{"d@example.com", "D@example.com"}, "d@example.com"},
		{"n3", nil, ""},
		{"n4", nil, ""},
	}
	for i, s := range steps {
		got, err := c.ClaimRelease(ctx, s.nonce, s.rcpts, base)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if strings.Join(got, ",") != s.want {
			t.Errorf("step %d: ClaimRelease(%s, %v) = %v, want %q", i, s.nonce, s.rcpts, got, s.want)
		}
	}
}

// testClaimConcurrent: of concurrent claims of one token, each recipient
// goes to exactly one.
func testClaimConcurrent(t *testing.T, c store.ReleaseClaims) {
	rcpts := make([]string, 20)
	for i := range rcpts {
		rcpts[i] = fmt.Sprintf("r%d@example.com", i)
	}
	var (
		mu  sync.Mutex
		all []string
	)
	parallel(8, func(int) {
		got, err := c.ClaimRelease(ctx, "nonce", rcpts, time.Time{})
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		all = append(all, got...)
		mu.Unlock()
	})
	slices.Sort(all)
	want := slices.Sorted(slices.Values(rcpts))
	if !slices.Equal(all, want) {
		t.Errorf("claimed %v, want each recipient once: %v", all, want)
	}
}

// RunPruner tests Prune over the log, the quarantine and the claims.
func RunPruner(t *testing.T, open func(t *testing.T) store.Backend) {
	day := 24 * time.Hour
	now := base.Add(100 * day)
	ages := []time.Duration{40 * day, 35 * day, 20 * day, 10 * day, 9 * day, 1 * day, 0}
	tests := []struct {
		name                  string
		eventsBefore, qBefore time.Time
		wantEvents, wantQuar  int64
		leftEvents, leftQuar  int
	}{
		{"nothing old enough", now.Add(-100 * day), now.Add(-100 * day), 0, 0, 7, 7},
		{"zero times prune nothing", time.Time{}, time.Time{}, 0, 0, 7, 7},
		{"events only", now.Add(-15 * day), time.Time{}, 3, 0, 4, 7},
		{"quarantine only", time.Time{}, now.Add(-30 * day), 0, 2, 7, 5},
		{"both", now.Add(-5 * day), now.Add(-9 * day), 5, 4, 2, 3},
		{"boundary is exclusive", now.Add(-9 * day), now.Add(-9 * day), 4, 4, 3, 3},
		{"everything", now.Add(time.Microsecond), now.Add(time.Microsecond), 7, 7, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := open(t)
			for i, age := range ages {
				at := now.Add(-age)
				addEvents(t, b, &store.Event{Time: at, QueueID: fmt.Sprint(i),
					Recipients: []store.RecipientOutcome{{Address: "a@example.com"}}})
				addQuarantine(t, b, &store.QuarantineEntry{Time: at, Raw: []byte("x"), Recipients: []string{"a@example.com"}})
				if _, err := b.ClaimRelease(ctx, fmt.Sprint("nonce", i), []string{"a@example.com"}, at); err != nil {
					t.Fatal(err)
				}
			}
			ev, q, err := b.Prune(ctx, tt.eventsBefore, tt.qBefore)
			if err != nil {
				t.Fatal(err)
			}
			if ev != tt.wantEvents || q != tt.wantQuar {
				t.Errorf("Prune = %d events, %d quarantined; want %d, %d", ev, q, tt.wantEvents, tt.wantQuar)
			}
			evs := events(t, b, store.EventQuery{})
			qs, err := b.ListQuarantine(ctx, store.QuarantineQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tt.leftEvents || len(qs) != tt.leftQuar {
				t.Errorf("left %d events, %d quarantined; want %d, %d", len(evs), len(qs), tt.leftEvents, tt.leftQuar)
			}
			for _, e := range evs {
				if !tt.eventsBefore.IsZero() && e.Time.Before(tt.eventsBefore) {
					t.Errorf("event at %v survived a prune before %v", e.Time, tt.eventsBefore)
				}
			}
			// Claims go with the events: a pruned claim can be made again.
			for i, age := range ages {
				got, err := b.ClaimRelease(ctx, fmt.Sprint("nonce", i), []string{"a@example.com"}, now)
				if err != nil {
					t.Fatal(err)
				}
				pruned := !tt.eventsBefore.IsZero() && now.Add(-age).Before(tt.eventsBefore)
				if (len(got) == 1) != pruned {
					t.Errorf("claim %d (age %v): claimable again %t, want %t", i, age, len(got) == 1, pruned)
				}
			}
		})
	}
}
