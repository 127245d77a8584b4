package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCmd runs the CLI in-process and returns its exit status and output.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{[]string{"help"}, 0, "quarantine release", ""},
		{[]string{"help", "serve"}, 0, "Usage: mailwarden serve", ""},
		{[]string{"serve", "-h"}, 0, "--listen", ""},
		{[]string{"help", "quarantine", "release"}, 0, "--force", ""},
		{[]string{"config", "check", "-h"}, 0, "every problem at once", ""},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"check"}, 2, "", "Usage: mailwarden check"},
		{[]string{"log", "--bogus"}, 2, "", "flag provided but not defined"},
		{[]string{"version"}, 0, "mailwarden ", ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.inStdout) || !strings.Contains(errOut, tc.inStderr) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
		})
	}
}

func TestConfigCheck(t *testing.T) {
	bad := writeFile(t, "bad.toml", `[server]
listen = "inet:127.0.0.1:8899"
colour = "blue"

[[rule]]
name = "r1"
action = "rejekt"

[[rule]]
name = "r2"
clients = ["192.0.2.1-300"]
action = "reject"
`)
	code, _, errOut := runCmd(t, "config", "check", "-c", bad)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errOut)
	}
	for _, want := range []string{
		bad + ":3: server.colour: unknown key",
		bad + ":7: rule[0].action: \"rejekt\" is not an action",
		bad + ":11: rule[1].clients:",
		"3 problem(s)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}

	shared := writeFile(t, "shared.toml", "[[rule]]\nname = \"ceo-tag\"\nrecipients = [\"ceo@example.com\"]\ntag_subject = \"[CEO]\"\n"+
		"[[rule]]\nname = \"all-tag\"\nsubject = \"x\"\ntag_subject = \"[X]\"\n")
	if _, out, _ := runCmd(t, "config", "check", "-c", shared); strings.Count(out, "note: the delivered recipients share one copy") != 1 {
		t.Errorf("want one shared-copy note, for ceo-tag only:\n%s", out)
	}

	code, out, errOut := runCmd(t, "config", "check", "-c", "../../contrib/mailwarden.toml")
	if code != 0 {
		t.Fatalf("sample config: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		`rule "too-many-recipients", line `,
		"decided at RCPT TO, per recipient -> tempfail",
		`rule "blocked-networks" (disabled)`,
		"decided at connect -> reject",
		`rule "gtube", line `,
		"decided at end of message, per recipient -> quarantine",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckDryRun(t *testing.T) {
	conf := writeFile(t, "c.toml", `
[organization]
internal_domains = ["example.com"]

[[rule]]
name = "blocked"
clients = ["192.0.2.0/24"]
action = "reject"
reply = "554 5.7.1 Go away"

[[rule]]
name = "ceo-lottery"
recipients = ["ceo@example.com"]
subject = "(?i)lottery"
action = "quarantine"

[[rule]]
name = "gtube"
gtube = true
action = "quarantine"
quarantine = "spam"

[[rule]]
name = "tag-inbound"
direction = "inbound"
tag_subject = "[EXT]"
`)
	gtube := writeFile(t, "gtube.eml", "Subject: hi\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n")
	lottery := writeFile(t, "lottery.eml", "Subject: =?ISO-2022-JP?B?GyRCMnE1RCRON28bKEI=?= LOTTERY\n\nhello\n")
	tests := []struct {
		name   string
		args   []string
		action string
		rcpts  map[string]string
	}{
		{"connect reject", []string{"--ip", "192.0.2.5", gtube}, "reject", map[string]string{"bob@example.com": "reject"}},
		{"gtube", []string{"--ip", "198.51.100.1", gtube}, "quarantine", map[string]string{"bob@example.com": "quarantine"}},
		{"split", []string{"--ip", "198.51.100.1", "--rcpt", "ceo@example.com", lottery}, "split",
			map[string]string{"bob@example.com": "accept", "ceo@example.com": "quarantine"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"check", "-c", conf, "--helo", "h.example.net", "--from", "a@example.net", "--rcpt", "bob@example.com", "--json"}, tc.args...)
			code, out, errOut := runCmd(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var rep struct {
				Action     string
				Subject    string
				TagSubject []string `json:"tag_subject"`
				Recipients []struct{ Address, Outcome, Rule string }
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if rep.Action != tc.action {
				t.Errorf("action %q, want %q\n%s", rep.Action, tc.action, out)
			}
			got := map[string]string{}
			for _, r := range rep.Recipients {
				got[r.Address] = r.Outcome
			}
			for a, o := range tc.rcpts {
				if got[a] != o {
					t.Errorf("%s: %q, want %q\n%s", a, got[a], o, out)
				}
			}
			if tc.name == "split" && (rep.Subject != "会議の件 LOTTERY" || strings.Join(rep.TagSubject, ",") != "[EXT]") {
				t.Errorf("subject %q tags %v", rep.Subject, rep.TagSubject)
			}
		})
	}
	// The text report names the rule and the finding.
	_, out, _ := runCmd(t, "check", "-c", conf, "--ip", "198.51.100.1", "--helo", "h", "--from", "a@example.net", "--rcpt", "bob@example.com", gtube)
	for _, want := range []string{`<bob@example.com>: quarantine by rule "gtube" into area "spam"`, "content.gtube"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}
