package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestMigration7FillsCorrespondents: the messages logged before migration
// 7 count as correspondence after it, delivered ones only.
func TestMigration7FillsCorrespondents(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := s.AddEvents(ctx, []*Event{
		{Time: at, Stage: "eom", Action: "accept", Sender: "A@ext.example",
			Recipients: []RecipientOutcome{{Address: "b@example.com", Action: "accept"}}},
		{Time: at.Add(time.Hour), Stage: "eom", Action: "accept", Sender: "a@ext.example",
			Recipients: []RecipientOutcome{{Address: "B@example.com", Action: "accept"}}},
		{Time: at, Stage: "eom", Action: "split", Sender: "q@ext.example", Recipients: []RecipientOutcome{
			{Address: "b@example.com", Action: "quarantine"}, {Address: "c@example.com", Action: "accept"}}},
		{Time: at, Stage: "rcpt", Action: "reject", Sender: "r@ext.example",
			Recipients: []RecipientOutcome{{Address: "b@example.com", Action: "reject"}}},
	}); err != nil {
		t.Fatal(err)
	}
	// Take the database back to version 6, as an older mailwarden left it.
	for _, stmt := range []string{`DROP TABLE correspondents`, `DELETE FROM schema_version WHERE version = 7`} {
		if _, err := s.w.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.migrate(ctx, migrations); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sender, rcpt string
		want         bool
	}{
		{"a@ext.example", "b@example.com", true},
		{"q@ext.example", "c@example.com", true},
		{"q@ext.example", "b@example.com", false},
		{"r@ext.example", "b@example.com", false},
	} {
		got, err := s.Corresponded(ctx, tc.sender, tc.rcpt)
		if err != nil || got != tc.want {
			t.Errorf("Corresponded(%s, %s) = %v, %v; want %v", tc.sender, tc.rcpt, got, err, tc.want)
		}
	}
	var first, last, n int64
	if err := s.w.QueryRow(`SELECT first_ns, last_ns, messages FROM correspondents WHERE sender_key = 'a@ext.example'`).Scan(&first, &last, &n); err != nil {
		t.Fatal(err)
	}
	if first != at.UnixNano() || last != at.Add(time.Hour).UnixNano() || n != 2 {
		t.Errorf("pair = first %d last %d messages %d; want %d %d 2", first, last, n, at.UnixNano(), at.Add(time.Hour).UnixNano())
	}
}

// TestCorrespondedUsesKey: the lookup is one search of the primary key,
// never a scan, which is what keeps it cheap on millions of pairs.
func TestCorrespondedUsesKey(t *testing.T) {
	s := openTest(t, "")
	rows, err := s.r.Query(`EXPLAIN QUERY PLAN SELECT COUNT(*) FROM correspondents WHERE rcpt_key = ? AND sender_key = ?`, "b", "a")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	got := strings.Join(plan, "; ")
	if !strings.Contains(got, "SEARCH correspondents USING PRIMARY KEY (rcpt_key=? AND sender_key=?)") {
		t.Errorf("query plan = %q, want a primary-key search", got)
	}
}

// BenchmarkCorresponded is the cost of one first-time-sender lookup in a
// table of a thousand and of a million pairs (1000 senders for each
// recipient), for pairs that are there and pairs that are not. It is one
// primary-key search: the cost grows with the B-tree's depth (and the
// pages the cache misses), not with the number of rows.
func BenchmarkCorresponded(b *testing.B) {
	for _, pairs := range []int{1000, 1_000_000} {
		b.Run(fmt.Sprintf("pairs=%d", pairs), func(b *testing.B) { benchCorresponded(b, pairs) })
	}
}

func benchCorresponded(b *testing.B, pairs int) {
	ctx := context.Background()
	s := openTest(b, "")
	start := time.Now()
	// Rows in key order, so that filling the table is appending to it.
	if _, err := s.w.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO correspondents (rcpt_key, sender_key, first_ns, last_ns, messages)
		SELECT printf('user%06d@example.com', i / 1000), printf('sender%06d@ext.example', i % 1000), i, i, 1 FROM n`,
		pairs-1); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d pairs in %v", pairs, time.Since(start).Round(time.Millisecond))
	for _, hit := range []bool{true, false} {
		b.Run(fmt.Sprintf("hit=%v", hit), func(b *testing.B) {
			i := 0
			for b.Loop() {
				n := (i * 7919) % pairs
				i++
				sender := fmt.Sprintf("sender%06d@ext.example", n%1000)
				if !hit {
					sender = "new" + sender
				}
				ok, err := s.Corresponded(ctx, sender, fmt.Sprintf("user%06d@example.com", n/1000))
				if err != nil {
					b.Fatal(err)
				}
				if ok != hit {
					b.Fatalf("Corresponded(%s) = %v, want %v", sender, ok, hit)
				}
			}
		})
	}
}
