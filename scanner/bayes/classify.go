package bayes

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
)

// Counts is how many learned spam and ham messages held a token.
type Counts struct {
	Spam, Ham int64
}

// Totals is how many spam and ham messages were learned.
type Totals struct {
	Spam, Ham int64
}

// DB gives the learned counts of tokens.
type DB interface {
	// Totals returns the number of messages learned.
	Totals(ctx context.Context) (Totals, error)
	// Counts returns the counts of tokens: the i-th is tokens[i]'s, zero
	// for a token it does not know (a token no learned message holds is
	// forgotten, so a known one never counts zero).
	Counts(ctx context.Context, tokens []string) ([]Counts, error)
}

// Options tune the classifier; [DefaultOptions] are SpamBayes's values.
type Options struct {
	// MinLearned is how many spam and how many ham messages must be
	// learned before the classifier scores; until then [Result.Ready] is
	// false.
	MinLearned int64
	// Strength and Assumed are Robinson's s and x: a token seen n times
	// has probability (s·x + n·p)/(s + n), so rare tokens stay near x.
	Strength, Assumed float64
	// MinStrength leaves out tokens whose probability is within it of 0.5:
	// they say nothing either way.
	MinStrength float64
	// MaxClues is how many of the most telling tokens are combined.
	MaxClues int
}

// DefaultOptions: 200 messages of each kind (the floor), s = 0.45
// and x = 0.5, tokens within 0.1 of neutral ignored, 150 clues (SpamBayes).
func DefaultOptions() Options {
	return Options{MinLearned: 200, Strength: 0.45, Assumed: 0.5, MinStrength: 0.1, MaxClues: 150}
}

// Clue is one token's part in a verdict.
type Clue struct {
	Token string
	// Prob is the token's spam probability after Robinson's adjustment.
	Prob  float64
	Count Counts
}

// Result is the classifier's verdict on one message.
type Result struct {
	// Ready is false while fewer than MinLearned spam or ham messages are
	// learned; Prob is then 0.5 and Clues empty.
	Ready bool
	// Prob is the spam probability, 0 (ham) to 1 (spam); near 0.5 it is
	// unsure, or the message has cues both ways.
	Prob float64
	// Clues are the tokens combined, most telling first.
	Clues []Clue
	// Totals are the learned message counts the verdict rests on.
	Totals Totals
}

// Classify scores tokens against db.
func Classify(ctx context.Context, db DB, tokens []string, opt Options) (Result, error) {
	tot, err := db.Totals(ctx)
	if err != nil {
		return Result{}, err
	}
	res := Result{Prob: 0.5, Totals: tot}
	if tot.Spam < max(opt.MinLearned, 1) || tot.Ham < max(opt.MinLearned, 1) {
		return res, nil
	}
	res.Ready = true
	counts, err := db.Counts(ctx, tokens)
	if err != nil {
		return Result{}, err
	}
	clues := make([]Clue, 0, len(counts)/2)
	for i, tok := range tokens {
		c := counts[i]
		if c == (Counts{}) {
			continue // unknown
		}
		p := TokenProb(c, tot, opt)
		if math.Abs(p-0.5) < opt.MinStrength {
			continue
		}
		clues = append(clues, Clue{Token: tok, Prob: p, Count: c})
	}
	clues = topClues(clues, opt.MaxClues)
	res.Clues = clues
	res.Prob = Combine(clues)
	return res, nil
}

// clueOrder is the order of the clues, most telling first; tokens are
// distinct, so it is total and the same under any sort. (A probability is
// never NaN: [TokenProb] divides by a positive sum.)
func clueOrder(a, b Clue) int {
	sa, sb := math.Abs(a.Prob-0.5), math.Abs(b.Prob-0.5)
	switch {
	case sa > sb:
		return -1
	case sa < sb:
		return 1
	}
	return strings.Compare(a.Token, b.Token)
}

