package bayes

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWords(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Buy CHEAP meds now!!!", "buy cheap meds now"},
		{"Don't miss e-mail offers... at 3.5% off.", "don't miss e-mail offers at 3.5 off"},
		{"ＦＲＥＥ　ｍｏｎｅｙ", "free money"},         // full-width Latin
		{"ｶﾀｶﾅ", "カタ タカ カナ"},                 // half-width kana → full-width, bigrams
		{"無料でお金を稼ぐ", "無料 料で でお お金 金を を稼 稼ぐ"}, // Japanese, no spaces
		{"免费赚钱 now", "免费 费赚 赚钱 now"},         // Chinese, then Latin
		{"무료 돈", "무료 돈"},                     // Hangul: a single character stays
		{"セール開催中", "セー ール ル開 開催 催中"},         // the prolonged sound mark joins
		{"a b c x1", "x1"},   // single letters dropped
		{"7 days", "7 days"}, // single digits kept
		{"id " + strings.Repeat("Q", 45), "id skip:q:4"}, // long runs become a class
		{"café résumé", "café résumé"},                   // diacritics kept
		{"--flag-- 'quoted'", "flag quoted"},             // joiners trimmed at the ends
	}
	for _, tt := range tests {
		if got := strings.Join(Words(tt.in), " "); got != tt.want {
			t.Errorf("Words(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestHeaderTokens: each kind of header field gives the tokens of its
// kind, and fields that mislead give none.
func TestHeaderTokens(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"X-Mailer", "MassMailer 5.2 (build 1234)", "h:x-mailer:massmailer|h:x-mailer:build"},
		{"Content-Type", `multipart/alternative; boundary="----=_NextPart_000_0012_01C2A4F3.8E2C1A40"; charset=ISO-8859-1`,
			"h:ct:multipart/alternative|h:ct:boundary=----=_AaAa_9_9_H.H|h:ct:charset=iso-8859-1"},
		{"Content-Type", `multipart/alternative; boundary="000000000000a1b2c3d4e5f60718"`, "h:ct:multipart/alternative|h:ct:boundary=H"}, // Gmail's
		{"Content-Type", "text/plain; boundary=" + strings.Repeat("gh1", 30), "h:ct:text/plain|h:ct:boundary=" + strings.Repeat("a9", 20)},
		{"Message-ID", "<20021001123456.GA1234@Mail.Example.ORG>", "h:mid:9.A9|h:mid:@mail.example.org"},
		{"Message-ID", "<abc123def>", "h:mid:H"},
		{"Message-ID", "<5E3A1F2B-8C4D-4E6F-9A0B-1C2D3E4F5A6B@mac.example> (added by postmaster)", "h:mid:H-9A9A-9A9A-9A9A-H|h:mid:@mac.example"},
		{"To", `"Friend" <Friend@Example.NET>, other@example.org`, "h:to:D*example.net|h:to:D*example.org"}, // the recipients' domains only
		{"Cc", "undisclosed-recipients:;", "h:cc:undisclosed-recipients"},
		{"Reply-To", "deals4u@freemail.example", "h:reply-to:U*deals4u|h:reply-to:D*freemail.example"},
		{"In-Reply-To", "<1@example.org>", "h:in-reply-to"},
		{"References", "<1@example.org> <2@example.org>", "h:references"},
		{"DKIM-Signature", "v=1; a=rsa-sha256; d=example.org; b=AbC", "h:dkim-signature"},
		{"X-Campaign-ID", "Spring SALE 2002", "h:x-campaign-id:spring|h:x-campaign-id:sale"},
		{"MIME-Version", "1.0", ""},
		{"X-Note", strings.Repeat("a", 2047) + "é tail", "h:x-note:skip:a:204"}, // only the first 2 KB are read
	}
	for _, tt := range tests {
		got := strings.Join(Tokenize(Doc{Headers: [][2]string{{tt.name, tt.value}}}, DefaultLimits()), "|")
		if got != tt.want {
			t.Errorf("%s: %s:\n got %s\nwant %s", tt.name, tt.value, got, tt.want)
		}
	}

	// Only the two Received fields nearest the sender (the last two)
	// give their words; every one gives its hosts.
	d := Doc{Headers: [][2]string{
		{"Received", "from relay.example.org by mx.example.com with ESMTP id A1; Tue, 1 Oct 2002 10:00:00 +0000"},
		{"Received", "from hop2.example.net by relay.example.org with SMTP"},
		{"Received", "from [192.0.2.7] (helo=spamware) by hop2.example.net for <victim@example.com>; Tue, 1 Oct 2002 09:00:00 +0000"},
	}}
	got := Tokenize(d, DefaultLimits())
	for _, tok := range []string{"h:rcvd:relay.example.org", "h:rcvd:mx.example.com", "h:r:hop2.example.net", "h:r:smtp", "h:r:spamware", "h:r:helo"} {
		if !slices.Contains(got, tok) {
			t.Errorf("Received tokens lack %q: %q", tok, got)
		}
	}
	for _, tok := range []string{"h:r:esmtp", "h:r:a1", "h:r:tue", "h:r:oct", "h:r:victim", "h:r:for"} {
		if slices.Contains(got, tok) {
			t.Errorf("Received tokens have %q (the top hop's words, or a date): %q", tok, got)
		}
	}

	for _, tt := range []struct {
		name    string
		ignored bool
	}{
		{"Date", true}, {"List-Id", true}, {"list-unsubscribe", true}, {"X-Spam-Status", true},
		{"X-Mailwarden-Graymail", true}, {"Delivered-To", true}, {"X-Mailman-Version", true}, {"Status", true},
		{"Return-Path", true}, {"Errors-To", true}, {"Authentication-Results", true}, {"ARC-Seal", true},
		{"Received-SPF", true}, {"X-Microsoft-Antispam-Mailbox-Delivery", true}, {"X-MS-Exchange-Organization-SCL", true},
		{"X-Rspamd-Score", true}, {"X-Envelope-From", true}, {"X-Original-Recipient", true},
		{"X-Mailer", false}, {"To", false}, {"Message-ID", false}, {"X-Campaign-ID", false}, {"Received", false},
	} {
		if got := IgnoredHeader(tt.name); got != tt.ignored {
			t.Errorf("IgnoredHeader(%q) = %v, want %v", tt.name, got, tt.ignored)
		}
	}
}

// TestHeaderBudget: header fields take at most MaxHeaderTokens, so a
// message padded with fields of unique words keeps its body's.
func TestHeaderBudget(t *testing.T) {
	var hs [][2]string
	for i := range 200 {
		var w []string
		for j := range 100 {
			w = append(w, fmt.Sprintf("pad%dx%d", i, j))
		}
		hs = append(hs, [2]string{"X-Pad", strings.Join(w, " ")})
	}
	lim := DefaultLimits()
	got := Tokenize(Doc{Subject: "hello", Headers: hs, URLs: []URL{{Host: "pills.example"}}, Text: "cheap viagra"}, lim)
	var headers int
	for _, tok := range got {
		if strings.HasPrefix(tok, "h:") || strings.HasPrefix(tok, "s:") {
			headers++
		}
	}
	if headers != lim.MaxHeaderTokens {
		t.Errorf("%d header tokens, want the budget %d", headers, lim.MaxHeaderTokens)
	}
	for _, tok := range []string{"viagra", "cheap", "u:pills.example", "s:hello"} {
		if !slices.Contains(got, tok) {
			t.Errorf("tokens lack %q", tok)
		}
	}
}

// TestCaseTokens: body words keep their capitals as a second token when
// they say more than a sentence's start.
func TestCaseTokens(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Get FREE money", "get|free|FREE|money"},
		{"Buy Viagra now", "buy|viagra|Viagra|now"},
		{"Hello there. Next line", "hello|there|next|line"},
		{"Done! Really? Yes\nNew line", "done|really|yes|new|line"},
		{"see McDonald today", "see|mcdonald|McDonald|today"},
		{"ÉCOLE gratuite", "école|ÉCOLE|gratuite"},
	}
	for _, tt := range tests {
		if got := strings.Join(Tokenize(Doc{Text: tt.in}, DefaultLimits()), "|"); got != tt.want {
			t.Errorf("Tokenize(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	// Only the body keeps capitals.
	if got := strings.Join(Tokenize(Doc{Subject: "FREE offer"}, DefaultLimits()), "|"); got != "s:free|s:offer" {
		t.Errorf("subject tokens %s", got)
	}
}

func TestTokenize(t *testing.T) {
	d := Doc{
		Subject: "Cheap meds",
		From:    `"Pharmacy Shop" <Sales@Pills.Example>`,
		Headers: [][2]string{
			{"Received", "from mail.pills.example (mail.pills.example [192.0.2.1]) by mx.example.net with ESMTP"},
			{"Content-Type", "text/html; charset=utf-8"},
			{"X-Mailer", "MassMailer 5.2"},
		},
		Text: "buy cheap meds today",
		URLs: []URL{{Host: "a.b.pills.example", Path: "/Buy/now"}},
	}
	osb := DefaultLimits()
	osb.Window = 5 // rspamd's window
	got := Tokenize(d, osb)
	want := []string{
		"s:cheap", "s:cheap 1 meds", "s:meds",
		"f:name:pharmacy", "f:name:shop", "f:sales@pills.example", "f:@pills.example",
		"h:rcvd:mail.pills.example", "h:rcvd:mx.example.net",
		"h:r:from", "h:r:mail.pills.example", "h:r:by", "h:r:mx.example.net", "h:r:with", "h:r:esmtp",
		"h:ct:text/html", "h:ct:charset=utf-8",
		"h:x-mailer:massmailer",
		"u:a.b.pills.example", "u:b.pills.example", "u:pills.example", "u:/buy",
		"buy", "buy 1 cheap", "buy 2 meds", "buy 3 today", "cheap", "cheap 1 meds", "cheap 2 today",
		"meds", "meds 1 today", "today",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tokens:\n%s\nwant:\n%s", strings.Join(got, "|"), strings.Join(want, "|"))
	}
	// The default is words alone.
	got = Tokenize(d, DefaultLimits())
	want = slices.DeleteFunc(want, func(tok string) bool { return strings.Contains(tok, " ") })
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("default tokens:\n%s\nwant:\n%s", strings.Join(got, "|"), strings.Join(want, "|"))
	}

	// The window bounds the bigrams' distance; repeated words count once.
	lim := DefaultLimits()
	lim.Window = 2
	if got := strings.Join(Tokenize(Doc{Text: "aa bb aa bb cc"}, lim), "|"); got != "aa|aa 1 bb|bb|bb 1 aa|bb 1 cc|cc" {
		t.Errorf("window 2: %s", got)
	}
	lim.MaxTokens = 3
	if got := Tokenize(Doc{Text: "one two three four five"}, lim); len(got) != 3 {
		t.Errorf("MaxTokens 3: %d tokens %q", len(got), got)
	}
	lim = osb
	lim.MaxTextBytes = 7 // cuts inside 界; the partial character is dropped
	if got := strings.Join(Tokenize(Doc{Text: "ab 世界 cd"}, lim), "|"); got != "ab|ab 1 世|世" {
		t.Errorf("MaxTextBytes: %s", got)
	}
}

func TestChi2Q(t *testing.T) {
	for _, x := range []float64{0.5, 3, 20, 200} {
		// Two degrees of freedom: e^(-x/2); four: e^(-m)(1+m).
		if got, want := chi2Q(x, 2), math.Exp(-x/2); math.Abs(got-want) > 1e-12 {
			t.Errorf("chi2Q(%v, 2) = %v, want %v", x, got, want)
		}
		m := x / 2
		if got, want := chi2Q(x, 4), math.Exp(-m)*(1+m); math.Abs(got-want) > 1e-12 {
			t.Errorf("chi2Q(%v, 4) = %v, want %v", x, got, want)
		}
	}
	if got := chi2Q(0, 10); got != 1 {
		t.Errorf("chi2Q(0) = %v", got)
	}
	// 300 degrees of freedom around the mean: about 0.5, not 0 or NaN.
	if got := chi2Q(300, 300); got < 0.4 || got > 0.6 {
		t.Errorf("chi2Q(300, 300) = %v, want about 0.5", got)
	}
}

func clues(ps ...float64) []Clue {
	var out []Clue
	for i, p := range ps {
		out = append(out, Clue{Token: fmt.Sprint(i), Prob: p})
	}
	return out
}

func TestCombine(t *testing.T) {
	if got := Combine(nil); got != 0.5 {
		t.Errorf("no clues: %v", got)
	}
	if got := Combine(clues(0.99, 0.98, 0.95, 0.9)); got < 0.99 {
		t.Errorf("spammy clues: %v", got)
	}
	if got := Combine(clues(0.01, 0.02, 0.05, 0.1)); got > 0.01 {
		t.Errorf("hammy clues: %v", got)
	}
	// Strong evidence both ways is unsure, not a verdict.
	if got := Combine(clues(0.99, 0.99, 0.01, 0.01)); math.Abs(got-0.5) > 1e-9 {
		t.Errorf("mixed clues: %v", got)
	}
	// Symmetric: mirrored clues give the mirrored verdict.
	a, b := Combine(clues(0.8, 0.3, 0.95)), Combine(clues(0.2, 0.7, 0.05))
	if math.Abs(a+b-1) > 1e-9 {
		t.Errorf("not symmetric: %v + %v", a, b)
	}
	// 150 extreme clues neither overflow nor lose the verdict.
	many := make([]float64, 150)
	for i := range many {
		many[i] = 0.999
	}
	if got := Combine(clues(many...)); math.IsNaN(got) || got < 0.999 {
		t.Errorf("150 spammy clues: %v", got)
	}
}

func TestTokenProb(t *testing.T) {
	opt := DefaultOptions()
	tot := Totals{Spam: 100, Ham: 1000}
	tests := []struct {
		c        Counts
		lo, hi   float64
		describe string
	}{
		{Counts{Spam: 50, Ham: 0}, 0.99, 1, "only in spam, often"},
		{Counts{Spam: 0, Ham: 500}, 0, 0.01, "only in ham, often"},
		{Counts{Spam: 10, Ham: 100}, 0.49, 0.51, "same share of each kind, though ten times more ham"},
		{Counts{Spam: 1, Ham: 0}, 0.5, 0.9, "seen once: pulled towards 0.5"},
		{Counts{}, 0.5, 0.5, "never seen"},
	}
	for _, tt := range tests {
		if p := TokenProb(tt.c, tot, opt); p < tt.lo || p > tt.hi {
			t.Errorf("%s: %v, want %v..%v", tt.describe, p, tt.lo, tt.hi)
		}
	}
}

// corpus makes n messages drawn mostly from vocab and partly from the
// shared words, with a fixed seed.
func corpus(r *rand.Rand, n int, vocab, shared []string) []string {
	var out []string
	for range n {
		var w []string
		for range 30 {
			if r.IntN(3) == 0 {
				w = append(w, vocab[r.IntN(len(vocab))])
			} else {
				w = append(w, shared[r.IntN(len(shared))])
			}
		}
		out = append(out, strings.Join(w, " "))
	}
	return out
}

func TestClassify(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shared := strings.Fields("the and you your this that with for have from will are our can more")
	spamV := strings.Fields("viagra cheap offer winner prize click unsubscribe free money loan casino 無料 当選")
	hamV := strings.Fields("meeting report patch kernel review lunch agenda build release schedule 会議 資料")
	opt := DefaultOptions()
	db := NewMemDB()
	learn := func(texts []string, l Label, tag string) {
		for i, s := range texts {
			if _, err := db.Learn(fmt.Sprintf("%s%d", tag, i), Tokenize(Doc{Text: s}, DefaultLimits()), l); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Under the floor it does not score.
	learn(corpus(r, 199, spamV, shared), Spam, "s")
	learn(corpus(r, 300, hamV, shared), Ham, "h")
	res, err := Classify(context.Background(), db, Tokenize(Doc{Text: "cheap viagra offer click"}, DefaultLimits()), opt)
	if err != nil || res.Ready || res.Prob != 0.5 || len(res.Clues) != 0 {
		t.Fatalf("with 199 spam learned: %+v, %v; want not ready", res, err)
	}
	learn(corpus(r, 1, spamV, shared), Spam, "s-last")
	for _, tt := range []struct {
		text   string
		lo, hi float64
	}{
		{"click here to claim your free prize money, winner", 0.9, 1},
		{"the kernel patch review is on the agenda for the release meeting", 0, 0.1},
		{"無料で当選しました", 0.9, 1},  // bigrams 無料, 当選 learned from the CJK words
		{"会議の資料を送ります", 0, 0.1}, // 会議, 資料
		{"zzz qqq", 0.5, 0.5},  // nothing known
	} {
		res, err := Classify(context.Background(), db, Tokenize(Doc{Text: tt.text}, DefaultLimits()), opt)
		if err != nil || !res.Ready || res.Prob < tt.lo || res.Prob > tt.hi {
			t.Errorf("%q: %v (ready %v, err %v), want %v..%v", tt.text, res.Prob, res.Ready, err, tt.lo, tt.hi)
		}
		for i := 1; i < len(res.Clues); i++ {
			if math.Abs(res.Clues[i].Prob-0.5) > math.Abs(res.Clues[i-1].Prob-0.5) {
				t.Errorf("%q: clues not most telling first: %+v", tt.text, res.Clues)
			}
		}
	}
	opt.MaxClues = 2
	res, _ = Classify(context.Background(), db, Tokenize(Doc{Text: "cheap viagra offer click casino loan"}, DefaultLimits()), opt)
	if len(res.Clues) != 2 {
		t.Errorf("MaxClues 2: %d clues", len(res.Clues))
	}
}

func TestMemDBLearnOnce(t *testing.T) {
	db := NewMemDB()
	toks := []string{"a", "b"}
	if ch, _ := db.Learn("m1", toks, Spam); !ch {
		t.Fatal("first learn: no change")
	}
	if ch, _ := db.Learn("m1", toks, Spam); ch {
		t.Error("learning the same message twice changed the database")
	}
	if tot, _ := db.Totals(context.Background()); tot != (Totals{Spam: 1}) {
		t.Errorf("totals %+v after learning m1 twice", tot)
	}
	// Relearned as ham: it moves.
	if ch, _ := db.Learn("m1", toks, Ham); !ch {
		t.Error("relabel: no change")
	}
	c, _ := db.Counts(context.Background(), []string{"a", "zz"})
	if tot, _ := db.Totals(context.Background()); tot != (Totals{Ham: 1}) || !slices.Equal(c, []Counts{{Ham: 1}, {}}) {
		t.Errorf("after relabel: totals %+v, counts %+v", tot, c)
	}
	if !db.Forget("m1") || db.Forget("m1") || db.Len() != 0 {
		t.Errorf("forget: len %d", db.Len())
	}
	if tot, _ := db.Totals(context.Background()); tot != (Totals{}) {
		t.Errorf("totals %+v after forget", tot)
	}
	if _, err := db.Learn("m2", toks, None); err == nil {
		t.Error("learned with label none")
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"Buy CHEAP meds", "無料でお金を稼ぐ", "ＦＲＥＥ", "a'b-c.d", strings.Repeat("x", 100), "\xff\xfe"} {
		f.Add(s, s, 3)
	}
	f.Fuzz(func(t *testing.T, subject, text string, window int) {
		lim := Limits{MaxTextBytes: 1000, MaxTokens: 200, Window: window % 8, MaxHeaderTokens: 50}
		var hs [][2]string
		for _, name := range []string{"Received", "Received", "Content-Type", "Message-ID", "To", "References", "X-Mailer"} {
			hs = append(hs, [2]string{name, text}, [2]string{name, subject})
		}
		toks := Tokenize(Doc{Subject: subject, Text: text, From: subject, Headers: hs, URLs: []URL{{Host: subject, Path: text}}}, lim)
		if len(toks) > lim.MaxTokens {
			t.Fatalf("%d tokens over MaxTokens", len(toks))
		}
		seen := map[string]bool{}
		for _, tok := range toks {
			if tok == "" || seen[tok] {
				t.Fatalf("empty or repeated token %q", tok)
			}
			seen[tok] = true
			if utf8.ValidString(subject) && utf8.ValidString(text) && !utf8.ValidString(tok) {
				t.Fatalf("token %q is not UTF-8", tok)
			}
		}
	})
}

// TestTopClues: selecting the first n clues is sorting all of them and
// keeping n, ties of strength (both sides of 0.5) ordered by token.
func TestTopClues(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ clues, n int }{{0, 150}, {5, 150}, {150, 150}, {151, 150}, {3000, 150}, {40, 1}, {40, 0}} {
		var clues []Clue
		for i := range tc.clues {
			p := float64(r.IntN(21)) / 20 // many ties
			clues = append(clues, Clue{Token: fmt.Sprintf("t%d", r.IntN(1<<30)*10+i%10), Prob: p})
		}
		want := slices.Clone(clues)
		slices.SortFunc(want, clueOrder)
		if tc.n > 0 && len(want) > tc.n {
			want = want[:tc.n]
		}
		if got := topClues(slices.Clone(clues), tc.n); !slices.Equal(got, want) {
			t.Errorf("%d clues, n %d: got %v, want %v", tc.clues, tc.n, got, want)
		}
	}
}
