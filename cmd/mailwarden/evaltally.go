package main

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// evalSample is one labelled message's spam verdict, what `mailwarden
// eval` counts.
type evalSample struct {
	Spam  bool     // labelled spam (else ham)
	Score float64  // the spam score
	Tests []string // the contributing tests' names
}

// evalLevel is the figures at one threshold: a message is called spam at
// it when its score is at or over it, as the spam findings are.
type evalLevel struct {
	Name      string  `json:"name"` // "probable" or "spam"
	Threshold float64 `json:"threshold"`
	TP        int     `json:"tp"` // spam called spam
	FP        int     `json:"fp"` // ham called spam
	TN        int     `json:"tn"` // ham not called spam
	FN        int     `json:"fn"` // spam not called spam
	// Recall is TP/(TP+FN), FPRate FP/(FP+TN); nil without spam or ham.
	Recall *float64 `json:"recall"`
	FPRate *float64 `json:"fp_rate"`
}

// evalBucket is one bar of the score histogram: scores in [Min, Max);
// the first has no Min, the last no Max.
type evalBucket struct {
	Label string   `json:"label"`
	Min   *float64 `json:"min,omitempty"`
	Max   *float64 `json:"max,omitempty"`
	Spam  int      `json:"spam"`
	Ham   int      `json:"ham"`
}

// evalTest is one test's hits on spam and on ham.
type evalTest struct {
	Name string `json:"name"`
	Spam int    `json:"spam"`
	Ham  int    `json:"ham"`
}

// evalCounts is a number of spam and of ham messages.
type evalCounts struct {
	Spam int `json:"spam"`
	Ham  int `json:"ham"`
}

func (c *evalCounts) add(spam bool) {
	if spam {
		c.Spam++
	} else {
		c.Ham++
	}
}

// evalTally is what the samples add up to.
type evalTally struct {
	Messages  evalCounts   `json:"messages"` // the messages scored
	Levels    []evalLevel  `json:"levels"`
	Histogram []evalBucket `json:"histogram"`
	Tests     []evalTest   `json:"tests"`
}

// evalHistogramTop is where the histogram's last, open bucket starts: one
// bucket under 0, one a point from 0 to it, and one at or over it.
const evalHistogramTop = 10

// tallyEval counts samples against the probable and spam thresholds:
// the confusion matrix, recall and false-positive rate at each, the
// score histogram, and each test's hits sorted by hits (spam and ham
// together, then spam, then name).
func tallyEval(samples []evalSample, probable, required float64) evalTally {
	t := evalTally{Levels: []evalLevel{{Name: "probable", Threshold: probable}, {Name: "spam", Threshold: required}}}
	t.Histogram = append(t.Histogram, evalBucket{Label: "<0", Max: ptr(0.0)})
	for i := 0; i < evalHistogramTop; i++ {
		t.Histogram = append(t.Histogram, evalBucket{Label: fmt.Sprintf("%d-%d", i, i+1), Min: ptr(float64(i)), Max: ptr(float64(i + 1))})
	}
	t.Histogram = append(t.Histogram, evalBucket{Label: fmt.Sprintf(">=%d", evalHistogramTop), Min: ptr(float64(evalHistogramTop))})
	tests := map[string]*evalTest{}
	for _, s := range samples {
		t.Messages.add(s.Spam)
		for i := range t.Levels {
			l := &t.Levels[i]
			called := s.Score >= l.Threshold
			switch {
			case s.Spam && called:
				l.TP++
			case s.Spam:
				l.FN++
			case called:
				l.FP++
			default:
				l.TN++
			}
		}
		b := &t.Histogram[evalBucketOf(s.Score)]
		if s.Spam {
			b.Spam++
		} else {
			b.Ham++
		}
		for _, name := range slices.Compact(slices.Sorted(slices.Values(s.Tests))) {
			et := tests[name]
			if et == nil {
				et = &evalTest{Name: name}
				tests[name] = et
			}
			if s.Spam {
				et.Spam++
			} else {
				et.Ham++
			}
		}
	}
	for i := range t.Levels {
		l := &t.Levels[i]
		l.Recall, l.FPRate = ratio(l.TP, l.TP+l.FN), ratio(l.FP, l.FP+l.TN)
	}
	t.Tests = []evalTest{}
	for _, et := range tests {
		t.Tests = append(t.Tests, *et)
	}
	slices.SortFunc(t.Tests, func(a, b evalTest) int {
		return cmp.Or(cmp.Compare(b.Spam+b.Ham, a.Spam+a.Ham), cmp.Compare(b.Spam, a.Spam), cmp.Compare(a.Name, b.Name))
	})
	return t
}

// evalBucketOf is the histogram index of a score.
func evalBucketOf(score float64) int {
	switch {
	case score < 0 || math.IsNaN(score):
		return 0
	case score >= evalHistogramTop:
		return evalHistogramTop + 1
	}
	return 1 + int(math.Floor(score))
}

func ratio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	return ptr(float64(n) / float64(d))
}

func ptr[T any](v T) *T { return &v }
