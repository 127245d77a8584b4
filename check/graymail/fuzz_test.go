package graymail

import (
	"slices"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/scanner/message"
)

// FuzzClassify runs the classifier, and the header parsers it uses, on
// arbitrary messages: no panic, a known class or none, and a class always
// names the cues that decided it.
func FuzzClassify(f *testing.F) {
	for _, tc := range cases {
		f.Add(strings.ReplaceAll(tc.msg, "\n", "\r\n"), tc.sender)
	}
	f.Add("List-Unsubscribe: <<mailto:>\r\nFrom: <@>\r\n\r\n", "<>")
	f.Add("From: \"<a@b\" <\r\n\r\n", "@")
	f.Fuzz(func(t *testing.T, msg, sender string) {
		m := message.ParseBytes([]byte(msg), message.DefaultLimits())
		r := Classify(m, sender)
		if r.Class != "" && !slices.Contains(Classes, r.Class) {
			t.Fatalf("unknown class %q", r.Class)
		}
		if r.Class != "" && r.Reason() == "" {
			t.Fatalf("class %q without cues", r.Class)
		}
		if r2 := Classify(m, sender); r2.Class != r.Class || r2.Reason() != r.Reason() {
			t.Fatalf("not deterministic: %v then %v", r, r2)
		}
		for _, h := range m.Headers {
			if a := headerAddress(h.Raw); a != "" && !strings.Contains(a, "@") {
				t.Fatalf("headerAddress(%q) = %q, not an address", h.Raw, a)
			}
			if n := listUnsubscribeURIs(h.Raw); n < 0 || n > strings.Count(h.Raw, "<") {
				t.Fatalf("listUnsubscribeURIs(%q) = %d", h.Raw, n)
			}
		}
	})
}
