package bayes

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	sb "github.com/mailwarden/mailwarden/scanner/bayes"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/store"
)

// FindingAutoLearn is the tracking-log record of a message the classifier
// learned from its own score, valued "spam" or "ham". It is written after
// the rules have decided (the decision needs the final score), so a rule
// naming it never matches; it is declared so that rules and tools may
// name it.
const FindingAutoLearn = "bayes.autolearn"

// AutoInput is what [AutoLearner.Decide] judges a message by.
type AutoInput struct {
	// Tests are the spam score's tests ([spam.Verdict] Tests): the
	// classifier's own (bayes.*, and scored rules whose conditions matched
	// a bayes.* finding, which the caller names Bayes) never count.
	Tests []AutoTest
	// Trusted is mail from the organisation (trusted networks,
	// authenticated): outbound or internal, never learned.
	Trusted bool
	// Findings are the names of the message's findings.
	Findings []string
	// Tempfailed says the message was refused with tempfail: it comes
	// back and is judged then.
	Tempfailed bool
	// Held says a rule rejected, discarded or quarantined the message for
	// some recipient (gtube, a DMARC policy, a virus, a keyword rule):
	// whatever its score, a rule judged it bad, so it is never learned
	// as ham.
	Held bool
}

// AutoTest is one contribution to the spam score.
type AutoTest struct {
	Name  string
	Score float64
	// Bayes says the contribution is the classifier's (a bayes.* band, or
	// a scored rule on one).
	Bayes bool
}

// Skip reasons of [AutoLearner.Decide], for the debug log and tests.
const (
	SkipDisabled  = "autolearn off"
	SkipTrusted   = "trusted or outbound"
	SkipFinding   = "excluded by finding"
	SkipTempfail  = "tempfailed"
	SkipBetween   = "score between thresholds"
	SkipFewTests  = "too few tests"
	SkipRateLimit = "autolearn_per_minute reached"
	SkipDisagree  = "the classifier says spam"
	SkipHeld      = "held by a rule"
)

// excluded are the findings that keep a message from being learned: an
// approved sender's or a released message is not the classifier's to
// judge, a message not fully scanned may hide what it is, and a virus is
// not spam.
var excluded = []string{"sender.approved", "release.verified", message.FindingExclusion, "virus", "virus.*"}

func excludedFinding(name string) bool {
	for _, e := range excluded {
		if name == e || (strings.HasSuffix(e, ".*") && strings.HasPrefix(name, e[:len(e)-1])) {
			return true
		}
	}
	return false
}

// AutoScore is the spam score of tests without the classifier's
// contribution, rounded to one decimal as the spam score is, and how many
// of the tests it sums have a positive score.
func AutoScore(tests []AutoTest) (score float64, positive int) {
	for _, t := range tests {
		if t.Bayes || strings.HasPrefix(t.Name, "bayes.") {
			continue
		}
		score += t.Score
		if t.Score > 0 {
			positive++
		}
	}
	return math.Round(score*10) / 10, positive
}

// learnerSaidSpam is SpamAssassin's learner_said_spam_points: over it the
// classifier's own contribution says spam, and a message is not learned
// as ham (its autolearn=disagree).
const learnerSaidSpam = 1.0

// learnerScore is the classifier's contribution to the spam score: its
// band and the scored rules on it.
func learnerScore(tests []AutoTest) float64 {
	var score float64
	for _, t := range tests {
		if t.Bayes || strings.HasPrefix(t.Name, "bayes.") {
			score += t.Score
		}
	}
	return score
}

// AutoLearner decides which messages the classifier learns from their
// score and learns them in the background, a bounded number at a time and
// per minute. It is safe for concurrent use.
type AutoLearner struct {
	c *Classifier

	mu     sync.Mutex
	window time.Time // the start of the current minute
	count  int       // decisions to learn in the window

	slots chan struct{} // learns in flight
	wg    sync.WaitGroup
}

// autoQueue is how many learns may be in flight at once; past it a
// message is not learned (and logged), so a slow database never holds
// goroutines without bound.
const autoQueue = 16

