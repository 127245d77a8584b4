package spamtest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// now is the session time of every case.
var now = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func parse(s string) *message.Message {
	return message.ParseBytes([]byte(strings.ReplaceAll(s, "\n", "\r\n")), message.DefaultLimits())
}

func run(t *testing.T, c *Check, msg string) []check.Finding {
	t.Helper()
	in := &check.Input{Message: parse(msg), Env: &check.Env{Now: func() time.Time { return now }}}
	fs, err := c.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func names(fs []check.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, strings.TrimPrefix(f.Name, Prefix))
	}
	return out
}

// Ham: person-to-person mail as the common clients write it. Names and
// identifiers are made up; the header sets are the clients'.
const hamThunderbird = `Received: from [192.168.1.20] (dsl-203-0-113-5.example.net [203.0.113.5])
	(Authenticated sender: alice@example.org)
	by smtp.example.org (Postfix) with ESMTPSA id 4ABCD1234
	for <bob@example.com>; Tue, 1 Dec 2026 09:58:12 +0100 (CET)
Message-ID: <3f2a9c4e-7b1d-4e8a-9c0f-5d6e7f8a9b0c@example.org>
Date: Tue, 1 Dec 2026 09:58:11 +0100
MIME-Version: 1.0
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.5.0
Content-Language: en-US
To: Bob <bob@example.com>
From: Alice <alice@example.org>
Subject: Re: Notes from Thursday's meeting
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 7bit

Hi Bob,

thanks for the notes. I added two points about the budget and the
timeline; see https://wiki.example.org/meetings/2026-11-26 for the page.

Cheers,
Alice
`

const hamOutlook = `Received: from PC0142 (dsl-198-51-100-20.example.net [198.51.100.20])
	by mail.example.net (Postfix) with ESMTPSA id 7E1F2A0
	for <carol@example.com>; Tue,  1 Dec 2026 10:12:40 +0100 (CET)
From: "Dave Miller" <dave@example.net>
To: "Carol" <carol@example.com>
Subject: Invoice 2026-114 and the delivery dates
Date: Tue, 1 Dec 2026 10:12:38 +0100
Message-ID: <000001db43d2$5c7e6a10$157b3e30$@example.net>
MIME-Version: 1.0
Content-Type: multipart/alternative;
	boundary="----=_NextPart_000_0001_01DB43DA.BE42D210"
X-Mailer: Microsoft Outlook 16.0
Thread-Index: AdtD0lwLk1X2bWq9Qk6r0dJx3M1uVg==
Content-Language: de

This is a multipart message in MIME format.

------=_NextPart_000_0001_01DB43DA.BE42D210
Content-Type: text/plain;
	charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Hello Carol,

attached is the invoice. We can deliver on the 14th; the =
second batch follows a week later.

Gr=FC=DFe, Dave

------=_NextPart_000_0001_01DB43DA.BE42D210
Content-Type: text/html;
	charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

<html xmlns:o=3D"urn:schemas-microsoft-com:office:office"><head><meta =
http-equiv=3DContent-Type content=3D"text/html; =
charset=3Diso-8859-1"><style><!--p.MsoNormal{margin:0cm;}--></style></head>=
<body lang=3DDE><div class=3DWordSection1><p class=3DMsoNormal>Hello =
Carol,<o:p></o:p></p><p class=3DMsoNormal>attached is the invoice. We can =
deliver on the 14th; the second batch follows a week later.</p><p =
class=3DMsoNormal>Gr=FC=DFe, Dave</p></div></body></html>

------=_NextPart_000_0001_01DB43DA.BE42D210--
`

