package keyword

import (
	"context"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/message"
)

func load(t *testing.T, src string) *Check {
	t.Helper()
	cfg, rep, err := config.Decode("c.toml", []byte(src))
	if err == nil {
		err = rep.Err()
	}
	if err != nil {
		t.Fatalf("config:\n%v", err)
	}
	cs := build(cfg)
	if len(cs) != 1 {
		t.Fatalf("%d checks", len(cs))
	}
	return cs[0].(*Check)
}

const msg = "Subject: =?UTF-8?B?44CQ56S+5aSW56eY44CR?= quarterly\r\n" + // 【社外秘】
	"X-Class: Secret\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease arrange the Wire  Transfer today. ｺﾝﾌｨﾃﾞﾝｼｬﾙ.\r\n" +
	"--b\r\nContent-Type: text/html\r\n\r\n<p>CONFI<b></b>DENTIAL</p><script>confidential()</script><p>&lt;ＣＯＮＦＩＤＥＮＴＩＡＬ&gt;</p>\r\n" +
	"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"budget-confidential.txt\"\r\n\r\nthe confidential budget\r\n--b--\r\n"

func run(t *testing.T, c *Check) string {
	t.Helper()
	m := message.ParseBytes([]byte(msg), message.DefaultLimits())
	fs, err := c.Run(context.Background(), &check.Input{Message: m})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Name + "=" + f.Value + " @" + f.Where + " " + f.Reason + "\n")
	}
	return b.String()
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		name, cfg, want string
	}{
		{"literal is case-sensitive by default", `[[keywords]]
name = "c"
entries = [{ text = "confidential" }]
entities = ["body", "html", "attachment_names"]
`, `keyword.c=confidential @attachment_name "budget-confidential.txt"
`},
		{"case-insensitive, HTML as text", `[[keywords]]
name = "c"
case_insensitive = true
entries = [{ text = "confidential", description = "marked" }]
`, `keyword.c=confidential @html marked: "CONFIDENTIAL <ＣＯＮＦＩＤＥＮＴ…"
`},
		{"nfkc matches full and half width", `[[keywords]]
name = "jp"
nfkc = true
case_insensitive = true
entries = [{ text = "コンフィデンシャル" }, { text = "<confidential>" }, { text = "【社外秘】" }]
entities = ["subject", "body", "html"]
`, `keyword.jp=コンフィデンシャル @body "…nge the Wire Transfer today. コンフィデンシャル."
keyword.jp=<confidential> @html "CONFIDENTIAL <CONFIDENTIAL>"
keyword.jp=【社外秘】 @subject "【社外秘】 quarterly"
`},
		{"without nfkc half width is not full width", `[[keywords]]
name = "jp"
entries = [{ text = "コンフィデンシャル" }]
`, ``},
		{"regex, headers by name", `[[keywords]]
name = "r"
entries = [{ regex = "(?i)wire\\s+transfer", description = "payment" }, { regex = "^Secret$" }]
entities = ["body", "header:x-class"]
`, `keyword.r=/(?i)wire\s+transfer/ @body payment: "Please arrange the Wire Transfer today. ｺﾝﾌｨﾃﾞﾝ…"
keyword.r=/^Secret$/ @header:X-Class "Secret"
`},
		{"attachment text", `[[keywords]]
name = "c"
entries = [{ text = "budget" }]
entities = ["attachment_text"]
`, `keyword.c=budget @attachment:budget-confidential.txt "the confidential budget"
`},
		{"min_matches not reached", `[[keywords]]
name = "c"
entries = [{ text = "confidential" }, { text = "budget" }]
entities = ["attachment_text"]
min_matches = 3
`, ``},
		{"min_matches counts every match", `[[keywords]]
name = "c"
entries = [{ text = "confidential" }, { text = "budget" }]
entities = ["attachment_text", "attachment_names"]
min_matches = 3
`, `keyword.c=confidential @attachment:budget-confidential.txt "the confidential budget"
keyword.c=budget @attachment:budget-confidential.txt "the confidential budget"
`},
		{"all headers", `[[keywords]]
name = "h"
entries = [{ text = "multipart" }]
entities = ["headers"]
`, `keyword.h=multipart @header:Content-Type "multipart/mixed; boundary=b"
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(t, load(t, tc.cfg)); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("あ", 40)
	for _, tc := range []struct {
		s    string
		i, j int
		want string
	}{
		{"short text", 0, 5, "short text"},
		{long + "KEY" + long, 120, 123, "…" + strings.Repeat("あ", 10) + "KEY" + strings.Repeat("あ", 10) + "…"},
		{"line\r\nbreak", 0, 4, "line break"},
		{"key: 4111 1111 1111 1111, 12/28", 0, 3, "key: **** **** **** 1111, 12/28"},
		{"key 2026-12-01, 12345678", 0, 3, "key 2026-12-01, 12345678"},
		{"key 1234567890123", 0, 3, "key *********0123"},
		// A long match is cut to 60 bytes, and 30 of context follow.
		{strings.Repeat("x", 200), 10, 190, strings.Repeat("x", 100) + "…"},
	} {
		if got := Excerpt(tc.s, tc.i, tc.j); got != tc.want {
			t.Errorf("Excerpt(%q, %d, %d) = %q, want %q", tc.s, tc.i, tc.j, got, tc.want)
		}
	}
}

func TestConfigProblems(t *testing.T) {
	src := `[[keywords]]
name = "Bad Name"
entries = [{ text = "a", regex = "b" }, { description = "nothing" }]

[[keywords]]
name = "r"
entities = ["body", "footer"]
min_matches = -1
entries = [
  { regex = "(unclosed" },
]

[[keywords]]
name = "r"

[[keywords.entries]]
text = "ok"
descripton = "typo"
`
	_, rep, err := config.Decode("c.toml", []byte(src))
	if err == nil {
		err = rep.Err()
	}
	want := `c.toml:2: keywords[0].name: "Bad Name" is not a list name (hint: lower-case letters, digits, "-" and "_", such as "confidential")
c.toml:3: keywords[0].entries[0]: an entry needs exactly one of text and regex (hint: { text = "literal" } or { regex = "pattern" })
c.toml:3: keywords[0].entries[1]: an entry needs exactly one of text and regex (hint: { text = "literal" } or { regex = "pattern" })
c.toml:7: keywords[1].entities[1]: unknown entity "footer" (hint: one of subject, body, html, headers, header:NAME, attachment_names, attachment_text)
c.toml:8: keywords[1].min_matches: min_matches -1 is negative (hint: a count; 0 or 1 mean any match)
c.toml:10: keywords[1].entries[0].regex: keyword: error parsing regexp: missing closing ): ` + "`(unclosed`" + ` (hint: a Go regular expression (RE2 syntax))
c.toml:14: keywords[2].name: list "r" is defined twice (hint: each list needs its own name)
c.toml:18: keywords[2].entries[0].descripton: unknown key (hint: did you mean keywords.entries.description?)`
	if err == nil || strings.TrimSpace(err.Error()) != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}