// NewAutoLearner is the auto-learner of classifier c.
func NewAutoLearner(c *Classifier) *AutoLearner {
	return &AutoLearner{c: c, slots: make(chan struct{}, autoQueue)}
}

// Decide returns the label a message is to be learned as, or
// store.BayesNone and why not, at now. The rules, after SpamAssassin's
// bayes_auto_learn:
//   - autolearn and the classifier are on, the mail is not trusted or
//     outbound, and it carries none of sender.approved, release.verified,
//     scan.exclusion, virus or virus.*;
//   - the score without the classifier's contribution is at least
//     autolearn_spam, from at least autolearn_min_tests distinct tests
//     with a positive score (one strong rule alone is not enough), or at
//     most autolearn_ham while the classifier's own contribution is at
//     most 1 point (SpamAssassin's "disagree": a message the classifier
//     calls spam, bayes.60 and up with the default scores, is not learned
//     as ham, or a spam it quarantines would be learned as ham at once,
//     and releasing it would then teach nothing), and while no rule
//     rejected, discarded or quarantined it ([AutoInput.Held]: a message
//     quarantined by gtube or a DMARC policy scores nothing);
//   - fewer than autolearn_per_minute messages were decided for learning
//     this minute. A message that passes counts toward the cap.
func (a *AutoLearner) Decide(in AutoInput, now time.Time) (store.BayesLabel, string) {
	c := a.c.c
	if !c.Enabled || !c.AutoLearn {
		return store.BayesNone, SkipDisabled
	}
	if in.Trusted {
		return store.BayesNone, SkipTrusted
	}
	if in.Tempfailed {
		return store.BayesNone, SkipTempfail
	}
	for _, f := range in.Findings {
		if excludedFinding(f) {
			return store.BayesNone, SkipFinding + " " + f
		}
	}
	score, positive := AutoScore(in.Tests)
	var l store.BayesLabel
	switch {
	case score >= c.AutoLearnSpam:
		if positive < c.AutoLearnMinTests {
			return store.BayesNone, SkipFewTests
		}
		l = store.BayesSpam
	case score <= c.AutoLearnHam:
		if in.Held {
			return store.BayesNone, SkipHeld
		}
		if learnerScore(in.Tests) > learnerSaidSpam {
			return store.BayesNone, SkipDisagree
		}
		l = store.BayesHam
	default:
		return store.BayesNone, SkipBetween
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := now.Truncate(time.Minute); !w.Equal(a.window) {
		a.window, a.count = w, 0
	}
	if a.count >= c.AutoLearnPerMinute {
		return store.BayesNone, SkipRateLimit
	}
	a.count++
	return l, ""
}

// Learn learns m as l in st in the background, logging to log: the tokens and the digest
// are taken now, so m may be reused once Learn returns, and the database
// write runs in its own goroutine within the check's budget. It reports
// false when too many learns are in flight (the message is not learned).
// An error is logged, never returned: learning never fails a message.
// Learning the same message twice counts once (the digest).
func (a *AutoLearner) Learn(log *slog.Logger, st store.Bayes, m *message.Message, l store.BayesLabel, at time.Time, queueID string) bool {
	if log == nil {
		log = slog.Default()
	}
	select {
	case a.slots <- struct{}{}:
	default:
		log.Warn("bayes: autolearn queue full; not learned", "queue_id", queueID, "label", l.String())
		return false
	}
	toks := a.c.Tokens(m)
	hashes := make([]uint64, len(toks))
	for i, t := range toks {
		hashes[i] = sb.Hash(t)
	}
	digest := sb.Digest(m)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() { <-a.slots }()
		ctx, cancel := context.WithTimeout(context.Background(), Check{}.Budget())
		defer cancel()
		prev, err := st.BayesLearn(ctx, digest, hashes, l, at)
		if err != nil {
			log.Warn("bayes: autolearn failed", "queue_id", queueID, "label", l.String(), "err", fmt.Errorf("bayes: autolearn: %w", err))
			return
		}
		log.Debug("bayes: autolearned", "queue_id", queueID, "label", l.String(), "new", prev != l, "tokens", len(hashes))
	}()
	return true
}

// Wait returns when every learn started so far has ended.
func (a *AutoLearner) Wait() { a.wg.Wait() }