const hamGmail = `Received: by mail-lj1-f170.google.example with SMTP id 38308e7fff4ca-2ff1234abcdso123456e87.1
        for <erin@example.com>; Tue, 01 Dec 2026 01:44:02 -0800 (PST)
MIME-Version: 1.0
From: Frank Ito <frank.ito@gmail.example>
Date: Tue, 1 Dec 2026 10:43:51 +0100
Message-ID: <CAF8k2x+Qm3T9p_vQe1rV0ZtK6b8sHn4uJw2c5dLr7gA=oX9yPw@mail.gmail.com>
Subject: Dinner on Saturday?
To: Erin <erin@example.com>
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f60718"

--000000000000a1b2c3d4e5f60718
Content-Type: text/plain; charset="UTF-8"

Hi Erin, are you free on Saturday? We could try the new place near the
station, they have a terrace. Let me know by Thursday.

Frank

--000000000000a1b2c3d4e5f60718
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Hi Erin, are you free on Saturday? We could try the new place near the station, they have a terrace. Let me know by Thursday.<div><br></div><div>Frank</div></div>

--000000000000a1b2c3d4e5f60718--
`

const hamApple = `From: Grace Lee <grace@example.net>
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable
Mime-Version: 1.0 (Mac OS X Mail 16.0 \(3826.300.87.4.3\))
Subject: =?utf-8?Q?Caf=C3=A9_tomorrow?=
Message-Id: <5E3A1F2B-8C4D-4E6F-9A0B-1C2D3E4F5A6B@example.net>
Date: Tue, 1 Dec 2026 10:20:03 +0100
To: Henry <henry@example.com>
X-Mailer: Apple Mail (2.3826.300.87.4.3)

Shall we meet at the caf=C3=A9 at nine? I=E2=80=99ll bring the drafts.

Grace
`

const hamJapanese = `From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@example.jp>
To: suzuki@example.jp
Subject: =?ISO-2022-JP?B?GyRCMnE1RCQ9JE4bKEI=?=
Date: Tue, 01 Dec 2026 18:30:00 +0900
Message-ID: <20261201183000.1234.yamada@example.jp>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-2022-JP
Content-Transfer-Encoding: 7bit

` + "\x1b$B$*Hh$l$5$^$G$9!#\x1b(B" + `
`

func TestHam(t *testing.T) {
	c := New(Defaults())
	for name, msg := range map[string]string{"thunderbird": hamThunderbird, "outlook": hamOutlook, "gmail": hamGmail, "apple mail": hamApple, "japanese": hamJapanese} {
		t.Run(name, func(t *testing.T) {
			if fs := run(t, c, msg); len(fs) > 0 {
				t.Errorf("ham scored: %+v", fs)
			}
		})
	}
}

// spam builds a message from header lines and a body, with a valid Date
// and Message-ID unless the headers give their own.
func spam(headers, body string) string {
	if !strings.Contains(headers, "Date:") {
		headers += "Date: Tue, 1 Dec 2026 09:00:00 +0000\n"
	}
	if !strings.Contains(headers, "Message-ID:") {
		headers += "Message-ID: <a1b2c3@mx.example.net>\n"
	}
	return "From: Deals <deals@example.biz>\nTo: victim@example.com\n" + headers + "\n" + body
}

const plain = "Content-Type: text/plain; charset=utf-8\n"

// letters returns n words of ordinary text.
func letters(n int) string {
	return strings.Repeat("the quick brown fox jumps over the lazy dog ", n)
}

