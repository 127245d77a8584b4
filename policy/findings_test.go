package policy

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner"
)

// senderCatalog declares DNS lists at connect and the approved-sender
// finding at MAIL, as the sender-filtering checks do.
var senderCatalog = testCatalog{"dnsbl.": StageConnect, "dnswl.": StageConnect, "sender.approved": StageMail,
	"list.": StageConnect}

// TestFindingsExceptAndScores covers the rule shapes of sender filtering:
// a family of findings, an exemption by another finding (which moves the
// decision to the exemption's stage), and a threshold on added weights.
func TestFindingsExceptAndScores(t *testing.T) {
	listed := func(name string, score float64) scanner.Finding {
		return scanner.Finding{Name: name, Value: "127.0.0.2", Where: "client", Score: score}
	}
	approved := scanner.Finding{Name: "sender.approved", Value: "a@example.net", Where: "envelope"}
	for _, tc := range []struct {
		name      string
		rule      string
		stage     Stage
		findings  []scanner.Finding
		wantMatch bool
	}{
		{"family matches one list", `findings = ["dnsbl.*"]`, StageConnect, []scanner.Finding{listed("dnsbl.zen", 1)}, true},
		{"family does not match another family", `findings = ["dnsbl.*"]`, StageConnect, []scanner.Finding{listed("dnswl.dnswl", -1)}, false},
		{"family needs the dot", `findings = ["dnsbl.*"]`, StageConnect, []scanner.Finding{listed("dnsblx", 1)}, false},
		{"exempted rule waits for MAIL", `findings = ["dnsbl.*"]` + "\n" + `findings_except = ["sender.approved"]`, StageMail,
			[]scanner.Finding{listed("dnsbl.zen", 1)}, true},
		{"approved sender is exempt", `findings = ["dnsbl.*"]` + "\n" + `findings_except = ["sender.approved"]`, StageMail,
			[]scanner.Finding{listed("dnsbl.zen", 1), approved}, false},
		{"except alone holds without the finding", `findings_except = ["list.friends"]`, StageConnect, nil, true},
		{"two weak lists reach the threshold", `expr = 'score("dnsbl.*", "dnswl.*") >= 5'`, StageConnect,
			[]scanner.Finding{listed("dnsbl.a", 3), listed("dnsbl.b", 2.5)}, true},
		{"one weak list does not", `expr = 'score("dnsbl.*", "dnswl.*") >= 5'`, StageConnect,
			[]scanner.Finding{listed("dnsbl.a", 3)}, false},
		{"an allow list takes weight off", `expr = 'score("dnsbl.*", "dnswl.*") >= 5'`, StageConnect,
			[]scanner.Finding{listed("dnsbl.a", 3), listed("dnsbl.b", 2.5), listed("dnswl.w", -2)}, false},
		{"has takes a family", `expr = 'has("dnsbl.*") && !has("sender.approved")'`, StageMail,
			[]scanner.Finding{listed("dnsbl.zen", 1)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, pol, err := LoadWith("c.toml", []byte("[[rule]]\nname = \"r\"\naction = \"reject\"\n"+tc.rule+"\n"), senderCatalog)
			if err != nil {
				t.Fatal(err)
			}
			r := ruleByName(t, pol, "r")
			if r.Stage != tc.stage {
				t.Errorf("decided at %v, want %v", r.Stage, tc.stage)
			}
			f := &Facts{ClientIP: netip.MustParseAddr("192.0.2.1"), Sender: "a@example.net", Findings: tc.findings}
			v := pol.Evaluate(tc.stage, f, "")
			if got := v.Terminal(); got != tc.wantMatch {
				t.Errorf("matched = %v, want %v (%s)", got, tc.wantMatch, summary(v))
			}
			if tc.wantMatch && len(tc.findings) > 0 && (len(v.Matches) == 0 || len(v.Matches[0].Findings) == 0) {
				t.Errorf("match %+v names no finding", v.Matches)
			}
		})
	}
}

func TestFindingsExceptValidation(t *testing.T) {
	ps := loadErrWith(t, "[[rule]]\nname = \"r\"\naction = \"reject\"\nfindings = [\"dnsbl.*\"]\nfindings_except = [\"sender.aproved\", \"a b\"]\n", senderCatalog)
	want := []string{
		`c.toml:5: rule[0].findings_except[0]: no check reports the finding "sender.aproved" (hint: did you mean sender.approved?)`,
		`c.toml:5: rule[0].findings_except[1]: "a b" is not a finding name (hint: a finding name such as message.malformed, or a family such as "dnsbl.*")`,
	}
	if len(ps) != len(want) {
		t.Fatalf("got %v", ps)
	}
	for i := range want {
		if ps[i].String() != want[i] {
			t.Errorf("got  %s\nwant %s", ps[i], want[i])
		}
	}
}

func TestUsedFindingsFamiliesAndExceptions(t *testing.T) {
	_, pol, err := LoadWith("c.toml", []byte("[[rule]]\nname = \"r\"\naction = \"reject\"\nfindings = [\"dnsbl.*\"]\nfindings_except = [\"sender.approved\"]\n"+
		"[[rule]]\nname = \"s\"\naction = \"reject\"\nexpr = 'score(\"dnswl.*\") < 0'\n"), senderCatalog)
	if err != nil {
		t.Fatal(err)
	}
	used := pol.UsedFindings()
	for _, n := range []string{"dnsbl.*", "sender.approved", "dnswl.*"} {
		if _, ok := used[n]; !ok {
			t.Errorf("UsedFindings() = %v lacks %s", used, n)
		}
	}
	if _, ok := used["*"]; ok {
		t.Errorf("constant names made UsedFindings() take any finding: %v", used)
	}
}

// loadErrWith is loadErr against a catalog.
func loadErrWith(t *testing.T, src string, cat Catalog) []config.Problem {
	t.Helper()
	_, _, err := LoadWith("c.toml", []byte(src), cat)
	var ce *config.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("LoadWith: %v, want a *config.ConfigError", err)
	}
	return ce.Problems
}
