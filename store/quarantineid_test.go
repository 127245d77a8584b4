package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestResolveQuarantineID(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	// Fixed IDs, so that two share a prefix.
	for _, id := range []string{"abcd0000000000000000000000000001", "abcd1000000000000000000000000002", "0123456789abcdef0123456789abcdef"} {
		if _, err := s.w.Exec(`INSERT INTO quarantine (id, time_ns, digest) VALUES (?, 0, '')`, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		prefix, want string
		err          error
	}{
		{"abcd0", "abcd0000000000000000000000000001", nil},
		{"ABCD1", "abcd1000000000000000000000000002", nil},
		{"0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef", nil},
		{" 0123 ", "0123456789abcdef0123456789abcdef", nil},
		{"abcd", "", ErrAmbiguous},
		{"abce", "", ErrNotFound},
		{"fff", "", nil}, // too short: an error of its own
		{"abcg", "", ErrNotFound},
		{"", "", ErrNotFound},
		{"abcd0000000000000000000000000001f", "", ErrNotFound},
	} {
		got, err := s.ResolveQuarantineID(ctx, tc.prefix)
		switch {
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%q: %q, %v; want %q", tc.prefix, got, err, tc.want)
		case tc.want == "" && err == nil:
			t.Errorf("%q: %q, want an error", tc.prefix, got)
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("%q: err %v, want %v", tc.prefix, err, tc.err)
		}
		if errors.Is(err, ErrAmbiguous) && !strings.Contains(err.Error(), "abcd0000000000000000000000000001, abcd1000000000000000000000000002") {
			t.Errorf("ambiguity names no candidates: %v", err)
		}
	}
}
