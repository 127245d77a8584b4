package bayes

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/store"
)

// TestClassifyCachedSameAsUncached: the classifier's verdicts through the
// store's token cache and filter are those read straight from the
// database, after learning, forgetting, relearning as the other kind and
// expiry.
func TestClassifyCachedSameAsUncached(t *testing.T) {
	dir := t.TempDir()
	open := func() *store.Store {
		s, err := store.Open(ctx, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	cached, plain := open(), open()
	plain.SetBayesCache(0)
	cfg := Defaults()
	cfg.MinLearned = 5
	cfg.MaxTokens = 60
	cfg.Expiry = config.Dur(time.Hour)
	c := New(cfg)
	r := rand.New(rand.NewPCG(5, 6))
	var spam, ham []*message.Message
	for i := range 20 {
		spam = append(spam, msg(r, i, "offer", spamWords))
		ham = append(ham, msg(r, 100+i, "meeting", hamWords))
	}
	probe := []*message.Message{msg(r, 200, "offer", spamWords), msg(r, 201, "agenda", hamWords), msg(r, 202, "hello", common)}
	now := time.Unix(1_800_000_000, 0)
	compare := func(step string) {
		t.Helper()
		for i, m := range probe {
			for range 2 { // the second from the cache
				got, err := c.Classify(ctx, cached, m)
				if err != nil {
					t.Fatal(err)
				}
				want, err := c.Classify(ctx, plain, m)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s, probe %d: cached %+v\nuncached %+v", step, i, got, want)
				}
				if step != "untrained" && !got.Ready {
					t.Fatalf("%s: not ready", step)
				}
			}
		}
	}
	learn := func(ms []*message.Message, l store.BayesLabel) {
		t.Helper()
		for _, m := range ms {
			if _, err := c.Learn(ctx, cached, m, l, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	compare("untrained")
	learn(spam, store.BayesSpam)
	learn(ham, store.BayesHam)
	compare("learned")
	if err := cached.WarmBayesCache(ctx); err != nil {
		t.Fatal(err)
	}
	compare("filter built")
	learn(spam[:5], store.BayesNone)
	compare("forgot")
	learn(spam[:5], store.BayesSpam)
	learn(ham[:3], store.BayesSpam)
	compare("relearned")
	// Learned by another process: the plain store writes.
	for i, m := range ham[3:6] {
		if _, err := c.Learn(ctx, plain, m, store.BayesSpam, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	compare("learned elsewhere")
	for i, at := range []time.Time{now.Add(30 * time.Minute), now.Add(2 * time.Hour)} {
		n, _, err := c.Expire(ctx, cached, at)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && n == 0 {
			t.Fatal("nothing expired")
		}
		compare(fmt.Sprint("expired ", i))
		learn(spam[5:8], store.BayesHam)
		compare(fmt.Sprint("relearned after expiry ", i))
	}
}
