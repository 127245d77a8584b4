package config

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultTOMLIsACopy(t *testing.T) {
	a := DefaultTOML()
	if !bytes.Equal(a, DefaultTOML()) {
		t.Fatal("DefaultTOML differs from the embedded file")
	}
	a[0] ^= 0xff
	if bytes.Equal(a, DefaultTOML()) {
		t.Error("changing the returned slice changed the embedded default")
	}
}

func TestParseListen(t *testing.T) {
	tests := []struct {
		spec, network, address string
		bug                    string
	}{
		{spec: "inet:127.0.0.1:8899", network: "tcp", address: "127.0.0.1:8899"},
		{spec: "inet:localhost:8899", network: "tcp", address: "localhost:8899"},
		{spec: "inet::8899", network: "tcp", address: ":8899"},
		{spec: "inet6:[::1]:1", network: "tcp", address: "[::1]:1"},
		{spec: "inet:[::1]:25", network: "tcp", address: "[::1]:25"},
		{spec: "tcp:127.0.0.1:25", network: "tcp", address: "127.0.0.1:25"},
		{spec: "unix:/x", network: "unix", address: "/x"},
		{spec: "local:/x", network: "unix", address: "/x"},
		{spec: "unix:/run/mailwarden/milter.sock", network: "unix", address: "/run/mailwarden/milter.sock"},
		// Sendmail's order: port@host.
		{spec: "inet:8899@127.0.0.1", network: "tcp", address: "127.0.0.1:8899"},
		{spec: "inet6:8899@::1", network: "tcp", address: "[::1]:8899"},
		{spec: "inet6:8899@[::1]", network: "tcp", address: "[::1]:8899"},
		// Bad.
		{spec: ""},
		{spec: "8899"},
		{spec: "127.0.0.1:8899"},
		{spec: "inet:"},
		{spec: "inet:127.0.0.1"},
		{spec: "inet:127.0.0.1:"},
		{spec: "inet:127.0.0.1:8899:1"},
		{spec: "inet:::1:8899"},
		{spec: "INET:127.0.0.1:8899"},
		{spec: "fifo:/x"},
		{spec: "unix:"},
		{spec: "unix:relative.sock"},
		{spec: "local:run/x"},
		{spec: "inet:127.0.0.1:99999"},
		{spec: "inet:127.0.0.1:-1"},
		{spec: "inet:127.0.0.1@8899"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			network, address, err := ParseListen(tt.spec)
			if tt.network == "" {
				switch {
				case err == nil && tt.bug != "":
					t.Skipf("BUG: ParseListen(%q) = %q, %q: %s", tt.spec, network, address, tt.bug)
				case err == nil:
					t.Errorf("ParseListen(%q) = %q, %q, want an error", tt.spec, network, address)
				case tt.bug != "":
					t.Errorf("row marked as a bug now passes; remove its bug text: %s", tt.bug)
				case !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.spec)):
					t.Errorf("error %q does not quote the spec", err)
				}
				return
			}
			if err != nil || network != tt.network || address != tt.address {
				t.Errorf("ParseListen(%q) = %q, %q, %v; want %q, %q", tt.spec, network, address, err, tt.network, tt.address)
			}
		})
	}
}

func TestIndexKeys(t *testing.T) {
	src := `# comment = 1
[server]
listen = "inet:127.0.0.1:8899"   # [not a table]
"data_dir" = "/x"

[[rule]]
name = "a"
senders = [
  "a@x.example", # ]
  "b@x.example",
]
expr = """
size > 1 &&
x = 2
[rule]
"""
action = "reject"
[rule.headers]
"X-A" = "b"

[[rule]]
name = "b"
headers = { X-B = "c" }
subject = '''x'''
action = "reject"
[organization]
internal_domains = ["a.example"]
`
	k := indexKeys([]byte(src))
	for key, want := range map[string]int{
		"server":                           2,
		"server.listen":                    3,
		"server.data_dir":                  4,
		"rule[0]":                          6,
		"rule[0].name":                     7,
		"rule[0].senders":                  8,
		"rule[0].senders[0]":               9, // an array over lines: each element's own line
		"rule[0].senders[1]":               10,
		"rule[0].senders[2]":               8, // no such element: the key's line
		"rule[0].expr":                     12,
		"rule[0].action":                   17,
		"rule[0].headers":                  18,
		"rule[0].headers.X-A":              19,
		"rule[1]":                          21,
		"rule[1].name":                     22,
		"rule[1].headers":                  23,
		"rule[1].headers.X-B":              23, // inside an inline table: the table's line
		"rule[1].subject":                  24,
		"rule[1].action":                   25,
		"organization":                     26,
		"organization.internal_domains[0]": 27,
		"rule[0].x":                        6,
		"nosuch":                           0,
		"rule[7].name":                     0,
		"":                                 0,
	} {
		if got := k.line(key); got != want {
			t.Errorf("line(%q) = %d, want %d", key, got, want)
		}
	}
	for key, want := range map[string][]int{
		"rule":         {6, 21},
		"rule.name":    {7, 22},
		"rule.action":  {17, 25},
		"rule.headers": {18, 23},
	} {
		for n, w := range want {
			if got := k.nth(key, n); got != w {
				t.Errorf("nth(%q, %d) = %d, want %d", key, n, got, w)
			}
		}
		if got := k.nth(key, len(want)); got != 0 {
			t.Errorf("nth(%q, %d) = %d, want 0", key, len(want), got)
		}
	}
	if _, ok := k.indexed["rule[0].x"]; ok {
		t.Error("a line inside a multi-line string was indexed as a key")
	}
}

