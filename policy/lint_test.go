package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/config"
)

// otherBaseline is the embedded default's protection written another way:
// other names, other keys (findings for gtube, one expression for two
// findings), other thresholds and actions. It must give no warning, since
// what counts is what the rules match. Lines 1 to 20.
const otherBaseline = `[[rule]]
name = "r1"
recipient_count_over = 1000
action = "reject"
[[rule]]
name = "r2"
size_over = "200MB"
action = "reject"
[[rule]]
name = "r3"
expr = 'has("scan.exclusion") || has("virus") || has("mime.ambiguous") || has("recipient.unknown") || has("throttle.inbound-ip") || has("throttle.inbound-sender") || has("throttle.outbound-ip") || has("throttle.outbound-sender") || has("list.blocked-clients") || has("sender.blocked") || has("attachment.executable") || has("dmarc.reject") || has("dmarc.quarantine") || has("url.listed") || has("spam")'
action = "quarantine"
[[rule]]
name = "r4"
findings = ["content.gtube"]
action = "discard"
[[rule]]
name = "r5"
findings = ["message.malformed", "spam.probable"]
tag_subject = "[MALFORMED]"
`

// The hints of the baseline warnings: the embedded default's rule.
const (
	hintBlockedClient = `(hint: the embedded default has: findings = ["list.blocked-clients"], action = "reject", reply = "554 5.7.1 Client address blocked")`
	hintBlockedSender = `(hint: the embedded default has: findings = ["sender.blocked"], action = "reject", reply = "550 5.7.1 Sender address blocked")`
	hintThrottleIn    = `(hint: the embedded default has: findings = ["throttle.inbound-ip", "throttle.inbound-sender"], action = "tempfail", reply = "451 4.7.1 Too much mail from your network or address, try again in 5 minutes")`
	hintThrottleOut   = `(hint: the embedded default has: findings = ["throttle.outbound-ip", "throttle.outbound-sender"], action = "tempfail", reply = "451 4.7.1 Sending limit reached, try again in 15 minutes")`
	hintRcpt          = `(hint: the embedded default has: recipient_count_over = 500, action = "tempfail", reply = "452 4.5.3 Too many recipients")`
	hintUnknown       = `(hint: the embedded default has: findings = ["recipient.unknown"], action = "reject", reply = "550 5.1.1 Recipient address rejected: user unknown")`
	hintSize          = `(hint: the embedded default has: size_over = "150MB", action = "reject", reply = "552 5.3.4 Message too big")`
	hintDMARCReject   = `(hint: the embedded default has: findings = ["dmarc.reject"], direction = "inbound", action = "reject", reply = "550 5.7.1 Rejected by the sender domain's DMARC policy")`
	hintDMARCQuar     = `(hint: the embedded default has: findings = ["dmarc.quarantine"], direction = "inbound", action = "quarantine", quarantine = "spam")`
	hintVirus         = `(hint: the embedded default has: findings = ["virus"], action = "quarantine", quarantine = "virus")`
	hintExclusion     = `(hint: the embedded default has: findings = ["scan.exclusion"], action = "quarantine", quarantine = "exclusion")`
	hintAmbiguous     = `(hint: the embedded default has: findings = ["mime.ambiguous"], action = "quarantine", quarantine = "exclusion")`
	hintExecutable    = `(hint: the embedded default has: findings = ["attachment.executable"], direction = "inbound", action = "quarantine", quarantine = "attachments")`
	hintGTUBE         = `(hint: the embedded default has: findings = ["content.gtube"], action = "quarantine", quarantine = "spam")`
	hintURLListed     = `(hint: the embedded default has: findings = ["url.listed"], direction = "inbound", action = "quarantine", quarantine = "spam")`
	hintSpam          = `(hint: the embedded default has: findings = ["spam"], findings_except = ["sender.approved"], direction = "inbound", action = "quarantine", quarantine = "spam")`
	hintProbable      = `(hint: the embedded default has: findings = ["spam.probable"], findings_except = ["sender.approved"], direction = "inbound", tag_subject = "[SPAM?]")`
	hintMalformed     = `(hint: the embedded default has: findings = ["message.malformed"], add_headers = ["X-Mailwarden-Warning: malformed message, scanned leniently"])`
)

