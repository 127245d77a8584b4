package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/mailwarden/mailwarden/check/bayes"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/mailbox"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/store"
)

const learnHelp = `Each FILE is one message, or an mbox (a file starting with a From_ line),
split into its messages; each DIR is read recursively (Maildir, MH), every
file in it that starts like a message. A message is known by a digest of
its Message-ID, Date, From and text, so learning it again (or its delivered
copy) counts once, and learning it as the other kind moves it. Afterwards
the token database is expired to [bayes] max_tokens and expiry.

It prints how many messages it learned, how many were already known as
that kind, and how many it skipped (not a message, over 32 MiB).`

// learnBatch is how many messages `mailwarden learn` learns in one
// transaction: a failed batch is not learned, and is named in the error.
const learnBatch = 100

func learnCommand(verb string, label store.BayesLabel, summary string) {
	storeCommand("learn "+verb, summary, "FILE|DIR|MBOX …", learnHelp, true,
		func(args []string) error {
			if len(args) == 0 {
				return usageErrorf("no message given")
			}
			return nil
		},
		func(fs *flag.FlagSet) storeFunc {
			verbose := fs.Bool("v", false, "print each message and what became of it")
			return func(ctx context.Context, cfg *config.Config, st *store.Store, args []string, s *stdio) error {
				c := bayes.FromConfig(cfg)
				if !c.Config().Enabled {
					fmt.Fprintf(s.err, "mailwarden learn %s: note: the classifier is not enabled in %s (bayes.enabled)\n", verb, configName(cfg))
				}
				var learned, known, skipped int
				// Messages are learned learnBatch to a transaction:
				// a transaction each was most of the time.
				var batch []bayes.Learning
				var wheres []string
				flush := func() error {
					if len(batch) == 0 {
						return nil
					}
					prevs, err := c.LearnMany(ctx, st, batch)
					if err != nil {
						return fmt.Errorf("%s … %s: %w", wheres[0], wheres[len(wheres)-1], err)
					}
					for i, prev := range prevs {
						what := "learned"
						if prev == label {
							known++
							what = "already known"
							if label == store.BayesNone {
								what = "not learned"
							}
						} else {
							learned++
						}
						if *verbose {
							fmt.Fprintf(s.out, "%s: %s\n", wheres[i], what)
						}
					}
					batch, wheres = batch[:0], wheres[:0]
					return nil
				}
				for _, arg := range args {
					err := mailbox.Walk(arg, 0, func(where string, raw []byte, err error) error {
						if err != nil {
							skipped++
							if *verbose {
								if err := flush(); err != nil { // the lines in file order
									return err
								}
								fmt.Fprintf(s.out, "%s: skipped: %v\n", where, err)
							}
							return nil
						}
						batch = append(batch, c.Learning(message.ParseBytes(raw, message.DefaultLimits()), label, time.Now()))
						wheres = append(wheres, where)
						if len(batch) == learnBatch {
							return flush()
						}
						return nil
					})
					if err != nil {
						return err
					}
				}
				if err := flush(); err != nil {
					return err
				}
				deleted, remaining, err := c.Expire(ctx, st, time.Now())
				if err != nil {
					return err
				}
				tot, err := st.BayesTotals(ctx)
				if err != nil {
					return err
				}
				if label == store.BayesNone {
					fmt.Fprintf(s.out, "forgot %d, not learned %d, skipped %d\n", learned, known, skipped)
				} else {
					fmt.Fprintf(s.out, "learned %d as %s, already known %d, skipped %d\n", learned, label, known, skipped)
				}
				fmt.Fprintf(s.out, "database: %d spam, %d ham, %d tokens", tot.Spam, tot.Ham, remaining)
				if deleted > 0 {
					fmt.Fprintf(s.out, " (%d expired)", deleted)
				}
				fmt.Fprintln(s.out)
				return nil
			}
		})
}

