package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/e2e"
	"github.com/mailwarden/mailwarden/policy/release"
	"github.com/mailwarden/mailwarden/store"
)

// seed fills a data directory with two tracking rows and one quarantined
// message for two recipients.
func seed(t *testing.T) (dir, qid string, raw []byte) {
	t.Helper()
	dir = t.TempDir()
	st, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, e := range []*store.Event{
		{Time: time.Now().Add(-time.Hour), ClientIP: "192.0.2.1", Direction: "inbound", Stage: "connect", Action: "reject",
			Reply:   "554 5.7.1 Network blocked (rule blocked-net: client.network)",
			Matches: []store.Match{{Rule: "blocked-net", Stage: "connect", Action: "reject", Findings: []store.Finding{{Name: "client.network", Value: "192.0.2.1", Where: "client"}}}}},
		{Time: time.Now(), ClientIP: "198.51.100.1", Direction: "inbound", Stage: "eom", Action: "discard", Sender: "a@example.net",
			Subject: "会議の件", Recipients: []store.RecipientOutcome{{Address: "bob@example.com", Action: "quarantine", Rule: "gtube"}}},
	} {
		if _, err := st.AddEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	raw = []byte("Received: by mta\r\nFrom: a@example.net\r\nSubject: test\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")
	qid, err = st.AddQuarantine(ctx, &store.QuarantineEntry{Area: "spam", Rule: "gtube", Sender: "a@example.net",
		Recipients: []string{"bob@example.com", "ann@example.com"}, Subject: "test", Raw: raw})
	if err != nil {
		t.Fatal(err)
	}
	return dir, qid, raw
}

func TestLogCommand(t *testing.T) {
	dir, _, _ := seed(t)
	code, out, errOut := runCmd(t, "log", "--data", dir, "--format", "csv")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][0] != "time" {
		t.Fatalf("csv: %v\n%s", err, out)
	}
	if recs[1][13] != "会議の件" || recs[2][17] != "blocked-net(client.network@client)" {
		t.Errorf("csv rows:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want []string
		not  []string
	}{
		{[]string{"--action", "reject"}, []string{"192.0.2.1", "blocked-net"}, []string{"198.51.100.1"}},
		{[]string{"--subject", "会議"}, []string{"198.51.100.1", "bob@example.com=quarantine"}, []string{"192.0.2.1"}},
		{[]string{"--since", "30m"}, []string{"198.51.100.1"}, []string{"192.0.2.1"}},
		{[]string{"--ip", "192.0.2.1"}, []string{"192.0.2.1"}, []string{"198.51.100.1"}},
		{[]string{"--rcpt", "*@example.com"}, []string{"198.51.100.1"}, []string{"192.0.2.1"}},
	} {
		code, out, errOut := runCmd(t, append([]string{"log", "--data", dir}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(out, n) {
				t.Errorf("%v: output has %q:\n%s", tc.args, n, out)
			}
		}
	}
	if code, _, errOut := runCmd(t, "log", "--data", dir, "--since", "yesterday-ish"); code != 1 || !strings.Contains(errOut, "--since") {
		t.Errorf("bad --since: exit %d %s", code, errOut)
	}
}

func TestQuarantineCommands(t *testing.T) {
	dir, qid, raw := seed(t)
	sink := e2e.StartSink(t)

	code, out, _ := runCmd(t, "quarantine", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, qid) || !strings.Contains(out, "spam") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	if _, out, _ := runCmd(t, "quarantine", "export", qid, "--data", dir); out != string(raw) {
		t.Errorf("export differs:\n%q", out)
	}
	if _, out, _ := runCmd(t, "quarantine", "show", qid, "--data", dir); !strings.Contains(out, "Rule:       gtube") {
		t.Errorf("show:\n%s", out)
	}

	release1 := func(args ...string) (int, string, string) {
		return runCmd(t, append([]string{"quarantine", "release", qid, "--data", dir, "--smtp", sink.Addr()}, args...)...)
	}
	if code, _, errOut := release1("--rcpt", "eve@example.com"); code != 1 || !strings.Contains(errOut, "not a recipient") {
		t.Errorf("release to a stranger: %d %s", code, errOut)
	}
	if code, out, errOut := release1("--rcpt", "ANN@example.com"); code != 0 || !strings.Contains(out, "released to ann@example.com") {
		t.Fatalf("release ann: %d %s %s", code, out, errOut)
	}
	d := sink.Wait(t, 1, 5*time.Second)[0]
	if strings.Join(d.To, ",") != "ann@example.com" || d.From != "a@example.net" {
		t.Errorf("envelope %s -> %v", d.From, d.To)
	}
	hdr, rest, _ := strings.Cut(string(d.Data), "\r\n")
	value, ok := strings.CutPrefix(hdr, release.Header+": ")
	if !ok || rest != string(raw) {
		t.Fatalf("released data:\n%s", d.Data)
	}
	key, err := release.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := release.Verify(key, value, release.Digest(raw), time.Now())
	if err != nil || tok.Rule != "gtube" || strings.Join(tok.Recipients, ",") != "ann@example.com" {
		t.Errorf("token %+v, %v", tok, err)
	}

	// The rest: only bob is pending now; a second full release delivers to
	// him alone, a third delivers nothing, --force delivers to both again.
	if code, out, _ := release1(); code != 0 || !strings.Contains(out, "already released") || !strings.Contains(out, "released to bob@example.com") {
		t.Errorf("second release: %s", out)
	}
	if n := len(sink.Wait(t, 2, 5*time.Second)); n != 2 {
		t.Fatalf("%d deliveries", n)
	}
	if _, out, _ := release1(); strings.Contains(out, "released to") {
		t.Errorf("third release delivered again: %s", out)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(sink.Deliveries()); n != 2 {
		t.Errorf("after an idempotent release: %d deliveries, want 2", n)
	}
	if code, out, _ := release1("--force"); code != 0 || !strings.Contains(out, "released to bob@example.com, ann@example.com") {
		t.Errorf("forced release: %s", out)
	}
	sink.Wait(t, 3, 5*time.Second)

	if code, _, _ := runCmd(t, "quarantine", "delete", qid, "--data", dir); code != 0 {
		t.Errorf("delete exit %d", code)
	}
	if code, _, errOut := runCmd(t, "quarantine", "show", qid, "--data", dir); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("show after delete: %d %s", code, errOut)
	}
}

// TestRootKeepsDaemonOwnership: an administrator running the CLI as root on
// the daemon's data directory must not leave root-owned SQLite files the
// daemon's user can no longer open.
func TestRootKeepsDaemonOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown; CI runs as root")
	}
	dir := t.TempDir()
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCmd(t, "log", "--data", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, name := range []string{store.DBFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 {
			t.Errorf("%s owned by uid %d, want 65534", name, st.Uid)
		}
	}
}
