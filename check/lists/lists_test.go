package lists

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/checktest"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/store"
)

func buildFrom(t *testing.T, src string) (*IPCheck, *AddrCheck) {
	t.Helper()
	cfg, rep, err := config.Decode("c.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	var ipc *IPCheck
	var ac *AddrCheck
	for _, c := range build(cfg) {
		switch c := c.(type) {
		case *IPCheck:
			ipc = c
		case *AddrCheck:
			ac = c
		}
	}
	return ipc, ac
}

func names(fs []check.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name+"="+f.Value+"@"+f.Where)
	}
	return strings.Join(out, " ")
}

// TestLists covers the three sources of a list (inline, file, store),
// the two kinds, the envelope and header From, sender roles, expiry, and
// a store edit taking effect without a reload.
func TestLists(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "partners.txt")
	if err := os.WriteFile(file, []byte("*@partner.example # our partner\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := checktest.OpenState(t, dir)
	ctx := context.Background()
	if _, err := st.ListPut(ctx, "blocked-senders", store.ListItem{Value: "spam@bad.example", Note: "complaint 42"}); err != nil {
		t.Fatal(err)
	}
	ipc, ac := buildFrom(t, `
[[list]]
name = "bad-nets"
kind = "ip"
entries = ["192.0.2.0/24 # a spam gang", "2001:db8::ac:44f2-45ff"]

[[list]]
name = "old-nets"
kind = "ip"
entries = ["198.51.100.0/24 # expires 2020-01-01"]

[[list]]
name = "partners"
kind = "address"
files = ["`+file+`"]
sender = "approved"

[[list]]
name = "blocked-senders"
kind = "address"
store = true
sender = "blocked"
`)
	env := &check.Env{State: st}
	run := func(c check.Check, in *check.Input) string {
		t.Helper()
		in.Env = env
		fs, err := c.Run(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return names(fs)
	}
	for _, tc := range []struct{ ip, want string }{
		{"192.0.2.77", "list.bad-nets=192.0.2.0/24@client"},
		{"2001:db8::ac:4500", "list.bad-nets=2001:db8::ac:44f2-45ff@client"},
		{"198.51.100.1", ""}, // expired
		{"203.0.113.1", ""},
	} {
		if got := run(ipc, &check.Input{ClientIP: netip.MustParseAddr(tc.ip)}); got != tc.want {
			t.Errorf("client %s: %q, want %q", tc.ip, got, tc.want)
		}
	}
	if got, want := run(ac, &check.Input{Sender: "Bob@Partner.Example"}), "list.partners=*@partner.example@envelope sender.approved=Bob@Partner.Example@envelope"; got != want {
		t.Errorf("approved: %q, want %q", got, want)
	}
	if got, want := run(ac, &check.Input{Sender: "spam@bad.example"}), "list.blocked-senders=spam@bad.example@envelope sender.blocked=spam@bad.example@envelope"; got != want {
		t.Errorf("blocked: %q, want %q", got, want)
	}
	from := []check.RawHeader{{Name: "From", Value: ` "Partner" <ceo@partner.example>`}}
	fs, err := ac.RunLate(ctx, &check.Input{Sender: "x@elsewhere.example", Headers: from, Env: env})
	if err != nil || names(fs) != "list.partners=*@partner.example@header:From sender.approved=ceo@partner.example@header:From" {
		t.Errorf("header From: %q %v", names(fs), err)
	}

	// An edit in the store takes effect within a second, without a reload.
	if _, err := st.ListPut(ctx, "blocked-senders", store.ListItem{Value: "*@worse.example"}); err != nil {
		t.Fatal(err)
	}
	ac.lists[1].checked = time.Time{}
	if got := run(ac, &check.Input{Sender: "a@worse.example"}); !strings.Contains(got, "sender.blocked") {
		t.Errorf("a store edit did not take effect: %q", got)
	}
	if ac.Stage() != policy.StageMail || ac.LateStage() != policy.StageEOH || ipc.Stage() != policy.StageConnect || !ipc.JudgesClient() {
		t.Error("stages or client judging changed")
	}
}

// TestStoreListWithoutStore: a store-backed list needs the state store,
// except in a dry run, which sees the config's entries.
func TestStoreListWithoutStore(t *testing.T) {
	_, ac := buildFrom(t, "[[list]]\nname = \"b\"\nkind = \"address\"\nstore = true\n")
	if _, err := ac.Run(context.Background(), &check.Input{Sender: "a@b.example", Env: &check.Env{}}); err == nil {
		t.Error("no error without a state store")
	}
	_, ac = buildFrom(t, "[[list]]\nname = \"b\"\nkind = \"address\"\nstore = true\n")
	if _, err := ac.Run(context.Background(), &check.Input{Sender: "a@b.example", Env: &check.Env{DryRun: true}}); err != nil {
		t.Errorf("dry run: %v", err)
	}
}

func TestListConfigProblems(t *testing.T) {
	_, rep, err := config.Decode("c.toml", []byte(`[[list]]
name = "a b"
kind = "ip"
entries = ["10.0.0.0/33"]

[[list]]
name = "x"
kind = "colour"

[[list]]
name = "y"
kind = "ip"
sender = "approved"
files = ["relative.txt"]
`))
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Err().Error()
	for _, want := range []string{
		`c.toml:2: list[0].name: list name "a b" is missing or invalid`,
		"c.toml:4: list[0].entries[0]:",
		`c.toml:8: list[1].kind: "colour" is not allowed`,
		"c.toml:6: list[1]: list \"x\" has no entries",
		"c.toml:13: list[2].sender: an ip list has no sender role",
		`c.toml:14: list[2].files[0]: "relative.txt" is not an absolute path`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

func TestFromAddresses(t *testing.T) {
	for in, want := range map[string]string{
		` Alice <alice@example.com>`:              "alice@example.com",
		` a@example.com, "B" <b@example.org>`:     "a@example.com b@example.org",
		` broken "<x@example.com>`:                "x@example.com",
		` undisclosed`:                            "",
		` =?utf-8?q?M=C3=BCller?= <m@example.de>`: "m@example.de",
	} {
		if got := strings.Join(fromAddresses(in), " "); got != want {
			t.Errorf("fromAddresses(%q) = %q, want %q", in, got, want)
		}
	}
}
