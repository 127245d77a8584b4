package bayes

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// BenchmarkTokenize: a 300 KB text (English with some Japanese).
func BenchmarkTokenize(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	words := strings.Fields("the quick brown fox jumps over lazy dog meeting report 会議の資料を送ります offer free click")
	var sb strings.Builder
	for sb.Len() < 300<<10 {
		sb.WriteString(words[r.IntN(len(words))])
		sb.WriteByte(' ')
	}
	d := Doc{Subject: "Re: weekly report", Text: sb.String()}
	lim := DefaultLimits()
	lim.MaxTextBytes = 0
	b.SetBytes(int64(len(d.Text)))
	for b.Loop() {
		Tokenize(d, lim)
	}
}

// BenchmarkClassify: one message's tokens against a database of 20,000
// learned messages.
func BenchmarkClassify(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	db := NewMemDB()
	vocab := make([]string, 50000)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%d", i)
	}
	msg := func() []string {
		var w []string
		for range 200 {
			w = append(w, vocab[r.IntN(len(vocab))])
		}
		return Tokenize(Doc{Text: strings.Join(w, " ")}, DefaultLimits())
	}
	for i := range 20000 {
		l := Ham
		if i%2 == 0 {
			l = Spam
		}
		if _, err := db.Learn(fmt.Sprint(i), msg(), l); err != nil {
			b.Fatal(err)
		}
	}
	toks := msg()
	b.ReportMetric(float64(len(toks)), "tokens/msg")
	for b.Loop() {
		if _, err := Classify(context.Background(), db, toks, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
}
