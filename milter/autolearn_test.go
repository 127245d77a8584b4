package milter

import (
	"context"
	"testing"

	"github.com/mailwarden/mailwarden/check/bayes"
)

// TestAutoLearnRow: the daemon learns a high-scoring inbound message as
// spam and its tracking row says so.
func TestAutoLearnRow(t *testing.T) {
	ts := startServer(t, `
[[rule]]
name = "s-offer"
subject = "(?i)offer"
score = 5

[[rule]]
name = "s-free"
subject = "(?i)free"
score = 5

[[rule]]
name = "s-now"
subject = "(?i)now"
score = 5
`)
	send(t, ts.addr, txn{from: "alice@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("offer: free pills now", "cheap pills")})
	evs := waitEvents(t, ts.store, 1)
	got := ""
	for _, f := range evs[0].Findings {
		if f.Name == bayes.FindingAutoLearn {
			got = f.Value
		}
	}
	if got != "spam" {
		t.Errorf("row's %s = %q, want spam (findings %+v)", bayes.FindingAutoLearn, got, evs[0].Findings)
	}
	ts.rt.AutoLearn.Wait()
	tot, err := ts.store.BayesTotals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tot.Spam != 1 || tot.Ham != 0 {
		t.Errorf("token database totals %+v, want 1 spam", tot)
	}
}