func init() {
	register(&command{
		name:    "learn",
		summary: "teach the Bayesian classifier spam or ham, or make it forget messages",
		usage:   "spam|ham|forget FILE|DIR|MBOX …",
		help:    "See 'mailwarden help learn VERB' for each verb.",
		flags: func(fs *flag.FlagSet) func(context.Context, []string, *stdio) error {
			return func(context.Context, []string, *stdio) error { return errUsage }
		},
	})
	learnCommand("spam", store.BayesSpam, "learn messages as spam")
	learnCommand("ham", store.BayesHam, "learn messages as ham (not spam)")
	learnCommand("forget", store.BayesNone, "forget what messages taught the classifier")

	storeCommand("classify", "show the Bayesian classifier's verdict on a message and its top tokens", "FILE [-n N]",
		`Prints the spam probability of the message in FILE ("-" for standard input),
its band (the finding the bayes check reports, with its score), the learned
totals, and the tokens that decided it, most telling first, with their
probability and the numbers of learned spam and ham messages that held
them. Under [bayes] min_learned spam or ham it says so: the check then
reports nothing.`, false,
		func(args []string) error {
			if len(args) != 1 {
				return usageErrorf("give one message file")
			}
			return nil
		},
		func(fs *flag.FlagSet) storeFunc {
			n := fs.Int("n", 20, "show the `N` most telling tokens")
			return func(ctx context.Context, cfg *config.Config, st *store.Store, args []string, s *stdio) error {
				var raw []byte
				var err error
				if args[0] == "-" {
					raw, err = readAllLimited(s)
				} else {
					raw, err = os.ReadFile(args[0])
				}
				if err != nil {
					return err
				}
				c := bayes.FromConfig(cfg)
				res, err := c.Classify(ctx, st, message.ParseBytes(raw, message.DefaultLimits()))
				if err != nil {
					return err
				}
				fmt.Fprintf(s.out, "learned:     %d spam, %d ham\n", res.Totals.Spam, res.Totals.Ham)
				if !res.Ready {
					fmt.Fprintf(s.out, "not ready:   fewer than %d spam or ham learned (bayes.min_learned); the check reports nothing\n", c.Config().MinLearned)
					return nil
				}
				b := bayes.BandOf(res.Prob)
				fmt.Fprintf(s.out, "probability: %s\n", bayes.FormatProb(res.Prob))
				fmt.Fprintf(s.out, "band:        %s (score %s)\n", b.Name, strconv.FormatFloat(c.Config().Scores.Of(b.Name), 'f', -1, 64))
				fmt.Fprintf(s.out, "clues:       %d tokens\n\n", len(res.Clues))
				var t table
				t.add("TOKEN", "PROB", "SPAM", "HAM")
				for i, cl := range res.Clues {
					if i == *n {
						break
					}
					t.add(printable(cl.Token), fmt.Sprintf("%.4f", cl.Prob), strconv.FormatInt(cl.Count.Spam, 10), strconv.FormatInt(cl.Count.Ham, 10))
				}
				return t.write(s.out)
			}
		})
}

// readAllLimited reads standard input, up to the size of one message.
func readAllLimited(s *stdio) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(s.in, mailbox.DefaultMaxMessage+1))
	if err != nil {
		return nil, err
	}
	if len(b) > mailbox.DefaultMaxMessage {
		return nil, errors.New("message over 32 MiB")
	}
	return b, nil
}

// quarantineLearner teaches the classifier an administrator's decision on
// a quarantined message: released is ham, deleted is spam. It is a
// callback, so the quarantine commands need not know the classifier.
type quarantineLearner func(ctx context.Context, e *store.QuarantineEntry, released bool)

// newQuarantineLearner is the learner of [bayes] learn_areas, or nil when
// the classifier is off. A failure to learn is a warning: the release or
// deletion is done.
func newQuarantineLearner(cfg *config.Config, st *store.Store, s *stdio) quarantineLearner {
	c := bayes.FromConfig(cfg)
	if !c.Config().Enabled || len(c.Config().LearnAreas) == 0 {
		return nil
	}
	return func(ctx context.Context, e *store.QuarantineEntry, released bool) {
		if !c.LearnsArea(e.Area) {
			return
		}
		learned, err := c.LearnQuarantined(ctx, st, e, released, time.Now())
		as := "spam"
		if released {
			as = "ham"
		}
		switch {
		case err != nil:
			fmt.Fprintf(s.err, "mailwarden quarantine: %s: learning it as %s failed: %v\n", e.ID, as, err)
		case learned:
			fmt.Fprintf(s.out, "%s: learned as %s\n", e.ID, as)
		}
	}
}
