package bayes

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/store"
)

var ctx = context.Background()

func TestBandOf(t *testing.T) {
	for _, tc := range []struct {
		p    float64
		want string
	}{
		{0, "bayes.00"}, {0.0099, "bayes.00"}, {0.01, "bayes.05"}, {0.049, "bayes.05"}, {0.05, "bayes.20"},
		{0.3, "bayes.40"}, {0.5, "bayes.50"}, {0.6, "bayes.60"}, {0.9, "bayes.80"}, {0.97, "bayes.95"},
		{0.99, "bayes.99"}, {1, "bayes.99"},
	} {
		if got := BandOf(tc.p).Name; got != tc.want {
			t.Errorf("BandOf(%v) = %s, want %s", tc.p, got, tc.want)
		}
	}
	d := Defaults().Scores
	for _, tc := range []struct {
		name string
		want float64
	}{{"bayes.00", -1.9}, {"bayes.50", 0.8}, {"bayes.99", 5.0}, {"bayes.x", 0}} {
		if got := d.Of(tc.name); got != tc.want {
			t.Errorf("score of %s = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var (
	spamWords = strings.Fields("cheap pills casino winner prize viagra loan offer unsubscribe click bonus free credit")
	hamWords  = strings.Fields("meeting agenda review patch build release notes lunch tomorrow thanks report minutes")
	common    = strings.Fields("the a and to of you your this is for")
)

// msg is a message of n words from vocab and common words, numbered so
// that each is a different message.
func msg(r *rand.Rand, i int, subject string, vocab []string) *message.Message {
	var b strings.Builder
	for range 30 {
		if r.IntN(2) == 0 {
			b.WriteString(vocab[r.IntN(len(vocab))])
		} else {
			b.WriteString(common[r.IntN(len(common))])
		}
		b.WriteByte(' ')
	}
	raw := fmt.Sprintf("From: sender%d@example.com\r\nSubject: %s\r\nMessage-ID: <%d.%s@example.com>\r\n\r\n%s\r\n", i, subject, i, subject, b.String())
	return message.ParseBytes([]byte(raw), message.DefaultLimits())
}

// train learns spam and ham messages into st.
func train(t *testing.T, c *Classifier, st store.Bayes, spam, ham int) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range spam {
		if _, err := c.Learn(ctx, st, msg(r, i, "spam", spamWords), store.BayesSpam, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range ham {
		if _, err := c.Learn(ctx, st, msg(r, i, "ham", hamWords), store.BayesHam, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
}

func run(t *testing.T, k Check, st store.State, m *message.Message) []check.Finding {
	t.Helper()
	fs, err := k.Run(ctx, &check.Input{Message: m, Env: &check.Env{State: st}})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestFloor: nothing is reported until 200 spam and 200 ham are learned.
func TestFloor(t *testing.T) {
	st := openStore(t)
	c := New(Defaults())
	k := Check{c: c}
	spam := message.ParseBytes([]byte("Subject: cheap pills\r\n\r\ncheap pills casino winner prize viagra\r\n"), message.DefaultLimits())
	train(t, c, st, 200, 199)
	if fs := run(t, k, st, spam); len(fs) != 0 {
		t.Errorf("with 199 ham learned: %+v", fs)
	}
	r := rand.New(rand.NewPCG(9, 9))
	if _, err := c.Learn(ctx, st, msg(r, 1000, "ham", hamWords), store.BayesHam, time.Time{}); err != nil {
		t.Fatal(err)
	}
	fs := run(t, k, st, spam)
	if len(fs) != 1 || fs[0].Name != "bayes.99" || fs[0].Score != 5.0 {
		t.Fatalf("with 200/200 learned, spam gave %+v, want bayes.99 with score 5.0", fs)
	}
	if !strings.Contains(fs[0].Reason, `"viagra"`) || !strings.Contains(fs[0].Reason, "learned 200 spam, 200 ham") {
		t.Errorf("reason %q names no token text or totals", fs[0].Reason)
	}
	ham := message.ParseBytes([]byte("Subject: meeting agenda\r\n\r\nmeeting agenda review patch build release notes\r\n"), message.DefaultLimits())
	if fs := run(t, k, st, ham); len(fs) != 1 || fs[0].Name != "bayes.00" || fs[0].Score != -1.9 {
		t.Errorf("ham gave %+v, want bayes.00 with score -1.9", fs)
	}
	// Disabled, or without a store, it reports nothing.
	off := Defaults()
	off.Enabled = false
	if fs := run(t, Check{c: New(off)}, st, spam); len(fs) != 0 {
		t.Errorf("disabled: %+v", fs)
	}
	if fs := run(t, k, nil, spam); len(fs) != 0 {
		t.Errorf("no store: %+v", fs)
	}
}

// countingStore counts the reads of the totals.
type countingStore struct {
	store.Bayes
	totals, counts int
}

func (c *countingStore) BayesTotals(ctx context.Context) (store.BayesTotals, error) {
	c.totals++
	return c.Bayes.BayesTotals(ctx)
}

func (c *countingStore) BayesCounts(ctx context.Context, hashes []uint64) ([]store.BayesCounts, error) {
	c.counts++
	return c.Bayes.BayesCounts(ctx, hashes)
}

// TestReadsPerClassification: a classification reads the totals once and
// the counts once; under the floor it reads no counts.
func TestReadsPerClassification(t *testing.T) {
	st := openStore(t)
	c := New(Defaults())
	spam := message.ParseBytes([]byte("Subject: cheap pills\r\n\r\ncheap pills casino winner prize viagra\r\n"), message.DefaultLimits())
	cs := &countingStore{Bayes: st}
	if _, err := c.Classify(ctx, cs, spam); err != nil {
		t.Fatal(err)
	}
	if cs.totals != 1 || cs.counts != 0 {
		t.Errorf("untrained: %d totals and %d counts reads, want 1 and 0", cs.totals, cs.counts)
	}
	train(t, c, st, 200, 200)
	cs = &countingStore{Bayes: st}
	res, err := c.Classify(ctx, cs, spam)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Ready || cs.totals != 1 || cs.counts != 1 {
		t.Errorf("trained (ready %v): %d totals and %d counts reads, want 1 and 1", res.Ready, cs.totals, cs.counts)
	}
}

// TestLearnOnce: the same message learned twice counts once, whatever
// header a later hop added; as the other kind it moves.
func TestLearnOnce(t *testing.T) {
	st := openStore(t)
	c := New(Defaults())
	raw := "From: a@example.com\r\nDate: Mon, 1 Dec 2025 10:00:00 +0000\r\nMessage-ID: <x@example.com>\r\nSubject: hello\r\n\r\nbody words here\r\n"
	m1 := message.ParseBytes([]byte(raw), message.DefaultLimits())
	m2 := message.ParseBytes([]byte("Received: from relay.example.net by mx.example.org\r\n"+strings.Replace(raw, "Subject: hello", "Subject: [SPAM] hello", 1)), message.DefaultLimits())
	for i, s := range []struct {
		m          *message.Message
		l          store.BayesLabel
		prev       store.BayesLabel
		spam, hamN int64
	}{
		{m1, store.BayesSpam, store.BayesNone, 1, 0},
		{m1, store.BayesSpam, store.BayesSpam, 1, 0},
		{m2, store.BayesSpam, store.BayesSpam, 1, 0}, // the delivered copy is the same message
		{m2, store.BayesHam, store.BayesSpam, 0, 1},
		{m1, store.BayesNone, store.BayesHam, 0, 0},
	} {
		prev, err := c.Learn(ctx, st, s.m, s.l, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		tot, _ := st.BayesTotals(ctx)
		if prev != s.prev || tot.Spam != s.spam || tot.Ham != s.hamN {
			t.Errorf("step %d: prev %v, totals %+v; want %v, %d spam %d ham", i, prev, tot, s.prev, s.spam, s.hamN)
		}
	}
}

// TestLearnQuarantined: a release from a learn area teaches ham, a
// deletion spam; other areas teach nothing.
func TestLearnQuarantined(t *testing.T) {
	st := openStore(t)
	c := New(Defaults())
	raw := []byte("From: a@example.com\r\nMessage-ID: <q@example.com>\r\nSubject: hi\r\n\r\nwords\r\n")
	for i, s := range []struct {
		area     string
		released bool
		learned  bool
		want     store.BayesTotals
	}{
		{"virus", true, false, store.BayesTotals{}},
		{"spam", false, true, store.BayesTotals{Spam: 1}},
		{"spam", false, false, store.BayesTotals{Spam: 1}}, // deleted again: known
		{"spam", true, true, store.BayesTotals{Ham: 1}},    // released after all: moves
	} {
		got, err := c.LearnQuarantined(ctx, st, &store.QuarantineEntry{Area: s.area, Raw: raw}, s.released, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		tot, _ := st.BayesTotals(ctx)
		if got != s.learned || tot != s.want {
			t.Errorf("step %d: learned %v, totals %+v; want %v, %+v", i, got, tot, s.learned, s.want)
		}
	}
}

// TestExpireBound: after learning, Expire keeps the database under
// max_tokens.
func TestExpireBound(t *testing.T) {
	st := openStore(t)
	cfg := Defaults()
	cfg.MaxTokens = 40
	c := New(cfg)
	train(t, c, st, 20, 20)
	_, rem, err := c.Expire(ctx, st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rem > 40 || rem < 32 {
		t.Errorf("%d tokens after expiry, want 36 (under max_tokens 40)", rem)
	}
}