// topClues returns the n (0: all) first clues in [clueOrder], sorted. A
// message has thousands of clues and keeps 150: they are selected in a
// heap of n, whose root is the last kept, before the n are sorted (a sort
// of all of them was a sixth of a classification). Both order small keys,
// each clue's strength and index, not the clues.
func topClues(clues []Clue, n int) []Clue {
	if len(clues) == 0 {
		return clues
	}
	if n <= 0 || n > len(clues) {
		n = len(clues)
	}
	keys := make([]clueKey, len(clues))
	for i, c := range clues {
		keys[i] = clueKey{math.Abs(c.Prob - 0.5), i}
	}
	// order is clueOrder of the keys' clues.
	order := func(a, b clueKey) int {
		switch {
		case a.strength > b.strength:
			return -1
		case a.strength < b.strength:
			return 1
		}
		return strings.Compare(clues[a.i].Token, clues[b.i].Token)
	}
	if n < len(keys) {
		h := keys[:n] // a heap with the key that sorts last at the root
		down := func(i int) {
			for {
				l := 2*i + 1
				if l >= n {
					return
				}
				if r := l + 1; r < n && order(h[r], h[l]) > 0 {
					l = r
				}
				if order(h[l], h[i]) <= 0 {
					return
				}
				h[i], h[l] = h[l], h[i]
				i = l
			}
		}
		for i := n/2 - 1; i >= 0; i-- {
			down(i)
		}
		for _, k := range keys[n:] {
			if order(k, h[0]) < 0 {
				h[0] = k
				down(0)
			}
		}
		keys = h
	}
	slices.SortFunc(keys, order)
	out := make([]Clue, n)
	for k, key := range keys {
		out[k] = clues[key.i]
	}
	return out
}

// clueKey is a clue's strength, how far its probability is from 0.5, and
// its index.
type clueKey struct {
	strength float64
	i        int
}

// TokenProb is a token's spam probability: the share of spam among the
// messages holding it, each kind weighed by how many were learned (so a
// corpus with more ham does not make every token hammy), pulled towards
// Assumed by Robinson's formula while the token is rare.
func TokenProb(c Counts, tot Totals, opt Options) float64 {
	if tot.Spam <= 0 || tot.Ham <= 0 {
		return opt.Assumed
	}
	sr := float64(min(c.Spam, tot.Spam)) / float64(tot.Spam)
	hr := float64(min(c.Ham, tot.Ham)) / float64(tot.Ham)
	if sr+hr == 0 {
		return opt.Assumed
	}
	p := sr / (sr + hr)
	n := float64(c.Spam + c.Ham)
	return (opt.Strength*opt.Assumed + n*p) / (opt.Strength + n)
}

// Combine is Fisher's combination of the clues' probabilities as Robinson
// proposed it: S is how surely the clues are not all ham, H how surely they
// are not all spam, and the verdict (1 + S - H)/2. With no clues it is 0.5.
func Combine(clues []Clue) float64 {
	if len(clues) == 0 {
		return 0.5
	}
	var lnSpam, lnHam float64 // Σ ln(1-p), Σ ln p
	for _, c := range clues {
		p := min(max(c.Prob, 1e-9), 1-1e-9)
		lnSpam += math.Log(1 - p)
		lnHam += math.Log(p)
	}
	n := 2 * len(clues)
	s := 1 - chi2Q(-2*lnSpam, n)
	h := 1 - chi2Q(-2*lnHam, n)
	return (1 + s - h) / 2
}

// chi2Q is the probability that a chi-square variable with v (even)
// degrees of freedom exceeds x2: e^-m Σ_{i<v/2} m^i/i!, m = x2/2. The terms
// are summed in the log domain, so large m does not underflow to a wrong 0
// before the terms have grown: a first pass finds the largest, a second
// sums them scaled by it.
func chi2Q(x2 float64, v int) float64 {
	m := x2 / 2
	if m <= 0 {
		return 1
	}
	lm := math.Log(m)
	term := func(i int) float64 { return -m + float64(i)*lm - logFactorial(i) }
	maxLog := math.Inf(-1)
	for i := 0; i < v/2; i++ {
		maxLog = max(maxLog, term(i))
	}
	var sum float64
	for i := 0; i < v/2; i++ {
		sum += math.Exp(term(i) - maxLog)
	}
	return min(1, math.Exp(maxLog)*sum)
}

// logFactorials are ln(i!) for the clue counts a classification has
// (MaxClues is 150 by default), computed once.
var logFactorials = sync.OnceValue(func() []float64 {
	t := make([]float64, 1024)
	for i := range t {
		t[i], _ = math.Lgamma(float64(i + 1))
	}
	return t
})

// logFactorial is ln(i!).
func logFactorial(i int) float64 {
	if t := logFactorials(); i < len(t) {
		return t[i]
	}
	lg, _ := math.Lgamma(float64(i + 1))
	return lg
}
