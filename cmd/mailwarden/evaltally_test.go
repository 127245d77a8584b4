package main

import (
	"fmt"
	"reflect"
	"testing"
)

func TestEvalTally(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name    string
		samples []evalSample
		// want: the levels (probable 3, spam 5), the non-empty histogram
		// buckets as label -> [spam, ham], and the tests in order.
		levels []evalLevel
		hist   map[string][2]int
		tests  []evalTest
	}{
		{name: "empty",
			levels: []evalLevel{{Name: "probable", Threshold: 3}, {Name: "spam", Threshold: 5}},
			hist:   map[string][2]int{}, tests: []evalTest{}},
		{name: "thresholds are inclusive",
			samples: []evalSample{{Spam: true, Score: 5}, {Spam: true, Score: 4.9}, {Spam: false, Score: 3}, {Spam: false, Score: 2.9}},
			levels: []evalLevel{
				{Name: "probable", Threshold: 3, TP: 2, FP: 1, TN: 1, FN: 0, Recall: f(1), FPRate: f(0.5)},
				{Name: "spam", Threshold: 5, TP: 1, FP: 0, TN: 2, FN: 1, Recall: f(0.5), FPRate: f(0)}},
			hist:  map[string][2]int{"5-6": {1, 0}, "4-5": {1, 0}, "3-4": {0, 1}, "2-3": {0, 1}},
			tests: []evalTest{}},
		{name: "spam only: no false-positive rate",
			samples: []evalSample{{Spam: true, Score: 12, Tests: []string{"b", "a", "b"}}, {Spam: true, Score: -0.5, Tests: []string{"a"}}},
			levels: []evalLevel{
				{Name: "probable", Threshold: 3, TP: 1, FN: 1, Recall: f(0.5)},
				{Name: "spam", Threshold: 5, TP: 1, FN: 1, Recall: f(0.5)}},
			hist:  map[string][2]int{">=10": {1, 0}, "<0": {1, 0}},
			tests: []evalTest{{Name: "a", Spam: 2}, {Name: "b", Spam: 1}}},
		{name: "tests by hits, then spam hits, then name",
			samples: []evalSample{
				{Spam: true, Score: 10, Tests: []string{"z", "y", "x"}},
				{Spam: false, Score: 0, Tests: []string{"z", "w"}},
				{Spam: false, Score: 0.99, Tests: []string{"x", "v"}},
			},
			levels: []evalLevel{
				{Name: "probable", Threshold: 3, TP: 1, TN: 2, Recall: f(1), FPRate: f(0)},
				{Name: "spam", Threshold: 5, TP: 1, TN: 2, Recall: f(1), FPRate: f(0)}},
			hist: map[string][2]int{">=10": {1, 0}, "0-1": {0, 2}},
			tests: []evalTest{{Name: "x", Spam: 1, Ham: 1}, {Name: "z", Spam: 1, Ham: 1}, {Name: "y", Spam: 1},
				{Name: "v", Ham: 1}, {Name: "w", Ham: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tallyEval(tc.samples, 3, 5)
			if !reflect.DeepEqual(got.Levels, tc.levels) {
				t.Errorf("levels\n got %s\nwant %s", levelsString(got.Levels), levelsString(tc.levels))
			}
			if len(got.Histogram) != 12 {
				t.Errorf("%d buckets, want 12", len(got.Histogram))
			}
			hist := map[string][2]int{}
			var sum evalCounts
			for _, b := range got.Histogram {
				if b.Spam+b.Ham > 0 {
					hist[b.Label] = [2]int{b.Spam, b.Ham}
				}
				sum.Spam, sum.Ham = sum.Spam+b.Spam, sum.Ham+b.Ham
			}
			if !reflect.DeepEqual(hist, tc.hist) {
				t.Errorf("histogram %v, want %v", hist, tc.hist)
			}
			if sum != got.Messages || got.Messages.Spam+got.Messages.Ham != len(tc.samples) {
				t.Errorf("messages %+v, histogram holds %+v, %d samples", got.Messages, sum, len(tc.samples))
			}
			if !reflect.DeepEqual(got.Tests, tc.tests) {
				t.Errorf("tests %+v, want %+v", got.Tests, tc.tests)
			}
		})
	}
}

func levelsString(ls []evalLevel) string {
	s := ""
	for _, l := range ls {
		s += fmt.Sprintf("%s %.1f: recall %s fp %s tp/fp/tn/fn %d/%d/%d/%d; ", l.Name, l.Threshold,
			percent(l.Recall), percent(l.FPRate), l.TP, l.FP, l.TN, l.FN)
	}
	return s
}

func TestEvalBucketOf(t *testing.T) {
	for _, tc := range []struct {
		score float64
		want  int
	}{{-3, 0}, {-0.1, 0}, {0, 1}, {0.9, 1}, {1, 2}, {9.9, 10}, {10, 11}, {55, 11}} {
		if got := evalBucketOf(tc.score); got != tc.want {
			t.Errorf("evalBucketOf(%v) = %d, want %d", tc.score, got, tc.want)
		}
	}
}
