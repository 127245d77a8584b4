package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/e2e"
	"github.com/mailwarden/mailwarden/policy/release"
	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/store"
)

var manyRcpts = []store.RecipientOutcome{{Address: "r1@example.com", Action: "accept"}, {Address: "r2@example.com", Action: "accept"},
	{Address: "r3@example.com", Action: "accept"}, {Address: "r4@example.com", Action: "accept"}, {Address: "last@example.com", Action: "accept"}}

// seed fills a data directory with tracking rows and one quarantined
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
	now := time.Now()
	for _, e := range []*store.Event{
		{Time: now.Add(-time.Hour), ClientIP: "192.0.2.1", Direction: "inbound", Stage: "connect", Action: "reject",
			Reply:   "554 5.7.1 Network blocked (rule blocked-net: client.network)",
			Matches: []scanner.Match{{Rule: "blocked-net", Stage: "connect", Action: "reject", Findings: []scanner.Finding{{Name: "client.network", Value: "192.0.2.1", Where: "client"}}}}},
		{Time: now.Add(-50 * time.Minute), ClientIP: "192.0.2.77", QueueID: "4XNULL1", Direction: "inbound", Stage: "eom", Action: "accept",
			Sender: "", Subject: "bounce", Recipients: []store.RecipientOutcome{{Address: "postmaster@example.com", Action: "accept"}}},
		{Time: now.Add(-40 * time.Minute), ClientIP: "2001:db8::5", QueueID: "4XMANY1", Direction: "inbound", Stage: "eom", Action: "accept",
			Sender: "list@example.org", Subject: "newsletter", Recipients: manyRcpts},
		{Time: now, ClientIP: "198.51.100.1", QueueID: "4XQUAR1", Direction: "inbound", Stage: "eom", Action: "discard", Sender: "a@example.net",
			Subject: "会議の件", Recipients: []store.RecipientOutcome{{Address: "bob@example.com", Action: "quarantine", Rule: "gtube"}}},
	} {
		if _, err := st.AddEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	raw = []byte("Received: by mta\r\nFrom: a@example.net\r\nSubject: test\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")
	qid, err = st.AddQuarantine(ctx, &store.QuarantineEntry{Area: "spam", Rule: "gtube", Sender: "a@example.net",
		ClientIP: "198.51.100.1", ClientName: "mx.example.net", Helo: "helo.example.net", QueueID: "4XQUAR1",
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
	if err != nil || len(recs) != 5 || recs[0][0] != "time" {
		t.Fatalf("csv: %v\n%s", err, out)
	}
	if recs[1][13] != "会議の件" || recs[4][17] != "blocked-net(client.network@client)" {
		t.Errorf("csv rows:\n%s", out)
	}
	// JSON and CSV carry every recipient; the table abbreviates.
	if !strings.Contains(recs[2][10], "last@example.com=accept") {
		t.Errorf("csv recipients cut: %q", recs[2][10])
	}
	_, out, _ = runCmd(t, "log", "--data", dir, "--format", "json", "--queue-id", "4XMANY1")
	var ev store.Event
	if err := json.Unmarshal([]byte(out), &ev); err != nil || len(ev.Recipients) != len(manyRcpts) {
		t.Errorf("json: %v, %d recipients\n%s", err, len(ev.Recipients), out)
	}
	for _, tc := range []struct {
		args []string
		want []string
		not  []string
	}{
		{[]string{"--action", "reject"}, []string{"192.0.2.1", "blocked-net"}, []string{"198.51.100.1"}},
		{[]string{"--subject", "会議"}, []string{"198.51.100.1", "bob@example.com=quarantine", "4XQUAR1"}, []string{"192.0.2.1 "}},
		{[]string{"--since", "30m"}, []string{"198.51.100.1"}, []string{"192.0.2.1 "}},
		{[]string{"--ip", "192.0.2.1"}, []string{"192.0.2.1 "}, []string{"198.51.100.1", "192.0.2.77"}},
		{[]string{"--rcpt", "*@example.com"}, []string{"198.51.100.1"}, []string{"192.0.2.1 "}},
		// the queue ID, the first thing a Postfix administrator searches by
		{[]string{"--queue-id", "4XQUAR1"}, []string{"QUEUE ID", "4XQUAR1", "198.51.100.1"}, []string{"4XMANY1", "192.0.2.1 "}},
		{[]string{"--queue-id", "4xquar1"}, []string{"4XQUAR1"}, []string{"4XMANY1"}},
		// a network
		{[]string{"--ip", "192.0.2.0/24"}, []string{"192.0.2.1 ", "192.0.2.77"}, []string{"198.51.100.1", "2001:db8::5"}},
		{[]string{"--ip", "2001:db8::/32"}, []string{"2001:db8::5"}, []string{"192.0.2.1 "}},
		// long recipient lists are cut in the table
		{[]string{"--queue-id", "4XMANY1"}, []string{"r1@example.com=accept r2@example.com=accept +3 more"}, []string{"last@example.com"}},
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
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", "yesterday-ish"}, "--since"},
		{[]string{"--action", "rejected"}, `--action: "rejected" is not an action`},
		{[]string{"--ip", "192.0.2.300"}, `--ip: "192.0.2.300" is neither`},
		{[]string{"--format", "xml"}, "--format"},
	} {
		if code, _, errOut := runCmd(t, append([]string{"log", "--data", dir}, tc.args...)...); code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %s", tc.args, code, errOut)
		}
	}
}

// TestLogTable: the sender column tells a connection refused before MAIL
// ("-") from the null sender ("<>"), and columns stay aligned with CJK text,
// which takes two terminal columns a character.
func TestLogTable(t *testing.T) {
	dir, _, _ := seed(t)
	_, out, _ := runCmd(t, "log", "--data", dir)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	cells := regexp.MustCompile(`\S+(?: \S+)*`) // cells are two or more spaces apart
	byQueue := map[string][]string{}
	for _, l := range lines[1:] {
		c := cells.FindAllString(l, -1)
		byQueue[c[1]] = c
	}
	if c := byQueue["-"]; len(c) < 5 || c[2] != "192.0.2.1" || c[4] != "-" {
		t.Errorf("connect refusal: sender cell %q, want \"-\"\n%s", c, out)
	}
	if c := byQueue["4XNULL1"]; len(c) < 5 || c[4] != "<>" {
		t.Errorf("null sender: %q, want \"<>\"\n%s", c, out)
	}
	// Every row's ACTION column starts at the same display column.
	col := -1
	for _, l := range lines {
		for _, a := range []string{"ACTION", "reject", "accept", "discard"} {
			i := strings.Index(l, "  "+a+"  ")
			if i < 0 {
				continue
			}
			w := displayWidth(l[:i+2])
			if col >= 0 && w != col {
				t.Errorf("misaligned: %q at column %d, want %d\n%s", a, w, col, out)
			}
			col = w
			break
		}
	}
	if col < 0 {
		t.Fatalf("no ACTION column found:\n%s", out)
	}
}

func TestLogLimit(t *testing.T) {
	dir, _, _ := seed(t)
	for _, tc := range []struct {
		args  []string
		rows  int
		notes bool
	}{
		{[]string{"--limit", "2"}, 2, true},
		{[]string{"--limit", "4"}, 4, false},
		{[]string{"--limit", "1", "--ip", "192.0.2.0/24"}, 1, true},
		{[]string{"--limit", "2", "--ip", "192.0.2.0/24"}, 2, false},
		{[]string{"--limit", "5", "--ip", "0.0.0.0/0"}, 3, false},
	} {
		code, out, errOut := runCmd(t, append([]string{"log", "--data", dir, "--format", "json"}, tc.args...)...)
		n := strings.Count(out, "\n")
		note := strings.Contains(errOut, fmt.Sprintf("showing the newest %s rows; more match", tc.args[1]))
		if code != 0 || n != tc.rows || note != tc.notes {
			t.Errorf("%v: exit %d, %d rows (want %d), note %v (want %v)\n%s", tc.args, code, n, tc.rows, note, tc.notes, errOut)
		}
	}
}

// TestReadOnlyCommands: the commands that only read never create a store,
// and say so when there is none, instead of showing an empty log.
func TestReadOnlyCommands(t *testing.T) {
	empty := t.TempDir()
	missing := filepath.Join(empty, "nothing-here")
	for _, args := range [][]string{
		{"log"}, {"quarantine", "list"}, {"quarantine", "show", "abcd"}, {"quarantine", "export", "abcd"},
		{"quarantine", "delete", "abcd"}, {"quarantine", "release", "abcd"},
	} {
		for _, dir := range []string{empty, missing} {
			code, out, errOut := runCmd(t, append(args, "--data", dir)...)
			if code != 1 || !strings.Contains(errOut, "no store at "+dir) || out != "" {
				t.Errorf("%v on %s: exit %d, stdout %q, stderr %q", args, dir, code, out, errOut)
			}
		}
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("created %v", ents)
	}
}

// TestReadOnlyDatabase: log and quarantine list|show|export work on a
// database the user cannot write. As root the test runs itself again as
// nobody, since root may write anything.
func TestReadOnlyDatabase(t *testing.T) {
	if dir := os.Getenv("MAILWARDEN_TEST_RO_DIR"); dir != "" {
		qid := os.Getenv("MAILWARDEN_TEST_RO_QID")
		for _, args := range [][]string{{"log"}, {"quarantine", "list", "--format", "ids"}, {"quarantine", "show", qid[:8]}, {"quarantine", "export", qid}} {
			code, out, errOut := runCmd(t, append(args, "--data", dir)...)
			if code != 0 || out == "" {
				t.Errorf("%v: exit %d\n%s\n%s", args, code, out, errOut)
			}
		}
		if code, _, errOut := runCmd(t, "quarantine", "delete", qid, "--data", dir); code != 1 {
			t.Errorf("delete on a read-only database: exit %d %s", code, errOut)
		}
		return
	}
	top, err := os.MkdirTemp("", "mailwarden-ro-")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(top, "data")
	t.Cleanup(func() { os.Chmod(dir, 0o755); os.RemoveAll(top) })
	src, qid, _ := seed(t)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(filepath.Join(src, store.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, store.DBFile), db, 0o444); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, top} {
		if err := os.Chmod(p, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadOnlyDatabase$", "-test.v")
	cmd.Env = append(os.Environ(), "MAILWARDEN_TEST_RO_DIR="+dir, "MAILWARDEN_TEST_RO_QID="+qid)
	if os.Geteuid() == 0 {
		bin := filepath.Join(t.TempDir(), "cmd.test")
		self, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, self, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd.Path, cmd.Args[0], cmd.Dir = bin, bin, top
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestReadOnlyDatabase") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestQuarantineCommands(t *testing.T) {
	dir, qid, raw := seed(t)
	sink := e2e.StartSink(t)

	code, out, _ := runCmd(t, "quarantine", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, qid) || !strings.Contains(out, "spam") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	if _, out, _ := runCmd(t, "quarantine", "list", "--data", dir, "--format", "ids"); out != qid+"\n" {
		t.Errorf("list --format ids: %q", out)
	}
	if _, out, _ := runCmd(t, "quarantine", "export", qid, "--data", dir); out != string(raw) {
		t.Errorf("export differs:\n%q", out)
	}
	// A unique prefix will do, as with git.
	if _, out, _ := runCmd(t, "quarantine", "export", qid[:6], "--data", dir); out != string(raw) {
		t.Errorf("export by prefix differs:\n%q", out)
	}
	if _, out, _ := runCmd(t, "quarantine", "show", strings.ToUpper(qid[:5]), "--data", dir); !strings.Contains(out, "Rule:       gtube") ||
		!strings.Contains(out, "HELO:       helo.example.net") || !strings.Contains(out, "Client:     198.51.100.1 (mx.example.net)") {
		t.Errorf("show:\n%s", out)
	}
	if code, _, errOut := runCmd(t, "quarantine", "show", "abc", "--data", dir); code != 1 || !strings.Contains(errOut, "shorter than 4") {
		t.Errorf("short prefix: %d %s", code, errOut)
	}

	release1 := func(args ...string) (int, string, string) {
		return runCmd(t, append([]string{"quarantine", "release", qid[:8], "--data", dir, "--smtp", sink.Addr()}, args...)...)
	}
	if code, _, errOut := release1("--rcpt", "eve@example.com"); code != 1 || !strings.Contains(errOut, "not a recipient") {
		t.Errorf("release to a stranger: %d %s", code, errOut)
	}
	if code, out, errOut := release1("--rcpt", "ANN@example.com"); code != 0 || !strings.Contains(out, "released to ann@example.com via "+sink.Addr()+": ") {
		t.Fatalf("release ann: %d %s %s", code, out, errOut)
	}
	d := sink.Wait(t, 1, 5*time.Second)[0]
	if strings.Join(d.To, ",") != "ann@example.com" || d.From != "a@example.net" {
		t.Errorf("envelope %s -> %v", d.From, d.To)
	}
	// The original hop's trace, then the release header, then the
	// quarantined bytes.
	trace, rest, _ := strings.Cut(string(d.Data), "\r\n"+release.Header+": ")
	wantTrace := "Received: from helo.example.net (mx.example.net [198.51.100.1])\r\n\tby mailwarden.localhost (mailwarden quarantine " +
		qid + ", rule gtube)\r\n\tid 4XQUAR1; "
	if !strings.HasPrefix(trace, wantTrace) {
		t.Fatalf("released copy starts\n%q\nwant\n%q", trace, wantTrace)
	}
	if _, err := time.Parse(time.RFC1123Z, strings.TrimPrefix(trace, wantTrace)); err != nil {
		t.Errorf("trace date: %v", err)
	}
	value, after, _ := strings.Cut(rest, "\r\n")
	if after != string(raw) {
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

	if code, _, _ := runCmd(t, "quarantine", "delete", qid[:10], "--data", dir); code != 0 {
		t.Errorf("delete exit %d", code)
	}
	if code, _, errOut := runCmd(t, "quarantine", "show", qid, "--data", dir); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("show after delete: %d %s", code, errOut)
	}
}

// TestReleaseRequarantined: a released copy that was quarantined again
// carries the old release header; releasing it must send one header, signed
// over the copy without the old one, or the milter honours neither.
func TestReleaseRequarantined(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	orig := "From: a@example.net\r\nSubject: again\r\n\r\nbody\r\n"
	raw := "Received: from mailwarden.localhost (localhost [127.0.0.1])\r\n\tby mx (Postfix) id 1; Mon, 23 Nov 2026 10:00:00 +0000\r\n" +
		release.Header + ": v1; id=old; rule=gtube; from=YQ; nonce=n;\r\n\texp=1; rcpt=Yg; mac=AAAA\r\n" + orig
	qid, err := st.AddQuarantine(context.Background(), &store.QuarantineEntry{Area: "spam", Rule: "gtube", Sender: "a@example.net",
		Recipients: []string{"bob@example.com"}, Raw: []byte(raw)})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	sink := e2e.StartSink(t)
	if code, out, errOut := runCmd(t, "quarantine", "release", qid, "--data", dir, "--smtp", sink.Addr()); code != 0 {
		t.Fatalf("exit %d %s %s", code, out, errOut)
	}
	d := string(sink.Wait(t, 1, 5*time.Second)[0].Data)
	if n := strings.Count(d, release.Header+":"); n != 1 {
		t.Fatalf("%d release headers:\n%s", n, d)
	}
	_, rest, _ := strings.Cut(d, "\r\n"+release.Header+": ")
	value, after, _ := strings.Cut(rest, "\r\n")
	key, _ := release.LoadOrCreateKey(dir)
	if _, err := release.Verify(key, value, release.Digest([]byte(after)), time.Now()); err != nil {
		t.Errorf("the token does not verify against what follows it: %v\n%s", err, d)
	}
	if !strings.HasSuffix(after, orig) || !strings.HasPrefix(after, "Received: from mailwarden.localhost") {
		t.Errorf("after the header:\n%s", after)
	}
}

// TestReleasePartialRefusal: recipients the MTA refuses stay unreleased and
// are reported (exit 1); the others are delivered and recorded.
func TestReleasePartialRefusal(t *testing.T) {
	dir, qid, _ := seed(t)
	addr := startRefusingSink(t, "ann@example.com")
	code, out, errOut := runCmd(t, "quarantine", "release", qid, "--data", dir, "--smtp", addr)
	if code != 1 || !strings.Contains(out, "<ann@example.com> refused by "+addr+", not released: 550") ||
		!strings.Contains(out, "released to bob@example.com via "+addr+": 2.0.0 OK: queued") ||
		!strings.Contains(errOut, "1 of 2 recipients refused") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	_, out, _ = runCmd(t, "quarantine", "list", "--data", dir, "--format", "json")
	var e struct{ Released map[string]string }
	if err := json.Unmarshal([]byte(out), &e); err != nil || e.Released["bob@example.com"] == "" || e.Released["ann@example.com"] != "" {
		t.Errorf("released %v, %v; want bob only", e.Released, err)
	}
}

func TestQuarantineBulk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	add := func(area, sender string, age time.Duration, rcpts ...string) string {
		id, err := st.AddQuarantine(ctx, &store.QuarantineEntry{Time: time.Now().Add(-age), Area: area, Rule: area,
			Sender: sender, Recipients: rcpts, Raw: []byte("Subject: " + area + "\r\n\r\nx\r\n")})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	oldSpam := add("spam", "s@spam.example", 10*24*time.Hour, "bob@example.com")
	newSpam := add("spam", "s@spam.example", time.Hour, "bob@example.com", "ann@example.com")
	policyQ := add("policy", "boss@example.net", 2*time.Hour, "ceo@example.com")
	st.Close()
	ids := func() string {
		_, out, _ := runCmd(t, "quarantine", "list", "--data", dir, "--format", "ids")
		return out
	}
	defer func(old bool) { interactiveForTest(old) }(false)

	// No terminal and no --yes: nothing happens.
	if code, _, errOut := runCmd(t, "quarantine", "delete", "--data", dir, "--area", "spam"); code != 1 || !strings.Contains(errOut, "delete 2 entries: not confirmed; add --yes") {
		t.Errorf("unconfirmed: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "quarantine", "delete", "--data", dir); code != 2 || !strings.Contains(errOut, "give IDs, or select") {
		t.Errorf("no IDs and no selectors: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "quarantine", "delete", oldSpam, "--area", "spam", "--data", dir); code != 2 || !strings.Contains(errOut, "not both") {
		t.Errorf("IDs and selectors: exit %d %s", code, errOut)
	}
	// A terminal that says no, then one that says yes.
	interactiveForTest(true)
	stdin = strings.NewReader("n\n")
	if code, _, errOut := runCmd(t, "quarantine", "delete", "--data", dir, "--older-than", "7d"); code != 1 || !strings.Contains(errOut, "delete 1 entries? [y/N]") {
		t.Errorf("declined: exit %d %s", code, errOut)
	}
	if n := strings.Count(ids(), "\n"); n != 3 {
		t.Fatalf("%d entries left after a declined delete", n)
	}
	stdin = strings.NewReader("y\n")
	if code, out, errOut := runCmd(t, "quarantine", "delete", "--data", dir, "--older-than", "7d"); code != 0 || out != "deleted "+oldSpam+"\n"+oldSpam+": learned as spam\n" {
		t.Errorf("confirmed: exit %d %q %s", code, out, errOut)
	}
	interactiveForTest(false)

	// Bulk release by recipient: to that recipient only, without asking
	// thanks to --yes.
	sink := e2e.StartSink(t)
	code, out, errOut := runCmd(t, "quarantine", "release", "--data", dir, "--smtp", sink.Addr(), "--rcpt", "ann@example.com", "--yes")
	if code != 0 || !strings.Contains(out, newSpam+": released to ann@example.com via") || strings.Contains(out, policyQ) {
		t.Errorf("bulk release: exit %d\n%s\n%s", code, out, errOut)
	}
	if d := sink.Wait(t, 1, 5*time.Second); strings.Join(d[0].To, ",") != "ann@example.com" {
		t.Errorf("delivered to %v", d[0].To)
	}
	code, out, _ = runCmd(t, "quarantine", "release", "--data", dir, "--smtp", sink.Addr(), "--sender", "boss@example.net", "--yes")
	if code != 0 || !strings.Contains(out, policyQ+": released to ceo@example.com") {
		t.Errorf("bulk release by sender: exit %d\n%s", code, out)
	}
	if code, out, _ := runCmd(t, "quarantine", "delete", "--data", dir, "--all", "--yes"); code != 0 || strings.Count(out, "deleted ") != 2 {
		t.Errorf("delete --all: exit %d %s", code, out)
	}
	if got := ids(); got != "" {
		t.Errorf("left: %q", got)
	}
}

// interactiveForTest makes standard input a terminal, or not.
func interactiveForTest(on bool) {
	isTerminal = func(f any) bool {
		if f == stdin {
			return on
		}
		return false
	}
	if !on {
		stdin = strings.NewReader("")
	}
}

// TestRootKeepsDaemonOwnership: an administrator running the CLI as root on
// the daemon's data directory must not leave root-owned files (SQLite's
// -wal and -shm, a release key) the daemon's user can no longer open.
func TestRootKeepsDaemonOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown; CI runs as root")
	}
	dir, qid, _ := seed(t)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, store.DBFile), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"log"}, {"quarantine", "release", qid, "--smtp", e2e.StartSink(t).Addr()}} {
		if code, _, errOut := runCmd(t, append(args, "--data", dir)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		ents, _ := os.ReadDir(dir)
		for _, ent := range ents {
			fi, err := os.Lstat(filepath.Join(dir, ent.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 {
				t.Errorf("after %v: %s owned by uid %d, want 65534", args, ent.Name(), st.Uid)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, release.KeyFile)); err != nil {
		t.Errorf("no release key was made: %v", err)
	}
}
