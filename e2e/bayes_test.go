package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner"
)

// bayesExtra lets the classifier quarantine on its own: bayes.99 scores
// the [spam] threshold, so a message with no other test is spam when the
// classifier is sure, and not otherwise.
const bayesExtra = `
[bayes.scores]
99 = 5.0
`

// Two vocabularies, far apart, for the synthetic training mail.
var (
	spamWords = strings.Fields(`viagra cialis casino jackpot bitcoin crypto winner prize lottery
		unclaimed refund inheritance pharmacy discount pills offer guaranteed limited urgent
		wire transfer beneficiary million dollars bonus exclusive investment profit rolex
		replica loan approved credit miracle slimming enlargement unsubscribe click claim`)
	hamWords = strings.Fields(`meeting agenda quarterly budget review minutes project milestone
		deadline schedule invoice attached draft proposal feedback colleague team sprint release
		notes roadmap customer support ticket lunch tomorrow office conference room slides
		summary action items follow-up thanks regards hiring onboarding architecture`)
)

// synthMessage builds one message of the training or test mail.
func synthMessage(id, from, subject, body string) []byte {
	return []byte("From: " + from + "\r\nTo: bob@example.com\r\nSubject: " + subject +
		"\r\nDate: " + dateNow() + "\r\nMessage-ID: <" + id + "@bayes.example.net>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

// drawWords draws n words of vocab with rng.
func drawWords(rng *rand.Rand, vocab []string, n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = vocab[rng.IntN(len(vocab))]
	}
	return strings.Join(ws, " ")
}

// writeCorpus writes n distinct messages of vocab into a new directory,
// one file each, as an admin's folder of sorted mail.
func writeCorpus(t *testing.T, kind string, vocab, froms []string, n int, seed uint64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), kind)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range n {
		id := fmt.Sprintf("%s-%03d", kind, i)
		m := synthMessage(id, froms[i%len(froms)], drawWords(rng, vocab, 3), drawWords(rng, vocab, 40))
		if err := os.WriteFile(filepath.Join(dir, id+".eml"), m, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// classified is what `mailwarden classify` said of a message.
type classified struct {
	spam, ham int
	prob      float64
	band      string
}

var (
	classifyLearned = regexp.MustCompile(`(?m)^learned:\s+(\d+) spam, (\d+) ham$`)
	classifyProb    = regexp.MustCompile(`(?m)^probability:\s+([0-9.]+)$`)
	classifyBand    = regexp.MustCompile(`(?m)^band:\s+(bayes\.\d\d) `)
)

// classify runs `mailwarden classify` on raw.
func (d *daemon) classify(t *testing.T, raw []byte) classified {
	t.Helper()
	file := filepath.Join(t.TempDir(), "msg.eml")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out := d.cli(t, "classify", file)
	l, p, b := classifyLearned.FindStringSubmatch(out), classifyProb.FindStringSubmatch(out), classifyBand.FindStringSubmatch(out)
	if l == nil || p == nil || b == nil {
		t.Fatalf("mailwarden classify said:\n%s", out)
	}
	var c classified
	c.spam, _ = strconv.Atoi(l[1])
	c.ham, _ = strconv.Atoi(l[2])
	c.prob, _ = strconv.ParseFloat(p[1], 64)
	c.band = b[1]
	return c
}

// findingOf returns the row's finding name, and whether it has one.
func findingOf(fs []scanner.Finding, name string) (scanner.Finding, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	return scanner.Finding{}, false
}

// TestBayesQuarantineRelease is issue 10's case through real Postfix: the
// classifier, trained with `mailwarden learn` on 200 spam and 200 ham,
// quarantines a spam-vocabulary message it has not seen; released with
// `mailwarden quarantine release`, the copy reaches the recipient as it
// was quarantined and the classifier learns it as ham, once.
func TestBayesQuarantineRelease(t *testing.T) {
	sink := StartSink(t)
	mw := startMailwarden(t, string(config.DefaultTOML())+bayesExtra)

	// The admin trains the running daemon's classifier while Postfix
	// starts.
	spamDir := writeCorpus(t, "spam", spamWords, []string{"Deals <deals@promo.example.org>", "Winner <notify@prize.example.info>"}, 200, 1)
	hamDir := writeCorpus(t, "ham", hamWords, []string{"Carol <carol@example.com>", "Dave <dave@partner.example.net>"}, 200, 2)
	start := time.Now()
	trained := make(chan error, 1)
	go func() {
		for _, l := range []struct{ kind, dir, want string }{
			{"spam", spamDir, "learned 200 as spam, already known 0, skipped 0"},
			{"ham", hamDir, "learned 200 as ham, already known 0, skipped 0\ndatabase: 200 spam, 200 ham, "},
		} {
			out, err := exec.Command(mw.bin, "learn", l.kind, l.dir, "-c", mw.conf, "--data", mw.data).CombinedOutput()
			if err == nil && !strings.Contains(string(out), l.want) {
				err = fmt.Errorf("want %q", l.want)
			}
			if err != nil {
				trained <- fmt.Errorf("mailwarden learn %s: %w\n%s", l.kind, err, out)
				return
			}
		}
		trained <- nil
	}()
	mta := StartPostfix(t, mw.addr, sink.Addr())
	if err := <-trained; err != nil {
		t.Fatal(err)
	}
	t.Logf("trained on 200 spam and 200 ham in %v", time.Since(start).Round(time.Millisecond))

	// Spam vocabulary, from a sender the training never saw, with as many
	// words of its own: unknown to the classifier now (they say nothing),
	// ham clues once it is released, enough to move its verdict.
	rng := rand.New(rand.NewPCG(3, 1))
	own := make([]string, 40)
	for i := range own {
		w := make([]byte, 9)
		for j := range w {
			w[j] = byte('a' + rng.IntN(26))
		}
		own[i] = string(w)
	}
	data := synthMessage("bayes-spam", "Promo <offers@fresh.example.biz>", drawWords(rng, spamWords, 3),
		drawWords(rng, spamWords, 12)+"\r\n"+strings.Join(own, " "))
	r := SendWith(t, SendOptions{Addr: mta.SMTPAddr, SrcIP: "127.0.0.141", Helo: "client.mailwarden.test", From: "offers@fresh.example.biz",
		To: []string{"bob@example.com"}, Data: data})
	if r.Err != nil || !r.Accepted() {
		t.Fatalf("not accepted: %v\n%s", r.Err, r.Transcript)
	}

	row := senderRows(t, mw, 1, "--sender", "offers@fresh.example.biz")[0]
	f := checkRow(t, row, "eom", "quarantine", "spam", "spam")
	if want := "score=5.0 required=5.0 tests=bayes.99"; f.Reason != want {
		t.Errorf("spam finding %+v, want reason %q: the classifier's band alone", f, want)
	}
	if b, ok := findingOf(row.Findings, "bayes.99"); !ok || !strings.HasPrefix(b.Reason, "spam probability ") ||
		!strings.Contains(b.Reason, "(learned 200 spam, 200 ham)") {
		t.Errorf("row findings %+v: want bayes.99 naming the learned totals", row.Findings)
	}
	if a, ok := findingOf(row.Findings, "bayes.autolearn"); ok {
		t.Errorf("the quarantined spam was auto-learned: %+v", a)
	}
	if len(row.QuarantineIDs) != 1 {
		t.Fatalf("tracking row quarantine IDs %v", row.QuarantineIDs)
	}
	qid := row.QuarantineIDs[0]
	q := mw.quarantined(t, "--area", "spam", "--sender", "offers@fresh.example.biz")
	if len(q) != 1 || q[0].ID != qid || q[0].Rule != "spam" {
		t.Fatalf("quarantine %+v, want %s in area spam by rule spam", q, qid)
	}
	raw := []byte(mw.cli(t, "quarantine", "export", qid))
	before := mw.classify(t, raw)
	if before.spam != 200 || before.ham != 200 || before.band != "bayes.99" || before.prob < 0.99 {
		t.Errorf("classify before the release: %+v, want 200/200 and bayes.99", before)
	}
	if n := len(deliveriesOf(sink, "bayes-spam")); n != 0 {
		t.Fatalf("quarantined spam delivered %d times", n)
	}

	out := mw.cli(t, "quarantine", "release", qid, "--smtp", mta.SMTPAddr)
	if !strings.Contains(out, qid+": released to bob@example.com via "+mta.SMTPAddr) || !strings.Contains(out, qid+": learned as ham") {
		t.Errorf("release said %q", out)
	}
	d := waitDelivered(t, sink, mta, "bayes-spam", 1)[0]
	if !bytes.HasSuffix(d.Data, raw) {
		t.Fatalf("released copy differs from the quarantined bytes\n--- delivered\n%s\n--- quarantined\n%s", d.Data, raw)
	}
	// Before them only what the second pass adds: the MTA's Received
	// field and the daemon's Authentication-Results.
	prefix := string(d.Data[:len(d.Data)-len(raw)])
	for _, line := range strings.Split(strings.TrimSuffix(prefix, "\r\n"), "\r\n") {
		if !strings.HasPrefix(line, "Received:") && !strings.HasPrefix(line, "Authentication-Results:") &&
			!strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			t.Errorf("released copy: unexpected line before the quarantined bytes: %q", line)
		}
	}
	t.Logf("released copy: %d quarantined bytes after %q", len(raw), prefix)
	// The released copy went through the daemon again; it is accepted and
	// not auto-learned (its row is written once its learning is decided).
	rel := senderRows(t, mw, 1, "--sender", "offers@fresh.example.biz", "--action", "accept")
	if len(rel) != 1 {
		t.Errorf("released copy: %d accepted rows", len(rel))
	} else if _, ok := findingOf(rel[0].Findings, "bayes.autolearn"); ok {
		t.Errorf("released copy auto-learned: %+v", rel[0].Findings)
	}

	after := mw.classify(t, raw)
	if after.spam != 200 || after.ham != 201 {
		t.Errorf("classify after the release: %d spam, %d ham, want 200 and 201", after.spam, after.ham)
	}
	if after.prob >= before.prob {
		t.Errorf("spam probability %.4f after the release, was %.4f: want lower", after.prob, before.prob)
	}
	t.Logf("released spam: probability %.4f (%s) before, %.4f (%s) after learning it as ham", before.prob, before.band, after.prob, after.band)

	// Learning it again counts once: a forced second release, and the
	// delivered copy (another Received field) learned by hand.
	out = mw.cli(t, "quarantine", "release", qid, "--force", "--smtp", mta.SMTPAddr)
	if !strings.Contains(out, "released to bob@example.com") || strings.Contains(out, "learned as ham") {
		t.Errorf("forced second release said %q", out)
	}
	waitDelivered(t, sink, mta, "bayes-spam", 2)
	delivered := filepath.Join(t.TempDir(), "delivered.eml")
	if err := os.WriteFile(delivered, d.Data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mw.cli(t, "learn", "ham", delivered); !strings.Contains(out, "learned 0 as ham, already known 1, skipped 0") ||
		!strings.Contains(out, "database: 200 spam, 201 ham, ") {
		t.Errorf("learning the delivered copy said %q", out)
	}
	if again := mw.classify(t, raw); again.spam != 200 || again.ham != 201 || again.prob != after.prob {
		t.Errorf("classify after learning it again: %+v, want %+v", again, after)
	}
}