func TestTests(t *testing.T) {
	cases := []struct {
		name string
		msg  string
		want []string // exactly these tests hold
	}{
		{"missing date", "From: a@example.biz\nSubject: hello there\nMessage-ID: <x1@example.biz>\n" + plain + "\nhello friend, how are you doing today\n", []string{"missing_date"}},
		{"invalid date", spam("Subject: hello\nDate: 2026-12-01 09:00:00\n"+plain, "hello friend\n"), []string{"invalid_date"}},
		{"invalid date words", spam("Subject: hello\nDate: yesterday at noon\n"+plain, "hello friend\n"), []string{"invalid_date"}},
		{"date without a zone", spam("Subject: hello\nDate: Tue, 1 Dec 2026 09:00:00\n"+plain, "hello friend\n"), []string{"invalid_date"}},
		{"asctime date, no zone", spam("Subject: hello\nDate: Tue Dec  1 09:00:00 2026\n"+plain, "hello friend\n"), []string{"invalid_date"}},
		{"zone only in a comment", spam("Subject: hello\nDate: Tue, 1 Dec 2026 09:00:00 (GMT)\n"+plain, "hello friend\n"), []string{"invalid_date"}},
		{"Unix date names its zone", spam("Subject: hello\nDate: Tue Dec  1 09:00:00 UTC 2026\n"+plain, "hello friend\n"), nil},
		{"lenient date: no day name, zone name, comment", spam("Subject: hello\nDate: 1 Dec 2026 09:00:00 GMT (Greenwich)\n"+plain, "hello friend\n"), nil},
		{"lenient date: two-digit year, no seconds", spam("Subject: hello\nDate: Tue, 1 Dec 26 09:00 +0000\n"+plain, "hello friend\n"), nil},
		{"lenient date: UT", spam("Subject: hello\nDate: Tue, 01 Dec 2026 09:00:00 UT\n"+plain, "hello friend\n"), nil},
		{"date in future", spam("Subject: hello\nDate: Fri, 4 Dec 2026 09:00:00 +0000\n"+plain, "hello friend\n"), []string{"date_future"}},
		{"date 10 hours ahead is a clock error, not a test", spam("Subject: hello\nDate: Tue, 1 Dec 2026 20:00:00 +0000\n"+plain, "hello friend\n"), nil},
		{"date in past", spam("Subject: hello\nDate: Mon, 1 Jan 2001 09:00:00 +0000\n"+plain, "hello friend\n"), []string{"date_past"}},
		{"date 3 days old", spam("Subject: hello\nDate: Sat, 28 Nov 2026 12:00:00 +0000\n"+plain, "hello friend\n"), nil},
		{"missing message-id", "From: a@example.biz\nSubject: hello\nDate: Tue, 1 Dec 2026 09:00:00 +0000\n" + plain + "\nhello\n", []string{"missing_message_id"}},
		{"invalid message-id no at", spam("Subject: hello\nMessage-ID: <20261201090000.ABCDEF>\n"+plain, "hello\n"), []string{"invalid_message_id"}},
		{"invalid message-id no brackets", spam("Subject: hello\nMessage-ID: 1234@example.biz\n"+plain, "hello\n"), []string{"invalid_message_id"}},
		// An unqualified right side is a dot-atom, valid, and what many
		// mail clients write (Pegasus, Outlook Express on a LAN).
		{"message-id bare host", spam("Subject: hello\nMessage-ID: <1234@localhost>\n"+plain, "hello\n"), nil},
		{"invalid message-id empty dot label", spam("Subject: hello\nMessage-ID: <1234@mail..example.com>\n"+plain, "hello\n"), []string{"invalid_message_id"}},
		{"message-id address literal", spam("Subject: hello\nMessage-ID: <1234@[192.0.2.1]>\n"+plain, "hello\n"), nil},
		{"forged outlook", spam("Subject: your order\nX-Mailer: Microsoft Outlook 16.0\n"+plain, "hello\n"), []string{"forged_mua_outlook"}},
		{"forged office outlook", spam("Subject: your order\nX-Mailer: Microsoft Office Outlook 12.0\n"+plain, "hello\n"), []string{"forged_mua_outlook"}},
		// Outlook 98, 2000 and 2002 did not always write Thread-Index.
		{"outlook 2000 without thread-index", spam("Subject: your order\nX-Mailer: Microsoft Outlook IMO, Build 9.0.2416 (9.0.2910.0)\n"+plain, "hello\n"), nil},
		{"outlook 2002 without thread-index", spam("Subject: your order\nX-Mailer: Microsoft Outlook, Build 10.0.2627\n"+plain, "hello\n"), nil},
		{"outlook 2003 without thread-index", spam("Subject: your order\nX-Mailer: Microsoft Office Outlook, Build 11.0.5510\n"+plain, "hello\n"), []string{"forged_mua_outlook"}},
		{"outlook without a version", spam("Subject: your order\nX-Mailer: Microsoft Outlook\n"+plain, "hello\n"), []string{"forged_mua_outlook"}},
		{"outlook express is not outlook", spam("Subject: your order\nX-Mailer: Microsoft Outlook Express 6.00.2900.5512\nX-MimeOLE: Produced By Microsoft MimeOLE V6.00.2900.5512\n"+plain, "hello\n"), nil},
		{"forged apple", spam("Subject: your order\nX-Mailer: iPhone Mail (21A360)\n"+plain, "hello\n"), []string{"forged_mua_apple"}},
		{"apple lower-case uuid", spam("Subject: your order\nX-Mailer: Apple Mail (2.3731)\nMessage-ID: <5e3a1f2b-8c4d-4e6f-9a0b-1c2d3e4f5a6b@example.biz>\n"+plain, "hello\n"), []string{"forged_mua_apple"}},
		{"received helo ip mismatch", spam("Received: from [203.0.113.9] (unknown [198.51.100.77])\n\tby mx.example.com (Postfix) with ESMTP id 1A2B3C\n\tfor <victim@example.com>; Tue, 1 Dec 2026 09:00:01 +0000\nSubject: hello\n"+plain, "hello\n"), []string{"received_helo_ip"}},
		{"received helo ip matches", spam("Received: from [198.51.100.77] (unknown [198.51.100.77])\n\tby mx.example.com (Postfix) with ESMTP id 1A2B3C; Tue, 1 Dec 2026 09:00:01 +0000\nSubject: hello\n"+plain, "hello\n"), nil},
		{"received helo private ip behind nat", spam("Received: from [10.1.2.3] (unknown [198.51.100.77])\n\tby mx.example.com (Postfix) with ESMTP id 1A2B3C; Tue, 1 Dec 2026 09:00:01 +0000\nSubject: hello\n"+plain, "hello\n"), nil},
		{"received many hops", spam(strings.Repeat("Received: from a.example.net (a.example.net [192.0.2.1]) by b.example.net with ESMTP id X; Tue, 1 Dec 2026 09:00:01 +0000\n", 30)+"Subject: hello\n"+plain, "hello\n"), []string{"received_many_hops"}},
		{"subject all caps", spam("Subject: FREE MONEY WAITING FOR YOU\n"+plain, "hello\n"), []string{"subject_all_caps"}},
		{"subject all caps after re", spam("Subject: Re: URGENT BUSINESS PROPOSAL\n"+plain, "hello\n"), []string{"subject_all_caps", "advance_fee"}},
		{"subject short acronyms", spam("Subject: RE: IBM Q3 KPI\n"+plain, "hello\n"), nil},
		{"subject exclamations", spam("Subject: You have won!!!\n"+plain, "hello\n"), []string{"subject_punctuation"}},
		{"subject dollars", spam("Subject: Make $$$ from home\n"+plain, "hello\n"), []string{"subject_punctuation", "money_making"}},
		{"subject punctuation soup", spam("Subject: ***>>> Hot <<<***\n"+plain, "hello\n"), []string{"subject_punctuation"}},
		{"subject one exclamation", spam("Subject: Congratulations on the new job!\n"+plain, "hello\n"), nil},
		{"subject 8bit", spam("Subject: Sch\xc3\xb6ne Gr\xc3\xbc\xc3\x9fe\n"+plain, "hello\n"), []string{"subject_8bit"}},
		{"subject 8bit latin-1", spam("Subject: Gr\xfc\xdfe\n"+plain, "hello\n"), []string{"subject_8bit"}},
		{"charset us-ascii with 8bit", spam("Subject: hello\nContent-Type: text/plain; charset=us-ascii\n", "caf\xe9 cr\xe8me\n"), []string{"charset_mismatch"}},
		{"charset utf-8 with latin-1", spam("Subject: hello\nContent-Type: text/plain; charset=utf-8\n", "caf\xe9 cr\xe8me\n"), []string{"charset_mismatch"}},
		{"charset missing, 8bit guessed", spam("Subject: hello\nContent-Type: text/plain\n", "caf\xe9 cr\xe8me\n"), []string{"charset_mismatch"}},
		{"charset utf-8 fits", spam("Subject: hello\n"+plain, "caf\xc3\xa9 cr\xc3\xa8me\n"), nil},
		{"html only short", spam("Subject: hello\nContent-Type: text/html; charset=utf-8\n", "<html><body><p>Click <a href=\"http://deals.example.biz/\">here</a> now</p></body></html>\n"), []string{"html_only_short", "click_here"}},
		{"html only long is fine", spam("Subject: hello\nContent-Type: text/html; charset=utf-8\n", "<p>"+letters(10)+"</p>\n"), nil},
		{"html only short, inline with a file name", spam("Subject: hello\nContent-Type: text/html; charset=utf-8\nContent-Disposition: inline; filename=\"offer.html\"\n", "<html><body><p>Click <a href=\"http://deals.example.biz/\">here</a> now</p></body></html>\n"), []string{"html_only_short", "click_here"}},
		{"an html attachment alone is no body", spam("Subject: hello\nContent-Type: text/html; charset=utf-8\nContent-Disposition: attachment; filename=\"offer.html\"\n", "<html><body><p>Click <a href=\"http://deals.example.biz/\">here</a> now</p></body></html>\n"), nil},
		{"image only", spam("Subject: hello\nContent-Type: text/html; charset=utf-8\n", "<html><body><a href=\"http://deals.example.biz/\"><img src=\"http://img.example.biz/offer.jpg\"></a></body></html>\n"), []string{"image_only"}},
		{"apple photo with a short note is not image only", spam("Subject: photo\nContent-Type: multipart/related; boundary=R\n", "--R\nContent-Type: text/html; charset=utf-8\n\n<html><body>Look at this!<br><img src=\"cid:F1A2@apple\"></body></html>\n--R\nContent-Type: image/jpeg; name=IMG_1234.jpeg\nContent-Disposition: inline; filename=IMG_1234.jpeg\nContent-ID: <F1A2@apple>\nContent-Transfer-Encoding: base64\n\n/9j/4AAQSkZJRgABAQ==\n--R--\n"), []string{"html_only_short"}},
		{"image part without a name", spam("Subject: offer\nContent-Type: multipart/related; boundary=R\n", "--R\nContent-Type: text/html; charset=utf-8\n\n<img src=\"cid:x1\">\n--R\nContent-Type: image/gif\nContent-ID: <x1>\nContent-Transfer-Encoding: base64\n\nR0lGODlhAQABAAAAACw=\n--R--\n"), []string{"image_only"}},
		{"subject with emoji is not punctuation", spam("Subject: =?UTF-8?B?8J+OifCfjonwn46JIFBhcnR5IPCfjoLwn46C8J+Ogg==?=\n"+plain, "hello\n"), nil},
		{"image with text is fine", spam("Subject: hello\nContent-Type: text/html; charset=utf-8\n", "<p>"+letters(10)+"</p><img src=\"cid:logo\">\n"), nil},
		{"invisible text", spam("Subject: hello\nContent-Type: text/html; charset=utf-8\n", "<p>"+letters(6)+"</p><div style=\"display:none\">"+strings.Repeat("meeting agenda minutes budget report quarterly ", 8)+"</div>\n"), []string{"invisible_text"}},
		{"short preheader is fine", spam("Subject: hello\nContent-Type: text/html; charset=utf-8\n", "<span style=\"display:none\">Our winter collection is here</span><p>"+letters(10)+"</p>\n"), nil},
		{"obfuscated cyrillic", spam("Subject: hello\n"+plain, "Buy cheap v\u0456agra today, no prescription needed\n"), []string{"obfuscated_words"}},
		{"obfuscated zero width", spam("Subject: hello\n"+plain, "Your acc\u200bount is suspended, verify now\n"), []string{"obfuscated_words"}},
		{"obfuscated dots", spam("Subject: hello\n"+plain, "Best v.i.a.g.r.a prices online\n"), []string{"obfuscated_words"}},
		{"obfuscated spaces in subject", spam("Subject: C I A L I S for less\n"+plain, "see inside\n"), []string{"obfuscated_words"}},
		// Letter-spaced capitals of an ordinary word are a heading.
		{"letter-spaced heading", spam("Subject: hello\n"+plain, "M E D I A  U N S P U N\n\nThis week's news.\n"), nil},
		{"spaced lower-case letters", spam("Subject: hello\n"+plain, "get m e d i a here\n"), []string{"obfuscated_words"}},
		{"russian and english words apart", spam("Subject: hello\n"+plain, "Привет, посмотри отчёт по проекту Mailwarden в Jira, U.S.A. и e.g. тоже\n"), nil},
		{"base64 ascii text", spam("Subject: hello\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n", "SGVsbG8gZnJpZW5kLCBjbGFpbSB5b3VyIHByaXplIG5vdy4K\n"), []string{"base64_text"}},
		{"base64 utf-8 text is fine", spam("Subject: hello\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n", "44GK5LiW6Kmx44Gr44Gq44Gj44Gm44GK44KK44G+44GZ44CCCg==\n"), nil},
		{"qp escaped letters", spam("Subject: hello\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n", "Buy =76=69=61=67=72=61 now\n"), []string{"qp_letters"}},
		{"qp ordinary escapes", spam("Subject: hello\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n", "a=3Db and caf=C3=A9 with a long line that is soft =\nbroken=20\n"), nil},
	}
	var many strings.Builder
	for i := range 14 {
		many.WriteString("http://www.site" + string(rune('a'+i)) + ".example.com/ ")
	}
	cases = append(cases, struct {
		name string
		msg  string
		want []string
	}{"many domains", spam("Subject: hello\n"+plain, "links: "+strings.ReplaceAll(many.String(), ".example.com", ".com")+"\n"), []string{"many_domains"}},
		struct {
			name string
			msg  string
			want []string
		}{"many hosts of one domain", spam("Subject: hello\n"+plain, "links: "+many.String()+"\n"), nil})
	c := New(Defaults())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := run(t, c, tc.msg)
			if got := names(fs); !slices.Equal(got, tc.want) {
				t.Fatalf("tests = %v, want %v; findings %+v", got, tc.want, fs)
			}
			for _, f := range fs {
				d, _ := DefaultScore(strings.TrimPrefix(f.Name, Prefix))
				if f.Score != d || f.Score == 0 || f.Reason == "" || f.Where == "" || len(f.Value) > maxValue+len("…") {
					t.Errorf("finding %+v: want score %g, a reason, a where and a short value", f, d)
				}
			}
		})
	}
}