func TestIndexKeysArrayElements(t *testing.T) {
	src := `[[rule]]
name = "r"
senders = ["a@x.example", "b,]@x.example",
  "c@x.example", # , ]
  [1, [2, 3]], { k = "v,", l = [4] },

  'd]@x.example'
]
action = "reject"
`
	k := indexKeys([]byte(src))
	for key, want := range map[string]int{
		"rule[0].senders[0]": 3,
		"rule[0].senders[1]": 3,
		"rule[0].senders[2]": 4,
		"rule[0].senders[3]": 5,
		"rule[0].senders[4]": 5,
		"rule[0].senders[5]": 7,
		"rule[0].senders[6]": 3,
		"rule[0].action":     9,
	} {
		if got := k.line(key); got != want {
			t.Errorf("line(%q) = %d, want %d", key, got, want)
		}
	}
	if len(k.elems) != 4 {
		t.Errorf("elems %v, want the 4 elements not on the key's line", k.elems)
	}
}

func TestKeyPath(t *testing.T) {
	for in, want := range map[string]string{
		"a":             "a",
		"a.b.c":         "a.b.c",
		" a . b ":       "a.b",
		`"a.b".c`:       "a.b.c",
		`'x y'`:         "x y",
		`rule."X-Spam"`: "rule.X-Spam",
		`"unterminated`: `"unterminated`,
		``:              ``,
	} {
		if got := keyPath(in); got != want {
			t.Errorf("keyPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClosestKey(t *testing.T) {
	for in, want := range map[string]string{
		"server.listn":               "did you mean server.listen?",
		"rule.nmae":                  "did you mean rule.name?",
		"rule.sender":                "did you mean rule.senders?",
		"limits.max_msg_size":        "",
		"completely.different.thing": "",
	} {
		if got := closestKey(in); got != want {
			t.Errorf("closestKey(%q) = %q, want %q", in, got, want)
		}
	}
	if d := EditDistance("kitten", "sitting"); d != 3 {
		t.Errorf("EditDistance(kitten, sitting) = %d, want 3", d)
	}
	if d := EditDistance("", "abc"); d != 3 {
		t.Errorf("EditDistance(\"\", abc) = %d, want 3", d)
	}
}

func TestKnownKeys(t *testing.T) {
	keys := strings.Join(KnownKeys(), " ")
	for _, k := range []string{"server.listen", "server.read_timeout", "organization.trusted_networks",
		"limits.max_message_size", "store.prune_interval", "release.token_ttl", "rule.name", "rule.enabled",
		"rule.headers", "rule.expr", "rule.add_headers"} {
		if !strings.Contains(" "+keys+" ", " "+k+" ") {
			t.Errorf("KnownKeys() lacks %s", k)
		}
	}
	if strings.Contains(keys, "file") || strings.Contains(keys, "rule.headers.") || strings.Contains(keys, ".D ") {
		t.Errorf("KnownKeys() has keys that are not config keys: %s", keys)
	}
}

func TestEveryKeyDocumented(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		st, ok := node.(*ast.StructType)
		if !ok {
			return true
		}
		for _, field := range st.Fields.List {
			if field.Tag == nil {
				continue
			}
			tag := reflect.StructTag(strings.Trim(field.Tag.Value, "`")).Get("toml")
			if tag == "" || tag == "-" {
				continue
			}
			n++
			if field.Doc == nil || strings.TrimSpace(field.Doc.Text()) == "" {
				t.Errorf("%s: key %q has no doc comment", fset.Position(field.Pos()), tag)
			}
		}
		return true
	})
	if n < 40 {
		t.Errorf("found only %d tagged fields; is the parse looking at the right file?", n)
	}
}

func FuzzIndexKeys(f *testing.F) {
	f.Add(DefaultTOML())
	f.Add([]byte("[[rule]]\nname = \"a\"\nexpr = \"\"\"\nx\n\"\"\"\nsenders = [\n\"a\", # ]\n]\n[rule.headers]\n'X' = \"y\"\n"))
	f.Add([]byte("a.\"b.c\".'d' = 1\n[ x . y ]\n[[ z ]]\nk = { a = [1, {b = 2}] }\n"))
	f.Add([]byte("\"unterminated = 1\n[\n[[\n=\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		k := indexKeys(src)
		lines := bytes.Count(src, []byte("\n")) + 1
		for key, n := range k.indexed {
			if n < 1 || n > lines {
				t.Fatalf("indexed %q at line %d of %d", key, n, lines)
			}
		}
		for key, n := range k.elems {
			if n < 1 || n > lines {
				t.Fatalf("element %q at line %d of %d", key, n, lines)
			}
		}
		for key, ns := range k.plain {
			for i, n := range ns {
				if n < 1 || n > lines || (i > 0 && n <= ns[i-1]) {
					t.Fatalf("plain %q lines %v (file has %d)", key, ns, lines)
				}
			}
		}
	})
}

// load decodes src and returns its problems as one error.
func load(file string, src []byte) (*Config, *Report, error) {
	cfg, r, err := Decode(file, src)
	if err != nil {
		return nil, nil, err
	}
	if err := r.Err(); err != nil {
		return nil, nil, err
	}
	return cfg, r, nil
}
