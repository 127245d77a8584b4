package spamtest

import (
	"slices"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check"
)

// holdCase is a message and whether one test holds on it, its value then
// holding inValue.
type holdCase struct {
	name    string
	msg     string
	test    string
	holds   bool
	inValue string
}

// runHoldCases runs each case's message through c.
func runHoldCases(t *testing.T, c *Check, cases []holdCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := run(t, c, tc.msg)
			i := slices.IndexFunc(fs, func(f check.Finding) bool { return f.Name == Prefix+tc.test })
			if (i >= 0) != tc.holds {
				t.Fatalf("%s holds %v, want %v; findings %+v", tc.test, i >= 0, tc.holds, fs)
			}
			if i >= 0 && (!strings.Contains(fs[i].Value, tc.inValue) || fs[i].Reason == "") {
				t.Errorf("%s value %q, want it to contain %q, and a reason (%q)", tc.test, fs[i].Value, tc.inValue, fs[i].Reason)
			}
		})
	}
}

// TestForgeryTests: each forgery test holds on the forged shape and not
// on what the real client or server writes.
func TestForgeryTests(t *testing.T) {
	oe := "X-Mailer: Microsoft Outlook Express 6.00.2600.0000\nX-MSMail-Priority: Normal\n"
	c := New(Defaults())
	runHoldCases(t, c, []holdCase{
		{"zero-padded outlook id", spam("Subject: hi\nMessage-ID: <00003d963754$00005924$00001aaa@210.39.240.216>\n"+plain, "hello\n"), "forged_outlook_id", true, "00003d963754"},
		{"outlook id without a time", spam("Subject: hi\nMessage-ID: <028d58d73d6d$6871e4a4$4dc01ab6@ttqvvc>\n"+plain, "hello\n"), "forged_outlook_id", true, "028d58d73d6d"},
		{"outlook express id of 2002", spam("Subject: hi\nMessage-ID: <001c01c24e1e$187bff00$6b01a8c0@example.net>\n"+plain, "hello\n"), "forged_outlook_id", false, ""},
		{"CDO id of 2002, five-digit counter", spam("Subject: hi\nMessage-ID: <59e6301c249d5$ffb7ea20$1606fea9@example.net>\n"+plain, "hello\n"), "forged_outlook_id", false, ""},
		{"outlook 2016 id", spam("Subject: hi\nMessage-ID: <000001db43d2$5c7e6a10$157b3e30$@example.net>\n"+plain, "hello\n"), "forged_outlook_id", false, ""},
		{"another mailer's id", spam("Subject: hi\nMessage-ID: <20261201094855.30169.qmail@example.net>\n"+plain, "hello\n"), "forged_outlook_id", false, ""},
		{"outlook express without X-MimeOLE", spam("Subject: hi\n"+oe+plain, "hello\n"), "missing_mimeole", true, "Outlook Express"},
		{"X-MSMail-Priority alone, as alert scripts write it", spam("Subject: disk full\nX-Priority: 1\nX-MSMail-Priority: High\n"+plain, "hello\n"), "missing_mimeole", false, ""},
		{"outlook express as it writes", spam("Subject: hi\n"+oe+"X-MimeOLE: Produced By Microsoft MimeOLE V6.00.2600.0000\n"+plain, "hello\n"), "missing_mimeole", false, ""},
		{"outlook express for the Macintosh", spam("Subject: hi\nX-Mailer: Microsoft Outlook Express Macintosh Edition - 4.5 (0410)\n"+plain, "hello\n"), "missing_mimeole", false, ""},
		{"web mail copying X-MSMail-Priority", spam("Subject: hi\nX-Mailer: SquirrelMail (version 1.2.5)\nX-MSMail-Priority: Normal\n"+plain, "hello\n"), "missing_mimeole", false, ""},
		{"HELO yahoo.com from an address without a name", spam("Received: from yahoo.com ([192.0.2.44]) by mx.example.com (8.11.6/8.11.6) with SMTP id g7TN99Z32723 for <victim@example.com>; Fri, 30 Aug 2002 00:09:10 +0100\nSubject: hi\n"+plain, "hello\n"), "received_forged_freemail", true, "yahoo.com"},
		{"HELO a yahoo host from a dial-up name", spam("Received: from mx4.mail.yahoo.com (host217-34-166-82.dsl.example.net [192.0.2.82]) by mx.example.com (Postfix) with SMTP id 3E1642C0FF for <victim@example.com>; Sun, 25 Aug 2002 14:18:15 -0500\nSubject: hi\n"+plain, "hello\n"), "received_forged_freemail", true, "dsl.example.net"},
		{"Exim's helo= hotmail.com", spam("Received: from [192.0.2.55] (port=3496 helo=hotmail.com) by mx.example.com with smtp (Exim 4.05) id 17oiR2-0006Uj-00 for <victim@example.com>; Tue, 10 Sep 2002 03:41:57 -0700\nSubject: hi\n"+plain, "hello\n"), "received_forged_freemail", true, "hotmail.com"},
		{"a yahoo host with its name", spam("Received: from web10201.mail.yahoo.com (web10201.mail.yahoo.com [192.0.2.65]) by mx.example.com (Postfix) with ESMTP id 1 for <victim@example.com>; Tue, 1 Dec 2026 09:00:00 +0000\nSubject: hi\n"+plain, "hello\n"), "received_forged_freemail", false, ""},
		{"Exim's verified name", spam("Received: from web10201.mail.yahoo.com ([192.0.2.65]) by mx.example.com with smtp (Exim 3.31) id 17p1 for <victim@example.com>; Tue, 1 Dec 2026 09:00:00 +0000\nSubject: hi\n"+plain, "hello\n"), "received_forged_freemail", false, ""},
		{"Exim's verified name, version hidden", spam("Received: from sonic301-2.consmr.mail.ne1.yahoo.com ([192.0.2.66]) by mx.example.com with esmtp id 1t5XyZ-0001aB-2C for <victim@example.com>; Tue, 1 Dec 2026 09:00:00 +0000\nSubject: hi\n"+plain, "hello\n"), "received_forged_freemail", false, ""},
		{"qmail, which looks up no names", spam("Received: from unknown (HELO hotmail.com) (192.0.2.165) by mta1.example.com with SMTP; 8 Oct 2002 14:45:28 -0000\nSubject: hi\n"+plain, "hello\n"), "received_forged_freemail", false, ""},
		{"a hop inside the provider", spam("Received: from mel-rta9.wanadoo.fr ([192.0.2.69]) by mel-rto6.wanadoo.fr (6.5.007) id 3D6246E800347B50; Wed, 28 Aug 2002 10:58:49 +0200\nSubject: hi\n"+plain, "hello\n"), "received_forged_freemail", false, ""},
		{"a relay's Message-ID for mail from the internet", spam("Received: from sbapp3 ([192.0.2.199]) by mx.example.com (8.11.6/8.11.6) with ESMTP id g8FEeQC19107 for <victim@example.com>; Sun, 15 Sep 2002 15:40:27 +0100\nSubject: hi\nMessage-ID: <200209151440.g8FEeQC19107@mx.example.com>\n"+plain, "hello\n"), "message_id_by_relay", true, "g8FEeQC19107"},
		{"the sender's own Message-ID", spam("Received: from sbapp3 ([192.0.2.199]) by mx.example.com (8.11.6/8.11.6) with ESMTP id g8FEeQC19107 for <victim@example.com>; Sun, 15 Sep 2002 15:40:27 +0100\nSubject: hi\nMessage-ID: <a1b2c3d4@sbapp3.example.net>\n"+plain, "hello\n"), "message_id_by_relay", false, ""},
		{"a local program's mail, Message-ID by its own MTA", spam("Received: (from root@localhost) by host.example.biz (8.12.2/8.12.2) id g8FEeQC19107; Sun, 15 Sep 2002 15:40:27 +0100\nSubject: hi\nMessage-ID: <200209151440.g8FEeQC19107@host.example.biz>\n"+plain, "hello\n"), "message_id_by_relay", false, ""},
		{"a mailing service's server", spam("Received: from out1.mailer.example.net (out1.mailer.example.net [192.0.2.31]) by mx.example.com (8.12.2/8.12.2) with ESMTP id g83K2buK013193; Tue, 3 Sep 2002 15:02:38 -0500\nSubject: hi\nMessage-ID: <200209032002.g83K2buK013193@mx.example.com>\n"+plain, "hello\n"), "message_id_by_relay", false, ""},
		{"the sender's provider's submission server", "From: Tim <tim@isp.example.co.uk>\nTo: list@example.org\nReceived: from host217-36-23-185.dsl.example.net ([192.0.2.185]) by smtp1.isp.example.co.uk with esmtp (Exim 3.22 #8) id 17hrT0-0004gj-00 for list@example.org; Thu, 22 Aug 2002 13:53:38 +0100\nSubject: hi\nDate: Tue, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <E17hrT0-0004gj-00@smtp1.isp.example.co.uk>\n" + plain + "\nhello\n", "message_id_by_relay", false, ""},
		{"Exim's verified name that was the HELO", spam("Received: from host217-36-23-185.dsl.example.net ([192.0.2.185]) by mx.example.com with esmtp (Exim 3.22 #8) id 17hrT0-0004gj-00 for victim@example.com; Thu, 22 Aug 2002 13:53:38 +0100\nSubject: hi\nMessage-ID: <E17hrT0-0004gj-00@mx.example.com>\n"+plain, "hello\n"), "message_id_by_relay", false, ""},
		{"a script's submission through its provider's smarthost", spam("Received: from nas.example.org (host-192-0-2-77.isp.example [192.0.2.77]) (Authenticated sender: nas@company.example) by smtp.hoster.example (Postfix) with ESMTPSA id 4XSq2h1Gm5z9sTP for <admin@company.example>; Tue, 1 Dec 2026 09:00:00 +0000 (UTC)\nSubject: backup done\nFrom: nas@company.example\nMessage-ID: <4XSq2h1Gm5z9sTP@smtp.hoster.example>\n"+plain, "hello\n"), "message_id_by_relay", false, ""},
		{"a relay's id written as a msg-id", spam("Received: from mail.example.net (unverified [192.0.2.119]) by mail.relay.example (Vircom SMTPRS 5.3.232) with ESMTP id <B0036248326@mail.relay.example> for <victim@example.com>;\n Sat, 14 Sep 2002 11:33:57 -0700\nSubject: hi\nMessage-ID: <B0036248326@mail.relay.example>\n"+plain, "hello\n"), "message_id_by_relay", true, "B0036248326"},
		{"a msg-id id of another host is not the Message-ID's", spam("Received: from mail.example.net (unverified [192.0.2.119]) by mail.relay.example (Vircom SMTPRS 5.3.232) with ESMTP id <B0036248326@other.example> for <victim@example.com>;\n Sat, 14 Sep 2002 11:33:57 -0700\nSubject: hi\nMessage-ID: <B0036248326@mail.relay.example>\n"+plain, "hello\n"), "message_id_by_relay", false, ""},
		{"Exim's Message-ID for a client with another HELO", spam("Received: from host217-36-23-185.dsl.example.net ([192.0.2.185] helo=yqxz) by mx.example.com with esmtp (Exim 3.22 #8) id 17hrT0-0004gj-00 for victim@example.com; Thu, 22 Aug 2002 13:53:38 +0100\nSubject: hi\nMessage-ID: <E17hrT0-0004gj-00@mx.example.com>\n"+plain, "hello\n"), "message_id_by_relay", true, "17hrT0-0004gj-00"},
		{"a Yahoo address from a dial-up host", fm("From: Candi <candi21@yahoo.com>", "Received: from mx2.mail.example.net (unknown [192.0.2.34]) by mx.example.com (Postfix) with SMTP id 4A1; Tue, 1 Dec 2026 08:59:00 +0000"), "freemail_not_relayed", true, "yahoo.com"},
		{"a Hotmail address of a country, from elsewhere", fm("From: <victor@hotmail.co.uk>", "Received: from hotmail.com ([192.0.2.41]) by mx.example.com (8.11.6/8.11.6) with SMTP id g8; Tue, 1 Dec 2026 08:59:00 +0000"), "freemail_not_relayed", true, "hotmail.co.uk"},
		{"Gmail, through Google's servers", fm("From: Ann <ann@gmail.com>", "Received: from mail-wr1-f41.google.com (mail-wr1-f41.google.com [209.85.221.41]) by mx.example.com (Postfix) with ESMTPS id 4B2; Tue, 1 Dec 2026 08:59:00 +0000\nReceived: by mail-wr1-f41.google.com with SMTP id a1so; Tue, 01 Dec 2026 00:58:59 -0800 (PST)"), "freemail_not_relayed", false, ""},
		{"Yahoo webmail, only its own hop", fm("From: Bo <bo@yahoo.fr>", "Received: from [192.0.2.111] by web21503.mail.yahoo.com via HTTP; Tue, 01 Dec 2026 08:58:59 +0000"), "freemail_not_relayed", false, ""},
		{"AOL through Yahoo's servers", fm("From: Cy <cy@aol.com>", "Received: from sonic301-22.consmr.mail.ne1.yahoo.com (sonic301-22.consmr.mail.ne1.yahoo.com [66.163.184.191]) by mx.example.com (Postfix) with ESMTPS id 4C3; Tue, 1 Dec 2026 08:59:00 +0000"), "freemail_not_relayed", false, ""},
		{"Outlook.com through Exchange Online", fm("From: Di <di@outlook.com>", "Received: from EUR05-AM6-obe.outbound.protection.outlook.com (mail-am6eur05olkn2101.outbound.protection.outlook.com [40.92.91.101]) by mx.example.com (Postfix) with ESMTPS id 4D4; Tue, 1 Dec 2026 08:59:00 +0000"), "freemail_not_relayed", false, ""},
		{"a list post keeps the poster's From", fm("From: Ed <ed@hotmail.com>\nList-Id: <talk.lists.example.org>", "Received: from lists.example.org (lists.example.org [192.0.2.9]) by mx.example.com (Postfix) with ESMTP id 4E5; Tue, 1 Dec 2026 08:59:00 +0000"), "freemail_not_relayed", false, ""},
		{"a service sending for the address", fm("From: Geege <geege@aol.com>\nSender: stories@news.example.net", "Received: from stories2.news.example.net (stories2.news.example.net [192.0.2.133]) by mx.example.com (Postfix) with ESMTP id 4F6; Tue, 1 Dec 2026 08:59:00 +0000"), "freemail_not_relayed", false, ""},
		{"no hop from the internet recorded", fm("From: Fay <fay@gmail.com>", "Received: from localhost (localhost [127.0.0.1]) by mx.example.com (Postfix) with ESMTP id 4G7; Tue, 1 Dec 2026 08:59:00 +0000"), "freemail_not_relayed", false, ""},
		{"a provider's field that does not parse", fm("From: Hal <hal@gmail.com>", "Received: from mail.example.net (mail.example.net [192.0.2.45]) by mx.example.com (Postfix) with ESMTP id 4J9; Tue, 1 Dec 2026 08:59:00 +0000\nReceived: by mail-wr1-f41.google.com with SMTP id a1so by relay.example.net id b2; Tue, 01 Dec 2026 00:58:59 -0800 (PST)"), "freemail_not_relayed", false, ""},
		{"another provider's address is not judged", fm("From: Gus <gus@gmx.de>", "Received: from host.example.net ([192.0.2.44]) by mx.example.com (Postfix) with ESMTP id 4H8; Tue, 1 Dec 2026 08:59:00 +0000"), "freemail_not_relayed", false, ""},
		{"an imitated NextPart boundary", spam("Subject: hi\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"----=_NextPart_KynqjnFRvzmqYGilyuyHYQ\"\n", "------=_NextPart_KynqjnFRvzmqYGilyuyHYQ\n"+plain+"\nhello\n------=_NextPart_KynqjnFRvzmqYGilyuyHYQ--\n"), "boundary_forged_nextpart", true, "Kynqjn"},
		{"outlook's layout with letters no hex number has", spam("Subject: hi\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"----=_NextPart_000_00X9_70A11C1D.E1232J43\"\n", "------=_NextPart_000_00X9_70A11C1D.E1232J43\n"+plain+"\nhello\n------=_NextPart_000_00X9_70A11C1D.E1232J43--\n"), "boundary_forged_nextpart", true, "00X9"},
		{"a NextPart boundary with digits only (SilverStripe)", spam("Subject: hi\nMIME-Version: 1.0\nContent-Type: multipart/alternative;  boundary=\"----=_NextPart_3402248108\"\n", "------=_NextPart_3402248108\n"+plain+"\nhello\n------=_NextPart_3402248108--\n"), "boundary_forged_nextpart", false, ""},
		{"QQ Mail's boundary", spam("Subject: hi\nX-Mailer: QQMail 2.x\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"----=_NextPart_5D67A966_0E3F04B0_1EE927D1\"\n", "------=_NextPart_5D67A966_0E3F04B0_1EE927D1\n"+plain+"\nhello\n------=_NextPart_5D67A966_0E3F04B0_1EE927D1--\n"), "boundary_forged_nextpart", false, ""},
		{"a PHP script's md5 boundary", spam("Subject: hi\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"----=_NextPart_9e107d9d372bb6826bd81d3542a419d6\"\n", "------=_NextPart_9e107d9d372bb6826bd81d3542a419d6\n"+plain+"\nhello\n------=_NextPart_9e107d9d372bb6826bd81d3542a419d6--\n"), "boundary_forged_nextpart", false, ""},
		{"Indy's boundary", spam("Subject: hi\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"=_NextPart_2rfkindysadvnqw3nerasdf\"\n", "--=_NextPart_2rfkindysadvnqw3nerasdf\n"+plain+"\nhello\n--=_NextPart_2rfkindysadvnqw3nerasdf--\n"), "boundary_forged_nextpart", false, ""},
		{"outlook's boundary", spam("Subject: hi\nMIME-Version: 1.0\nContent-Type: multipart/alternative;\n\tboundary=\"----=_NextPart_000_0001_01DB43DA.BE42D210\"\n", "------=_NextPart_000_0001_01DB43DA.BE42D210\n"+plain+"\nhello\n------=_NextPart_000_0001_01DB43DA.BE42D210--\n"), "boundary_forged_nextpart", false, ""},
		{"CDO's boundary", spam("Subject: hi\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"----=_NextPart_000_428CD_01C24DE6.6DD2E5F0\"\n", "------=_NextPart_000_428CD_01C24DE6.6DD2E5F0\n"+plain+"\nhello\n------=_NextPart_000_428CD_01C24DE6.6DD2E5F0--\n"), "boundary_forged_nextpart", false, ""},
		{"another mailer's boundary", spam("Subject: hi\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"000000000000a1b2c3d4e5f60718\"\n", "--000000000000a1b2c3d4e5f60718\n"+plain+"\nhello\n--000000000000a1b2c3d4e5f60718--\n"), "boundary_forged_nextpart", false, ""},
		{"a 12-hour clock", spam("Received: from 192.0.2.179 ([192.0.2.179]) by rly-xw05.example.com with smtp; Aug, 29 2002 12:25:04 PM +0600\nSubject: hi\n"+plain, "hello\n"), "received_bad_date", true, "PM"},
		{"the year 102", spam("Received: from unknown (192.0.2.199) by rly-xr01.example.net with QMQP; 30 Aug 0102 10:03:02 -0100\nSubject: hi\n"+plain, "hello\n"), "received_bad_date", true, "0102"},
		{"qmail-scanner's day/month/year", spam("Received: from a@example.net by localhost.localdomain with qmail-scanner-0.90 (Clean. Processed in 0.361135 secs); 22/08/2002 11:28:44\nSubject: hi\n"+plain, "hello\n"), "received_bad_date", false, ""},
		{"a zone with a colon", spam("Received: from  (127.0.0.1 [127.0.0.1]) by MailEnable Inbound Mail Agent with ESMTP; Mon, 26 Aug 2002 15:26:04 -08:00\nSubject: hi\n"+plain, "hello\n"), "received_bad_date", false, ""},
		{"an ordinary date", spam("Received: from mail.example.net (mail.example.net [192.0.2.1]) by mx.example.com (Postfix) with ESMTP id 1; Tue,  1 Dec 2026 09:00:00 +0000 (UTC)\nSubject: hi\n"+plain, "hello\n"), "received_bad_date", false, ""},
	})
}

// fm is a message with the given From (and other) fields and Received
// fields, for freemail_not_relayed.
func fm(from, received string) string {
	return received + "\n" + from + "\nTo: victim@example.com\nSubject: hi\nDate: Tue, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <a1b2c3@example.net>\n" + plain + "\nhello\n"
}
