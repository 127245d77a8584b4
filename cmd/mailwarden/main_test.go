package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/store"
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
		{[]string{"check"}, 2, "", "mailwarden check: missing --rcpt ADDRESS and the message file (or - for standard input)\n\nUsage: mailwarden check"},
		{[]string{"check", "--rcpt", "a@example.com"}, 2, "", "missing the message file"},
		{[]string{"check", "m.eml"}, 2, "", "missing --rcpt ADDRESS\n"},
		{[]string{"check", "--rcpt", "a@example.com", "a.eml", "b.eml"}, 2, "", "one message at a time, got 2"},
		{[]string{"help", "check"}, 0, "5  tempfail", ""},
		{[]string{"log", "--bogus"}, 2, "", "flag provided but not defined"},
		{[]string{"version"}, 0, "mailwarden ", ""},
		{[]string{"--version"}, 0, "mailwarden ", ""},
		{[]string{"-V"}, 0, "mailwarden ", ""},
		{[]string{"version", "extra"}, 2, "", "Usage: mailwarden version"},
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

	// The file may be given as the argument.
	if code, _, errOut := runCmd(t, "config", "check", bad); code != 1 || !strings.Contains(errOut, bad+":3: server.colour: unknown key") {
		t.Errorf("config check FILE: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "config", "check", "-c", bad, shared); code != 1 || !strings.Contains(errOut, "two config files") {
		t.Errorf("-c and another FILE: exit %d\n%s", code, errOut)
	}
	code, out, errOut := runCmd(t, "config", "check", "../../contrib/mailwarden.toml")
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
findings = ["content.gtube"]
action = "quarantine"
quarantine = "spam"

[[rule]]
name = "greylist-net"
clients = ["203.0.113.0/24"]
action = "tempfail"

[[rule]]
name = "tag-inbound"
direction = "inbound"
tag_subject = "[EXT]"

[[rule]]
name = "stamp-net"
clients = ["198.51.100.0/24"]
add_headers = ["X-Net: 198.51.100"]
`)
	gtube := writeFile(t, "gtube.eml", "Subject: hi\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n")
	lottery := writeFile(t, "lottery.eml", "Subject: =?ISO-2022-JP?B?GyRCMnE1RCRON28bKEI=?= LOTTERY\n\nhello\n")
	tests := []struct {
		name   string
		args   []string
		action string
		rcpts  map[string]string
		code   int
	}{
		{"connect reject", []string{"--ip", "192.0.2.5", gtube}, "reject", map[string]string{"bob@example.com": "reject"}, 4},
		{"gtube", []string{"--ip", "198.51.100.1", gtube}, "quarantine", map[string]string{"bob@example.com": "quarantine"}, 3},
		{"split", []string{"--ip", "198.51.100.1", "--rcpt", "ceo@example.com", lottery}, "split",
			map[string]string{"bob@example.com": "accept", "ceo@example.com": "quarantine"}, 3},
		{"accept", []string{"--ip", "198.51.100.1", lottery}, "accept", map[string]string{"bob@example.com": "accept"}, 0},
		{"tempfail", []string{"--ip", "203.0.113.9", lottery}, "tempfail", map[string]string{"bob@example.com": "tempfail"}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"check", "-c", conf, "--helo", "h.example.net", "--from", "a@example.net", "--rcpt", "bob@example.com", "--json"}, tc.args...)
			code, out, errOut := runCmd(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errOut)
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
	// The text report names the rule and the finding, and each stage shows
	// only what was decided there: the connect-stage rule once, at connect,
	// the RCPT-stage one at RCPT, the content rule at end of message.
	code, out, _ := runCmd(t, "check", "-c", conf, "--ip", "198.51.100.1", "--helo", "h", "--from", "a@example.net", "--rcpt", "bob@example.com", gtube)
	if code != 3 {
		t.Errorf("exit %d, want 3 (quarantine)", code)
	}
	for _, want := range []string{`<bob@example.com>: quarantine by rule "gtube" into area "spam"`, "content.gtube",
		"connect : continue\n    matched rule \"stamp-net\" (connect, modify)\n",
		"rcpt     <bob@example.com>: continue\n    matched rule \"tag-inbound\" (rcpt, modify)\n",
		"eom     : discard\n    matched rule \"gtube\" (eom, quarantine)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	for _, rule := range []string{"stamp-net", "tag-inbound", "gtube"} {
		if n := strings.Count(out, `matched rule "`+rule+`"`); n != 1 {
			t.Errorf("rule %s shown %d times, want once:\n%s", rule, n, out)
		}
	}
	_, out, _ = runCmd(t, "check", "-c", conf, "--ip", "198.51.100.1", "--rcpt", "bob@example.com", "--json", gtube)
	var rep struct {
		Stages []struct {
			Stage   string
			Matches []struct{ Rule string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, st := range rep.Stages {
		want := map[string]string{"connect": "stamp-net", "rcpt": "tag-inbound"}[st.Stage]
		if len(st.Matches) > 1 || (len(st.Matches) == 1) != (want != "") || (want != "" && st.Matches[0].Rule != want) {
			t.Errorf("json stage %s matches %+v, want only %q", st.Stage, st.Matches, want)
		}
	}
}

func TestVersionOf(t *testing.T) {
	vcs := func(settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
		for i := 0; i < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	for _, tc := range []struct {
		linked string
		bi     *debug.BuildInfo
		want   string
	}{
		{"v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}}, "v1.2.3"},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"}, // go install …@v1.4.0
		{"dev", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201204500-56a69dcabcde+dirty"}}, "v0.0.0-20261201204500-56a69dcabcde+dirty"},
		{"", vcs("vcs.revision", "56a69dcabcdef0123456789", "vcs.modified", "false"), "devel-56a69dcabcde"},
		{"", vcs("vcs.revision", "56a69dc", "vcs.modified", "true"), "devel-56a69dc-dirty"},
		{"", vcs(), "devel"},
		{"", nil, "devel"},
	} {
		if got := versionOf(tc.linked, tc.bi); got != tc.want {
			t.Errorf("versionOf(%q, %+v) = %q, want %q", tc.linked, tc.bi, got, tc.want)
		}
	}
}

// TestCheckReadsTheDaemonState: `mailwarden check` on the daemon's data
// directory sees what `mailwarden list` put in a store-backed list, and
// changes nothing there.
func TestCheckReadsTheDaemonState(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.OpenState(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	msg := writeFile(t, "m.eml", "Subject: hi\n\nhello\n")
	if code, _, errOut := runCmd(t, "list", "add", "--data", dir, "blocked-clients", "192.0.2.9", "--note", "test"); code != 0 {
		t.Fatalf("list add: exit %d: %s", code, errOut)
	}
	code, out, _ := runCmd(t, "check", "--data", dir, "--ip", "192.0.2.9", "--from", "a@example.net", "--rcpt", "bob@example.com", msg)
	if code == 0 || !strings.Contains(out, "blocked-client") || !strings.Contains(out, "554 5.7.1") {
		t.Errorf("exit %d, want the client refused by blocked-client:\n%s", code, out)
	}
	code, out, _ = runCmd(t, "check", "--data", dir, "--ip", "192.0.2.10", "--from", "a@example.net", "--rcpt", "bob@example.com", msg)
	if code != 0 {
		t.Errorf("another client: exit %d:\n%s", code, out)
	}
}