func TestConfig(t *testing.T) {
	c := New(Config{Enabled: true, Scores: map[string]float64{"missing_date": 3.5}, Disabled: []string{"missing_message_id"}})
	fs := run(t, c, "From: a@example.biz\nSubject: hi\n"+plain+"\nhello\n")
	if got := names(fs); !slices.Equal(got, []string{"missing_date"}) || fs[0].Score != 3.5 {
		t.Fatalf("findings %+v, want missing_date at 3.5 and no missing_message_id", fs)
	}

	for _, tc := range []struct{ toml, want string }{
		{"[spamtest]\nscores = { missing_dat = 2.0 }\n", `unknown spam test "missing_dat" (hint: did you mean missing_date?)`},
		{"[spamtest]\ndisabled = [\"subject_allcaps\"]\n", `unknown spam test "subject_allcaps" (hint: did you mean subject_all_caps?)`},
		{"[spamtest]\nscores = { zzzzzzzzzzzz = 1 }\n", `unknown spam test "zzzzzzzzzzzz" (hint: tests: missing_date`},
		{"[spamtest]\nscores = { missing_date = inf }\n", "not a finite number"},
		{"[spamtest]\nscores = { missing_date = nan }\n", "not a finite number"},
	} {
		_, rep, err := config.Decode("t.toml", []byte(tc.toml))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if e := rep.Err(); e != nil {
			got = e.Error()
		}
		if !strings.Contains(got, "t.toml:2: spamtest.") || !strings.Contains(got, tc.want) {
			t.Errorf("%q: error %q, want one at line 2 with %q", tc.toml, got, tc.want)
		}
	}
	_, rep, err := config.Decode("t.toml", []byte("[spamtest]\nenabled = true\nscores = { image_only = 3.0 }\ndisabled = [\"date_past\"]\n"))
	if err != nil || rep.Err() != nil {
		t.Errorf("valid config refused: %v %v", err, rep.Err())
	}
}

