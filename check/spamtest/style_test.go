package spamtest

import (
	"slices"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check"
)

// TestStyleTests: each style test holds on its kind of message and not on
// the ordinary neighbour of it.
func TestStyleTests(t *testing.T) {
	html := "Content-Type: text/html; charset=utf-8\n"
	shout := strings.Repeat("THIS IS A ONCE IN A LIFETIME CHANCE FOR YOU AND YOUR FAMILY. ", 8)
	c := New(Defaults())
	runHoldCases(t, c, []holdCase{
		{"zone -1700", spam("Subject: hi\nDate: Mon, 05 Aug 2002 08:51:39 -1700\n"+plain, "hello\n"), "date_bad_zone", true, "-1700"},
		{"zone +0537", spam("Subject: hi\nDate: Mon, 05 Aug 2002 08:51:39 +0537\n"+plain, "hello\n"), "date_bad_zone", true, "+0537"},
		{"zone GMT+1", spam("Subject: hi\nDate: Fri, 23 Aug 2002 22:46:34 GMT+1\n"+plain, "hello\n"), "date_bad_zone", true, "GMT+1"},
		{"zone +0545 (Nepal)", spam("Subject: hi\nDate: Mon, 05 Aug 2002 08:51:39 +0545\n"+plain, "hello\n"), "date_bad_zone", false, ""},
		{"zone -0930 with comment", spam("Subject: hi\nDate: Mon, 05 Aug 2002 08:51:39 -0930 (HST)\n"+plain, "hello\n"), "date_bad_zone", false, ""},
		{"zone +1400", spam("Subject: hi\nDate: Mon, 05 Aug 2002 08:51:39 +1400\n"+plain, "hello\n"), "date_bad_zone", false, ""},
		{"shouting body", spam("Subject: hi\n"+plain, shout+"\n"), "body_caps", true, "%"},
		{"short capitals", spam("Subject: hi\n"+plain, "OK THANKS\n"), "body_caps", false, ""},
		{"capital URLs are not shouting", spam("Subject: hi\n"+plain, strings.Repeat("see HTTP://WWW.EXAMPLE.COM/INDEX.HTML ", 40)+"\n"), "body_caps", false, ""},
		{"exclamations", spam("Subject: hi\n"+plain, "Buy! Now! Today! Cheap! Fast! Easy! Free! Yes!\n"), "body_exclamations", true, "8"},
		{"a run of three", spam("Subject: hi\n"+plain, "Amazing!!!\n"), "body_exclamations", true, ""},
		{"two exclamations", spam("Subject: hi\n"+plain, "Thanks! See you!\n"), "body_exclamations", false, ""},
		{"amounts", spam("Subject: hi\n"+plain, "Was $499, now $99. Save 400 dollars. Bonus worth €50.\n"), "money_amounts", true, "$499"},
		{"one amount twice", spam("Subject: hi\n"+plain, "The fee is $20. Yes, $20.\n"), "money_amounts", false, ""},
		{"font size 7", spam("Subject: hi\n"+html, "<p><font size=7>WIN</font></p>\n"), "html_font_large", true, "size=7"},
		{"font size +3", spam("Subject: hi\n"+html, "<p><font size=\"+3\">WIN</font></p>\n"), "html_font_large", true, "+3"},
		{"font-size 48pt", spam("Subject: hi\n"+html, "<p style=\"font-size: 48pt\">WIN</p>\n"), "html_font_large", true, "48pt"},
		{"FONT SIZE=6 after a small one", spam("Subject: hi\n"+html, "<p><font size=2>hello</font> and <FONT SIZE=6>WIN</FONT></p>\n"), "html_font_large", true, "SIZE=6"},
		{"FONT-SIZE 40px, no font tag", spam("Subject: hi\n"+html, "<p style=\"FONT-SIZE:40px\">WIN</p>\n"), "html_font_large", true, "40px"},
		{"font size 2", spam("Subject: hi\n"+html, "<p><font size=2>hello</font> <span style=\"font-size:12px\">x</span></p>\n"), "html_font_large", false, ""},
		{"to is from", "From: Pat <pat@example.biz>\nTo: pat@example.biz\nSubject: hi\nDate: Tue, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <a@example.biz>\n" + plain + "\nhello\n", "to_is_from", true, "pat@example.biz"},
		{"to is from, with a Cc", "From: Pat <pat@example.biz>\nTo: pat@example.biz\nCc: team@example.biz\nSubject: hi\nDate: Tue, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <a@example.biz>\n" + plain + "\nhello\n", "to_is_from", false, ""},
		{"ADV:", spam("Subject: ADV: Lowest rates\n"+plain, "hello\n"), "subject_adv", true, "ADV"},
		{"[ADV]", spam("Subject: [adv] Lowest rates\n"+plain, "hello\n"), "subject_adv", true, ""},
		{"advice", spam("Subject: Advice on the patch\n"+plain, "hello\n"), "subject_adv", false, ""},
		{"padded subject", spam("Subject: Get the Child Support You Deserve            3434\n"+plain, "hello\n"), "subject_padded", true, "3434"},
		{"spaced subject", spam("Subject: Re:  minutes  of  the  meeting\n"+plain, "hello\n"), "subject_padded", false, ""},
		{"reply-to freemail", spam("Subject: hi\nReply-To: agent77@yahoo.co.uk\n"+plain, "hello\n"), "reply_to_freemail", true, "yahoo.co.uk"},
		{"reply-to under a freemail domain", spam("Subject: hi\nReply-To: x@mx.mail.ru\n"+plain, "hello\n"), "reply_to_freemail", true, "mail.ru"},
		{"reply-to the same freemail", "From: a@gmail.com\nTo: b@example.com\nReply-To: c@gmail.com\nSubject: hi\nDate: Tue, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <a@gmail.com>\n" + plain + "\nhello\n", "reply_to_freemail", false, ""},
		{"a google group post", spam("Subject: hi\nReply-To: ann@gmail.com\nList-Id: <g.googlegroups.com>\n"+plain, "hello\n"), "reply_to_freemail", false, ""},
		{"a munged from", "From: \"ann@gmail.com via Group\" <group@lists.example.org>\nTo: b@example.com\nReply-To: ann@gmail.com\nSubject: hi\nDate: Tue, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <a@example.org>\n" + plain + "\nhello\n", "reply_to_freemail", false, ""},
		{"reply-to a list", spam("Subject: hi\nReply-To: list@lists.example.org\n"+plain, "hello\n"), "reply_to_freemail", false, ""},
		{"bulk mailer", spam("Subject: hi\nX-Mailer: Advanced Mass Sender v 3.21b\n"+plain, "hello\n"), "bulk_mailer", true, "Mass Sender"},
		{"a mail client", spam("Subject: hi\nX-Mailer: Microsoft Outlook Express 6.00.2600.0000\n"+plain, "hello\n"), "bulk_mailer", false, ""},
		{"tracking code", spam("Subject: Re: You want sex? 7099ocYT9-261UccU3485gGCz0-11-27\n"+plain, "hello\n"), "subject_tracking_id", true, "7099ocYT9"},
		{"tracking code after spaces", spam("Subject: Lowest rates              Xa7Hq2mK9\n"+plain, "hello\n"), "subject_tracking_id", true, "Xa7Hq2mK9"},
		{"a product and version", spam("Subject: KDE3.1beta2 is out\n"+plain, "hello\n"), "subject_tracking_id", false, ""},
		{"version and bug number", spam("Subject: [SAtalk] RH8.0 bug 1234 in v2.50 of mod_perl2\n"+plain, "hello\n"), "subject_tracking_id", false, ""},
		{"a file name", spam("Subject: lame-3.92-fr5.src.rpm released\n"+plain, "hello\n"), "subject_tracking_id", false, ""},
		{"a commit hash", spam("Subject: fix in 3f2a9c1b7e4d\n"+plain, "hello\n"), "subject_tracking_id", false, ""},
		{"words split by comments", spam("Subject: hi\n"+html, "<p>Buy V<!-- 8kq2 -->iag<!-- zz -->ra now</p>\n"), "html_split_words", true, "V<!--"},
		{"words split by empty tags", spam("Subject: hi\n"+html, "<p>Cheap Vi<b></b>agra and Ci<font color=red></font>alis</p>\n"), "html_split_words", true, "<b></b>"},
		{"one split", spam("Subject: hi\n"+html, "<p>Buy V<!-- 8kq2 -->iagra now</p>\n"), "html_split_words", false, ""},
		{"comments and tags between words", spam("Subject: hi\n"+html, "<p>Hello <!-- greeting --> Carol,<o:p></o:p></p><p>the <b>invoice</b> is<span></span> attached.<!-- end --></p>\n"), "html_split_words", false, ""},
		{"x-priority 1", spam("Subject: hi\nX-Priority: 1 (Highest)\n"+plain, "hello\n"), "priority_high", true, "1"},
		{"x-priority 3", spam("Subject: hi\nX-Priority: 3\nX-MSMail-Priority: Normal\n"+plain, "hello\n"), "priority_high", false, ""},
	})
}

