package store

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzQuarantineRoundTrip checks that any message bytes come back exactly and
// that any subject is found again by a substring of itself.
func FuzzQuarantineRoundTrip(f *testing.F) {
	f.Add(rawMessage, "Hello", "ell")
	f.Add([]byte{}, "", "")
	f.Add([]byte("\x00\xff\r\n"), "【重要】請求書", "請求")
	f.Add([]byte("x"), "ÜBER", "über")
	f.Add([]byte("x"), "caf\xe9", "\xe9")
	f.Add([]byte("x"), "a\x00b", "\x00")
	s := openTest(f, "")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte, subject, part string) {
		q := &QuarantineEntry{Raw: raw, Subject: subject, Recipients: []string{"a@example.com"}}
		id, err := s.AddQuarantine(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetQuarantine(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Raw, raw) {
			t.Fatalf("raw: got %q, want %q", got.Raw, raw)
		}
		if got.Subject != subject {
			t.Fatalf("subject: got %q, want %q", got.Subject, subject)
		}
		// A substring found by Go must be found by the store. Invalid UTF-8
		// is left out: SQLite's instr counts characters and may step over
		// a match that starts inside a broken sequence.
		if part == "" || !utf8.ValidString(subject) || !utf8.ValidString(part) ||
			!strings.Contains(foldText(subject), foldText(part)) {
			return
		}
		list, err := s.ListQuarantine(ctx, QuarantineQuery{Subject: part, Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list {
			if e.ID == id {
				return
			}
		}
		t.Fatalf("subject %q not found by substring %q", subject, part)
	})
}
