package session

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check/bayes"
	"github.com/mailwarden/mailwarden/policy/release"
	"github.com/mailwarden/mailwarden/store"
)

// autolearnConfig scores a subject of "offer free now" 15 from three
// rules, over autolearn_spam; mail from 10.0.0.0/8 is ours.
const autolearnConfig = `
[organization]
internal_domains = ["example.com"]
trusted_networks = ["10.0.0.0/8"]

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

[[rule]]
name = "held"
subject = "(?i)held for review"
action = "quarantine"
quarantine = "review"

[[rule]]
name = "released"
findings = ["release.verified"]
add_headers = ["X-Released: yes"]
`

// autolearnMsg drives one message from ip through end of message with st
// as the state store, and returns the bayes.autolearn finding's value.
func autolearnMsg(t *testing.T, rt *Runtime, st *store.Store, ip string, msg []byte) string {
	t.Helper()
	s := NewSession(rt, quiet)
	defer s.Close()
	s.LeadSpace = true
	s.Env.State = st
	s.Env.ClaimRelease = func(ctx context.Context, nonce string, rcpts []string) ([]string, error) {
		return st.ClaimRelease(ctx, nonce, rcpts, time.Now())
	}
	s.Connect(netip.MustParseAddr(ip), "client.example")
	s.Helo("client.example", "", "")
	s.Mail("alice@example.net", "", "Q1", 0)
	s.Rcpt("bob@example.com")
	hs, body := SplitMessage(msg)
	for _, h := range hs {
		s.Header(h.Name, h.Value)
	}
	s.EOH()
	if err := s.Body(body); err != nil {
		t.Fatal(err)
	}
	res, err := s.EOM()
	if err != nil {
		t.Fatal(err)
	}
	rt.AutoLearn.Wait()
	got := ""
	for _, f := range res.Findings {
		if f.Name == "release.invalid" {
			t.Errorf("release not honoured: %s", f.Reason)
		}
		if f.Name == bayes.FindingAutoLearn {
			if got != "" {
				t.Errorf("two %s findings", bayes.FindingAutoLearn)
			}
			got = f.Value
		}
	}
	return got
}

// TestAutoLearn: the daemon's session learns a high-scoring inbound
// message as spam, once however often it comes, and records it in the
// row; a released copy, mail from our own network and a dry run teach
// nothing.
func TestAutoLearn(t *testing.T) {
	l, err := LoadConfig("t.toml", []byte(autolearnConfig))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewRuntime(l, bytes.Repeat([]byte("k"), 32), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	totals := func() store.BayesTotals {
		t.Helper()
		tt, err := st.BayesTotals(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	spam := []byte("From: a@example.net\r\nTo: bob@example.com\r\nSubject: Offer: free pills now\r\n" +
		"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.net>\r\n\r\nBuy cheap pills today\r\n")

	if got := autolearnMsg(t, rt, st, "192.0.2.1", spam); got != "spam" {
		t.Fatalf("first delivery: autolearn %q, want spam", got)
	}
	if got := totals(); got.Spam != 1 || got.Ham != 0 {
		t.Fatalf("after the first delivery: %+v, want 1 spam", got)
	}
	autolearnMsg(t, rt, st, "192.0.2.1", spam)
	if got := totals(); got.Spam != 1 || got.Ham != 0 {
		t.Fatalf("after the same message again: %+v, want it counted once", got)
	}

	// Scoring nothing, a message is ham, unless a rule held it.
	ham := []byte("From: a@example.net\r\nTo: bob@example.com\r\nSubject: Minutes\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <2@example.net>\r\n\r\nThe minutes are attached\r\n")
	if got := autolearnMsg(t, rt, st, "192.0.2.1", ham); got != "ham" {
		t.Errorf("a message scoring nothing: autolearn %q, want ham", got)
	}
	held := bytes.Replace(bytes.Replace(ham, []byte("Minutes"), []byte("Held for review"), 1), []byte("<2@"), []byte("<3@"), 1)
	if got := autolearnMsg(t, rt, st, "192.0.2.1", held); got != "" {
		t.Errorf("quarantined by a rule: autolearn %q, want none", got)
	}
	if got := totals(); got.Spam != 1 || got.Ham != 1 {
		t.Fatalf("after the ham and the held message: %+v, want 1 spam, 1 ham", got)
	}

	other := bytes.Replace(spam, []byte("today"), []byte("tonight"), 1)
	if got := autolearnMsg(t, rt, st, "10.1.2.3", other); got != "" {
		t.Errorf("from our network: autolearn %q, want none", got)
	}

	rel := release.NewMessage(rt.ReleaseKey, release.Token{ID: "q1", Rule: "s-offer", Sender: "alice@example.net",
		Nonce: release.NewNonce(), Recipients: []string{"bob@example.com"}, Expires: time.Now().Add(time.Hour)}, other, nil)
	if got := autolearnMsg(t, rt, st, "127.0.0.1", rel.Data); got != "" {
		t.Errorf("released: autolearn %q, want none", got)
	}

	rep := DryRun(rt, DryRunInput{ClientIP: netip.MustParseAddr("192.0.2.1"), From: "alice@example.net",
		Rcpts: []string{"bob@example.com"}, Message: other, State: st}, quiet)
	for _, f := range rep.Findings {
		if f.Name == bayes.FindingAutoLearn {
			t.Errorf("dry run: %v", f)
		}
	}
	rt.AutoLearn.Wait()
	if got := totals(); got.Spam != 1 || got.Ham != 1 {
		t.Errorf("after trusted, released and dry-run copies: %+v, want still 1 spam, 1 ham", got)
	}
}

// TestAutoLearnNeedsScore: with the spam score unused ([spam] headers off
// and no rule naming spam) its input checks do not run, every message
// would score 0, and nothing is auto-learned; a rule naming spam brings
// it back.
func TestAutoLearnNeedsScore(t *testing.T) {
	for _, tt := range []struct {
		name, config string
		want         bool
	}{
		{"headers on", "", true},
		{"headers off", "[spam]\nheaders = false\n", false},
		{"headers off, a rule on spam", "[spam]\nheaders = false\n[[rule]]\nname = \"x\"\nfindings = [\"spam\"]\nadd_headers = [\"X-S: yes\"]\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := LoadConfig("t.toml", []byte(tt.config+"[[rule]]\nname = \"tag\"\nsubject = \"offer\"\ntag_subject = \"[X]\"\n"))
			if err != nil {
				t.Fatal(err)
			}
			rt, err := NewRuntime(l, nil, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if got := rt.AutoLearn != nil; got != tt.want {
				t.Errorf("auto-learning %v, want %v", got, tt.want)
			}
		})
	}
}
