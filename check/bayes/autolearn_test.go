package bayes_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check/bayes"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/store"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// spamTests are three positive tests worth 12.5, without the classifier.
var spamTests = []bayes.AutoTest{{Name: "spamtest.a", Score: 5}, {Name: "spamtest.b", Score: 4.5}, {Name: "dnsbl.x", Score: 3}}

// TestAutoDecide: the thresholds, the guards and the classifier's own score
// left out of the decision.
func TestAutoDecide(t *testing.T) {
	with := func(ts ...bayes.AutoTest) []bayes.AutoTest {
		return append(append([]bayes.AutoTest{}, spamTests...), ts...)
	}
	for _, tt := range []struct {
		name string
		cfg  func(*bayes.Config)
		in   bayes.AutoInput
		want store.BayesLabel
		why  string
	}{
		{name: "spam at threshold", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "a", Score: 4}, {Name: "b", Score: 4}, {Name: "c", Score: 4}}}, want: store.BayesSpam},
		{name: "spam over", in: bayes.AutoInput{Tests: spamTests}, want: store.BayesSpam},
		{name: "just under spam", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "a", Score: 4}, {Name: "b", Score: 4}, {Name: "c", Score: 3.9}}}, why: bayes.SkipBetween},
		{name: "bayes band does not count toward spam", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "a", Score: 4}, {Name: "b", Score: 4}, {Name: "c", Score: 2}, {Name: "bayes.99", Score: 3.5}}}, why: bayes.SkipBetween},
		{name: "rule on bayes does not count", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "a", Score: 4}, {Name: "b", Score: 4}, {Name: "c", Score: 2}, {Name: "bayes-boost", Score: 5, Bayes: true}}}, why: bayes.SkipBetween},
		{name: "negative bayes does not make ham", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "a", Score: 1}, {Name: "bayes.00", Score: -1.9}}}, why: bayes.SkipBetween},
		{name: "negative bayes does not spoil spam", in: bayes.AutoInput{Tests: with(bayes.AutoTest{Name: "bayes.00", Score: -1.9})}, want: store.BayesSpam},
		{name: "one strong test is not spam", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "content.gtube", Score: 1000}}}, why: bayes.SkipFewTests},
		{name: "two tests are not spam", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "a", Score: 10}, {Name: "b", Score: 10}, {Name: "c", Score: -1}}}, why: bayes.SkipFewTests},
		{name: "min tests 1", cfg: func(c *bayes.Config) { c.AutoLearnMinTests = 1 }, in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "a", Score: 20}}}, want: store.BayesSpam},
		{name: "no tests is ham", in: bayes.AutoInput{}, want: store.BayesHam},
		{name: "ham at threshold", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "a", Score: 0.1}}}, want: store.BayesHam},
		{name: "just over ham", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "a", Score: 0.2}}}, why: bayes.SkipBetween},
		{name: "classifier sure of spam is not ham", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "bayes.99", Score: 3.5}}}, why: bayes.SkipDisagree},
		{name: "rule on bayes sure of spam is not ham", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "bayes.50", Score: 0.8}, {Name: "bayes-boost", Score: 2, Bayes: true}}}, why: bayes.SkipDisagree},
		{name: "classifier at 1 point is ham", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "bayes.50", Score: 0.8}, {Name: "bayes-boost", Score: 0.2, Bayes: true}}}, want: store.BayesHam},
		{name: "classifier unsure is ham", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "bayes.50", Score: 0.8}}}, want: store.BayesHam},
		{name: "classifier sure of ham is ham", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "bayes.00", Score: -1.9}}}, want: store.BayesHam},
		{name: "negative is ham", in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "dnswl.hi", Score: -5}, {Name: "a", Score: 1}}}, want: store.BayesHam},
		{name: "thresholds from config", cfg: func(c *bayes.Config) { c.AutoLearnSpam, c.AutoLearnHam = 6, -1 }, in: bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "a", Score: 2}, {Name: "b", Score: 2}, {Name: "c", Score: 2}}}, want: store.BayesSpam},
		{name: "ham threshold from config", cfg: func(c *bayes.Config) { c.AutoLearnHam = -1 }, in: bayes.AutoInput{}, why: bayes.SkipBetween},
		{name: "autolearn off", cfg: func(c *bayes.Config) { c.AutoLearn = false }, in: bayes.AutoInput{Tests: spamTests}, why: bayes.SkipDisabled},
		{name: "classifier off", cfg: func(c *bayes.Config) { c.Enabled = false }, in: bayes.AutoInput{}, why: bayes.SkipDisabled},
		{name: "trusted", in: bayes.AutoInput{Tests: spamTests, Trusted: true}, why: bayes.SkipTrusted},
		{name: "trusted ham", in: bayes.AutoInput{Trusted: true}, why: bayes.SkipTrusted},
		{name: "held by a rule is not ham", in: bayes.AutoInput{Held: true}, why: bayes.SkipHeld},
		{name: "held by a rule may be spam", in: bayes.AutoInput{Tests: spamTests, Held: true}, want: store.BayesSpam},
		{name: "tempfailed", in: bayes.AutoInput{Tests: spamTests, Tempfailed: true}, why: bayes.SkipTempfail},
		{name: "approved sender", in: bayes.AutoInput{Findings: []string{"spf.pass", "sender.approved"}}, why: bayes.SkipFinding + " sender.approved"},
		{name: "released", in: bayes.AutoInput{Tests: spamTests, Findings: []string{"release.verified"}}, why: bayes.SkipFinding + " release.verified"},
		{name: "exclusion", in: bayes.AutoInput{Findings: []string{"scan.exclusion"}}, why: bayes.SkipFinding + " scan.exclusion"},
		{name: "virus", in: bayes.AutoInput{Tests: spamTests, Findings: []string{"virus"}}, why: bayes.SkipFinding + " virus"},
		{name: "virus family", in: bayes.AutoInput{Tests: spamTests, Findings: []string{"virus.massmailer"}}, why: bayes.SkipFinding + " virus.massmailer"},
		{name: "virusish name is not virus", in: bayes.AutoInput{Findings: []string{"virusx"}}, want: store.BayesHam},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := bayes.Defaults()
			if tt.cfg != nil {
				tt.cfg(&c)
			}
			got, why := bayes.NewAutoLearner(bayes.New(c)).Decide(tt.in, t0)
			if got != tt.want || why != tt.why {
				t.Errorf("Decide = %v %q, want %v %q", got, why, tt.want, tt.why)
			}
		})
	}
}

