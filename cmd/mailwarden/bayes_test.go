package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/store"
)

// bayesSetup is a data directory with an empty store and a config that
// classifies after 3 messages of each kind.
func bayesSetup(t *testing.T) (dir, conf string) {
	t.Helper()
	dir = t.TempDir()
	st, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	conf = writeFile(t, "b.toml", "[server]\ndata_dir = \""+dir+"\"\n\n[bayes]\nmin_learned = 3\n\n"+
		"[[rule]]\nname = \"b\"\nfindings = [\"bayes.99\"]\naction = \"reject\"\n")
	return dir, conf
}

func TestLearnClassify(t *testing.T) {
	_, conf := bayesSetup(t)
	for i, s := range []struct {
		args []string
		out  string
	}{
		{[]string{"learn", "spam", "-c", conf, "testdata/bayes/spam.mbox"}, "learned 3 as spam, already known 0, skipped 0\ndatabase: 3 spam, 0 ham, "},
		{[]string{"classify", "-c", conf, "testdata/bayes/unknown.eml"}, "learned:     3 spam, 0 ham\nnot ready:   fewer than 3 spam or ham learned"},
		{[]string{"learn", "ham", "-c", conf, "testdata/bayes/ham"}, "learned 3 as ham, already known 0, skipped 1\ndatabase: 3 spam, 3 ham, "},
		{[]string{"learn", "ham", "-c", conf, "testdata/bayes/ham/cur/1701.host"}, "learned 0 as ham, already known 1, skipped 0\n"},
		{[]string{"classify", "-c", conf, "testdata/bayes/unknown.eml"}, "learned:     3 spam, 3 ham\nprobability: "},
		// One spam relearned as ham moves it.
		{[]string{"learn", "ham", "-c", conf, "testdata/bayes/spam.mbox"}, "learned 3 as ham, already known 0, skipped 0\ndatabase: 0 spam, 6 ham, "},
		{[]string{"learn", "forget", "-c", conf, "testdata/bayes/spam.mbox", "testdata/bayes/ham"}, "forgot 6, not learned 0, skipped 1\ndatabase: 0 spam, 0 ham, 0 tokens\n"},
		{[]string{"learn", "forget", "-c", conf, "testdata/bayes/ham/new/1703.host"}, "forgot 0, not learned 1, skipped 0\n"},
	} {
		code, out, errOut := runCmd(t, s.args...)
		if code != 0 || errOut != "" {
			t.Fatalf("step %d: %v: exit %d: %s", i, s.args, code, errOut)
		}
		if !strings.HasPrefix(out, s.out) {
			t.Errorf("step %d: %v printed\n%s\nwant it to start\n%s", i, s.args, out, s.out)
		}
	}
}

// TestClassifyTokens: classify names the band, its score and the telling
// tokens as text with their counts.
func TestClassifyTokens(t *testing.T) {
	_, conf := bayesSetup(t)
	for _, args := range [][]string{{"spam", "testdata/bayes/spam.mbox"}, {"ham", "testdata/bayes/ham"}} {
		if code, _, errOut := runCmd(t, "learn", args[0], "-c", conf, args[1]); code != 0 {
			t.Fatal(errOut)
		}
	}
	code, out, errOut := runCmd(t, "classify", "-c", conf, "-n", "5", "testdata/bayes/unknown.eml")
	if code != 0 {
		t.Fatal(errOut)
	}
	for _, want := range []string{"band:        bayes.99 (score 5)", "TOKEN", "casino", "f:@bulk.example"} {
		if !strings.Contains(out, want) {
			t.Errorf("classify output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(strings.SplitN(out, "TOKEN", 2)[1], "\n"); n != 6 {
		t.Errorf("%d token lines, want 5 (-n 5):\n%s", n-1, out)
	}
	for _, args := range [][]string{{"classify", "-c", conf}, {"learn", "spam", "-c", conf}, {"learn", "-c", conf}} {
		if code, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, code)
		}
	}
	if code, _, _ := runCmd(t, "learn", "spam", "-c", conf, "testdata/bayes/none"); code != 1 {
		t.Errorf("learning a missing file: exit %d, want 1", code)
	}
}

// TestDeleteLearnsSpam: deleting a message of the spam quarantine learns
// it as spam; of another area, nothing.
func TestDeleteLearnsSpam(t *testing.T) {
	dir, conf := bayesSetup(t)
	ctx := context.Background()
	st, err := store.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, area := range []string{"spam", "virus"} {
		raw := fmt.Sprintf("From: a@x.example\r\nMessage-ID: <%d@x.example>\r\nSubject: s\r\n\r\nfree casino\r\n", i)
		id, err := st.AddQuarantine(ctx, &store.QuarantineEntry{Area: area, Rule: "r", Recipients: []string{"b@example.com"}, Raw: []byte(raw)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	st.Close()
	code, out, errOut := runCmd(t, "quarantine", "delete", "-c", conf, ids[0], ids[1])
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "deleted " + ids[0] + "\n" + ids[0] + ": learned as spam\ndeleted " + ids[1] + "\n"
	if out != want {
		t.Errorf("printed\n%s\nwant\n%s", out, want)
	}
	st, err = store.OpenReadOnly(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if tot, _ := st.BayesTotals(ctx); tot != (store.BayesTotals{Spam: 1}) {
		t.Errorf("totals %+v, want 1 spam", tot)
	}
}

// TestReleaseLearnsHam: releasing a message of the spam quarantine learns
// it as ham; releasing it again to another recipient counts once.
func TestReleaseLearnsHam(t *testing.T) {
	dir, conf := bayesSetup(t)
	ctx := context.Background()
	st, err := store.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := st.AddQuarantine(ctx, &store.QuarantineEntry{Area: "spam", Rule: "r", Sender: "a@x.example",
		Recipients: []string{"b@example.com", "c@example.com"}, Raw: []byte("From: a@x.example\r\nMessage-ID: <r@x.example>\r\nSubject: s\r\n\r\nthe report\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	sink := startRefusingSink(t)
	for i, s := range []struct{ rcpt, learned string }{{"b@example.com", id + ": learned as ham\n"}, {"c@example.com", ""}} {
		code, out, errOut := runCmd(t, "quarantine", "release", "-c", conf, "--smtp", sink, "--rcpt", s.rcpt, id)
		if code != 0 {
			t.Fatalf("release %d: exit %d: %s", i, code, errOut)
		}
		if got := strings.Contains(out, "learned as ham"); got != (s.learned != "") || !strings.HasSuffix(out, s.learned) {
			t.Errorf("release %d printed %q", i, out)
		}
	}
	st, err = store.OpenReadOnly(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if tot, _ := st.BayesTotals(ctx); tot != (store.BayesTotals{Ham: 1}) {
		t.Errorf("totals %+v, want 1 ham", tot)
	}
}
