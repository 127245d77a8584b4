package recipient

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
)

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, src string) (*Check, error) {
	t.Helper()
	cfg, rep, err := config.Decode("c.toml", []byte(src))
	if err != nil {
		return nil, err
	}
	if err := rep.Err(); err != nil {
		return nil, err
	}
	return build(cfg)[0].(*Check), nil
}

func run(t *testing.T, c *Check, rcpt string) bool {
	t.Helper()
	fs, err := c.Run(context.Background(), &check.Input{Rcpt: rcpt})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) > 0 && (fs[0].Name != Finding || fs[0].Value != rcpt) {
		t.Errorf("finding %+v", fs[0])
	}
	return len(fs) > 0
}

// TestUnknownRecipients checks both table formats, catch-all domains,
// case, address extensions, and that other domains are never judged.
func TestUnknownRecipients(t *testing.T) {
	dir := t.TempDir()
	list := write(t, dir, "list", "# staff\nAlice@Example.com\n\n@catchall.example.com\n")
	pf := write(t, dir, "relay", "bob@example.com OK\ncarol@example.com  anything\n  continued value\n# dave@example.com OK\n")
	c, err := load(t, `[organization]
internal_domains = ["example.com", "*.example.com"]
[recipients]
files = ["list:`+list+`", "postfix:`+pf+`"]
recipient_delimiter = "+-"
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rcpt    string
		unknown bool
	}{
		{"alice@example.com", false}, {"ALICE@EXAMPLE.COM", false}, {"<bob@example.com>", false},
		{"carol@example.com", false}, {"bob+tag@example.com", false}, {"anyone@catchall.example.com", false},
		{"dave@example.com", true}, {"continued@example.com", true}, {"eve@sub.example.com", true},
		{"bob+tag+x@example.com", false}, {"+bob@example.com", true}, {"bob-lists@example.com", false},
		{"someone@elsewhere.example", false}, {"postmaster", false},
	} {
		if got := run(t, c, tc.rcpt); got != tc.unknown {
			t.Errorf("%s: unknown = %v, want %v", tc.rcpt, got, tc.unknown)
		}
	}
}

// TestTableReload: a changed table is read again; a broken change keeps
// the last good contents.
func TestTableReload(t *testing.T) {
	dir := t.TempDir()
	list := write(t, dir, "list", "alice@example.com\n")
	c, err := load(t, "[organization]\ninternal_domains = [\"example.com\"]\n[recipients]\nfiles = [\""+list+"\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if !run(t, c, "bob@example.com") {
		t.Fatal("bob known before he is listed")
	}
	write(t, dir, "list", "alice@example.com\nbob@example.com\n")
	c.tables[0].checked = time.Time{} // as if a second had passed
	if run(t, c, "bob@example.com") {
		t.Error("the changed table was not read again")
	}
	write(t, dir, "list", "alice@example.com\nbob\n")
	c.tables[0].checked = time.Time{}
	if run(t, c, "bob@example.com") || run(t, c, "alice@example.com") {
		t.Error("a broken table replaced the last good one")
	}
}

func TestRecipientsConfigProblems(t *testing.T) {
	dir := t.TempDir()
	bad := write(t, dir, "bad", "ok@example.com\nbob\nx@@\n")
	_, err := load(t, "[recipients]\nfiles = [\n  \"postfix:"+bad+"\",\n  \"ldap:/x\",\n  \"relative\",\n  \""+filepath.Join(dir, "missing")+"\",\n]\ndomains = [\"a@b\"]\nrecipient_delimiter = \"+ \"\non_error = \"ignore\"\n")
	if err == nil {
		t.Fatal("loaded")
	}
	got := err.Error()
	for _, want := range []string{
		"c.toml:3: recipients.files[0]: " + bad + `:2: "bob": a bare user name needs a domain`,
		"c.toml:3: recipients.files[0]: " + bad + `:3: "x@@" is not an address`,
		`c.toml:4: recipients.files[1]: "ldap:/x": unknown table type "ldap"`,
		`c.toml:5: recipients.files[2]: "relative": the path must be absolute`,
		"c.toml:6: recipients.files[3]: open " + filepath.Join(dir, "missing") + ": no such file or directory",
		`c.toml:8: recipients.domains[0]: "a@b" is not a domain`,
		`c.toml:9: recipients.recipient_delimiter: "+ " is not a delimiter`,
		`c.toml:10: recipients.on_error: "ignore" is not allowed`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

func FuzzTable(f *testing.F) {
	f.Add("alice@example.com OK\n@example.org x\n  cont\n# c\nbob\n")
	f.Add("\x00@\n@\n@@\n" + strings.Repeat("a", 70000))
	f.Fuzz(func(t *testing.T, src string) {
		for _, format := range []string{"list", "postfix"} {
			var tb Table
			tb.Parse(strings.NewReader(src), format, "f")
			for a := range tb.addrs {
				if !tb.Has(a) || strings.Count(a, "@") < 1 {
					t.Fatalf("%q listed but not found", a)
				}
			}
		}
	})
}
