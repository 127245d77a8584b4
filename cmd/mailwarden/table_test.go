package main

import (
	"strings"
	"testing"
)

func TestDisplayWidth(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{
		{"abc", 3},
		{"会議の件", 8},
		{"ｶﾀｶﾅ", 4},    // half-width katakana
		{"ＡＢ", 4},      // full-width Latin
		{"e\u0301", 1}, // e + combining acute
		{"a\u200bb", 2},
		{"한국어", 6},
		{"", 0},
	} {
		if got := displayWidth(tc.s); got != tc.want {
			t.Errorf("displayWidth(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 5, "abcd…"},
		{"会議の件について", 8, "会議の…"}, // 6 columns and the mark: a wide rune never goes half-way
		{"会議の件", 8, "会議の件"},
	} {
		got := clip(tc.s, tc.n)
		if got != tc.want || displayWidth(got) > tc.n {
			t.Errorf("clip(%q, %d) = %q (width %d), want %q", tc.s, tc.n, got, displayWidth(got), tc.want)
		}
	}
}

func TestTablePrintable(t *testing.T) {
	var tb table
	tb.add("a\x1b[31mb", "c\td\ne")
	var b strings.Builder
	if err := tb.write(&b); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "a\ufffd[31mb  c\ufffdd\ufffde\n" {
		t.Errorf("%q", got)
	}
}
