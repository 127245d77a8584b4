package policy

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestSampleConfig keeps contrib/mailwarden.toml in step with the code: it
// must load, and it must mention every key the config accepts, set or
// commented out, in its section.
func TestSampleConfig(t *testing.T) {
	src, err := os.ReadFile("../contrib/mailwarden.toml")
	if err != nil {
		t.Fatal(err)
	}
	_, pol, err := Load("mailwarden.toml", src)
	if err != nil {
		t.Fatalf("sample does not load:\n%v", err)
	}
	for _, w := range pol.Warnings {
		t.Errorf("the sample has a warning: %s", w)
	}
	sections := map[string]string{} // section -> its text
	cur := ""
	for _, line := range strings.Split(string(src), "\n") {
		if m := regexp.MustCompile(`^\[\[?([a-z_.]+)\]\]?`).FindStringSubmatch(line); m != nil {
			cur = m[1]
		}
		sections[cur] += line + "\n"
	}
	for _, key := range knownKeys() {
		section, leaf := "", key
		if i := strings.LastIndexByte(key, '.'); i >= 0 {
			section, leaf = key[:i], key[i+1:]
		}
		// Rule keys are documented in the comment block before the rules.
		text := sections[section]
		if section == "rule" {
			text = string(src)
		}
		re := regexp.MustCompile(`(?m)^#?\s*` + regexp.QuoteMeta(leaf) + `\s+(=|\S)`)
		if !re.MatchString(text) {
			t.Errorf("contrib/mailwarden.toml does not document %s", key)
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
	_, sample, err := Load("mailwarden.toml", src)
	if err != nil {
		t.Fatal(err)
	}
	_, def, err := LoadDefault(nil)
	if err != nil {
		t.Fatal(err)
	}
	names := func(p *Policy) string {
		var s []string
		for _, r := range p.Rules {
			s = append(s, r.Name+"/"+r.Stage.String()+"/"+r.Action.String()+"/"+r.Reply.String()+"/"+r.Area)
		}
		return strings.Join(s, "\n")
	}
	if a, b := names(def), names(sample); a != b {
		t.Errorf("embedded default rules:\n%s\nsample's enabled rules:\n%s", a, b)
	}
}
