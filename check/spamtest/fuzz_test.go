package spamtest

import (
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/scanner/message"
)

// FuzzTests runs every test on arbitrary messages: no panic, each test at
// most once, known names, bounded values, and the same answer twice.
func FuzzTests(f *testing.F) {
	for _, m := range []string{hamThunderbird, hamOutlook, hamGmail, hamApple, hamJapanese} {
		f.Add(strings.ReplaceAll(m, "\n", "\r\n"))
	}
	f.Add("Subject: V\u200bI.A.G.R.A!!!\r\nX-Mailer: Apple Mail (\r\nReceived: from [1.2.3.4] (x [5.6.7.8]) by y\r\nContent-Type: text/html; charset=us-ascii\r\nContent-Transfer-Encoding: base64\r\n\r\nPGltZz4=\r\n")
	f.Add("Date: Mon, 99 Foo 2026 99:99:99 +9999\r\nMessage-ID: <@>\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=41=42=43=44=45=46\xff\r\n")
	f.Add("Content-Type: text/html\r\n\r\n<p>V<!-- x -->iagra C<b></b>ialis Ci<FONT size=1></font>alis a<!--</p>")
	c := New(Defaults())
	f.Fuzz(func(t *testing.T, msg string) {
		m := message.ParseBytes([]byte(msg), message.DefaultLimits())
		fs := c.run(newState(m, now))
		if len(fs) > len(tests) {
			t.Fatalf("%d findings from %d tests", len(fs), len(tests))
		}
		seen := map[string]bool{}
		for _, f := range fs {
			name := strings.TrimPrefix(f.Name, Prefix)
			if _, ok := DefaultScore(name); !ok || seen[name] {
				t.Fatalf("finding %q unknown or repeated", f.Name)
			}
			seen[name] = true
			if len(f.Value) > maxValue+len("…") || f.Reason == "" || len(f.Reason) > 1024 {
				t.Fatalf("finding %+v: value or reason unbounded", f)
			}
		}
		if fs2 := c.run(newState(m, now)); len(fs2) != len(fs) {
			t.Fatalf("not deterministic: %v then %v", fs, fs2)
		}
	})
}
