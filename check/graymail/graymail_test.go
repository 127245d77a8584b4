package graymail

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/scanner/message"
)

func parse(s string) *message.Message {
	return message.ParseBytes([]byte(strings.ReplaceAll(s, "\n", "\r\n")), message.DefaultLimits())
}

// The header sets follow what these senders put on their mail; names and
// identifiers are made up.
var cases = []struct {
	name, sender, msg string
	want              Class
	cue               string // a cue the reason must name
}{
	{"mailchimp newsletter", "bounce-mc.us5_1234.567-alice=example.org@mail123.suw11.mcdlv.net", `Received: from mail123.suw11.mcdlv.net (mail123.suw11.mcdlv.net [198.2.131.1])
From: "The Weekly Brief" <news@weeklybrief.example>
To: alice@example.org
Subject: Issue #212: what changed in TLS this month
List-Unsubscribe: <https://weeklybrief.us5.list-manage.com/unsubscribe?u=abc&id=def>, <mailto:unsubscribe-mc.us5_abc@unsubscribe.mailchimpapp.net>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
X-MC-User: 0a1b2c3d4e5f
X-Campaign: mailchimp0a1b2c3d.9f8e7d
Feedback-ID: 123:us5:0a1b2c3d:mailchimp
Precedence: bulk
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<p><a href="https://weeklybrief.example/view">View this email in your browser</a></p>
<p>This month: three RFCs, one outage, and a new cipher suite.</p>
<p><a href="https://weeklybrief.us5.list-manage.com/unsubscribe">unsubscribe from this list</a></p>
`, Newsletter, "X-MC-User (Mailchimp)"},
	{"mailman discussion list", "python-list-bounces+alice=example.org@python.example", `From: Bob <bob@example.net>
To: python-list@python.example
Subject: [Python] asyncio cancellation semantics
List-Id: General discussion list <python-list.python.example>
List-Unsubscribe: <https://mail.python.example/mailman/options/python-list>, <mailto:python-list-request@python.example?subject=unsubscribe>
Precedence: list

Does anyone know why cancel() does not propagate here?
`, Newsletter, "List-Id"},
	{"klaviyo marketing subject", "bounce@send.shop.example", `From: Shop Example <hello@shop.example>
To: alice@example.org
Subject: 48 hours only: 30% OFF everything
List-Unsubscribe: <https://manage.kmail-lists.com/subscriptions/unsubscribe?a=X>
X-Kmail-Account: Xyz123
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<p>Our summer collection is here.</p><p><a href="https://shop.example/u">Unsubscribe</a></p>
`, Marketing, "subject \"% off\""},
	{"sendgrid marketing body cues", "bounces+123@em1234.store.example", `From: Store <deals@store.example>
To: alice@example.org
Subject: New arrivals for you
X-SG-EID: abcDEF123
List-Unsubscribe: <mailto:unsubscribe@em1234.store.example>
Content-Type: text/plain

Use coupon SUMMER at checkout. Free shipping on orders over $50.
Unsubscribe: https://store.example/u
`, Marketing, "text \"coupon\""},
	{"japanese mail magazine marketing", "mag@shop.example.jp", `From: =?UTF-8?B?44K344On44OD44OX?= <mag@shop.example.jp>
To: alice@example.jp
Subject: =?UTF-8?B?44CQ5pyf6ZaT6ZmQ5a6a44CR5YWo5ZOBMjDvvIVPRkY=?=
List-Unsubscribe: <mailto:unsub@shop.example.jp>
Content-Type: text/plain; charset=utf-8

いつもご利用ありがとうございます。
メルマガの配信停止はこちら https://shop.example.jp/stop
`, Marketing, "subject"},
	{"japanese newsletter from content only", "info@news.example.jp", `From: info@news.example.jp
To: alice@example.jp
Subject: =?UTF-8?B?5pyI5YiK44OL44Ol44O844K5?=
Content-Type: text/plain; charset=utf-8

今月のトピックです。
ブラウザで表示する: https://news.example.jp/web
配信停止: https://news.example.jp/stop
`, Newsletter, "配信停止"},
	{"facebook notification", "notification@facebookmail.com", `From: Facebook <notification@facebookmail.com>
To: alice@example.org
Subject: Bob commented on your post
X-Facebook-Notify: comment; mailid=abc
List-Unsubscribe: <https://www.facebook.com/o.php?k=abc>
Precedence: bulk

Bob commented on your post.
`, Social, "facebookmail.com"},
	{"linkedin with marketing words is still social", "messages-noreply@bounce.linkedin.com", `From: LinkedIn <messages-noreply@linkedin.com>
To: alice@example.org
Subject: Get 50% off LinkedIn Premium
List-Unsubscribe: <https://www.linkedin.com/e/unsub>
X-LinkedIn-Class: EMAIL-DEFAULT

Save now.
`, Social, "linkedin.com"},
	{"x.com", "info@x.com", `From: X <info@x.com>
To: alice@example.org
Subject: Alice, see what's happening
Feedback-ID: 0.1:account_notifier:x
Content-Type: text/plain

Trending now. Unsubscribe https://x.com/unsub
`, Social, "x.com"},
	{"ses password reset", "010001abc@amazonses.com", `From: Example App <no-reply@app.example>
To: alice@example.org
Subject: Reset your password
X-SES-Outgoing: 2026.12.01-54.240.8.1
Feedback-ID: 1.us-east-1.abc=:AmazonSES
Content-Type: text/plain

Someone asked to reset the password of your account. Code: 123456
`, Notification, "subject \"password\""},
	{"order receipt with an unsubscribe footer", "orders@shop.example", `From: Shop <no-reply@shop.example>
To: alice@example.org
Subject: Your order #A1234 has shipped
Auto-Submitted: auto-generated
Content-Type: text/plain

Your order has shipped. Tracking number 1Z999.
Get 10% off your next order.
Unsubscribe from marketing: https://shop.example/u
`, Notification, "subject \"your order\""},
	{"japanese shipping notice", "noreply@shop.example.jp", `From: =?UTF-8?B?44K344On44OD44OX?= <noreply@shop.example.jp>
To: alice@example.jp
Subject: =?UTF-8?B?44GU5rOo5paH5ZWG5ZOB44KS55m66YCB44GE44Gf44GX44G+44GX44Gf?=
Content-Type: text/plain; charset=utf-8

ご注文ありがとうございます。
`, Notification, "ご注文"},
	{"github notification", "noreply@github.example", `From: Bob <notifications@github.example>
To: org/repo <repo@noreply.github.example>
Subject: Re: [org/repo] Fix the parser (PR #12)
In-Reply-To: <org/repo/pull/12@github.example>
References: <org/repo/pull/12@github.example>
List-ID: org/repo <repo.org.github.example>
List-Unsubscribe: <mailto:unsub+abc@reply.github.example>, <https://github.example/notifications/unsubscribe/abc>
X-Auto-Response-Suppress: All

Bob approved this pull request. Reply to this email directly or view it on GitHub.
`, Notification, "sender notifications@"},
	{"mailgun transactional booking", "bounce+abc@mg.travel.example", `From: Travel <bookings@travel.example>
To: alice@example.org
Subject: Booking confirmed: Tokyo, 3 nights
X-Mailgun-Sid: WyJhYmMiXQ==

Your reservation is confirmed.
`, Notification, "X-Mailgun-Sid (Mailgun)"},

	{"no-reply newsletter with an account footer", "bounce@news.example.jp", `From: News <noreply@news.example.jp>
To: alice@example.jp
Subject: =?UTF-8?B?5LuK6YCx44Gu44GK55+l44KJ44Gb?=
List-Unsubscribe: <https://news.example.jp/u>
Content-Type: text/plain; charset=utf-8

新商品のお知らせです。
Manage your account and email preferences: https://news.example.jp/prefs
`, Newsletter, "List-Unsubscribe"},

	// Person-to-person mail: not graymail.
	{"reply without list headers", "bob@example.net", `From: Bob <bob@example.net>
To: Alice <alice@example.org>
Subject: Re: lunch on friday? 50% off at the new place
In-Reply-To: <abc@example.org>
References: <abc@example.org>

Sure. By the way, their newsletter says unsubscribe anytime, view in browser, etc.
`, "", ""},
	{"signature link", "bob@example.net", `From: Bob Smith <bob@example.net>
To: Alice <alice@example.org>
Subject: The contract draft
Content-Type: text/plain

Hi Alice, the draft is attached. Tell me what you think.

--
Bob Smith, Example Corp
https://example.net | https://www.linkedin.com/in/bobsmith
`, "", ""},
	{"calendar invite", "carol@example.net", `From: Carol <carol@example.net>
To: alice@example.org
Subject: Invitation: Project sync @ Tue 10:00
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain

You have been invited to Project sync. Join: https://meet.example.net/abc
--b
Content-Type: text/calendar; method=REQUEST

BEGIN:VCALENDAR
METHOD:REQUEST
BEGIN:VEVENT
SUMMARY:Project sync
END:VEVENT
END:VCALENDAR
--b--
`, "", ""},
	{"out of office", "bob@example.net", `From: Bob <bob@example.net>
To: alice@example.org
Subject: Out of office
Auto-Submitted: auto-replied

I am away until Monday.
`, "", ""},
	{"list-unsubscribe without a URI", "bob@example.net", `From: Bob <bob@example.net>
To: alice@example.org
Subject: hello
List-Unsubscribe: no thanks

Hello.
`, "", ""},
	{"social domain person without cues", "jane@x.com", `From: Jane <jane@x.com>
To: alice@example.org
Subject: quick question

Are you free tomorrow?
`, "", ""},
}