func TestCJKTests(t *testing.T) {
	c := New(Defaults())
	for _, tc := range []struct {
		name, subject, body, test string
		holds                     bool
	}{
		{"japanese spam", "今すぐ稼げる副業", "完全無料で登録できます。", "cjk_spam_words", true},
		{"chinese invoice spam", "代开发票", "优惠，联系电话 13800000000", "cjk_spam_words", true},
		{"one wording inside another counts once", "イベントのご案内", "参加は登録無料です。今すぐどうぞ。", "cjk_spam_words", false},
		{"japanese business mail, two words", "会議の件", "資料は無料でダウンロードできます。今すぐではなく来週で結構です。", "cjk_spam_words", false},
		{"unsolicited ad label", "未承諾広告※ 新商品のご案内", "ご案内です。", "subject_unsolicited_ad", true},
		{"no label", "新商品のご案内", "ご案内です。", "subject_unsolicited_ad", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := run(t, c, spam("Subject: "+tc.subject+"\n"+plain, tc.body+"\n"))
			i := slices.IndexFunc(fs, func(f check.Finding) bool { return f.Name == Prefix+tc.test })
			if (i >= 0) != tc.holds {
				t.Fatalf("%s holds %v, want %v; findings %+v", tc.test, i >= 0, tc.holds, fs)
			}
		})
	}
}