func TestDisabledSectionBuildsNothing(t *testing.T) {
	cfg, rep, err := config.Decode("t.toml", []byte("[spamtest]\nenabled = false\n"))
	if err != nil || rep.Err() != nil {
		t.Fatal(err, rep.Err())
	}
	if cs := build(cfg); len(cs) != 0 {
		t.Fatalf("enabled = false built %d checks", len(cs))
	}
	cfg, _, _ = config.Decode("t.toml", []byte(""))
	if cs := build(cfg); len(cs) != 1 {
		t.Fatalf("the default built %d checks, want 1", len(cs))
	}
}

func TestFindingsDeclared(t *testing.T) {
	decl := map[string]bool{}
	for _, d := range New(Config{Disabled: []string{"date_past"}}).Findings() {
		decl[d.Name] = true
	}
	for _, n := range Names() {
		if !decl[Prefix+n] {
			t.Errorf("%s not declared", Prefix+n)
		}
		if n != strings.ToLower(n) || strings.ContainsAny(n, ".- ") {
			t.Errorf("%q is not lower-case snake case", n)
		}
	}
	if len(decl) != len(tests) {
		t.Errorf("%d declared, %d tests", len(decl), len(tests))
	}
}

// Hostile shapes: each test reads only its bounded share, and what it
// reports stays short.
func TestHostile(t *testing.T) {
	c := New(Defaults())
	huge := strings.Repeat("x", 600<<10)
	cases := []struct {
		name, msg string
		want      []string
	}{
		{"10000 Received fields", spam(strings.Repeat("Received: from [203.0.113.1] (x [198.51.100.1]) by y with SMTP id z; Tue, 1 Dec 2026 09:00:00 +0000\n", 10000)+"Subject: hi\n"+plain, "hello\n"), []string{"received_helo_ip", "received_many_hops"}},
		{"10000 forged Received fields", spam("Subject: hi\nMessage-ID: <200208291225.g7TN99Z32723@mx.example.com>\n"+strings.Repeat("Received: from yahoo.com ([203.0.113.9]) by mx.example.com (8.11.6/8.11.6) with SMTP id g7TN99Z32723; Aug, 29 2002 12:25:04 PM +0600\n", 10000)+plain, "hello\n"), []string{"received_many_hops", "received_forged_freemail", "message_id_by_relay", "received_bad_date"}},
		{"long Date", spam("Subject: hi\nDate: "+huge+"\n"+plain, "hello\n"), []string{"invalid_date"}},
		{"long Message-ID", spam("Subject: hi\nMessage-ID: <"+huge+"@example.biz>\n"+plain, "hello\n"), []string{"invalid_message_id"}},
		{"long subject in capitals", spam("Subject: "+strings.Repeat("FREE ", 100000)+"\n"+plain, "hello\n"), []string{"subject_all_caps"}},
		{"long spaced letters", spam("Subject: hi\n"+plain, strings.Repeat("a.", 1<<20)+"\n"), []string{"obfuscated_words"}},
		{"deep HTML hidden", spam("Subject: hi\nContent-Type: text/html; charset=utf-8\n", strings.Repeat("<div style=\"display:none\">", 1000)+huge+"\n"), []string{"html_only_short", "invisible_text"}},
		{"header block over the parser's limit", "Subject: hi\nX-Big: " + strings.Repeat("y", 1100<<10) + "\n" + plain + "\nhello\n", nil},
		{"many URL starts, one domain", spam("Subject: hi\n"+plain, strings.Repeat("http://a.example.com/ ", 100000)+"\n"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := run(t, c, tc.msg)
			if got := names(fs); !slices.Equal(got, tc.want) {
				t.Fatalf("tests = %v, want %v", got, tc.want)
			}
			for _, f := range fs {
				if len(f.Value) > maxValue+len("…") || len(f.Reason) > 400 {
					t.Errorf("%s: value %d bytes, reason %d bytes", f.Name, len(f.Value), len(f.Reason))
				}
			}
		})
	}
}

