package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check/bayes"
	"github.com/mailwarden/mailwarden/scanner/mailbox"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/scanner/received"
	"github.com/mailwarden/mailwarden/session"
	"github.com/mailwarden/mailwarden/store"
)

const evalHelp = `Runs a labelled corpus through the same session code, checks, rules and
spam score as 'mailwarden check --offline' (every network lookup fails, so
DNSBL and DNSWL tests score nothing) and prints, at the probable and the
spam threshold, spam recall, the ham false-positive rate and the confusion
matrix (a message is called spam at a threshold when its score is at or
over it); the score histogram of spam and of ham; and each test's hits on
spam and on ham, most hits first.

Each --spam, --ham, --train-spam and --train-ham (repeat for several) is a
message file, an mbox, or a Maildir or MH directory, read as 'mailwarden
learn' reads them; what is not a message, or is over 32 MiB, is skipped
and counted. Each message is one transaction from the null sender to
--rcpt, without a client address.

The classifier's token database is a fresh, empty, temporary store, never
the daemon's: without --train-* the bayes test is untrained and scores
nothing; with them, those messages are learned into it first, under the
config's [bayes] settings (min_learned included). A message decided
before end of message (a rule rejects it at RCPT), or whose end-of-message
checks failed, has no score: it is counted as unscored, not in the figures.

--now sets each transaction's clock, which the Date tests compare with:
"received" (the default) is the date of the message's topmost Received
field, the time the last MTA took it, so that an old corpus is judged as
it was when it arrived (the wall clock is used for a message without a
dated Received field); "wall" is the wall clock; or give a time
(2026-11-23T10:05:00Z, 2026-11-23).

--scores FILE writes one line per scored message: its label (spam or
ham), its score, where it is, the tests that contributed, and what each
of them found (name=value; ...), separated by tabs; use it to read the
false positives.`

