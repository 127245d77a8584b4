package keyword

import (
	"context"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check/textscan"
)

// BenchmarkMatch: a case-insensitive NFKC list of three literals, and
// one of a regex, over 1 MB of mixed text (bytes per second of text).
func BenchmarkMatch(b *testing.B) {
	line := "Order 1234-5678-9012 of 2026-11-23, tel 03-1234-5678, mail a@example.com. 山田様のご注文は発送済みです。\r\n"
	text := strings.Repeat(line, (1<<20)/len(line))
	for _, bc := range []struct {
		name    string
		entries []Entry
	}{
		{"literals", []Entry{{Text: "confidential"}, {Text: "社外秘"}, {Text: "wire transfer"}}},
		{"regex", []Entry{{Regex: `wire\s+transfer`}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := Config{Name: "b", CaseInsensitive: true, NFKC: true, Entries: bc.entries}
			l := &list{cfg: cfg, min: 1}
			for _, e := range cfg.Entries {
				re, err := compile(cfg, e)
				if err != nil {
					b.Fatal(err)
				}
				l.res = append(l.res, re)
				l.lits = append(l.lits, literal(cfg, e))
			}
			texts := []textscan.Text{{Where: "body", Text: text}}
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			for range b.N {
				if _, err := l.match(context.Background(), texts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
