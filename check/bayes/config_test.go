package bayes_test

import (
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check/bayes"
	"github.com/mailwarden/mailwarden/session"
)

const rule = "\n[[rule]]\nname = \"b\"\nfindings = [\"bayes.99\"]\naction = \"reject\"\n"

func TestConfig(t *testing.T) {
	l, err := session.LoadConfig("t.toml", []byte("[bayes]\nmin_learned = 50\nlearn_areas = [\"spam\", \"bulk\"]\n[bayes.scores]\n99 = 4.5\n00 = -3\n"+rule))
	if err != nil {
		t.Fatal(err)
	}
	c := bayes.FromConfig(l.Config).Config()
	if c.MinLearned != 50 || c.Scores.B99 != 4.5 || c.Scores.B00 != -3 || c.Scores.B95 != 4.0 || !c.Enabled || c.MaxTokens != 1_000_000 ||
		!c.AutoLearn || c.AutoLearnSpam != 12 || c.AutoLearnHam != 0.1 || c.AutoLearnMinTests != 3 || c.AutoLearnPerMinute != 60 {
		t.Errorf("config %+v", c)
	}
	if !bayes.FromConfig(l.Config).LearnsArea("bulk") || bayes.FromConfig(l.Config).LearnsArea("virus") {
		t.Error("learn_areas")
	}
	for _, tc := range []struct{ src, want string }{
		{"[bayes]\nmin_learned = 0\n", "bayes.min_learned"},
		{"[bayes]\nmax_tokens = -1\n", "bayes.max_tokens"},
		{"[bayes]\nexpiry = \"soon\"\n", "bayes.expiry"},
		{"[bayes.scores]\n100 = 1\n", "100"},
		{"[bayes]\nlearn_areas = [\"\"]\n", "bayes.learn_areas"},
		{"[bayes]\nautolearn_ham = 12\n", "bayes.autolearn_ham"},
		{"[bayes]\nautolearn_spam = nan\n", "bayes.autolearn_spam"},
		{"[bayes]\nautolearn_min_tests = 0\n", "bayes.autolearn_min_tests"},
		{"[bayes]\nautolearn_per_minute = 0\n", "bayes.autolearn_per_minute"},
	} {
		_, err := session.LoadConfig("t.toml", []byte(tc.src+rule))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one naming %s", tc.src, err, tc.want)
		}
	}
}
