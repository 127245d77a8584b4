package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestCheckSpamScore: `mailwarden check` shows the spam score, each test
// with its score, and the spam finding's reason; --json carries them too.
func TestCheckSpamScore(t *testing.T) {
	conf := writeFile(t, "spam.toml", `[organization]
internal_domains = ["example.com"]

[[rule]]
name = "pills"
subject = "(?i)pills"
score = 3.5

[[rule]]
name = "cheap"
subject = "(?i)cheap"
score = 2

[[rule]]
name = "spam"
findings = ["spam"]
action = "quarantine"
quarantine = "spam"
`)
	msg := writeFile(t, "m.eml", "From: a@example.net\r\nX-Spam-Flag: NO\r\nSubject: cheap pills\r\nDate: "+time.Now().UTC().Format(time.RFC1123Z)+"\r\nMessage-ID: <spam@example.net>\r\n\r\nBuy.\r\n")
	args := []string{"check", "-c", conf, "--ip", "198.51.100.1", "--from", "a@example.net", "--rcpt", "bob@example.com"}
	_, out, _ := runCmd(t, append(args, msg)...)
	for _, want := range []string{"spam score: 5.5 (required 5.0, probable 3.0)\n    +2.0 cheap\n    +3.5 pills\n",
		`spam = "5.5" at message: score=5.5 required=5.0 tests=cheap,pills`, `quarantine by rule "spam" into area "spam"`} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = runCmd(t, append(args, "--json", msg)...)
	var rep struct {
		Spam struct {
			Score, Required float64
			Tests           []struct{ Name string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Spam.Score != 5.5 || rep.Spam.Required != 5 || len(rep.Spam.Tests) != 2 || rep.Spam.Tests[0].Name != "cheap" {
		t.Errorf("json spam %+v", rep.Spam)
	}
}