func init() {
	register(&command{
		name:    "eval",
		summary: "measure spam recall and false positives on a labelled corpus, offline",
		usage:   "[-c config] --spam DIR --ham DIR [--train-spam DIR --train-ham DIR] [--rcpt ADDRESS] [--now received|wall|TIME] [--scores FILE] [--json]",
		help:    evalHelp,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, *stdio) error {
			var cf configFlags
			fs.StringVar(&cf.file, "c", "", "config `file` (default: the embedded default config)")
			var spamDirs, hamDirs, trainSpam, trainHam listFlag
			fs.Var(&spamDirs, "spam", "spam `corpus`: file, mbox or directory (repeat for several)")
			fs.Var(&hamDirs, "ham", "ham `corpus`: file, mbox or directory (repeat for several)")
			fs.Var(&trainSpam, "train-spam", "learn this `corpus` as spam first, into a temporary store")
			fs.Var(&trainHam, "train-ham", "learn this `corpus` as ham first, into a temporary store")
			rcpt := fs.String("rcpt", "postmaster@localhost", "envelope `recipient` of every message")
			asJSON := fs.Bool("json", false, "print one JSON document")
			nowFlag := fs.String("now", "received", "each transaction's `clock`: received (the topmost Received field's date), wall, or a time")
			scoresFile := fs.String("scores", "", "write each scored message's label, score, place and tests to `file`")
			return func(ctx context.Context, args []string, s *stdio) (err error) {
				if len(args) > 0 {
					return usageErrorf("unexpected argument %q: give the corpora with --spam and --ham", args[0])
				}
				if len(spamDirs) == 0 || len(hamDirs) == 0 {
					return usageErrorf("give both --spam and --ham")
				}
				clock, err := evalClock(*nowFlag)
				if err != nil {
					return usageErrorf("--now: %v", err)
				}
				var scores io.Writer = io.Discard
				if *scoresFile != "" {
					f, err := os.Create(*scoresFile)
					if err != nil {
						return err
					}
					bw := bufio.NewWriter(f)
					// A full disk must not leave a short file unsaid.
					defer func() {
						if e := bw.Flush(); err == nil && e != nil {
							err = fmt.Errorf("--scores: %w", e)
						}
						if e := f.Close(); err == nil && e != nil {
							err = fmt.Errorf("--scores: %w", e)
						}
					}()
					scores = bw
				}
				l, err := cf.load()
				if err != nil {
					return err
				}
				rt, err := session.NewRuntime(l, nil, os.TempDir())
				if err != nil {
					return err
				}
				dir, err := os.MkdirTemp("", "mailwarden-eval-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				st, err := store.Open(ctx, dir, quietLogger())
				if err != nil {
					return err
				}
				defer st.Close()
				rep := evalReport{Store: "temporary"}
				c := bayes.FromConfig(l.Config)
				for _, tr := range []struct {
					corpora listFlag
					label   store.BayesLabel
					skip    *int
				}{{trainSpam, store.BayesSpam, &rep.Skipped.TrainSpam},
					{trainHam, store.BayesHam, &rep.Skipped.TrainHam}} {
					// Learned 100 a transaction, as 'mailwarden learn' does.
					var batch []bayes.Learning
					var first, last string // the batch's first and last message
					flush := func() error {
						if len(batch) == 0 {
							return nil
						}
						_, err := c.LearnMany(ctx, st, batch)
						batch = batch[:0]
						if err != nil {
							return fmt.Errorf("learning %s to %s: %w", first, last, err)
						}
						return nil
					}
					err := walkCorpora(tr.corpora, tr.skip, func(where string, raw []byte) error {
						if len(batch) == 0 {
							first = where
						}
						last = where
						batch = append(batch, c.Learning(message.ParseBytes(raw, message.DefaultLimits()), tr.label, time.Now()))
						if len(batch) >= 100 {
							if err := flush(); err != nil {
								return err
							}
						}
						return ctx.Err()
					})
					if err == nil {
						err = flush()
					}
					if err != nil {
						return err
					}
				}
				if len(trainSpam)+len(trainHam) > 0 {
					// Bounded as the daemon's database is after a learn.
					if _, _, err := c.Expire(ctx, st, time.Now()); err != nil {
						return err
					}
					// What the database holds: a message learned twice
					// counts once, one learned as both kinds as the last.
					tot, err := st.BayesTotals(ctx)
					if err != nil {
						return err
					}
					rep.Trained = evalCounts{Spam: int(tot.Spam), Ham: int(tot.Ham)}
					rep.Store = "trained"
					if !c.Config().Enabled {
						fmt.Fprintf(s.err, "mailwarden eval: note: the classifier is not enabled in %s (bayes.enabled); training does nothing\n", configName(l.Config))
					}
				}
				var samples []evalSample
				log := quietLogger()
				for _, co := range []struct {
					corpora listFlag
					spam    bool
					skip    *int
				}{{spamDirs, true, &rep.Skipped.Spam}, {hamDirs, false, &rep.Skipped.Ham}} {
					label := map[bool]string{true: "spam", false: "ham"}[co.spam]
					err := walkCorpora(co.corpora, co.skip, func(where string, raw []byte) error {
						dr := session.DryRun(rt, session.DryRunInput{Rcpts: []string{*rcpt}, Message: raw, Offline: true, State: st, Now: clock(raw)}, log)
						if dr.Spam == nil {
							rep.Unscored.add(co.spam)
							return nil
						}
						sm := evalSample{Spam: co.spam, Score: dr.Spam.Score}
						for _, t := range dr.Spam.Tests {
							sm.Tests = append(sm.Tests, t.Name)
						}
						samples = append(samples, sm)
						fmt.Fprintf(scores, "%s\t%.1f\t%s\t%s\t%s\n", label, sm.Score, where, strings.Join(sm.Tests, ","), testValues(dr, sm.Tests))
						return ctx.Err()
					})
					if err != nil {
						return err
					}
				}
				set := rt.Spam
				rep.evalTally = tallyEval(samples, set.Probable(), set.Required())
				if *asJSON {
					enc := json.NewEncoder(s.out)
					enc.SetIndent("", "  ")
					return enc.Encode(rep)
				}
				return rep.write(s.out)
			}
		},
	})
}

// evalReport is what `mailwarden eval` prints.
type evalReport struct {
	// Store is the classifier's token database: "temporary" (empty) or
	// "trained" (a temporary one, with the --train-* messages learned).
	Store   string     `json:"classifier"`
	Trained evalCounts `json:"trained"` // the messages the classifier learned
	Skipped struct {
		Spam      int `json:"spam"`
		Ham       int `json:"ham"`
		TrainSpam int `json:"train_spam"`
		TrainHam  int `json:"train_ham"`
	} `json:"skipped"`
	Unscored evalCounts `json:"unscored"`
	evalTally
}

