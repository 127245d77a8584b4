package spamtest

import (
	"slices"
	"strings"
	"testing"
)

func TestPhraseWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"US$37,400,000.00 (Thirty seven million)", []string{"us", "$", "#", "thirty", "seven", "million"}},
		{"Don't delay -- it's RISK-FREE!!", []string{"dont", "delay", "its", "risk", "free", "!", "!"}},
		{"save up to 70% today", []string{"save", "up", "to", "#", "%", "today"}},
		{"lose 10-12 lbs", []string{"lose", "#", "#", "lbs"}},
		{"v1.2 at 3.", []string{"v", "#", "at", "#"}},
		{"Größe ÜBER €20", []string{"größe", "über", "€", "#"}},
		{"今すぐ無料で", []string{"今すぐ無料で"}},
		{"", nil},
	} {
		if got := phraseWords(tc.in, 100); !slices.Equal(got, tc.want) {
			t.Errorf("phraseWords(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := phraseWords("a b c d e", 3); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("phraseWords with max 3 = %q", got)
	}
}

func TestPhraseMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, text string
		want          string // the words matched, "" for none
	}{
		{"next of kin", "as the next of kin of", "next of kin"},
		{"next of kin", "next of", ""},
		{"strictly|highly private|confidential", "HIGHLY CONFIDENTIAL", "highly confidential"},
		{"to be? removed", "to removed", "to removed"},
		{"to be? removed", "to be removed", "to be removed"},
		{"click here to be? removed|remove", "click here to remove", "click here to remove"},
		{"remov* request", "removal request", "removal request"},
		{"remov* request", "remote request", ""},
		{"us $ #", "US$ 37,400,000", "us $ #"},
		{"save ~ #", "save over 40", "save over #"},
		{"save ~ #", "save 40", ""},
		{"lose #? #? pounds|lbs", "lose 10-12 lbs", "lose # # lbs"},
		{"lose #? #? pounds|lbs", "lose pounds", "lose pounds"},
	} {
		ix, err := parsePhrases("= t 1 1 | doc\n" + tc.pattern + "\n")
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		p := &ix.families[0].phrases[0]
		words := phraseWords(tc.text, 100)
		got := ""
		for i := range words {
			if end := p.matchAt(words, i); end > i {
				got = strings.Join(words[i:end], " ")
				break
			}
		}
		if got != tc.want {
			t.Errorf("%q on %q: matched %q, want %q", tc.pattern, tc.text, got, tc.want)
		}
	}
}

func TestParsePhrasesErrors(t *testing.T) {
	for _, tc := range []struct{ src, err string }{
		{"next of kin\n", "line 1: a phrase before the first family"},
		{"= t 1\nx\n", `line 1: want "= name score min | description"`},
		{"= t x 1 | d\nx\n", "line 1: score"},
		{"= t 1 0 | d\nx\n", `line 1: min "0" is not a positive number`},
		{"= t 1 1 | d\nx? y\n", "line 2: \"x? y\": the first word cannot be optional"},
		{"= t 1 1 | d\n~ y\n", "line 2: a phrase cannot start with ~"},
		{"= t 1 1 | d\nNext of kin\n", `"Next" is not one lower-case word`},
		{"= t 1 1 | d\na||b\n", "an empty alternative"},
		{"= t 1 1 | d\nfree-trial\n", `"free-trial" is not one lower-case word`},
		{"= t 1 3 | d\nx\ny\n", "family t: 2 phrases, fewer than its min 3"},
	} {
		_, err := parsePhrases(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.err)
		}
	}
	// The embedded file parses, and every family is a test with a score.
	if len(phrases.families) < 10 {
		t.Fatalf("phrases.txt has %d families", len(phrases.families))
	}
	for _, f := range phrases.families {
		if d, ok := DefaultScore(f.name); !ok || d != f.score || f.doc == "" {
			t.Errorf("family %s: DefaultScore %g %v, doc %q", f.name, d, ok, f.doc)
		}
	}
}