// The effects the baseline warnings name.
const (
	effBlockedClient = "clients in the list blocked-clients are not refused"
	effBlockedSender = "senders in a blocked-senders list are not refused"
	effInIP          = "one client network may send any number of messages from outside"
	effInSender      = "one sender may send any number of messages from outside"
	effOutIP         = "one of your hosts may send any number of messages out"
	effOutSender     = "one of your senders may send any number of messages out"
	effRcpt          = "a message may have more than 500 recipients"
	effUnknown       = "mail to recipients no [recipients] table lists is accepted, and harvesting goes uncounted"
	effSize          = "messages over 150000000 bytes are accepted"
	effDMARCReject   = "mail from outside that fails DMARC under its domain's p=reject is delivered"
	effDMARCQuar     = "mail from outside that fails DMARC under its domain's p=quarantine is delivered to the inbox"
	effVirus         = "messages in which clamd found a virus are delivered"
	effExclusion     = "messages that hit a scanning limit are delivered unscanned"
	effURLListed     = "messages from outside with links a URI blocklist lists are delivered"
	effExecutable    = "executables from outside, attached or in archives, are delivered"
	effAmbiguous     = "messages whose MIME structure reads more than one way (CVE-2024-28054) are delivered, though the scan may not have seen what the recipient's client shows"
	effGTUBE         = "messages with the GTUBE test string are delivered"
	effMalformed     = "malformed messages are delivered unflagged"
	effSpam          = "mail from outside whose spam score is over [spam] threshold is delivered to the inbox"
	effProbable      = "mail from outside whose spam score is over [spam] probable_threshold is delivered untagged"
)