// walkCorpora calls fn with each message of the corpora, counting those
// that are not messages in skipped.
func walkCorpora(corpora []string, skipped *int, fn func(where string, raw []byte) error) error {
	for _, path := range corpora {
		err := mailbox.Walk(path, 0, func(where string, raw []byte, err error) error {
			if err != nil {
				*skipped++
				return nil
			}
			return fn(where, raw)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *evalReport) write(w io.Writer) error {
	fmt.Fprintf(w, "messages:   %d spam, %d ham", r.Messages.Spam, r.Messages.Ham)
	if n := r.Unscored.Spam + r.Unscored.Ham; n > 0 {
		fmt.Fprintf(w, "; unscored %d spam, %d ham", r.Unscored.Spam, r.Unscored.Ham)
	}
	fmt.Fprintf(w, "; skipped %d spam, %d ham\n", r.Skipped.Spam, r.Skipped.Ham)
	if r.Store == "trained" {
		fmt.Fprintf(w, "classifier: trained on %d spam, %d ham (skipped %d, %d), temporary store\n",
			r.Trained.Spam, r.Trained.Ham, r.Skipped.TrainSpam, r.Skipped.TrainHam)
	} else {
		fmt.Fprintln(w, "classifier: untrained (a temporary, empty store)")
	}
	fmt.Fprintln(w)
	var t table
	t.add("LEVEL", "THRESHOLD", "RECALL", "FP RATE", "TP", "FP", "TN", "FN")
	for _, l := range r.Levels {
		t.add(l.Name, strconv.FormatFloat(l.Threshold, 'f', 1, 64), percent(l.Recall), percent(l.FPRate),
			strconv.Itoa(l.TP), strconv.Itoa(l.FP), strconv.Itoa(l.TN), strconv.Itoa(l.FN))
	}
	if err := t.write(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t = table{}
	t.add("SCORE", "SPAM", "HAM")
	for _, b := range r.Histogram {
		t.add(b.Label, strconv.Itoa(b.Spam), strconv.Itoa(b.Ham))
	}
	if err := t.write(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(r.Tests) == 0 {
		_, err := fmt.Fprintln(w, "tests: none hit")
		return err
	}
	t = table{}
	t.add("TEST", "SPAM", "HAM")
	for _, et := range r.Tests {
		t.add(et.Name, strconv.Itoa(et.Spam), strconv.Itoa(et.Ham))
	}
	return t.write(w)
}

// percent shows a ratio as a percentage with two decimals, "-" for none.
func percent(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p*100, 'f', 2, 64) + "%"
}

// evalClock reads --now: for each message, the clock its transaction
// runs on (nil is the wall clock).
func evalClock(v string) (func(raw []byte) func() time.Time, error) {
	switch v {
	case "wall":
		return func([]byte) func() time.Time { return nil }, nil
	case "received", "":
		return func(raw []byte) func() time.Time {
			t, ok := receivedDate(raw)
			if !ok {
				return nil
			}
			return func() time.Time { return t }
		}, nil
	}
	t, err := parseWhen(v, time.Now())
	if err != nil {
		return nil, err
	}
	return func([]byte) func() time.Time { return func() time.Time { return t } }, nil
}

// receivedDate is the date of the topmost Received field of raw that has
// one: when the last MTA took the message.
func receivedDate(raw []byte) (time.Time, bool) {
	m := message.ParseBytes(raw, message.DefaultLimits())
	for _, h := range m.Headers {
		if !strings.EqualFold(h.Name, "Received") {
			continue
		}
		if f, err := received.Parse(h.Raw); err == nil && !f.Date.IsZero() {
			return f.Date, true
		}
	}
	return time.Time{}, false
}

// testValues is what the contributing tests found: "name=value" for each
// finding among them that has a value, separated by "; ", tabs and line
// ends made spaces.
func testValues(dr *session.DryRunReport, tests []string) string {
	var out []string
	for _, f := range dr.Findings {
		if f.Value == "" || !slices.Contains(tests, f.Name) {
			continue
		}
		out = append(out, f.Name+"="+strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(f.Value))
	}
	return strings.Join(out, "; ")
}
