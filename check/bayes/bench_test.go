package bayes

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/spam"
	"github.com/mailwarden/mailwarden/check/spamtest"
	sb "github.com/mailwarden/mailwarden/scanner/bayes"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/store"
)

// BenchmarkSpamPerMessage is the throughput target: the spam
// tests (check/spamtest), the Bayesian classifier against a trained
// database of a million tokens, and the spam tally (check/spam), on a
// stream of distinct 5 KB messages (real-looking headers, a plain text
// and a small HTML alternative, words drawn from a Zipf distribution of a
// 30,000-word vocabulary), parse included. It reports the process's CPU
// time per message (getrusage: the garbage collector included), which must
// stay under 1 ms, as cpu-ms/msg. "cold" reads every token from SQLite
// (the token cache off), "warm" runs with the default token cache after
// the stream went by once, and "fresh" runs as warm does on as many other
// messages, which the cache has not seen.
//
// The database is built directly ([store.Store.BayesImport]) in a few
// seconds: the tokens of 4,000 messages of the same generator learned
// half as spam, half as ham, and random tokens up to a million.
func BenchmarkSpamPerMessage(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	g := newMailGen(7)
	c := New(Defaults())
	counts := map[uint64]store.BayesCounts{}
	const trained = 400
	for i := range trained {
		m := message.ParseBytes(g.message(), message.DefaultLimits())
		for _, t := range c.Tokens(m) {
			h := sb.Hash(t)
			k := counts[h]
			if i%2 == 0 || g.r.IntN(4) == 0 { // spam, and some of it in ham too
				k.Spam++
			} else {
				k.Ham++
			}
			counts[h] = k
		}
	}
	toks := make([]store.BayesToken, 0, 1_000_000)
	for h, k := range counts {
		toks = append(toks, store.BayesToken{Hash: h, BayesCounts: k})
	}
	for len(toks) < cap(toks) {
		toks = append(toks, store.BayesToken{Hash: g.r.Uint64(), BayesCounts: store.BayesCounts{Spam: int64(g.r.IntN(2)), Ham: 1}})
	}
	b.Logf("training tokens counted in %v", time.Since(start).Round(time.Millisecond))
	if err := st.BayesImport(ctx, store.BayesTotals{Spam: trained / 2, Ham: trained / 2}, toks); err != nil {
		b.Fatal(err)
	}
	stream := make([][]byte, 2000)
	for i := range stream {
		stream[i] = g.message()
	}
	b.Logf("%d tokens, of them %d of the training messages, in %v; message %d bytes, %d tokens", len(toks), len(counts),
		time.Since(start).Round(time.Millisecond), len(stream[0]), len(c.Tokens(message.ParseBytes(stream[0], message.DefaultLimits()))))

	checks := []check.Check{spamtest.New(spamtest.Defaults()), Check{c: c}}
	tally := spam.Settings{Config: spam.Defaults()}
	env := &check.Env{State: st}
	// run is one message through the checks and the tally; it reports
	// whether the classifier scored it.
	run := func(raw []byte) bool {
		// A stage's memo, as the session gives the checks of a stage.
		in := &check.Input{Message: message.ParseBytes(raw, message.DefaultLimits()), Raw: raw, Env: env, Shared: &check.Shared{}}
		var fs []check.Finding
		for _, k := range checks {
			f, err := k.Run(ctx, in)
			if err != nil {
				b.Fatal(err)
			}
			fs = append(fs, f...)
		}
		for _, t := range tally.Tally(fs, nil).Tests {
			if strings.HasPrefix(t.Name, "bayes.") {
				return true
			}
		}
		return false
	}
	// Messages of the same generator that the stream does not hold (5000:
	// a run of up to 5000 messages sees each once).
	fresh := make([][]byte, 5000)
	for i := range fresh {
		fresh[i] = g.message()
	}
	for _, mode := range []struct {
		name  string
		cache int
		timed [][]byte
	}{{"cold", 0, stream}, {"warm", store.BayesCacheTokens, stream}, {"fresh", store.BayesCacheTokens, fresh}} {
		b.Run(mode.name, func(b *testing.B) {
			st.SetBayesCache(mode.cache)
			if err := st.WarmBayesCache(ctx); err != nil {
				b.Fatal(err)
			}
			if mode.cache > 0 {
				for _, raw := range stream {
					run(raw)
				}
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(stream[0])))
			// The garbage of what came before is not this run's.
			runtime.GC()
			cpu0 := cpuTime()
			b.ResetTimer()
			scored := 0
			for i := 0; i < b.N; i++ {
				if run(mode.timed[i%len(mode.timed)]) {
					scored++
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/msg")
			if scored == 0 {
				b.Errorf("none of %d messages scored by the classifier", b.N)
			}
		})
	}
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// mailGen writes synthetic mail: words of a Zipf-distributed vocabulary
// (as natural text has), about 4 KB of text and a 1 KB HTML alternative,
// and the header of a message relayed twice.
type mailGen struct {
	r     *rand.Rand
	zipf  *rand.Zipf
	vocab []string
	n     int
}

func newMailGen(seed uint64) *mailGen {
	r := rand.New(rand.NewPCG(seed, seed+1))
	g := &mailGen{r: r, zipf: rand.NewZipf(r, 1.1, 2, 29_999)}
	syl := strings.Fields("ka re mi to sa lo ne vu di po an el in or us ta be qu fi zo")
	for i := range 30_000 {
		var w strings.Builder
		for j := i; ; j /= len(syl) {
			w.WriteString(syl[j%len(syl)])
			if j < len(syl) {
				break
			}
		}
		g.vocab = append(g.vocab, w.String())
	}
	return g
}

func (g *mailGen) words(n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = g.vocab[g.zipf.Uint64()]
	}
	return strings.Join(ws, " ")
}

func (g *mailGen) message() []byte {
	g.n++
	var b strings.Builder
	host := g.vocab[g.zipf.Uint64()]
	fmt.Fprintf(&b, "Return-Path: <%s@%s.example>\r\n", g.vocab[g.zipf.Uint64()], host)
	fmt.Fprintf(&b, "Received: from mail.%s.example (mail.%s.example [198.51.100.%d])\r\n\tby mx.example.com (Postfix) with ESMTPS id 4X%08X\r\n\tfor <user@example.com>; Tue, 1 Dec 2026 09:%02d:01 +0000 (UTC)\r\n", host, host, g.r.IntN(250), g.r.Uint32(), g.r.IntN(60))
	fmt.Fprintf(&b, "Received: from [10.0.0.%d] (unknown [10.0.0.%d])\r\n\tby mail.%s.example (Postfix) with ESMTPSA id %08X;\r\n\tTue, 1 Dec 2026 09:%02d:00 +0000 (UTC)\r\n", g.r.IntN(250), g.r.IntN(250), host, g.r.Uint32(), g.r.IntN(60))
	fmt.Fprintf(&b, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s.example; s=s1;\r\n\th=from:to:subject:date:message-id; bh=%016x=; b=%016x%016x\r\n", host, g.r.Uint64(), g.r.Uint64(), g.r.Uint64())
	fmt.Fprintf(&b, "From: \"%s %s\" <%s@%s.example>\r\nTo: User <user@example.com>\r\n", g.vocab[g.zipf.Uint64()], g.vocab[g.zipf.Uint64()], g.vocab[g.zipf.Uint64()], host)
	fmt.Fprintf(&b, "Subject: %s\r\nDate: Tue, 1 Dec 2026 09:%02d:00 +0000\r\nMessage-ID: <%d.%x@%s.example>\r\n", g.words(6), g.r.IntN(60), g.n, g.r.Uint64(), host)
	b.WriteString("MIME-Version: 1.0\r\nX-Mailer: Thunderbird 128.5\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n")
	b.WriteString("--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	for range 6 { // paragraphs of some 650 bytes
		text := g.words(95)
		for len(text) > 72 {
			i := strings.LastIndexByte(text[:72], ' ')
			b.WriteString(text[:i] + "\r\n")
			text = text[i+1:]
		}
		b.WriteString(text + "\r\n\r\n")
	}
	fmt.Fprintf(&b, "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>%s</p>\r\n<p><a href=\"https://www.%s.example/%s\">%s</a></p>\r\n<p>%s</p></body></html>\r\n--b1--\r\n",
		g.words(60), host, g.vocab[g.zipf.Uint64()], g.words(3), g.words(40))
	return []byte(b.String())
}
