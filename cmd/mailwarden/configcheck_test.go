package main

import (
	"strings"
	"testing"
)

// TestConfigCheckNoRules: a config without rules is refused with its line
// and a hint (exit 1); said to be meant, it loads, and config check names
// every protection of the embedded default it lacks.
func TestConfigCheckNoRules(t *testing.T) {
	empty := writeFile(t, "empty.toml", "[server]\nlisten = \"inet:127.0.0.1:8899\"\n")
	code, out, errOut := runCmd(t, "config", "check", "-c", empty)
	if code != 1 || !strings.Contains(errOut, empty+":2: rule: no enabled [[rule]]") || !strings.Contains(errOut, "allow_no_rules = true") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	meant := writeFile(t, "meant.toml", "[policy]\nallow_no_rules = true\n")
	code, out, errOut = runCmd(t, "config", "check", "-c", meant)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, meant+": OK, 0 rule(s), 15 warning(s)\n") {
		t.Errorf("first line of:\n%s", out)
	}
	for _, want := range []string{
		meant + ": warning: no rule holds back mail with finding scan.exclusion, so messages that hit a scanning limit are delivered unscanned",
		meant + ": warning: no rule holds back mail with finding content.gtube, so messages with the GTUBE test string are delivered",
		meant + ": warning: no rule holds back mail with finding virus, so messages in which clamd found a virus are delivered",
		meant + ": warning: no rule holds back mail with finding mime.ambiguous",
		meant + ": warning: no rule holds back mail with finding attachment.executable, so executables from outside, attached or in archives, are delivered",
		meant + ": warning: no rule flags mail with finding message.malformed",
		meant + ": warning: no rule holds back mail by its size",
		meant + ": warning: no rule holds back mail by its recipient count",
		meant + ": warning: no rule holds back mail with finding sender.blocked, so ",
		meant + ": warning: no rule holds back mail with finding spam, so mail from outside whose spam score is over [spam] threshold is delivered to the inbox",
		meant + ": warning: no rule flags mail with finding spam.probable, so ",
		meant + ": warning: no rule holds back mail with finding dmarc.reject, so mail from outside that fails DMARC under its domain's p=reject is delivered",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	// The default's throttle and list rules name findings of its
	// [[throttle]] and [[list]] tables, which this config does not have:
	// their rules would not load here, so they are not offered.
	if strings.Contains(out, "throttle.inbound-ip") || strings.Contains(out, "list.blocked-clients") {
		t.Errorf("warned of protections whose checks the config lacks:\n%s", out)
	}
}

// TestConfigCheckWarnings: warnings about rules carry their line, and the
// embedded default and the sample have none.
func TestConfigCheckWarnings(t *testing.T) {
	conf := writeFile(t, "w.toml", "[[rule]]\nname = \"open\"\naction = \"accept\"\n\n"+
		"[[rule]]\nname = \"dir\"\nexpr = 'direction == \"inbond\"'\naction = \"reject\"\n")
	code, out, errOut := runCmd(t, "config", "check", "-c", conf)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		conf + `:1: warning: rule "open" accepts all mail before any rule holds back mail with finding content.gtube`,
		conf + `:3: warning: rule[0].action: rule "open" has action accept and no condition, so it decides all mail at connect, and the 1 rule(s) after it never run`,
		conf + `:7: warning: rule[1].expr: expression compares direction with "inbond", a value it never has, so == is always false (hint: did you mean "inbound"?)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, args := range [][]string{{"config", "check"}, {"config", "check", "-c", "../../contrib/mailwarden.toml"}} {
		code, out, errOut := runCmd(t, args...)
		if code != 0 || strings.Contains(out, "warning") {
			t.Errorf("%v: exit %d, want 0 and no warning\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
		}
	}
}

// TestConfigCheckChecks: config check lists the checks a config runs and
// why, and those it never runs; a rule on a finding no check declares is
// refused with a did-you-mean hint.
func TestConfigCheckChecks(t *testing.T) {
	code, out, errOut := runCmd(t, "config", "check")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// Names are padded to the longest, throttle:outbound-sender.
	for _, want := range []string{"checks that run:", "gtube                    from eom, awaited eom, per transaction", "rules use content.gtube",
		"release                  from eom", "released mail must pass the rule it was quarantined by",
		"throttle:outbound-sender from mail, awaited mail, per transaction, budget 2s, on error skip: rules use throttle.outbound-sender"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	noGTUBE := writeFile(t, "nogtube.toml", "[[rule]]\nname = \"big\"\nsize_over = \"1MB\"\naction = \"reject\"\n")
	_, out, _ = runCmd(t, "config", "check", "-c", noGTUBE)
	idle := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "checks that never run (no rule uses their findings): ") {
			idle = line
		}
	}
	if !strings.Contains(idle, " gtube (content.gtube);") {
		t.Errorf("gtube not listed as idle:\n%s", out)
	}
	typo := writeFile(t, "typo.toml", "[[rule]]\nname = \"t\"\nfindings = [\"content.gtueb\"]\naction = \"reject\"\n")
	code, _, errOut = runCmd(t, "config", "check", "-c", typo)
	if code != 1 || !strings.Contains(errOut, typo+`:3: rule[0].findings[0]: no check reports the finding "content.gtueb" (hint: did you mean content.gtube?)`) {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}

// TestConfigCheckScoredRule: a scored rule is shown as scored once per
// message, not as a per-recipient decision, with its score; its expression
// on dkim.aligned makes the dmarc check run.
func TestConfigCheckScoredRule(t *testing.T) {
	c := writeFile(t, "scored.toml", "[[rule]]\nname = \"known-sender-signed\"\nexpr = 'has(\"dkim.aligned\", \"bank.example\")'\nscore = -3\n")
	code, out, errOut := runCmd(t, "config", "check", "-c", c)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`rule "known-sender-signed", line 1: scored at end of message, once per message -> score` + "\n",
		"    adds -3 to the spam score ([spam])\n",
		"rules use dkim.aligned",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"known-sender-signed", line 1: decided`) {
		t.Errorf("a scored rule shown as decided:\n%s", out)
	}
}
