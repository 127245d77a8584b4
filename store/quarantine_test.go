package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"
)

// rawMessage has CR LF line ends, 8-bit bytes that are not UTF-8, an
// ISO-2022-JP escape sequence, a NUL and no final line end: all must come
// back byte for byte.
var rawMessage = []byte("Received: from mx.example.net\r\n" +
	"Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\r\n" +
	"Content-Transfer-Encoding: 8bit\r\n" +
	"\r\n" +
	"caf\xe9 \x80\x81\xfe\xff \x1b$B$3$s$K$A$O\x1b(B\r\n" +
	"bare LF\n" +
	"bare CR\r" +
	"nul \x00 end\r\n" +
	".\r\n" +
	"no final newline")

func TestQuarantineAddGet(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	tests := []struct {
		name string
		raw  []byte
	}{
		{"8bit crlf", rawMessage},
		{"empty", nil},
		{"large", bytes.Repeat([]byte("0123456789abcdef\r\n\xff"), 200000)}, // ~3.8 MB, overflow pages
	}
	hexID := regexp.MustCompile(`^[0-9a-f]{32}$`)
	ids := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := QuarantineEntry{
				Time:       time.Date(2025, 3, 1, 12, 0, 0, 5, time.UTC),
				Area:       "virus",
				Rule:       "av",
				Reason:     "ClamAV: Eicar-Signature",
				QueueID:    "4XyZ",
				ClientIP:   "192.0.2.1",
				ClientName: "mx.example.com",
				Helo:       "mx.example.com",
				Sender:     "alice@example.com",
				Recipients: []string{"Bob@Example.net", "carol@example.org"},
				HeaderFrom: "アリス <alice@example.com>",
				Subject:    "こんにちは",
				MessageID:  "<m1@example.com>",
				Size:       int64(len(tt.raw)) + 7, // caller's figure is kept
				Raw:        slices.Clone(tt.raw),
			}
			id, err := s.AddQuarantine(ctx, &in)
			if err != nil {
				t.Fatal(err)
			}
			if !hexID.MatchString(id) || in.ID != id {
				t.Fatalf("id %q, entry ID %q: want the same 32 hex digits", id, in.ID)
			}
			if ids[id] {
				t.Fatalf("id %s handed out twice", id)
			}
			ids[id] = true
			sum := sha256.Sum256(tt.raw)
			if want := hex.EncodeToString(sum[:]); in.Digest != want {
				t.Errorf("Digest = %s, want %s", in.Digest, want)
			}

			got, err := s.GetQuarantine(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Raw, tt.raw) {
				t.Errorf("Raw differs: got %d bytes, want %d", len(got.Raw), len(tt.raw))
			}
			if got.Raw == nil {
				t.Error("Raw is nil, want non-nil from GetQuarantine")
			}
			want := in
			want.Raw = got.Raw
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Get:\n got %+v\nwant %+v", *got, want)
			}
		})
	}
}