func TestWarnings(t *testing.T) {
	noBaseline := []string{
		"c.toml: warning: no rule holds back mail with finding list.blocked-clients, so " + effBlockedClient + " " + hintBlockedClient,
		"c.toml: warning: no rule holds back mail with finding sender.blocked, so " + effBlockedSender + " " + hintBlockedSender,
		"c.toml: warning: no rule holds back mail with finding throttle.inbound-ip, so " + effInIP + " " + hintThrottleIn,
		"c.toml: warning: no rule holds back mail with finding throttle.inbound-sender, so " + effInSender + " " + hintThrottleIn,
		"c.toml: warning: no rule holds back mail with finding throttle.outbound-ip, so " + effOutIP + " " + hintThrottleOut,
		"c.toml: warning: no rule holds back mail with finding throttle.outbound-sender, so " + effOutSender + " " + hintThrottleOut,
		"c.toml: warning: no rule holds back mail by its recipient count, so " + effRcpt + " " + hintRcpt,
		"c.toml: warning: no rule holds back mail with finding recipient.unknown, so " + effUnknown + " " + hintUnknown,
		"c.toml: warning: no rule holds back mail by its size, so " + effSize + " " + hintSize,
		"c.toml: warning: no rule holds back mail with finding dmarc.reject, so " + effDMARCReject + " " + hintDMARCReject,
		"c.toml: warning: no rule holds back mail with finding dmarc.quarantine, so " + effDMARCQuar + " " + hintDMARCQuar,
		"c.toml: warning: no rule holds back mail with finding virus, so " + effVirus + " " + hintVirus,
		"c.toml: warning: no rule holds back mail with finding scan.exclusion, so " + effExclusion + " " + hintExclusion,
		"c.toml: warning: no rule holds back mail with finding mime.ambiguous, so " + effAmbiguous + " " + hintAmbiguous,
		"c.toml: warning: no rule holds back mail with finding attachment.executable, so " + effExecutable + " " + hintExecutable,
		"c.toml: warning: no rule holds back mail with finding content.gtube, so " + effGTUBE + " " + hintGTUBE,
		"c.toml: warning: no rule holds back mail with finding url.listed, so " + effURLListed + " " + hintURLListed,
		"c.toml: warning: no rule flags mail with finding message.malformed, so " + effMalformed + " " + hintMalformed,
		"c.toml: warning: no rule holds back mail with finding spam, so " + effSpam + " " + hintSpam,
		"c.toml: warning: no rule flags mail with finding spam.probable, so " + effProbable + " " + hintProbable,
	}
	acceptAll := func(line int) []string {
		var w []string
		for _, x := range []struct{ phrase, eff, hint string }{
			{"holds back mail with finding list.blocked-clients", effBlockedClient, hintBlockedClient},
			{"holds back mail with finding sender.blocked", effBlockedSender, hintBlockedSender},
			{"holds back mail with finding throttle.inbound-ip", effInIP, hintThrottleIn},
			{"holds back mail with finding throttle.inbound-sender", effInSender, hintThrottleIn},
			{"holds back mail with finding throttle.outbound-ip", effOutIP, hintThrottleOut},
			{"holds back mail with finding throttle.outbound-sender", effOutSender, hintThrottleOut},
			{"holds back mail by its recipient count", effRcpt, hintRcpt},
			{"holds back mail with finding recipient.unknown", effUnknown, hintUnknown},
			{"holds back mail by its size", effSize, hintSize},
			{"holds back mail with finding dmarc.reject", effDMARCReject, hintDMARCReject},
			{"holds back mail with finding dmarc.quarantine", effDMARCQuar, hintDMARCQuar},
			{"holds back mail with finding virus", effVirus, hintVirus},
			{"holds back mail with finding scan.exclusion", effExclusion, hintExclusion},
			{"holds back mail with finding mime.ambiguous", effAmbiguous, hintAmbiguous},
			{"holds back mail with finding attachment.executable", effExecutable, hintExecutable},
			{"holds back mail with finding content.gtube", effGTUBE, hintGTUBE},
			{"holds back mail with finding url.listed", effURLListed, hintURLListed},
			{"flags mail with finding message.malformed", effMalformed, hintMalformed},
			{"holds back mail with finding spam", effSpam, hintSpam},
			{"flags mail with finding spam.probable", effProbable, hintProbable},
		} {
			w = append(w, fmt.Sprintf(`c.toml:%d: warning: rule "all" accepts all mail before any rule %s, so %s %s`, line, x.phrase, x.eff, x.hint))
		}
		return w
	}
	const dirHint = "(hint: direction is inbound, outbound or internal)"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"the embedded default", string(config.DefaultTOML()), nil},
		{"the baseline written another way", otherBaseline, nil},
		// Graymail is tagged for convenience: dropping its rules is no warning.
		{"the embedded default without its graymail rules", strings.Split(string(config.DefaultTOML()), "# Graymail")[0], nil},

		// 1. What a config no longer protects against.
		{"no rules at all", "[policy]\nallow_no_rules = true\n", noBaseline},
		{"rules that do other things", "[[rule]]\nname = \"x\"\nsubject = \"gtube\"\nexpr = 'has(\"scan.exclusionx\")'\naction = \"quarantine\"\n",
			noBaseline},
		{"one protection dropped", strings.Replace(otherBaseline, `findings = ["content.gtube"]`, `findings = ["content.gtubes"]`, 1), []string{
			"c.toml: warning: no rule holds back mail with finding content.gtube, so " + effGTUBE + " " + hintGTUBE}},
		{"only tagged, not held back", strings.Replace(otherBaseline, "action = \"discard\"\n", "tag_subject = \"[GTUBE]\"\n", 1), []string{
			"c.toml: warning: no rule holds back mail with finding content.gtube, so " + effGTUBE + " " + hintGTUBE}},
		{"accepted, not held back", strings.Replace(otherBaseline, "action = \"discard\"\n", "action = \"accept\"\n", 1), []string{
			`c.toml:13: warning: rule "r4" accepts mail with finding content.gtube before any rule holds it back, so ` + effGTUBE + " " + hintGTUBE}},
		{"a negated finding", strings.Replace(otherBaseline, `findings = ["content.gtube"]`, `expr = '!has("content.gtube")'`, 1), []string{
			"c.toml: warning: no rule holds back mail with finding content.gtube, so " + effGTUBE + " " + hintGTUBE}},
		{"disabled", strings.Replace(otherBaseline, "name = \"r4\"\n", "name = \"r4\"\nenabled = false\n", 1), []string{
			`c.toml:13: warning: no rule holds back mail with finding content.gtube, so ` + effGTUBE + ` (rule "r4" would, but it is disabled) ` + hintGTUBE}},
		{"under further conditions", strings.Replace(otherBaseline, `findings = ["content.gtube"]`, "findings = [\"content.gtube\"]\ndirection = \"inbound\"", 1), []string{
			`c.toml:13: warning: rule "r4" holds back mail with finding content.gtube only under further conditions; otherwise ` + effGTUBE + " " + hintGTUBE}},
		{"an expression with further conditions", strings.Replace(otherBaseline, `has("scan.exclusion") ||`, `has("scan.exclusion") && size > 10 ||`, 1), []string{
			`c.toml:9: warning: rule "r3" holds back mail with finding scan.exclusion only under further conditions; otherwise ` + effExclusion + " " + hintExclusion}},
		{"size by expression", strings.Replace(otherBaseline, `size_over = "200MB"`, `expr = '200000000 < size'`, 1), nil},
		{"size by expression, in part", strings.Replace(otherBaseline, `size_over = "200MB"`, `expr = 'size > 200000000 && sender != ""'`, 1), []string{
			`c.toml:5: warning: rule "r2" holds back mail by its size only under further conditions; otherwise ` + effSize + " " + hintSize}},
		{"recipient count by expression", strings.Replace(otherBaseline, `recipient_count_over = 1000`, `expr = 'rcpt_index >= 100'`, 1), nil},
		{"partly, then accepted", "[[rule]]\nname = \"inbound-only\"\nfindings = [\"scan.exclusion\"]\ndirection = \"inbound\"\naction = \"quarantine\"\n" +
			"[[rule]]\nname = \"let-through\"\nfindings = [\"scan.exclusion\"]\naction = \"accept\"\n" + otherBaseline, []string{
			`c.toml:1: warning: rule "inbound-only" holds back mail with finding scan.exclusion only under further conditions, and rule "let-through" accepts the rest; otherwise ` + effExclusion + " " + hintExclusion}},
		{"the default's direction is no further condition", strings.Replace(otherBaseline, ` || has("attachment.executable")`, ``, 1) +
			"[[rule]]\nname = \"exe\"\nfindings = [\"attachment.executable\"]\ndirection = \"inbound\"\naction = \"quarantine\"\n", nil},
		{"another direction is", strings.Replace(otherBaseline, ` || has("attachment.executable")`, ``, 1) +
			"[[rule]]\nname = \"exe\"\nfindings = [\"attachment.executable\"]\ndirection = \"outbound\"\naction = \"quarantine\"\n", []string{
			`c.toml:21: warning: rule "exe" holds back mail with finding attachment.executable only under further conditions; otherwise ` + effExecutable + " " + hintExecutable}},
		{"accepted after it is held back", otherBaseline + "[[rule]]\nname = \"late\"\nfindings = [\"scan.exclusion\"]\naction = \"accept\"\n", nil},
		{"accepted at an earlier stage", "[[rule]]\nname = \"all\"\naction = \"accept\"\n" + otherBaseline,
			append(acceptAll(1), `c.toml:3: warning: rule[0].action: rule "all" has action accept and no condition, so it decides all mail at connect,`+
				` and the 5 rule(s) after it never run (hint: add a condition, or leave out action to only tag or add header fields)`)},

		// 3. Rules that decide all mail.
		{"terminal, no condition", otherBaseline + "[[rule]]\nname = \"wall\"\naction = \"reject\"\n", []string{
			`c.toml:23: warning: rule[5].action: rule "wall" has action reject and no condition, so it decides all mail at connect,` +
				` and the 5 rule(s) after it never run (hint: add a condition, or leave out action to only tag or add header fields)`}},
		{"terminal, conditions that always hold", otherBaseline + "[[rule]]\nname = \"wall\"\nsenders = [\"*\"]\nexpr = 'true'\naction = \"tempfail\"\n", []string{
			`c.toml:25: warning: rule[5].action: rule "wall" has action tempfail and only conditions that always hold, so it decides all mail at MAIL FROM,` +
				` and the 5 rule(s) after it never run (hint: add a condition, or leave out action to only tag or add header fields)`}},
		{"last in order", otherBaseline + "[[rule]]\nname = \"catch-all\"\nrecipients = [\"*\"]\naction = \"quarantine\"\n[[rule]]\nname = \"first\"\nclients = [\"192.0.2.1\"]\naction = \"reject\"\n", []string{
			`c.toml:24: warning: rule[5].action: rule "catch-all" has action quarantine and only conditions that always hold, so it decides all mail at RCPT TO, per recipient,` +
				` and the 4 rule(s) after it never run (hint: add a condition, or leave out action to only tag or add header fields)`}},
		{"modifying only", otherBaseline + "[[rule]]\nname = \"stamp\"\nadd_headers = [\"X-Scanned: yes\"]\n", nil},
		{"disabled, no condition", otherBaseline + "[[rule]]\nname = \"wall\"\nenabled = false\naction = \"reject\"\n", nil},
		{"a pattern that can fail", otherBaseline + "[[rule]]\nname = \"w\"\nsenders = [\"*\"]\nsenders_except = [\"<>\"]\naction = \"reject\"\n", nil},

		// 3. Comparisons of direction with a value it never has.
		{"direction ==", otherBaseline + "[[rule]]\nname = \"d\"\nexpr = 'direction == \"inbond\"'\naction = \"reject\"\n", []string{
			`c.toml:23: warning: rule[5].expr: expression compares direction with "inbond", a value it never has, so == is always false (hint: did you mean "inbound"?)`}},
		{"direction !=, mirrored", otherBaseline + "[[rule]]\nname = \"d\"\nexpr = '\"Outbound\" != direction'\naction = \"reject\"\n", []string{
			`c.toml:23: warning: rule[5].expr: expression compares direction with "Outbound", a value it never has, so != is always true (hint: did you mean "outbound"?)`}},
		{"direction any", otherBaseline + "[[rule]]\nname = \"d\"\nexpr = '$env.direction == \"any\" || $env[\"direction\"] == \"mixed\"'\naction = \"reject\"\n", []string{
			`c.toml:23: warning: rule[5].expr: expression compares direction with "any", a value it never has, so == is always false (hint: leave the comparison out to match any direction)`,
			`c.toml:23: warning: rule[5].expr: expression compares direction with "mixed", a value it never has, so == is always false ` + dirHint}},
		{"direction in, not in, over lines", otherBaseline + "[[rule]]\nname = \"d\"\nexpr = '''\ndirection in [\"inbound\", \"internal\"] &&\n  direction not in [\n    \"outbound\",\n    \"external\"]'''\naction = \"reject\"\n", []string{
			`c.toml:27: warning: rule[5].expr: expression compares direction with "external", a value it never has, so that element of the list never matches ` + dirHint}},
		{"direction in a disabled rule", otherBaseline + "[[rule]]\nname = \"d\"\nenabled = false\nexpr = 'direction == \"in\"'\naction = \"reject\"\n", []string{
			`c.toml:24: warning: rule[5].expr: expression compares direction with "in", a value it never has, so == is always false ` + dirHint}},
		{"direction right", otherBaseline + "[[rule]]\nname = \"d\"\nexpr = 'direction == \"inbound\" || direction != \"outbound\" || direction == helo || \"x\" == subject'\naction = \"reject\"\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pol := mustLoad(t, tt.src)
			var got []string
			for _, w := range pol.Warnings {
				got = append(got, w.String())
				if !w.Warning || w.File != "c.toml" {
					t.Errorf("warning %+v: Warning false or wrong file", w)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestBaselineEffects keeps the baseline warnings complete: every
// protection of the embedded default has a trigger, a rule text for the
// hint and an effect in words.
func TestBaselineEffects(t *testing.T) {
	b := baseline()
	if b == nil {
		t.Fatal("the embedded default does not load")
	}
	ps := baselineProtections(b)
	var found []string
	for _, r := range b.Rules {
		if strings.HasPrefix(r.Name, "graymail-") {
			continue // a convenience tag, not a protection: see convenience
		}
		n := 0
		for _, p := range ps {
			if p.rule == r {
				n++
				found = append(found, p.trigger.phrase())
			}
		}
		conds := 0 // a direction and a findings_except are allowed besides: the lint keeps them
		for _, c := range r.Conditions {
			if f, ok := c.(findingCond); ok && f.except {
				continue
			}
			if _, ok := c.(directionCond); !ok {
				conds++
			}
		}
		if n == 0 || conds != 1 {
			t.Errorf("default rule %q: %d triggers, %d conditions; the baseline warnings need one condition on a finding, size or recipient count, and perhaps a direction",
				r.Name, n, conds)
		}
		if txt := baselineRuleText(r); !strings.Contains(txt, "action") && !strings.Contains(txt, "add_headers") && !strings.Contains(txt, "tag_subject") || strings.Contains(txt, "name") {
			t.Errorf("default rule %q: hint text %q", r.Name, txt)
		}
	}
	for _, p := range ps {
		if e := effect(p.trigger, p.rule); strings.Contains(e, "is not done") {
			t.Errorf("no effect in words for %s (rule %q): add it to baselineEffects", p.trigger.phrase(), p.rule.Name)
		}
	}
	want := "with finding list.blocked-clients|with finding sender.blocked|with finding throttle.inbound-ip|with finding throttle.inbound-sender|with finding throttle.outbound-ip|with finding throttle.outbound-sender|" +
		"by its recipient count|with finding recipient.unknown|by its size|with finding dmarc.reject|with finding dmarc.quarantine|with finding virus|with finding scan.exclusion|with finding mime.ambiguous|with finding attachment.executable|with finding content.gtube|with finding url.listed|with finding message.malformed|with finding spam|with finding spam.probable"
	if got := strings.Join(found, "|"); got != want {
		t.Errorf("protections %s, want %s", got, want)
	}
}
