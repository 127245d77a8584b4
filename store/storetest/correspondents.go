package storetest

import (
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

// RunCorrespondents tests [store.Correspondents]: which logged rows count
// as a delivered message from a sender to a recipient, and that pruning
// the log forgets the pairs whose messages it removed.
func RunCorrespondents(t *testing.T, open func(t *testing.T) store.Backend) {
	at := base.Add(time.Hour)
	accept := func(rcpts ...string) []store.RecipientOutcome {
		var out []store.RecipientOutcome
		for _, r := range rcpts {
			out = append(out, store.RecipientOutcome{Address: r, Action: "accept"})
		}
		return out
	}
	tests := []struct {
		name         string
		event        store.Event
		sender, rcpt string
		corresponded bool
	}{
		{"delivered", store.Event{Stage: "eom", Action: "accept", Sender: "a@ext.example", Recipients: accept("b@example.com")},
			"a@ext.example", "b@example.com", true},
		{"case-insensitive", store.Event{Stage: "eom", Action: "accept", Sender: "A@Ext.Example", Recipients: accept("B@example.COM")},
			"a@EXT.example", "b@Example.com", true},
		{"angle brackets", store.Event{Stage: "eom", Action: "accept", Sender: "<a@ext.example>", Recipients: accept("b@example.com")},
			"a@ext.example", "<b@example.com>", true},
		{"per recipient", store.Event{Stage: "eom", Action: "accept", Sender: "a@ext.example", Recipients: accept("b@example.com")},
			"a@ext.example", "c@example.com", false},
		{"per sender", store.Event{Stage: "eom", Action: "accept", Sender: "a@ext.example", Recipients: accept("b@example.com")},
			"z@ext.example", "b@example.com", false},
		{"split delivered copy", store.Event{Stage: "eom", Action: "split", Sender: "a@ext.example", Recipients: []store.RecipientOutcome{
			{Address: "b@example.com", Action: "accept"}, {Address: "c@example.com", Action: "quarantine"}}},
			"a@ext.example", "b@example.com", true},
		{"split quarantined copy", store.Event{Stage: "eom", Action: "split", Sender: "a@ext.example", Recipients: []store.RecipientOutcome{
			{Address: "b@example.com", Action: "accept"}, {Address: "c@example.com", Action: "quarantine"}}},
			"a@ext.example", "c@example.com", false},
		{"rejected at eom", store.Event{Stage: "eom", Action: "reject", Sender: "a@ext.example", Recipients: []store.RecipientOutcome{
			{Address: "b@example.com", Action: "reject"}}}, "a@ext.example", "b@example.com", false},
		{"tempfail after accept verdicts", store.Event{Stage: "eom", Action: "tempfail", Sender: "a@ext.example", Recipients: accept("b@example.com")},
			"a@ext.example", "b@example.com", false},
		{"rejected at rcpt", store.Event{Stage: "rcpt", Action: "reject", Sender: "a@ext.example", Recipients: []store.RecipientOutcome{
			{Address: "b@example.com", Action: "reject"}}}, "a@ext.example", "b@example.com", false},
		{"ended before eom", store.Event{Stage: "rcpt", Action: "accept", Sender: "a@ext.example", Recipients: accept("b@example.com")},
			"a@ext.example", "b@example.com", false},
		{"null sender", store.Event{Stage: "eom", Action: "accept", Sender: "", Recipients: accept("b@example.com")},
			"", "b@example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := open(t)
			e := tt.event
			e.Time = at
			addEvents(t, b, &e)
			got, err := b.Corresponded(ctx, tt.sender, tt.rcpt)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.corresponded {
				t.Errorf("Corresponded(%q, %q) = %v, want %v", tt.sender, tt.rcpt, got, tt.corresponded)
			}
		})
	}
	t.Run("replayed row", func(t *testing.T) {
		b := open(t)
		for range 2 {
			addEvents(t, b, &store.Event{Key: "k1", Time: at, Stage: "eom", Action: "accept", Sender: "a@ext.example", Recipients: accept("b@example.com")})
		}
		if ok, err := b.Corresponded(ctx, "a@ext.example", "b@example.com"); err != nil || !ok {
			t.Errorf("Corresponded = %v, %v; want true", ok, err)
		}
	})
	t.Run("pruned with the log", func(t *testing.T) {
		b := open(t)
		old, recent := base, base.Add(48*time.Hour)
		addEvents(t, b,
			&store.Event{Time: old, Stage: "eom", Action: "accept", Sender: "old@ext.example", Recipients: accept("b@example.com")},
			&store.Event{Time: old, Stage: "eom", Action: "accept", Sender: "both@ext.example", Recipients: accept("b@example.com")},
			&store.Event{Time: recent, Stage: "eom", Action: "accept", Sender: "both@ext.example", Recipients: accept("b@example.com")})
		if _, _, err := b.Prune(ctx, base.Add(24*time.Hour), time.Time{}); err != nil {
			t.Fatal(err)
		}
		for sender, want := range map[string]bool{"old@ext.example": false, "both@ext.example": true} {
			if ok, err := b.Corresponded(ctx, sender, "b@example.com"); err != nil || ok != want {
				t.Errorf("after prune, Corresponded(%q) = %v, %v; want %v", sender, ok, err, want)
			}
		}
	})
}
