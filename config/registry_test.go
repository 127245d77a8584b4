package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// testTable and testList are sections as a check package registers them:
// a table ([testdns]) and an array of tables ([[testlist]]).
type testTable struct {
	// Servers are where queries go.
	Servers []string `toml:"servers"`
	// Timeout bounds one query.
	Timeout Duration `toml:"timeout"`
}

type testList struct {
	// Name names the list.
	Name string `toml:"name"`
	// Zone is the list's DNS zone.
	Zone string `toml:"zone"`
	// Weight adds to the score.
	Weight int `toml:"weight"`
}

// testDefaultServers is a package-level default, as check packages keep
// them (clamav's DefaultMassMailers).
var testDefaultServers = []string{"192.0.2.53:53", "192.0.2.54:53"}

func init() {
	Register("testshared", func() testTable { return testTable{Servers: testDefaultServers} }, func(*Report, *testTable) {})
	Register("testdns", func() testTable { return testTable{Timeout: Dur(2 * time.Second)} },
		func(r *Report, t *testTable) {
			r.Duration("testdns.timeout", t.Timeout)
			for i, s := range t.Servers {
				if !strings.Contains(s, ":") {
					r.Add(keyf("testdns.servers[%d]", i), "IP:port", "%q has no port", s)
				}
			}
		})
	Register("testlist", func() []testList { return nil }, func(r *Report, ls *[]testList) {
		for i, l := range *ls {
			if l.Zone == "" {
				r.Add(keyf("testlist[%d]", i), "", "zone is missing")
			}
			if l.Weight < 0 {
				r.Add(keyf("testlist[%d].weight", i), "", "must not be negative")
			}
		}
	})
}

// TestDefaultsNotOverwritten: a file that sets a key whose default is a
// package-level slice does not write into that slice, so the next config
// (a SIGHUP's) starts from the true defaults.
func TestDefaultsNotOverwritten(t *testing.T) {
	cfg, _, err := load("c.toml", []byte("[testshared]\nservers = [\"127.0.0.1:53\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := Section[testTable](cfg, "testshared").Servers; len(got) != 1 || got[0] != "127.0.0.1:53" {
		t.Errorf("servers %q", got)
	}
	if testDefaultServers[0] != "192.0.2.53:53" {
		t.Errorf("the package-level default became %q", testDefaultServers)
	}
	cfg, _, err = load("c.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := Section[testTable](cfg, "testshared").Servers; len(got) != 2 || got[0] != "192.0.2.53:53" {
		t.Errorf("a config without the key has servers %q, want the defaults", got)
	}
}

func TestSectionDefaultsAndValues(t *testing.T) {
	cfg, _, err := load("c.toml", []byte("[testdns]\nservers = [\"127.0.0.1:53\"]\n\n[[testlist]]\nname = \"a\"\nzone = \"a.example\"\n\n[[testlist]]\nname = \"b\"\nzone = \"b.example\"\nweight = 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := Section[testTable](cfg, "testdns")
	if d.Timeout.D != 2*time.Second || len(d.Servers) != 1 {
		t.Errorf("testdns = %+v, want the default timeout kept and one server", d)
	}
	ls := *Section[[]testList](cfg, "testlist")
	if len(ls) != 2 || ls[1].Zone != "b.example" || ls[1].Weight != 2 {
		t.Errorf("testlist = %+v", ls)
	}
	// A file that does not set a section gets its defaults.
	cfg, _, err = load("c.toml", []byte("[server]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := Section[testTable](cfg, "testdns"); d.Timeout.D != 2*time.Second || d.Servers != nil {
		t.Errorf("unset testdns = %+v", d)
	}
	if ls := Section[[]testList](cfg, "testlist"); len(*ls) != 0 {
		t.Errorf("unset testlist = %+v", *ls)
	}
}

// TestSectionProblems checks that a registered section's problems come
// with the core ones, at once, each at its line: its validator's, an
// unknown key with a hint, and a type mismatch.
func TestSectionProblems(t *testing.T) {
	src := "[server]\nmax_sessions = 0\n[testdns]\nservers = [\n  \"127.0.0.1:53\",\n  \"nope\",\n]\ntimeout = \"soon\"\n" +
		"[[testlist]]\nname = \"a\"\nzone = \"a.example\"\n[[testlist]]\nname = \"b\"\nzoen = \"b.example\"\nweight = \"heavy\"\n"
	_, _, err := load("c.toml", []byte(src))
	want := `c.toml:2: server.max_sessions: must be at least 1
c.toml:6: testdns.servers[1]: "nope" has no port (hint: IP:port)
c.toml:8: testdns.timeout: "soon" is not a duration (use e.g. 30s, 5m, 2h or 90d)
c.toml:12: testlist[1]: zone is missing
c.toml:14: testlist[1].zoen: unknown key (hint: did you mean testlist.zone?)
c.toml:15: testlist[1].weight: incompatible types: TOML value has type string; destination has type integer`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestSectionKeysKnown(t *testing.T) {
	keys := " " + strings.Join(KnownKeys(), " ") + " "
	for _, k := range []string{"testdns.servers", "testdns.timeout", "testlist.name", "testlist.weight"} {
		if !strings.Contains(keys, " "+k+" ") {
			t.Errorf("KnownKeys() lacks %s", k)
		}
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	for _, name := range []string{"testdns", "server", "rule"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", name)
				}
			}()
			Register(name, func() testTable { return testTable{} }, func(*Report, *testTable) {})
		}()
	}
}

func keyf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
