package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// evalConfig is testdata/eval/eval.toml with the data directory in a
// temporary one, so a test can see that eval leaves it empty.
func evalConfig(t *testing.T) (conf, dataDir string) {
	t.Helper()
	b, err := os.ReadFile("testdata/eval/eval.toml")
	if err != nil {
		t.Fatal(err)
	}
	dataDir = t.TempDir()
	conf = writeFile(t, "eval.toml", "[server]\ndata_dir = "+jsonString(dataDir)+"\n\n"+string(b))
	return conf, dataDir
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestEval: the fixture corpus through `mailwarden eval`. The scores are
// the subject rules of eval.toml: spam 5.5, 3.5, 2 and 4.5 (and a file
// that is not a message); ham -1, 2, 0, 5.5 and 3.5.
func TestEval(t *testing.T) {
	conf, data := evalConfig(t)
	args := []string{"eval", "-c", conf, "--spam", "testdata/eval/spam", "--ham", "testdata/eval/ham.mbox"}
	code, out, errOut := runCmd(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `messages:   4 spam, 5 ham; skipped 1 spam, 0 ham
classifier: untrained (a temporary, empty store)

LEVEL     THRESHOLD  RECALL  FP RATE  TP  FP  TN  FN
probable  3.0        75.00%  40.00%   3   2   3   1
spam      5.0        25.00%  20.00%   1   1   4   3

SCORE  SPAM  HAM
<0     0     1
0-1    0     1
1-2    0     0
2-3    1     1
3-4    1     1
4-5    1     0
5-6    1     1
6-7    0     0
7-8    0     0
8-9    0     0
9-10   0     0
>=10   0     0

TEST        SPAM  HAM
free        3     2
pills       3     2
newsletter  1     1
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}

	code, out, errOut = runCmd(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errOut)
	}
	var rep struct {
		Classifier string
		Messages   struct{ Spam, Ham int }
		Skipped    struct{ Spam, Ham int }
		Levels     []struct {
			Name           string
			Threshold      float64
			TP, FP, TN, FN int
			Recall         float64
			FPRate         float64 `json:"fp_rate"`
		}
		Histogram []struct {
			Label     string
			Spam, Ham int
		}
		Tests []struct {
			Name      string
			Spam, Ham int
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.Classifier != "temporary" || rep.Messages.Spam != 4 || rep.Messages.Ham != 5 || rep.Skipped.Spam != 1 || rep.Skipped.Ham != 0 {
		t.Errorf("json counts: %+v", rep)
	}
	if len(rep.Levels) != 2 {
		t.Fatalf("json levels: %+v", rep.Levels)
	}
	if l := rep.Levels[0]; l.Name != "probable" || l.Threshold != 3 || l.Recall != 0.75 || l.FPRate != 0.4 || l.TP != 3 || l.FP != 2 || l.TN != 3 || l.FN != 1 {
		t.Errorf("json probable level: %+v", l)
	}
	if l := rep.Levels[1]; l.Name != "spam" || l.Threshold != 5 || l.Recall != 0.25 || l.FPRate != 0.2 || l.TP != 1 || l.FP != 1 || l.TN != 4 || l.FN != 3 {
		t.Errorf("json spam level: %+v", l)
	}
	if len(rep.Histogram) != 12 || rep.Histogram[0].Label != "<0" || rep.Histogram[0].Ham != 1 || rep.Histogram[6].Label != "5-6" || rep.Histogram[6].Spam != 1 {
		t.Errorf("json histogram: %+v", rep.Histogram)
	}
	if len(rep.Tests) != 3 || rep.Tests[0].Name != "free" || rep.Tests[0].Spam != 3 || rep.Tests[0].Ham != 2 {
		t.Errorf("json tests: %+v", rep.Tests)
	}
	assertEmptyDir(t, data)
}

// TestEvalTrained: with --train-* the classifier learns the bayes
// fixtures into a temporary store and its bands become tests; the
// daemon's data directory is not touched.
func TestEvalTrained(t *testing.T) {
	conf, data := evalConfig(t)
	code, out, errOut := runCmd(t, "eval", "-c", conf, "--spam", "testdata/eval/spam", "--ham", "testdata/eval/ham.mbox",
		"--train-spam", "testdata/bayes/spam.mbox", "--train-ham", "testdata/bayes/ham",
		"--train-ham", "testdata/bayes/ham/cur/1701.host", "--json") // learned twice, counted once
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Classifier string
		Trained    struct{ Spam, Ham int }
		Skipped    struct {
			TrainSpam int `json:"train_spam"`
			TrainHam  int `json:"train_ham"`
		}
		Tests []struct {
			Name      string
			Spam, Ham int
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.Classifier != "trained" || rep.Trained.Spam != 3 || rep.Trained.Ham != 3 || rep.Skipped.TrainSpam != 0 || rep.Skipped.TrainHam != 1 {
		t.Errorf("training: %+v", rep)
	}
	bayesHits := 0
	for _, et := range rep.Tests {
		if strings.HasPrefix(et.Name, "bayes.") {
			bayesHits += et.Spam + et.Ham
		}
	}
	// Every message scored gets one band once the classifier is ready.
	if bayesHits != 9 {
		t.Errorf("bayes bands hit %d times, want once for each of the 9 messages: %+v", bayesHits, rep.Tests)
	}
	assertEmptyDir(t, data)
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if p != dir {
			files = append(files, p)
		}
		return nil
	})
	if len(files) > 0 {
		t.Errorf("eval wrote into the data directory: %v", files)
	}
}

// TestEvalUnscored: a message rejected before end of message has no
// score; it is counted apart and is in none of the figures.
func TestEvalUnscored(t *testing.T) {
	conf := writeFile(t, "reject.toml", `[[rule]]
name = "nobody"
recipients = ["nobody@localhost"]
action = "reject"
`)
	code, out, errOut := runCmd(t, "eval", "-c", conf, "--rcpt", "nobody@localhost",
		"--spam", "testdata/eval/spam", "--ham", "testdata/eval/ham.mbox")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"messages:   0 spam, 0 ham; unscored 4 spam, 5 ham; skipped 1 spam, 0 ham\n",
		"probable  3.0        -       -        0   0   0   0\n", "tests: none hit\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestEvalUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"eval", "--spam", "testdata/eval/spam"}, 2, "give both --spam and --ham"},
		{[]string{"eval", "--spam", "testdata/eval/spam", "--ham", "testdata/eval/ham.mbox", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"eval", "--spam", "testdata/eval/none", "--ham", "testdata/eval/ham.mbox"}, 1, "testdata/eval/none"},
	} {
		code, _, errOut := runCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.err) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.err)
		}
	}
}

// TestEvalClock: --now sets the clock the Date tests compare with, and
// --scores shows which tests each message got. A message from 2002 whose
// Date is an hour before its topmost Received field is not date_past on
// the received clock; it is on the wall clock and on a given time.
func TestEvalClock(t *testing.T) {
	dir := t.TempDir()
	msg := "Received: from mx.example.org (mx.example.org [192.0.2.7])\n\tby mail.example.net; Thu, 22 Aug 2002 13:17:22 +0100\n" +
		"Received: from client (client [198.51.100.9])\n\tby mx.example.org; Thu, 22 Aug 2002 13:17:20 +0100\n" +
		"From: a@example.org\nTo: b@example.net\nSubject: hello\nDate: Thu, 22 Aug 2002 12:17:00 +0100\nMessage-ID: <1@example.org>\n\nhello\n"
	spamDir, hamDir := filepath.Join(dir, "spam"), filepath.Join(dir, "ham")
	for _, d := range []string{spamDir, hamDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "1"), []byte(msg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := writeFile(t, "clock.toml", "[policy]\nallow_no_rules = true\n\n[spam]\ninputs = [\"spamtest.*\"]\n")
	for _, tc := range []struct {
		now      string
		datePast bool
	}{
		{"", false}, {"received", false}, {"wall", true}, {"2002-09-30", true}, {"2002-08-23", false},
	} {
		scores := filepath.Join(dir, "scores-"+tc.now+".tsv")
		args := []string{"eval", "-c", conf, "--spam", spamDir, "--ham", hamDir, "--scores", scores}
		if tc.now != "" {
			args = append(args, "--now", tc.now)
		}
		if code, _, errOut := runCmd(t, args...); code != 0 {
			t.Fatalf("--now %q: exit %d: %s", tc.now, code, errOut)
		}
		b, err := os.ReadFile(scores)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "spam\t") || !strings.HasPrefix(lines[1], "ham\t") {
			t.Fatalf("--now %q: scores file:\n%s", tc.now, b)
		}
		for _, l := range lines {
			f := strings.Split(l, "\t")
			if len(f) != 5 || !strings.HasSuffix(f[2], "1") {
				t.Fatalf("--now %q: line %q: want label, score, place, tests and values", tc.now, l)
			}
			got := strings.Contains(f[3], "spamtest.date_past")
			if got != tc.datePast {
				t.Errorf("--now %q: tests %q, date_past %v, want %v", tc.now, f[3], got, tc.datePast)
			}
			if got && !strings.Contains(f[4], "spamtest.date_past=Thu, 22 Aug 2002 12:17:00 +0100") {
				t.Errorf("--now %q: values %q, want the Date", tc.now, f[4])
			}
		}
	}
	if code, _, errOut := runCmd(t, "eval", "--spam", spamDir, "--ham", hamDir, "--now", "yesterday-ish"); code != 2 || !strings.Contains(errOut, "--now") {
		t.Errorf("a bad --now: exit %d, %q", code, errOut)
	}
}