func TestQuarantineDefaults(t *testing.T) {
	s := openTest(t, "")
	before := time.Now()
	q := &QuarantineEntry{Raw: []byte("abc")}
	if _, err := s.AddQuarantine(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if q.Size != 3 {
		t.Errorf("Size = %d, want len(Raw) = 3", q.Size)
	}
	if q.Time.Before(before) || q.Time.After(time.Now()) {
		t.Errorf("Time = %v, want about now", q.Time)
	}
}

func TestQuarantineNotFound(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	id, err := s.AddQuarantine(ctx, &QuarantineEntry{Raw: []byte("x"), Recipients: []string{"a@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"get missing", func() error { _, err := s.GetQuarantine(ctx, "0123456789abcdef0123456789abcdef"); return err }},
		{"get empty id", func() error { _, err := s.GetQuarantine(ctx, ""); return err }},
		{"delete missing", func() error { return s.DeleteQuarantine(ctx, "nope") }},
		{"release missing entry", func() error { return s.MarkReleased(ctx, "nope", nil, time.Time{}) }},
		{"release unknown recipient", func() error {
			return s.MarkReleased(ctx, id, []string{"a@example.com", "zed@example.com"}, time.Time{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
	}
	// The failed release with one unknown recipient changed nothing.
	e, err := s.GetQuarantine(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Released) != 0 {
		t.Errorf("Released = %v after a failed release, want none", e.Released)
	}
}

func TestMarkReleased(t *testing.T) {
	ctx := context.Background()
	t1 := time.Date(2025, 3, 2, 8, 0, 0, 42, time.UTC)
	t2 := t1.Add(time.Hour)
	type release struct {
		rcpts []string
		at    time.Time
	}
	tests := []struct {
		name     string
		releases []release
		want     map[string]time.Time
	}{
		{"none", nil, nil},
		{"one, other case", []release{{[]string{"BOB@example.NET"}, t1}},
			map[string]time.Time{"Bob@Example.net": t1}},
		{"two steps", []release{{[]string{"bob@example.net"}, t1}, {[]string{"carol@example.org"}, t2}},
			map[string]time.Time{"Bob@Example.net": t1, "carol@example.org": t2}},
		{"all", []release{{nil, t2}},
			map[string]time.Time{"Bob@Example.net": t2, "carol@example.org": t2, "dave@example.org": t2}},
		{"again overwrites", []release{{[]string{"carol@example.org"}, t1}, {[]string{"carol@example.org"}, t2}},
			map[string]time.Time{"carol@example.org": t2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, "")
			id, err := s.AddQuarantine(ctx, &QuarantineEntry{Raw: []byte("x"),
				Recipients: []string{"Bob@Example.net", "carol@example.org", "dave@example.org"}})
			if err != nil {
				t.Fatal(err)
			}
			// A second entry that must not be touched.
			other, err := s.AddQuarantine(ctx, &QuarantineEntry{Raw: []byte("y"),
				Recipients: []string{"Bob@Example.net"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.releases {
				if err := s.MarkReleased(ctx, id, r.rcpts, r.at); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.GetQuarantine(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Released, tt.want) {
				t.Errorf("Get Released = %v, want %v", got.Released, tt.want)
			}
			list, err := s.ListQuarantine(ctx, QuarantineQuery{})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range list {
				switch e.ID {
				case id:
					if !reflect.DeepEqual(e.Released, tt.want) {
						t.Errorf("List Released = %v, want %v", e.Released, tt.want)
					}
				case other:
					if e.Released != nil {
						t.Errorf("other entry Released = %v, want nil", e.Released)
					}
				}
			}
		})
	}
}

func TestMarkReleasedZeroTimeIsNow(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	id, err := s.AddQuarantine(ctx, &QuarantineEntry{Raw: []byte("x"), Recipients: []string{"a@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := s.MarkReleased(ctx, id, []string{"a@example.com"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	e, err := s.GetQuarantine(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	at, ok := e.Released["a@example.com"]
	if !ok || at.Before(before) || at.After(time.Now()) {
		t.Errorf("Released = %v, want a@example.com at about now", e.Released)
	}
}

func TestDeleteQuarantine(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	keep, err := s.AddQuarantine(ctx, &QuarantineEntry{Raw: []byte("keep"), Recipients: []string{"a@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	del, err := s.AddQuarantine(ctx, &QuarantineEntry{Raw: []byte("del"), Recipients: []string{"a@example.com", "b@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteQuarantine(ctx, del); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetQuarantine(ctx, del); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteQuarantine(ctx, del); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := s.GetQuarantine(ctx, keep); err != nil {
		t.Errorf("other entry: %v", err)
	}
	// Foreign keys cascade the delete to the message and its recipients.
	for table, want := range map[string]int{"quarantine": 1, "quarantine_raw": 1, "quarantine_recipients": 1} {
		if n := count(t, s, table); n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
}

func TestGetQuarantineCorrupt(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	id, err := s.AddQuarantine(ctx, &QuarantineEntry{Raw: []byte("original")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`UPDATE quarantine_raw SET raw = ? WHERE quarantine_id = ?`, []byte("tampered"), id); err != nil {
		t.Fatal(err)
	}
	e, err := s.GetQuarantine(ctx, id)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if e == nil || string(e.Raw) != "tampered" {
		t.Errorf("entry = %+v, want it returned for inspection", e)
	}
}

func TestListQuarantine(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	entries := []QuarantineEntry{
		{QueueID: "A", Time: base, Area: "spam", Sender: "Alice@Example.com",
			Recipients: []string{"bob@example.net"}, Subject: "Cheap Watches"},
		{QueueID: "C", Time: base.Add(2 * time.Hour), Area: "policy", Sender: "carol@example.org",
			Recipients: []string{"Dave@Example.COM", "erin@example.net"}, Subject: "【重要】パスワード変更"},
		{QueueID: "B", Time: base.Add(time.Hour), Area: "virus", Sender: "mallory@evil.test",
			Recipients: []string{"bob@example.net"}, Subject: "Invoice ÄÖÜ"},
		{QueueID: "D", Time: base.Add(3 * time.Hour), Area: "spam", Sender: "",
			Recipients: []string{"postmaster@example.com"}, Subject: "Undelivered Mail"},
	}
	for i := range entries {
		entries[i].Raw = []byte("message " + entries[i].QueueID)
		if _, err := s.AddQuarantine(ctx, &entries[i]); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		q    QuarantineQuery
		want []string
	}{
		{"all newest first", QuarantineQuery{}, []string{"D", "C", "B", "A"}},
		{"since", QuarantineQuery{Since: base.Add(time.Hour)}, []string{"D", "C", "B"}},
		{"until exclusive", QuarantineQuery{Until: base.Add(time.Hour)}, []string{"A"}},
		{"period", QuarantineQuery{Since: base.Add(time.Hour), Until: base.Add(3 * time.Hour)}, []string{"C", "B"}},
		{"area", QuarantineQuery{Area: "spam"}, []string{"D", "A"}},
		{"area unknown", QuarantineQuery{Area: "nope"}, nil},
		{"sender case-insensitive", QuarantineQuery{Sender: "ALICE@example.COM"}, []string{"A"}},
		{"sender domain", QuarantineQuery{Sender: "*@Evil.Test"}, []string{"B"}},
		{"recipient", QuarantineQuery{Recipient: "bob@EXAMPLE.net"}, []string{"B", "A"}},
		{"recipient mixed case stored", QuarantineQuery{Recipient: "dave@example.com"}, []string{"C"}},
		{"recipient domain", QuarantineQuery{Recipient: "*@example.com"}, []string{"D", "C"}},
		{"subject", QuarantineQuery{Subject: "watches"}, []string{"A"}},
		{"subject japanese", QuarantineQuery{Subject: "パスワード"}, []string{"C"}},
		{"subject non-ascii fold", QuarantineQuery{Subject: "äöü"}, []string{"B"}},
		{"limit", QuarantineQuery{Limit: 3}, []string{"D", "C", "B"}},
		{"combined", QuarantineQuery{Area: "spam", Recipient: "*@example.net"}, []string{"A"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListQuarantine(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.QueueID)
				if e.Raw != nil {
					t.Errorf("%s: Raw filled by List", e.QueueID)
				}
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("ListQuarantine(%+v) = %v, want %v", tt.q, ids, tt.want)
			}
		})
	}

	// Listed entries carry everything but Raw.
	got, err := s.ListQuarantine(ctx, QuarantineQuery{Sender: "carol@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	want := entries[1]
	want.Raw = nil
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("listed entry:\n got %+v\nwant %+v", got, want)
	}
}
