package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

// emptyStore returns a data directory with an empty store, as the daemon
// leaves it at its first start.
func emptyStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestListCommands runs the list commands in order on one store; each
// step names its exit status and text its output must have.
func TestListCommands(t *testing.T) {
	dir := emptyStore(t)
	expires := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		args     []string
		code     int
		out, err string // text that must be in stdout, stderr
		notOut   string // text that must not be in stdout
	}{
		{args: []string{"show"}, err: "no lists yet"},
		{args: []string{"add", "block", "192.0.2.7/24", "198.51.100.1-9", "--note", "spam run"}, out: "block: 2 ip entries put, version 1"},
		{args: []string{"add", "block", "a@example.com"}, code: 1, err: `nothing added: "a@example.com" is an address; this is an IP list`},
		{args: []string{"add", "block", "10.0.0.1", "--expires", "7d"}, out: "version 2"},
		{args: []string{"add", "block", "10.0.0.2", "--expires", "2000-01-01"}, code: 1, err: "--expires: 2000-01-01T00:00:00Z is not in the future"},
		{args: []string{"add", "block", "10.0.0.2", "--expires", "soon"}, code: 1, err: `--expires: "soon" is neither an age`},
		{args: []string{"add", "block", "10.0.0.3", "10.0.0.300", "x"}, code: 1, err: "\"10.0.0.300\" is not an IP address, CIDR network or range\n\"x\" is not"},
		{args: []string{"add", "block", "bad", "--kind", "address"}, code: 1, err: "--kind address: the list holds ip entries"},
		{args: []string{"add", "block", "10.0.0.4", "--kind", "dns"}, code: 1, err: `--kind: "dns" is not ip or address`},
		{args: []string{"add", "senders", "<Bob@Example.COM>", "*@*.example.net", "--expires", expires}, out: "senders: 2 address entries put, version 1"},
		{args: []string{"add", "senders", "192.0.2.1"}, code: 1, err: `"192.0.2.1" is an IP entry; this is an address list`},
		{args: []string{"add", "senders", "bob@@example.com"}, code: 1, err: "more than one @"},
		{args: []string{"show"}, out: "NAME     VERSION  ENTRIES\nblock    2        3\nsenders  1        2"},
		{args: []string{"show", "block"}, out: "VALUE", notOut: "10.0.0.300"},
		{args: []string{"show", "block"}, out: "198.51.100.1-198.51.100.9  -"},
		{args: []string{"show", "block"}, out: "spam run"},
		{args: []string{"show", "senders"}, out: "VALUE            EXPIRES              ADDED                NOTE\n*@*.example.net  "},
		{args: []string{"show", "senders"}, out: "\nbob@example.com  "},
		// Any spelling removes an entry; an absent value removes nothing.
		{args: []string{"remove", "block", "192.0.2.99/24", "203.0.113.1"}, code: 1, err: `nothing removed: "203.0.113.1" is not in block`},
		{args: []string{"remove", "block", "192.0.2.99/24"}, out: "block: 1 entries removed, version 3"},
		{args: []string{"remove", "senders", "BOB@example.com."}, out: "senders: 1 entries removed, version 2"},
		{args: []string{"show", "block"}, notOut: "192.0.2.0/24"},
		{args: []string{"show", "nosuch"}, code: 1, err: `no list "nosuch"`},
		{args: []string{"export", "nosuch"}, code: 1, err: `no list "nosuch"`},
		{args: []string{"remove", "nosuch", "x"}, code: 1, err: `no list "nosuch"`},
		{args: []string{"add", "bad name", "x"}, code: 1, err: `"bad name" is not a list name`},
		{args: []string{"add", "block"}, code: 2, err: "missing NAME and VALUE"},
		{args: []string{"show", "a", "b"}, code: 2, err: "Usage: mailwarden list show"},
		{args: []string{"import", "block"}, code: 2, err: "missing NAME and FILE"},
		{args: []string{"import", "block", filepath.Join(dir, "none.csv")}, code: 1, err: "no such file"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runCmd(t, append(append([]string{"list"}, tc.args...), "--data", dir)...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.err) ||
				tc.notOut != "" && strings.Contains(out, tc.notOut) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
		})
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"list"}, 2, ""},
		{[]string{"help", "list"}, 0, "show|add|remove|import|export"},
		{[]string{"help", "list", "import"}, 0, "--replace"},
		{[]string{"help"}, 0, "list export"},
	} {
		if code, out, errOut := runCmd(t, tc.args...); code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("%v: exit %d (want %d)\n%s\n%s", tc.args, code, tc.code, out, errOut)
		}
	}
	// Without a store, the commands create none.
	empty := t.TempDir()
	for _, args := range [][]string{{"list", "show"}, {"list", "show", "block"}, {"list", "export", "block"}, {"list", "add", "block", "192.0.2.1"}} {
		if code, _, errOut := runCmd(t, append(args, "--data", empty)...); code != 1 || !strings.Contains(errOut, "no store at "+empty) {
			t.Errorf("%v without a store: exit %d %s", args, code, errOut)
		}
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("created %v", ents)
	}
}