func TestClassify(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Classify(parse(tc.msg), tc.sender)
			if r.Class != tc.want {
				t.Fatalf("class %q (%s), want %q", r.Class, r.Reason(), tc.want)
			}
			if tc.cue != "" && !strings.Contains(r.Reason(), tc.cue) {
				t.Errorf("reason %q does not name %q", r.Reason(), tc.cue)
			}
		})
	}
}

func TestRunFindings(t *testing.T) {
	c := New(Defaults())
	in := &check.Input{ClientIP: netip.MustParseAddr("198.51.100.7"), Sender: "<" + cases[0].sender + ">", Message: parse(cases[0].msg)}
	fs, err := c.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || fs[0].Name != Finding || fs[0].Value != "newsletter" || fs[1].Name != "graymail.newsletter" ||
		fs[0].Where != "message" || !strings.Contains(fs[0].Reason, "List-Unsubscribe") {
		t.Fatalf("findings %+v", fs)
	}
	declared := map[string]bool{}
	for _, d := range c.Findings() {
		declared[d.Name] = true
	}
	for _, f := range fs {
		if !declared[f.Name] {
			t.Errorf("finding %s is not declared", f.Name)
		}
	}
}

func TestExclusions(t *testing.T) {
	msg := parse(cases[0].msg)
	trusted := func(ip netip.Addr) bool { return ip == netip.MustParseAddr("10.0.0.5") }
	for _, tc := range []struct {
		name string
		cfg  Config
		in   check.Input
		want bool
	}{
		{"inbound", Defaults(), check.Input{ClientIP: netip.MustParseAddr("198.51.100.7")}, true},
		{"authenticated", Defaults(), check.Input{ClientIP: netip.MustParseAddr("198.51.100.7"), AuthUser: "alice"}, false},
		{"trusted network", Defaults(), check.Input{ClientIP: netip.MustParseAddr("10.0.0.5")}, false},
		{"trusted with outbound", Config{Enabled: true, Outbound: true}, check.Input{ClientIP: netip.MustParseAddr("10.0.0.5")}, true},
		{"excluded client", Config{Enabled: true, ExcludeClients: []string{"198.51.100.0/24"}}, check.Input{ClientIP: netip.MustParseAddr("198.51.100.7")}, false},
		{"excluded client v4-mapped", Config{Enabled: true, ExcludeClients: []string{"198.51.100.0/24"}}, check.Input{ClientIP: netip.MustParseAddr("::ffff:198.51.100.7")}, false},
		{"other client", Config{Enabled: true, ExcludeClients: []string{"198.51.100.0/24"}}, check.Input{ClientIP: netip.MustParseAddr("203.0.113.9")}, true},
		{"excluded header From domain", Config{Enabled: true, ExcludeSenders: []string{"*@weeklybrief.example"}}, check.Input{ClientIP: netip.MustParseAddr("198.51.100.7")}, false},
		{"excluded envelope sender", Config{Enabled: true, ExcludeSenders: []string{"*@*.mcdlv.net"}}, check.Input{ClientIP: netip.MustParseAddr("198.51.100.7"), Sender: "<" + cases[0].sender + ">"}, false},
		{"other sender", Config{Enabled: true, ExcludeSenders: []string{"*@example.com"}}, check.Input{ClientIP: netip.MustParseAddr("198.51.100.7"), Sender: "a@example.net"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Message = msg
			in.Env = &check.Env{Trusted: trusted}
			fs, err := New(tc.cfg).Run(context.Background(), &in)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(fs) > 0; got != tc.want {
				t.Errorf("classified = %v, want %v (%+v)", got, tc.want, fs)
			}
		})
	}
}