// The ham samples are close to tripping tests: a small change to each
// makes one hold, so TestHam cannot pass by the tests not reading them.
func TestHamMutations(t *testing.T) {
	c := New(Defaults())
	for _, tc := range []struct {
		name, msg, old, new, want string
	}{
		{"outlook without Thread-Index", hamOutlook, "Thread-Index:", "X-Thread:", "forged_mua_outlook"},
		{"apple with a lower-case Message-ID", hamApple, "<5E3A1F2B-8C4D-4E6F-9A0B-1C2D3E4F5A6B@", "<5e3a1f2b-8c4d-4e6f-9a0b-1c2d3e4f5a6b@", "forged_mua_apple"},
		{"thunderbird authenticated hop with a public HELO literal holds nothing", hamThunderbird, "from [192.168.1.20]", "from [192.0.2.20]", ""},
		{"thunderbird hop not authenticated", strings.Replace(strings.Replace(hamThunderbird, "with ESMTPSA", "with ESMTP", 1), "(Authenticated sender: alice@example.org)", "", 1), "from [192.168.1.20]", "from [192.0.2.20]", "received_helo_ip"},
		{"outlook with a Message-ID of no time", hamOutlook, "<000001db43d2$", "<00003d963754$", "forged_outlook_id"},
		{"gmail without Date", hamGmail, "Date: Tue, 1 Dec 2026 10:43:51 +0100\n", "", "missing_date"},
		{"gmail subject shouted", hamGmail, "Subject: Dinner on Saturday?", "Subject: DINNER ON SATURDAY?", "subject_all_caps"},
		{"japanese body in base64", hamJapanese, "Content-Transfer-Encoding: 7bit\n\n" + "\x1b$B$*Hh$l$5$^$G$9!#\x1b(B", "Content-Transfer-Encoding: base64\n\nGyRCJCpIaCRsJDUkXiRHJDkhIxsoQg==", "base64_text"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkMutation(t, c, tc.msg, tc.old, tc.new, tc.want) })
	}
}

// checkMutation replaces old with new in the sample msg, once, and wants
// exactly the test want to hold ("" for none).
func checkMutation(t *testing.T, c *Check, msg, old, new, want string) {
	t.Helper()
	m := strings.Replace(msg, old, new, 1)
	if m == msg {
		t.Fatalf("%q not in the sample", old)
	}
	var wants []string
	if want != "" {
		wants = []string{want}
	}
	if got := names(run(t, c, m)); !slices.Equal(got, wants) {
		t.Fatalf("tests = %v, want %v", got, wants)
	}
}