// TestListCSVRoundTrip: export writes what import reads back to the same
// list, notes with commas, quotes, newlines and Japanese included; --replace
// makes a list exactly the file.
func TestListCSVRoundTrip(t *testing.T) {
	dir := emptyStore(t)
	run := func(stdinText string, args ...string) string {
		t.Helper()
		if stdinText != "" {
			old := stdin
			stdin = strings.NewReader(stdinText)
			defer func() { stdin = old }()
		}
		code, out, errOut := runCmd(t, append(append([]string{"list"}, args...), "--data", dir)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		return out
	}
	run("", "add", "block", "192.0.2.0/24", "--note", `spam, "bulk"`+"\nticket 42")
	run("", "add", "block", "2001:db8::ac:44f2-45ff", "--note", "迷惑メール", "--expires", "2200-01-31")
	run("", "add", "block", "::ffff:198.51.100.7")
	first := run("", "export", "block")
	recs, err := csv.NewReader(strings.NewReader(first)).ReadAll()
	if err != nil || len(recs) != 4 || strings.Join(recs[0], ",") != "value,note,expires,added" {
		t.Fatalf("export: %v\n%s", err, first)
	}
	if recs[1][0] != "192.0.2.0/24" || recs[1][1] != `spam, "bulk"`+"\nticket 42" || recs[1][2] != "" ||
		recs[2][0] != "198.51.100.7" || recs[3][0] != "2001:db8::ac:44f2-2001:db8::ac:45ff" || recs[3][2] != "2200-01-31T00:00:00Z" {
		t.Errorf("export rows %q", recs)
	}
	if _, err := time.Parse(time.RFC3339Nano, recs[1][3]); err != nil {
		t.Errorf("added %q: %v", recs[1][3], err)
	}
	// Into another list, from a file and from standard input.
	file := writeFile(t, "block.csv", first)
	if out := run("", "import", "copy", file); !strings.Contains(out, "copy: 3 entries put, 0 removed, version 1") {
		t.Errorf("import: %s", out)
	}
	if again := run("", "export", "copy"); again != first {
		t.Errorf("round trip differs:\n%s\nwant\n%s", again, first)
	}
	run(first, "import", "stdin", "-")
	if again := run("", "export", "stdin"); again != first {
		t.Errorf("round trip through standard input differs:\n%s", again)
	}
	// The same file again changes nothing.
	if out := run("", "import", "copy", file); !strings.Contains(out, "version 1") {
		t.Errorf("import of the same file: %s", out)
	}
	// --replace: only the file's entries stay; without it they are added.
	small := writeFile(t, "small.csv", "192.0.2.0/24,new note\n203.0.113.0/24\n")
	if out := run("", "import", "copy", small); !strings.Contains(out, "copy: 2 entries put, 0 removed, version 2") {
		t.Errorf("import: %s", out)
	}
	if out := run("", "import", "copy", small, "--replace"); !strings.Contains(out, "copy: 2 entries put, 2 removed, version 3") {
		t.Errorf("import --replace: %s", out)
	}
	recs, _ = csv.NewReader(strings.NewReader(run("", "export", "copy"))).ReadAll()
	if len(recs) != 3 || recs[1][0] != "192.0.2.0/24" || recs[1][1] != "new note" || recs[2][0] != "203.0.113.0/24" {
		t.Errorf("after --replace: %q", recs)
	}
	// An address list, its kind from the values.
	run("", "import", "senders", writeFile(t, "s.csv", "# approved senders\n<Bob@Example.com>,the boss\n*@*.example.net\n"))
	if out := run("", "show", "senders"); !strings.Contains(out, "*@*.example.net") || !strings.Contains(out, "bob@example.com") {
		t.Errorf("senders: %s", out)
	}
}

// TestListImportProblems: every bad line is reported with its line number,
// and then the list is left as it was.
func TestListImportProblems(t *testing.T) {
	dir := emptyStore(t)
	if code, _, errOut := runCmd(t, "list", "add", "block", "192.0.2.1", "--data", dir); code != 0 {
		t.Fatal(errOut)
	}
	const bad = `value,note,expires,added
198.51.100.0/24,fine
garbage,a bad value
10.0.0.1-300
a@example.com,an address in an IP list
10.0.0.2,,2001-01-01
10.0.0.3,,tomorrow
10.0.0.4,,,yesterday
198.51.100.7/24,the same entry as line 2
10.0.0.5,a,b,c,d
,no value
"10.0.0.6,unterminated
`
	file := writeFile(t, "bad.csv", bad)
	code, out, errOut := runCmd(t, "list", "import", "block", file, "--data", dir)
	want := []string{
		file + `:3: "garbage" is not an IP address, CIDR network or range`,
		file + `:4: "10.0.0.1-300": range end "300" must be a number from 0 to 255`,
		file + `:5: "a@example.com" is an address; this is an IP list`,
		file + ":6: expires 2001-01-01, which has passed",
		file + `:7: expires: expiry "tomorrow" is not a date (2026-01-31, 2026-01-31T12:00:00Z)`,
		file + `:8: added: "yesterday" is not a time (2026-01-31T12:00:00Z)`,
		file + `:9: "198.51.100.7/24" is the entry of line 2 again (198.51.100.0/24)`,
		file + ":10: 5 columns; the columns are value,note,expires,added",
		file + ":11: no value",
		// The unterminated quote runs to the end of the file: a CSV error.
		file + `:12: extraneous or missing " in quoted-field`,
		"mailwarden list import: ",
	}
	if code != 1 || out != "" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != len(want) {
		t.Fatalf("stderr:\n%s", errOut)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d of stderr:\n%s\nwant\n%s", i+1, lines[i], w)
		}
	}
	if !strings.Contains(errOut, "10 problem(s) in "+file+"; block is unchanged") {
		t.Errorf("stderr:\n%s", errOut)
	}
	_, out, _ = runCmd(t, "list", "show", "--data", dir)
	if !strings.Contains(out, "block  1        1") {
		t.Errorf("the list changed:\n%s", out)
	}
	// A wrong header is a problem too; --kind decides against the values.
	for _, tc := range []struct {
		text string
		args []string
		err  string
	}{
		{"value,comment\n192.0.2.9\n", nil, ":1: the header row must be value,note,expires,added"},
		{"a@example.com\n", []string{"--kind", "ip"}, `:1: "a@example.com" is an address; this is an IP list`},
		{"192.0.2.9\n", []string{"--kind", "address"}, "x.csv: --kind address: the list holds ip entries"},
	} {
		f := writeFile(t, "x.csv", tc.text)
		code, _, errOut := runCmd(t, append([]string{"list", "import", "block", f, "--data", dir}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.err) {
			t.Errorf("%q %v: exit %d\n%s", tc.text, tc.args, code, errOut)
		}
	}
}
