package session_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/session"
)

// These tests load configs the way the daemon does, with every check
// package's section registered and the findings of its checks declared.

// TestBadConfigs loads every testdata/badconfig/NAME/config.toml as
// "config.toml" and compares the error with NAME/expected-error. A case with
// a BUG file documents a known bug: it is skipped while the output differs
// and fails once it matches, so the BUG file gets removed with the fix.
func TestBadConfigs(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "testdata", "badconfig", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 8 {
		t.Fatalf("found %d bad configs in ../testdata/badconfig, want at least 8", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "config.toml"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = session.LoadConfig("config.toml", src)
			var got string
			if err != nil {
				got = err.Error() + "\n"
				if !errors.Is(err, config.ErrConfig) {
					t.Errorf("errors.Is(err, config.ErrConfig) = false for %v", err)
				}
			}
			bug, _ := os.ReadFile(filepath.Join(dir, "BUG"))
			wantPath := filepath.Join(dir, "expected-error")
			if *update && len(bug) == 0 {
				if err == nil {
					t.Fatal("config loads without error; a bad config must fail")
				}
				if err := os.WriteFile(wantPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case got != string(want) && len(bug) > 0:
				t.Skipf("BUG: %s\n--- got\n%s--- want\n%s", strings.TrimSpace(string(bug)), got, want)
			case got != string(want):
				t.Errorf("error differs (run go test -update to accept):\n--- got\n%s--- want\n%s", got, want)
			case len(bug) > 0:
				t.Errorf("the known bug is fixed; remove %s", filepath.Join(dir, "BUG"))
			}
		})
	}
}

// TestSampleConfig keeps contrib/mailwarden.toml in step with the code: it
// must load, and it must mention every key the config accepts, set or
// commented out, in its section.
func TestSampleConfig(t *testing.T) {
	src, err := os.ReadFile("../contrib/mailwarden.toml")
	if err != nil {
		t.Fatal(err)
	}
	l, err := session.LoadConfig("mailwarden.toml", src)
	if err != nil {
		t.Fatalf("sample does not load:\n%v", err)
	}
	for _, w := range l.Policy.Warnings {
		t.Errorf("the sample has a warning: %s", w)
	}
	sections := map[string]string{} // section -> its text
	cur := ""
	for _, line := range strings.Split(string(src), "\n") {
		if m := regexp.MustCompile(`^(?:# )?\[\[?([a-z_.]+)\]\]?$`).FindStringSubmatch(line); m != nil {
			cur = m[1]
		}
		sections[cur] += line + "\n"
	}
	for _, key := range config.KnownKeys() {
		section, leaf := "", key
		if i := strings.LastIndexByte(key, '.'); i >= 0 {
			section, leaf = key[:i], key[i+1:]
		}
		// Rule keys are documented in the comment block before the rules.
		text := sections[section]
		if section == "rule" {
			text = string(src)
		}
		re := regexp.MustCompile(`(?m)^#? ?` + regexp.QuoteMeta(leaf) + ` = `)
		if section == "rule" { // rule keys are described in prose
			re = regexp.MustCompile(`(?m)^#?\s*` + regexp.QuoteMeta(leaf) + `\s+(=|\S)`)
		}
		if !re.MatchString(text) {
			t.Errorf("contrib/mailwarden.toml does not document %s (as a line `# %s = ...` in [%s])", key, leaf, section)
		}
	}
	// And every key the sample sets or shows commented out is one the
	// config knows: a misspelt example is caught, not just a missing one.
	known := map[string]bool{}
	for _, k := range config.KnownKeys() {
		for ; k != ""; k, _, _ = cutLast(k) {
			known[k] = true // "keywords.entries" for "keywords.entries.pattern"
		}
	}
	assign := regexp.MustCompile(`^#? ?([a-z][a-z0-9_]*) = `)
	for section, text := range sections {
		if section == "" || section == "rule" {
			continue
		}
		for _, line := range strings.Split(text, "\n") {
			if m := assign.FindStringSubmatch(line); m != nil && !known[section+"."+m[1]] {
				t.Errorf("contrib/mailwarden.toml shows %s.%s, which is no config key: %q", section, m[1], line)
			}
		}
	}
}

// TestDefaultRulesMatchSample keeps the embedded default's rules and the
// sample's enabled rules the same baseline.
func TestDefaultRulesMatchSample(t *testing.T) {
	src, err := os.ReadFile("../contrib/mailwarden.toml")
	if err != nil {
		t.Fatal(err)
	}
	sample, err := session.LoadConfig("mailwarden.toml", src)
	if err != nil {
		t.Fatal(err)
	}
	def, err := session.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	names := func(p *policy.Policy) string {
		var s []string
		for _, r := range p.Rules {
			s = append(s, r.Name+"/"+r.Stage.String()+"/"+r.Action.String()+"/"+r.Reply.String()+"/"+r.Area)
		}
		return strings.Join(s, "\n")
	}
	if a, b := names(def.Policy), names(sample.Policy); a != b {
		t.Errorf("embedded default rules:\n%s\nsample's enabled rules:\n%s", a, b)
	}
}

// cutLast cuts a dotted key at its last dot.
func cutLast(k string) (string, string, bool) {
	i := strings.LastIndexByte(k, '.')
	if i < 0 {
		return "", k, false
	}
	return k[:i], k[i+1:], true
}