func TestMoneyIn(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Was $499, now $ 99.95. Save 400 dollars, €50 or £20, 500 USD.", []string{"$499", "$ 99.95", "400 dollars", "€50", "£20", "500 USD"}},
		{"US$37,400,000.00 (thirty seven million)", []string{"$37,400,000.00"}},
		{"$ and 5 and v2 dollars and 3dollars and $x", []string{"3dollars"}},
		{"ends with $", nil},
		{"ends with 12 usd", []string{"12 usd"}},
	} {
		var got []string
		moneyIn(tc.in, func(m string) bool { got = append(got, m); return true })
		if !slices.Equal(got, tc.want) {
			t.Errorf("moneyIn(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSplitWords: what splits a word, and what does not.
func TestSplitWords(t *testing.T) {
	long := strings.Repeat("x", 101)
	for _, tt := range []struct{ in, want string }{
		{"V<!-- x -->iagra", "V<!-- x -->i"},
		{"V<!---->iagra", ""},                 // an empty comment:
		{"message<!-- -->s sent<!-- -->", ""}, // React's marker between text nodes
		{"Vi<B></B>agra", "i<B></B>a"},
		{"Ci<font color=red></font>alis", "i<font color=red></font>a"},
		{"Ci<FONT\tsize=1></Font>alis", "i<FONT\tsize=1></Font>a"},
		{"V<!--" + long + "-->iagra", ""},          // a comment over 100 bytes
		{"Ci<font x=" + long + "></font>alis", ""}, // attributes over 100 bytes
		{"Vi<b>x</b>agra", ""},                     // not empty
		{"Vi<br></br>agra", ""},                    // not an inline element
		{"Vi<bx></bx>agra", ""},
		{"Vi<b></i>agra", ""},        // not closed as opened
		{"word <!-- c --> word", ""}, // spaces: two words
		{"1<!-- c -->2", ""},         // digits
		{"end<!-- c -->", ""},        // nothing after
		{"a<!-- c --", ""},           // not closed
		{"a<!-- c > d -->b", ""},     // a > inside
		{"a<b></b>b<i></i>c", "a<b></b>b|b<i></i>c"},
	} {
		if got := strings.Join(splitWords(tt.in, 10), "|"); got != tt.want {
			t.Errorf("splitWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
