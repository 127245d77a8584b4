package policy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/scanner"
)

// TestScoredRuleProblems: a scored rule only adds to the score, once per
// message, and cannot depend on the verdict it leads to.
func TestScoredRuleProblems(t *testing.T) {
	rule := "[[rule]]\nname = \"r\"\n" // lines 1 and 2
	tests := []struct{ name, src, want string }{
		{"with an action", rule + "subject = \"x\"\nscore = 2\naction = \"reject\"\n",
			`c.toml:4: rule[0].score: rule "r" has a score and an action (hint: a scored rule only adds to the spam score; act on the findings "spam" and "spam.probable" in another rule)`},
		{"with a tag", rule + "subject = \"x\"\nscore = 2\ntag_subject = \"[X]\"\n",
			`c.toml:4: rule[0].score: rule "r" has a score and an action (hint: a scored rule only adds to the spam score; act on the findings "spam" and "spam.probable" in another rule)`},
		{"per recipient", rule + "subject = \"x\"\nrecipients = [\"bob@example.com\"]\nscore = 2\n",
			`c.toml:5: rule[0].score: scored rule "r" depends on the recipient (hint: the spam score is one per message: leave out direction, recipients and recipient_count_over)`},
		{"direction", rule + "subject = \"x\"\ndirection = \"inbound\"\nscore = 2\n",
			`c.toml:5: rule[0].score: scored rule "r" depends on the recipient (hint: the spam score is one per message: leave out direction, recipients and recipient_count_over)`},
		{"on its own verdict", rule + "findings = [\"spam.probable\"]\nscore = 2\n",
			`c.toml:3: rule[0].findings: scored rule "r" names spam.probable (hint: a spam test cannot depend on the spam verdict)`},
		{"expr on its own verdict", rule + "expr = 'has(\"spam\")'\nscore = 2\n",
			`c.toml:3: rule[0].expr: scored rule "r" may name the spam findings (hint: a spam test cannot depend on the spam verdict)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load("c.toml", []byte(tt.src+allowNoRules))
			if err == nil {
				t.Fatalf("no error, want:\n%s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

// TestScores: the scored rules whose conditions hold contribute, in file
// order, with the findings they matched; Evaluate never decides on one.
func TestScores(t *testing.T) {
	_, pol := mustLoad(t, `
[[rule]]
name = "pills"
subject = "(?i)pills"
score = 3.5

[[rule]]
name = "listed"
findings = ["dnsbl.*"]
score = 1

[[rule]]
name = "ham-sign"
findings = ["dkim"]
score = -2

[[rule]]
name = "stamp"
add_headers = ["X-Seen: yes"]
`)
	f := &Facts{Subject: "Cheap PILLS", Findings: []scanner.Finding{{Name: "dnsbl.zen", Value: "127.0.0.2"}}}
	var got []string
	for _, c := range pol.Scores(f) {
		got = append(got, c.Rule+"="+strconv.FormatFloat(c.Score, 'g', -1, 64))
		if c.Rule == "listed" && (len(c.Findings) != 1 || c.Findings[0].Name != "dnsbl.zen") {
			t.Errorf("listed matched %+v, want dnsbl.zen", c.Findings)
		}
	}
	if strings.Join(got, " ") != "pills=3.5 listed=1" {
		t.Errorf("scores %q, want pills=3.5 listed=1", got)
	}
	v := pol.Evaluate(StageEOM, f, "bob@example.com")
	if len(v.Matches) != 1 || v.Matches[0].Rule != "stamp" || v.Terminal() {
		t.Errorf("Evaluate matched %+v, want only stamp", v.Matches)
	}
	if r := ruleByName(t, pol, "ham-sign"); !r.Scored || r.Score != -2 {
		t.Errorf("ham-sign: Scored %v, Score %v", r.Scored, r.Score)
	}
	if r := ruleByName(t, pol, "stamp"); r.Scored {
		t.Error("stamp is scored")
	}
}