func TestHeaderAddress(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`Bob <bob@example.net>`, "bob@example.net"},
		{`"Smith, Bob" <bob@example.net>`, "bob@example.net"},
		{`bob@example.net (Bob)`, "bob@example.net"},
		{`"a@b" <c@d.example>`, "c@d.example"},
		{`Bob`, ""},
		{`<>`, ""},
		{`Bob <bob@example.net`, "bob@example.net"},
	} {
		if got := headerAddress(tc.in); got != tc.want {
			t.Errorf("headerAddress(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestListUnsubscribeURIs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{`<mailto:u@example.com>, <https://example.com/u>`, 2},
		{`<https://example.com/u> (comment)`, 1},
		{`<ftp://example.com/u>`, 0},
		{`https://example.com/u`, 0},
		{`<https://example.com/u`, 0},
		{``, 0},
	} {
		if got := listUnsubscribeURIs(tc.in); got != tc.want {
			t.Errorf("listUnsubscribeURIs(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestHugeText: the cues at the end of a text past the searched head are
// still found, and the middle is not searched.
func TestHugeText(t *testing.T) {
	filler := strings.Repeat("lorem ipsum dolor sit amet\n", 40000) // ~1 MB
	head := "From: News <news@example.net>\nSubject: hello\nList-Id: <news.example.net>\n\n"
	r := Classify(parse(head+filler+"use coupon X, free shipping\n"+filler+"unsubscribe here\n"), "")
	if r.Class != Newsletter || !strings.Contains(r.Reason(), "unsubscribe") || strings.Contains(r.Reason(), "coupon") {
		t.Errorf("class %q (%s), want newsletter with the tail's unsubscribe and not the middle's coupon", r.Class, r.Reason())
	}
}

func BenchmarkClassify(b *testing.B) {
	m := parse(cases[0].msg)
	b.ReportAllocs()
	for b.Loop() {
		Classify(m, cases[0].sender)
	}
}
