package message

import (
	"encoding/base64"
	"fmt"
	"mime/quotedprintable"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// The golden corpus in testdata/messages is generated from these builders so
// that the files hold real ISO-2022-JP, Shift_JIS and EUC-JP bytes while the
// source stays readable. "go test -run TestCorpus -update" rewrites the .eml
// files; TestCorpus fails when a file and its builder disagree.

// corpusMsg is one generated message. Lines are joined with CRLF, or LF
// when lf is set, or a bare CR when cr is.
type corpusMsg struct {
	name  string
	lf    bool
	cr    bool
	lines func() []string
}

// enc encodes s in a legacy charset.
func enc(e encoding.Encoding, s string) string {
	out, err := e.NewEncoder().String(s)
	if err != nil {
		panic(fmt.Sprintf("encode %q: %v", s, err))
	}
	return out
}

// bword is an RFC 2047 B encoded word of s in charset cs.
func bword(cs string, e encoding.Encoding, s string) string {
	b := s
	if e != nil {
		b = enc(e, s)
	}
	return "=?" + cs + "?B?" + base64.StdEncoding.EncodeToString([]byte(b)) + "?="
}

func b64lines(b []byte) []string {
	s := base64.StdEncoding.EncodeToString(b)
	var out []string
	for len(s) > 76 {
		out = append(out, s[:76])
		s = s[76:]
	}
	return append(out, s)
}

func qp(b []byte) []string {
	var sb strings.Builder
	w := quotedprintable.NewWriter(&sb)
	w.Write(b)
	w.Close()
	return strings.Split(strings.ReplaceAll(sb.String(), "\r\n", "\n"), "\n")
}

func join(parts ...any) []string {
	var out []string
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, v)
		case []string:
			out = append(out, v...)
		default:
			panic("join: bad type")
		}
	}
	return out
}

var (
	iso = japanese.ISO2022JP
	sj  = japanese.ShiftJIS
	euc = japanese.EUCJP
)

