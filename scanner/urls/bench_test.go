package urls

import (
	"strings"
	"testing"
)

// BenchmarkText is the plain-text search over 1 MB of mixed Japanese and
// English text with a URL every few lines.
func BenchmarkText(b *testing.B) {
	line := "詳細はhttps://www.example.com/path/to/page?id=12345。ご確認ください。Some English text here, and more words.\n"
	s := strings.Repeat(line, (1<<20)/len(line))
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		New(Limits{}).Text(s, "body")
	}
}

// BenchmarkHostile is text that makes every match end early: URLs glued
// to kana, over and over, on one line.
func BenchmarkHostile(b *testing.B) {
	s := strings.Repeat("http://a.example/あ", (1<<20)/20)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		New(Limits{}).Text(s, "body")
	}
}
