package spam

import (
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner"
)

func settings(mod func(*Config)) Settings {
	c := Defaults()
	if mod != nil {
		mod(&c)
	}
	return Settings{c}
}

func TestTally(t *testing.T) {
	fs := []scanner.Finding{
		{Name: "dnsbl.zen", Score: 3},
		{Name: "dnsbl.zen", Score: 3}, // reported twice: counts once
		{Name: "dnswl.good", Score: -1},
		{Name: "bayes.99", Score: 3.5},
		{Name: "spamtest.subject_caps", Score: 0.5},
		{Name: "spamtest.no_score"},                                     // no score: not a test
		{Name: "url.ip", Score: 2},                                      // not an input
		{Name: "spamtest.for_one", Score: 9, Recipients: []string{"a"}}, // per recipient: not counted
		{Name: "spam", Score: 100},                                      // its own verdict never counts
	}
	rules := []policy.Contribution{{Rule: "pills", Score: 1.25}, {Rule: "ham", Score: -0.1}}
	for _, tt := range []struct {
		name  string
		mod   func(*Config)
		fs    []scanner.Finding
		rules []policy.Contribution
		score float64
		tests string
		find  string // finding name, "" for none
		req   float64
	}{
		{"all inputs", nil, fs, rules, 7.2, "bayes.99,dnsbl.zen,dnswl.good,ham,pills,spamtest.subject_caps", "spam", 5},
		{"nothing", nil, nil, nil, 0, "none", "", 5},
		{"exactly the threshold", nil, []scanner.Finding{{Name: "dnsbl.a", Score: 5}}, nil, 5, "dnsbl.a", "spam", 5},
		{"exactly probable", nil, nil, []policy.Contribution{{Rule: "r", Score: 3}}, 3, "r", "spam.probable", 5},
		{"just under probable", nil, nil, []policy.Contribution{{Rule: "r", Score: 2.94}}, 2.9, "r", "", 5},
		{"rounded to one decimal up to probable", nil, nil, []policy.Contribution{{Rule: "r", Score: 2.96}}, 3, "r", "spam.probable", 5},
		{"inputs narrowed", func(c *Config) { c.Inputs = []string{"dnsbl.zen"} }, fs, nil, 3, "dnsbl.zen", "spam.probable", 5},
		{"low sensitivity", func(c *Config) { c.Sensitivity = "low" }, fs, rules, 7.2, "bayes.99,dnsbl.zen,dnswl.good,ham,pills,spamtest.subject_caps", "spam", 7},
		{"low: probable at 5", func(c *Config) { c.Sensitivity = "low" }, nil, []policy.Contribution{{Rule: "r", Score: 6}}, 6, "r", "spam.probable", 7},
		{"high: spam at 3.5", func(c *Config) { c.Sensitivity = "high" }, nil, []policy.Contribution{{Rule: "r", Score: 3.5}}, 3.5, "r", "spam", 3.5},
		{"high: probable at 1.5", func(c *Config) { c.Sensitivity = "high" }, nil, []policy.Contribution{{Rule: "r", Score: 1.5}}, 1.5, "r", "spam.probable", 3.5},
		{"negative total", nil, []scanner.Finding{{Name: "dnswl.good", Score: -5}}, nil, -5, "dnswl.good", "", 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := settings(tt.mod).Tally(tt.fs, tt.rules)
			if v.Score != tt.score || v.TestNames() != tt.tests || v.Required != tt.req {
				t.Errorf("score %v tests %s required %v, want %v %s %v", v.Score, v.TestNames(), v.Required, tt.score, tt.tests, tt.req)
			}
			got := v.Findings()
			if tt.find == "" {
				if len(got) != 0 {
					t.Errorf("findings %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Name != tt.find || got[0].Where != "message" || got[0].Score != v.Score {
				t.Fatalf("findings %+v, want one %s", got, tt.find)
			}
			if want := v.Reason(); got[0].Reason != want || !strings.HasPrefix(want, "score=") || !strings.HasSuffix(want, "tests="+tt.tests) {
				t.Errorf("reason %q", got[0].Reason)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	hs := func(v Verdict) string {
		var b strings.Builder
		for _, h := range v.Headers() {
			b.WriteString(h.Name + ": " + h.Value + "\n")
		}
		return b.String()
	}
	spam := Verdict{Score: 6.25, Required: 5, Tests: []Test{{"a", 3}, {"b", 3.25}}}
	if got, want := hs(spam), "X-Spam-Flag: YES\nX-Spam-Status: Yes, score=6.2 required=5.0 tests=a,b\nX-Spam-Score: 6.2\n"; got != want {
		t.Errorf("spam:\n%s\nwant:\n%s", got, want)
	}
	if got, want := hs(Verdict{Score: 0, Required: 5}), "X-Spam-Status: No, score=0.0 required=5.0 tests=none\nX-Spam-Score: 0.0\n"; got != want {
		t.Errorf("clean:\n%s\nwant:\n%s", got, want)
	}
	// Many tests fold between names, no line over 78 characters.
	var many []Test
	for _, n := range []string{"spamtest.subject_all_caps", "spamtest.html_only", "spamtest.missing_date", "bayes.99", "dnsbl.zen", "dnsbl.another-list", "pills"} {
		many = append(many, Test{n, 1})
	}
	h := Verdict{Score: 7, Required: 5, Tests: many}.Headers()[1]
	lines := strings.Split(HeaderStatus+": "+h.Value, "\n")
	if len(lines) < 2 {
		t.Fatalf("not folded: %q", h.Value)
	}
	for i, l := range lines {
		if len(l) > 78 || i > 0 && !strings.HasPrefix(l, "\t") {
			t.Errorf("line %d %q: over 78 or not a continuation", i, l)
		}
	}
	if unfolded := strings.ReplaceAll(h.Value, "\n\t", ""); !strings.HasSuffix(unfolded, "tests=spamtest.subject_all_caps,spamtest.html_only,spamtest.missing_date,bayes.99,dnsbl.zen,dnsbl.another-list,pills") {
		t.Errorf("unfolded %q lost a test", unfolded)
	}
}

func TestForged(t *testing.T) {
	hs := []check.RawHeader{{Name: "Subject", Value: " x"}, {Name: "x-spam-status", Value: " No"}, {Name: "X-Spam-Flag", Value: " NO"},
		{Name: "X-Spam-Status", Value: " No"}, {Name: "X-Spam-Level", Value: ""}, {Name: "X-Spam-Checker-Version", Value: " SA"}}
	got := Forged(hs)
	want := []Ref{{HeaderFlag, 1}, {HeaderStatus, 1}, {HeaderStatus, 2}, {HeaderLevel, 1}}
	if len(got) != len(want) {
		t.Fatalf("Forged %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Forged[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestConfig(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"[spam]\nthreshold = 6.5\nprobable_threshold = 4\nsensitivity = \"high\"\n", ""},
		{"[spam]\nprobable_threshold = 6\n", "spam.probable_threshold: probable_threshold 6 is over threshold 5"},
		{"[spam]\nsensitivity = \"paranoid\"\n", `spam.sensitivity: "paranoid" is not a sensitivity`},
		{"[spam]\ninputs = [\"bayes.*\", \"spam.*\", \"\"]\n", `spam.inputs[1]: "spam.*" names the spam findings`},
		{"[spam]\ninputs = [\"\"]\n", `spam.inputs[0]: "" is not a finding name`},
		{"[spam]\nthreshold = nan\n", "spam.threshold: not a number"},
	} {
		cfg, rep, err := config.Decode("c.toml", []byte(tt.src))
		if err == nil {
			err = rep.Err()
		}
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.src, err)
				continue
			}
			s := FromConfig(cfg)
			if s.Required() != 5 || s.Probable() != 2.5 || !s.Headers {
				t.Errorf("%q: required %v probable %v headers %v", tt.src, s.Required(), s.Probable(), s.Headers)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.src, err, tt.want)
		}
	}
}

// TestCheck: the check declares the two findings, has the inputs run, and
// runs always only while the headers are on.
func TestCheck(t *testing.T) {
	set := func(src string) *check.Set {
		cfg, rep, err := config.Decode("c.toml", []byte(src))
		if err == nil {
			err = rep.Err()
		}
		if err != nil {
			t.Fatal(err)
		}
		s, err := check.Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := set("")
	if st, ok := s.FindingStage(FindingProbable); !ok || st != policy.StageEOM {
		t.Errorf("spam.probable: stage %v, declared %v", st, ok)
	}
	active := func(s *check.Set) bool {
		for _, a := range check.NewRunner(s, nil).Active() {
			if a.Check.Name() == "spam" {
				return true
			}
		}
		return false
	}
	if !active(s) {
		t.Error("with headers on, the spam check is not active without rules")
	}
	if active(set("[spam]\nheaders = false\n")) {
		t.Error("with headers off, the spam check is active without rules")
	}
}