var corpus = []corpusMsg{
	{name: "plain-ascii", lines: func() []string {
		return join(
			"Return-Path: <alice@example.com>",
			"Received: from mx.example.com (mx.example.com [192.0.2.1])",
			"\tby mail.example.net with ESMTP id 12345",
			"\tfor <bob@example.net>; Mon, 2 Jun 2025 10:00:00 +0900",
			"From: Alice Example <alice@example.com>",
			"To: Bob <bob@example.net>",
			"Subject: Quarterly report,",
			" folded over two lines",
			"Date: Mon, 2 Jun 2025 10:00:00 +0900",
			"Message-ID: <20250602100000.1@example.com>",
			"MIME-Version: 1.0",
			"Content-Type: text/plain; charset=us-ascii",
			"",
			"Hello Bob,",
			"",
			"the report is attached. No GTUBE here.",
			"",
		)
	}},
	{name: "iso-2022-jp", lines: func() []string {
		return join(
			"From: "+bword("ISO-2022-JP", iso, "山田 太郎")+" <yamada@example.jp>",
			"To: "+bword("iso-2022-jp", iso, "鈴木")+" <suzuki@example.jp>",
			"Subject: "+bword("ISO-2022-JP", iso, "会議の件について"),
			" "+bword("ISO-2022-JP", iso, "（再送）"),
			"Message-ID: <jp1@example.jp>",
			"MIME-Version: 1.0",
			"Content-Type: text/plain; charset=ISO-2022-JP",
			"Content-Transfer-Encoding: 7bit",
			"",
			enc(iso, "鈴木様"),
			"",
			enc(iso, "明日の会議は１０時からです。ｶﾀｶﾅ半角も。"),
			"",
		)
	}},
	{name: "iso-2022-jp-lf", lf: true, lines: func() []string {
		return join(
			"From: yamada@example.jp",
			"Subject: "+bword("ISO-2022-JP", iso, "改行コードはLFのみ"),
			"Content-Type: text/plain; charset=\"iso-2022-jp\"",
			"",
			enc(iso, "本文もLFです。"),
			"",
		)
	}},
	{name: "shift-jis", lines: func() []string {
		return join(
			"From: "+bword("Shift_JIS", sj, "営業部")+" <sales@example.jp>",
			"To: user@example.jp",
			"Subject: "+bword("Shift_JIS", sj, "ご請求書の送付"),
			"MIME-Version: 1.0",
			"Content-Type: text/plain; charset=Shift_JIS",
			"Content-Transfer-Encoding: 8bit",
			"",
			enc(sj, "表示・ソフト・能力（ダメ文字入り）"),
			"",
		)
	}},
	{name: "cp932", lines: func() []string {
		return join(
			"From: "+bword("cp932", sj, "株式会社①")+" <info@example.jp>",
			"To: "+bword("windows-31j", sj, "髙橋様")+" <takahashi@example.jp>",
			"Subject: "+bword("Windows-31J", sj, "㈱テスト ②のご案内"),
			"MIME-Version: 1.0",
			"Content-Type: text/plain; charset=CP932",
			"Content-Transfer-Encoding: base64",
			"",
			b64lines([]byte(enc(sj, "NEC特殊文字①②㈱と、IBM拡張文字髙﨑です。\r\n"))),
		)
	}},
	{name: "euc-jp", lines: func() []string {
		return join(
			"From: "+bword("EUC-JP", euc, "佐藤")+" <sato@example.jp>",
			"Subject: "+bword("EUC-JP", euc, "日本語のテスト"),
			"MIME-Version: 1.0",
			"Content-Type: text/plain; charset=EUC-JP",
			"Content-Transfer-Encoding: quoted-printable",
			"",
			qp([]byte(enc(euc, "こんにちは、EUC-JPの本文です。\r\n"))),
		)
	}},
	{name: "unknown-charset-word", lines: func() []string {
		return join(
			"From: someone@example.com",
			"Subject: "+bword("x-unknown-charset", nil, "secret")+" "+bword("UTF-8", nil, "良い単語")+" tail",
			"X-Mixed: "+bword("UTF-8", nil, "前")+" "+bword("x-bogus", nil, "mid")+" "+bword("UTF-8", nil, "後"),
			"Content-Type: text/plain; charset=x-no-such-charset",
			"",
			"body in an unknown charset, still scanned",
			"",
		)
	}},
	{name: "multipart-rfc2231", lines: func() []string {
		isoName := enc(iso, "見積書")
		var pct strings.Builder
		for _, c := range []byte(isoName) {
			fmt.Fprintf(&pct, "%%%02X", c)
		}
		p := pct.String()
		return join(
			"From: a@example.jp",
			"To: b@example.jp",
			"Subject: attachments",
			"MIME-Version: 1.0",
			`Content-Type: multipart/mixed; boundary="==B1=="`,
			"",
			"This is a multi-part message in MIME format.",
			"--==B1==",
			"Content-Type: text/plain; charset=UTF-8",
			"Content-Transfer-Encoding: 8bit",
			"",
			"添付をご確認ください。",
			"--==B1==",
			"Content-Type: application/pdf",
			"Content-Disposition: attachment;",
			" filename*=UTF-8''%E8%AB%8B%E6%B1%82%E6%9B%B8%20%E7%AC%AC1%E5%9B%9E.pdf",
			"Content-Transfer-Encoding: base64",
			"",
			b64lines([]byte("%PDF-1.4 not really a pdf\n")),
			"--==B1==",
			"Content-Type: application/vnd.ms-excel; name=\""+bword("ISO-2022-JP", iso, "見積書")+".xls\"",
			"Content-Disposition: attachment;",
			" filename*0*=iso-2022-jp''"+p[:len(p)/2]+";",
			" filename*1*="+p[len(p)/2:]+";",
			" filename*2=\".xls\"",
			"Content-Transfer-Encoding: base64",
			"",
			b64lines([]byte("xls bytes")),
			"--==B1==",
			"Content-Type: application/octet-stream",
			"Content-Disposition: attachment",
			"",
			"nameless",
			"--==B1==--",
			"",
		)
	}},
	{name: "nested-multipart", lines: func() []string {
		return join(
			"From: a@example.com",
			"Subject: nested",
			"MIME-Version: 1.0",
			"Content-Type: multipart/mixed; boundary=outer",
			"",
			"--outer",
			"Content-Type: multipart/alternative; boundary=\"inner\"",
			"",
			"--inner",
			"Content-Type: text/plain; charset=utf-8",
			"Content-Transfer-Encoding: quoted-printable",
			"",
			qp([]byte("plain alternative: caf\xc3\xa9 = coffee")),
			"--inner",
			"Content-Type: text/html; charset=utf-8",
			"",
			"<p>html alternative</p>",
			"--inner--",
			"",
			"--outer",
			"Content-Type: image/png; name=dot.png",
			"Content-Disposition: inline; filename=\"dot.png\"",
			"Content-Transfer-Encoding: base64",
			"",
			b64lines([]byte("\x89PNG\r\n\x1a\n....")),
			"--outer",
			"Content-Type: message/rfc822",
			"Content-Disposition: attachment; filename=\"forwarded.eml\"",
			"",
			"From: c@example.org",
			"Subject: "+bword("UTF-8", nil, "転送"),
			"Content-Type: multipart/mixed; boundary=fwd",
			"",
			"--fwd",
			"Content-Type: text/plain",
			"",
			"forwarded text",
			"--fwd",
			"Content-Type: application/zip",
			"Content-Disposition: attachment; filename=invoice.zip",
			"Content-Transfer-Encoding: base64",
			"",
			b64lines([]byte("PK\x03\x04zip")),
			"--fwd--",
			"",
			"--outer--",
			"epilogue is ignored",
		)
	}},
	{name: "two-boundaries", lines: func() []string {
		return join(
			"From: attacker@example.com",
			"Subject: CVE-2024-28054",
			"MIME-Version: 1.0",
			`Content-Type: multipart/mixed; boundary="aaa"; boundary="bbb"`,
			"",
			"--aaa",
			"Content-Type: text/plain",
			"",
			"harmless",
			"--bbb",
			"Content-Type: application/x-msdownload; name=evil.exe",
			"Content-Disposition: attachment; filename=evil.exe",
			"Content-Transfer-Encoding: base64",
			"",
			"TVqQAAMAAAAEAAAA",
			"--bbb--",
			"--aaa--",
			"",
		)
	}},
	{name: "missing-close", lines: func() []string {
		return join(
			"From: a@example.com",
			"Subject: no end",
			"Content-Type: multipart/mixed; boundary=b",
			"",
			"--b",
			"Content-Type: text/plain",
			"",
			"first part",
			"--b",
			"Content-Type: text/plain",
			"",
			"last part without closing boundary; keyword: viagra",
			"",
		)
	}},
	{name: "depth-bomb", lines: func() []string {
		var l []string
		l = append(l, "From: a@example.com", "Subject: depth bomb", "Content-Type: multipart/mixed; boundary=b0", "")
		const depth = 50
		for i := 0; i < depth; i++ {
			l = append(l, fmt.Sprintf("--b%d", i))
			if i < depth-1 {
				l = append(l, fmt.Sprintf("Content-Type: multipart/mixed; boundary=b%d", i+1), "")
			} else {
				l = append(l, "Content-Type: text/plain", "", "deepest "+GTUBE)
			}
		}
		for i := depth - 1; i >= 0; i-- {
			l = append(l, fmt.Sprintf("--b%d--", i))
		}
		return l
	}},
	{name: "gtube-body", lines: func() []string {
		return join(
			"From: test@example.com",
			"Subject: Test spam mail (GTUBE)",
			"",
			"This is the GTUBE, the",
			"\tGeneric",
			"\tTest for",
			"\tUnsolicited",
			"\tBulk",
			"\tEmail",
			"",
			GTUBE,
			"",
		)
	}},
	{name: "gtube-base64", lines: func() []string {
		return join(
			"From: test@example.com",
			"Subject: GTUBE hidden in base64",
			"MIME-Version: 1.0",
			"Content-Type: multipart/mixed; boundary=X",
			"",
			"--X",
			"Content-Type: text/plain; charset=utf-8",
			"",
			"nothing to see",
			"--X",
			"Content-Type: text/plain; charset=utf-8; name=note.txt",
			"Content-Disposition: attachment; filename=note.txt",
			"Content-Transfer-Encoding: base64",
			"",
			b64lines([]byte("hidden:\r\n"+GTUBE+"\r\n")),
			"--X--",
			"",
		)
	}},
	{name: "bad-base64", lines: func() []string {
		return join(
			"From: a@example.com",
			"Subject: bad base64 then a good part",
			"Content-Type: multipart/mixed; boundary=Z",
			"",
			"--Z",
			"Content-Type: text/plain; charset=utf-8",
			"Content-Transfer-Encoding: base64",
			"",
			"aGVsbG8g!!d29y*bGQ=",
			"--Z",
			"Content-Type: text/plain; charset=utf-8",
			"Content-Transfer-Encoding: quoted-printable",
			"",
			"good part =E2=9C=93 and a bad =ZZ escape",
			"--Z--",
			"",
		)
	}},
	{name: "raw-8bit-headers", lines: func() []string {
		return join(
			"From: 山田 <yamada@example.jp>",
			"Subject: "+enc(iso, "生のISO-2022-JP件名"),
			"X-Raw-SJIS: "+enc(sj, "シフトJIS生"),
			"To: user@example.jp",
			"To: second@example.jp",
			"X-Nul: a\x00b",
			"",
			"body",
			"",
		)
	}},
	{name: "ambiguous-boundary-gtube", lines: func() []string {
		// CVE-2024-28054: a reader taking the first boundary sees one
		// harmless part, one taking the second the GTUBE text.
		return join(
			"From: attacker@example.com",
			"Subject: two boundaries",
			"MIME-Version: 1.0",
			`Content-Type: multipart/mixed; boundary="AAA"; boundary="BBB"`,
			"",
			"--AAA",
			"Content-Type: text/plain",
			"",
			"harmless",
			"--BBB",
			"Content-Type: text/plain; charset=utf-8",
			"Content-Transfer-Encoding: base64",
			"",
			b64lines([]byte("spam:\r\n"+GTUBE+"\r\n")),
			"--BBB--",
			"--AAA--",
			"",
		)
	}},
	{name: "bare-cr", cr: true, lines: func() []string {
		return join(
			"From: old-mac@example.com",
			"Subject: lines end in CR",
			"Content-Type: multipart/mixed; boundary=Z",
			"",
			"--Z",
			"Content-Type: text/plain",
			"",
			"first part",
			"--Z",
			"Content-Type: text/plain",
			"Content-Transfer-Encoding: base64",
			"",
			b64lines([]byte(GTUBE)),
			"--Z--",
			"",
		)
	}},
	{name: "western-8bit", lines: func() []string {
		return join(
			"From: Kari Sel\xe5sdal <kari@example.no>",
			"Subject: Gambler wins \xa37,000",
			"MIME-Version: 1.0",
			"Content-Type: multipart/mixed; boundary=W",
			"",
			"--W",
			"Content-Type: text/plain",
			"",
			"The world\x92s largest \x93jackpot\x94.",
			"--W",
			"Content-Type: text/plain; charset=iso-8859-1",
			"Content-Transfer-Encoding: quoted-printable",
			"",
			"Matrox Parhelia=99 =E9dition",
			"--W--",
			"",
		)
	}},
	{name: "korean-declared", lines: func() []string {
		return join(
			"From: "+bword("ks_c_5601-1987", kr, "김철수")+" <kim@example.kr>",
			"Subject: "+enc(kr, "회의 일정 안내"),
			"MIME-Version: 1.0",
			"Content-Type: text/plain; charset=ks_c_5601-1987",
			"Content-Transfer-Encoding: 8bit",
			"",
			enc(kr, "안녕하세요. 다음 주 회의 일정입니다."),
			"",
		)
	}},
	{name: "bad-header-line", lines: func() []string {
		return join(
			"  orphan continuation",
			"From: a@example.com",
			"Subject: header block broken by a line without colon",
			"this line has no colon",
			"X-After: looks like a header but is body",
			"",
			"real body",
			"",
		)
	}},
}

func (c corpusMsg) bytes() []byte {
	sep := "\r\n"
	switch {
	case c.lf:
		sep = "\n"
	case c.cr:
		sep = "\r"
	}
	return []byte(strings.Join(c.lines(), sep))
}