// TestAutoDecideCap: at most autolearn_per_minute messages a minute are
// decided for learning, ham and spam together; the next minute starts
// afresh, and a message not learned does not count.
func TestAutoDecideCap(t *testing.T) {
	c := bayes.Defaults()
	c.AutoLearnPerMinute = 3
	a := bayes.NewAutoLearner(bayes.New(c))
	between := bayes.AutoInput{Tests: []bayes.AutoTest{{Name: "a", Score: 5}}}
	steps := []struct {
		at   time.Duration
		in   bayes.AutoInput
		want store.BayesLabel
	}{
		{0, bayes.AutoInput{Tests: spamTests}, store.BayesSpam},
		{time.Second, between, store.BayesNone},
		{2 * time.Second, bayes.AutoInput{}, store.BayesHam},
		{3 * time.Second, bayes.AutoInput{}, store.BayesHam},
		{4 * time.Second, bayes.AutoInput{Tests: spamTests}, store.BayesNone}, // cap
		{59 * time.Second, bayes.AutoInput{}, store.BayesNone},                // cap
		{60 * time.Second, bayes.AutoInput{Tests: spamTests}, store.BayesSpam},
		{61 * time.Second, bayes.AutoInput{}, store.BayesHam},
	}
	for i, st := range steps {
		got, why := a.Decide(st.in, t0.Add(st.at))
		if got != st.want {
			t.Errorf("step %d at %v: %v (%s), want %v", i, st.at, got, why, st.want)
		}
		if i == 4 && why != bayes.SkipRateLimit {
			t.Errorf("step 4: reason %q, want the cap", why)
		}
	}
}

// blockingDB is a token database whose writes wait for release and then
// fail with err.
type blockingDB struct {
	store.Bayes
	release chan struct{}
	err     error
	mu      sync.Mutex
	learned int
}

func (d *blockingDB) BayesLearn(ctx context.Context, digest string, hashes []uint64, l store.BayesLabel, at time.Time) (store.BayesLabel, error) {
	<-d.release
	d.mu.Lock()
	d.learned++
	d.mu.Unlock()
	return store.BayesNone, d.err
}

// TestAutoLearnQueue: learning runs in the background, at most a bounded
// number at a time (past it a message is not learned, and Learn says so),
// and a database error is only logged.
func TestAutoLearnQueue(t *testing.T) {
	a := bayes.NewAutoLearner(bayes.New(bayes.Defaults()))
	db := &blockingDB{release: make(chan struct{}), err: errors.New("disk full")}
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	m := message.ParseBytes([]byte("Subject: x\r\n\r\nhello world\r\n"), message.DefaultLimits())
	started := 0
	for range 100 {
		if a.Learn(log, db, m, store.BayesSpam, t0, "Q1") {
			started++
		}
	}
	if started == 0 || started == 100 {
		t.Fatalf("%d of 100 learns started while the database was stuck; want a bound", started)
	}
	close(db.release)
	a.Wait()
	if db.learned != started {
		t.Errorf("%d writes, want %d", db.learned, started)
	}
	if !strings.Contains(logged.String(), "disk full") || !strings.Contains(logged.String(), "queue full") {
		t.Errorf("log does not name the error and the full queue:\n%s", logged.String())
	}
	if !a.Learn(log, db, m, store.BayesHam, t0, "Q2") {
		t.Error("no learn starts once the queue has drained")
	}
	a.Wait()
}