// TestPhraseFamilies: each family holds on text of its kind, counting a
// phrase in the subject twice, and not on ordinary or list mail that
// shares a word or two with it.
func TestPhraseFamilies(t *testing.T) {
	c := New(Defaults())
	for _, tc := range []struct {
		name, subject, body string
		want                string // the family that must hold, "" for none of them
		value               string // what its value must contain
	}{
		{"advance fee", "Assistance needed", "I am the next of kin of the late client. We found US$ 37,400,000.00 in a dormant account. Keep this strictly confidential.", "advance_fee", "next of kin"},
		{"advance fee in the subject", "STRICTLY CONFIDENTIAL BUSINESS PROPOSAL", "Please reply.", "advance_fee", "strictly confidential"},
		{"one advance-fee phrase in the body", "minutes", "The board meeting is strictly confidential this time.", "", ""},
		{"overlapping phrases are one", "minutes", "Please keep this strictly confidential.", "", ""},
		{"overlapping phrases are one, again", "minutes", "We have a confidential business proposal for your team.", "", ""},
		{"an outage notice", "Maintenance", "We apologize for any inconvenience. You opted in to receive these notices.", "", ""},
		{"don't delay", "Act now", "Don't delay. Act now!", "hard_sell", "dont delay"},
		{"click this link", "Hello", "Click this link to see.", "click_here", "click this link"},
		{"opt-out of bulk mail", "Offer", "To be removed from our mailing list reply with REMOVE in the subject.", "opt_out_spam", "to be removed from our mailing list"},
		{"a list footer", "Re: patch", "You are receiving this because you are subscribed to this thread. Reply to this email directly.", "", ""},
		{"not spam", "Hello", "This message is sent in compliance with the new e-mail bill: SECTION 301. Per Section 301, Paragraph (a)(2)(C) of S. 1618, this is not spam.", "not_spam_claim", "this is not spam"},
		{"hard sell", "Last chance", "Act now! This is a limited time offer. Don't delay.", "hard_sell", "limited time offer"},
		{"free offer", "Free", "Get your free quote today. 100% satisfaction guaranteed and risk free.", "free_offer", "risk free"},
		{"one free thing", "Meeting", "Lunch is free for attendees.", "", ""},
		{"money making", "Earn extra cash", "Work from home and earn $5000 per week.", "money_making", "work from home"},
		{"loans", "Lower your mortgage rate", "Refinance now: fixed rates and debt consolidation for bad credit ok.", "loans_credit", "refinance"},
		{"pharmacy", "Cheap meds", "Buy viagra from our online pharmacy, no prescription needed.", "pharmacy", "viagra"},
		{"adult", "Hot", "Hot teens on live cams. You must be 18 or older.", "adult", "live cams"},
		{"gambling", "Casino", "Join our online casino and play poker for free chips.", "gambling", "online casino"},
		{"a generic salutation", "Hello", "Dear Friend, we have news.", "dear_generic", "dear friend"},
		{"a named salutation", "Hello", "Dear Anna, we have news.", "", ""},
		{"click here", "Hello", "Click here to see the offer.", "click_here", "click here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := run(t, c, spam("Subject: "+tc.subject+"\n"+plain, tc.body+"\n"))
			var got []string
			for _, f := range fs {
				for _, fam := range phrases.families {
					if f.Name == Prefix+fam.name {
						got = append(got, fam.name)
						if fam.name == tc.want && !strings.Contains(f.Value, tc.value) {
							t.Errorf("%s value %q, want it to contain %q", f.Name, f.Value, tc.value)
						}
					}
				}
			}
			if tc.want == "" {
				if len(got) > 0 {
					t.Errorf("families %v hold, want none", got)
				}
				return
			}
			if !slices.Contains(got, tc.want) {
				t.Errorf("families %v, want %s among them", got, tc.want)
			}
		})
	}
}

// TestPhraseMore: a family found more than it needs to hold scores half
// again; one found just enough scores its score; an override scales too.
func TestPhraseMore(t *testing.T) {
	score := func(c *Check, body string) float64 {
		t.Helper()
		for _, f := range run(t, c, spam("Subject: hello\n"+plain, body+"\n")) {
			if f.Name == Prefix+"advance_fee" {
				return f.Score
			}
		}
		return 0
	}
	enough := "I write as the next of kin. Keep this strictly confidential."
	more := enough + " The funds are in a dormant account."
	c := New(Defaults())
	if got := score(c, enough); got != 2.4 {
		t.Errorf("two phrases: score %g, want 2.4", got)
	}
	if got := score(c, more); got != 3.6 {
		t.Errorf("three phrases: score %g, want 3.6", got)
	}
	cfg := Defaults()
	cfg.Scores = map[string]float64{"advance_fee": 2}
	if got := score(New(cfg), more); got != 3 {
		t.Errorf("three phrases, score 2 configured: %g, want 3", got)
	}
}

// TestPhraseNotOptOut: a newsletter's own unsubscribe footer is not the
// opt-out wording of spam (it may still be a click-here).
func TestPhraseNotOptOut(t *testing.T) {
	c := New(Defaults())
	for _, body := range []string{
		"You are receiving this because you signed up. Click here to unsubscribe.",
		"If you would like to unsubscribe, click here to update your preferences.",
	} {
		for _, f := range run(t, c, spam("Subject: Our news\n"+plain, body+"\n")) {
			if f.Name == Prefix+"opt_out_spam" {
				t.Errorf("%q: opt_out_spam %q", body, f.Value)
			}
		}
	}
}

// TestPhraseInsideAnother: words found inside words found in another part
// of the text count once, so one click-here is not "more than needed".
func TestPhraseInsideAnother(t *testing.T) {
	c := New(Defaults())
	msg := spam("Subject: hello\nContent-Type: multipart/alternative; boundary=b\n",
		"--b\nContent-Type: text/plain\n\nClick here.\n--b\nContent-Type: text/html\n\n<p>Click here to see.</p>\n--b--\n")
	found := false
	for _, f := range run(t, c, msg) {
		if f.Name == Prefix+"click_here" {
			found = true
			if f.Score != 0.7 || f.Value != "click here to" {
				t.Errorf("click_here %q score %g, want %q at 0.7", f.Value, f.Score, "click here to")
			}
		}
	}
	if !found {
		t.Error("no click_here")
	}
}
