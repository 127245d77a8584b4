package keyword

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailwarden/mailwarden/check/textscan"
)

// FuzzMatch: matching never panics; a literal in the text is found, with
// an excerpt of bounded length that is valid UTF-8 when the text is.
func FuzzMatch(f *testing.F) {
	f.Add("confidential", "this is CONFIDENTIAL", true, false)
	f.Add("社外秘", "【社外秘】", false, true)
	f.Add("ｶﾞ", "ガ", false, true)
	f.Add("a", "\xff\xfea", true, true)
	f.Fuzz(func(t *testing.T, entry, text string, ci, nfkc bool) {
		if entry == "" || !utf8.ValidString(entry) { // TOML strings are UTF-8
			return
		}
		cfg := Config{Name: "f", Entries: []Entry{{Text: entry}}, CaseInsensitive: ci, NFKC: nfkc}
		re, err := compile(cfg, cfg.Entries[0])
		if err != nil {
			t.Fatalf("literal %q does not compile: %v", entry, err)
		}
		l := &list{cfg: cfg, res: []*regexp.Regexp{re}, lits: []string{literal(cfg, cfg.Entries[0])}, min: 1}
		fs, err := l.match(context.Background(), []textscan.Text{{Where: "body", Text: text}})
		if err != nil {
			t.Fatal(err)
		}
		if !nfkc && strings.Contains(text, entry) && len(fs) != 1 {
			t.Fatalf("%q in %q: %v", entry, text, fs)
		}
		for _, f := range fs {
			if len(f.Reason) > 4*excerptBytes {
				t.Fatalf("reason of %d bytes: %q", len(f.Reason), f.Reason)
			}
			if utf8.ValidString(text) && utf8.ValidString(entry) && !utf8.ValidString(f.Reason) {
				t.Fatalf("reason %q not UTF-8", f.Reason)
			}
		}
	})
}
