package message

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

var (
	kr   = korean.EUCKR
	gb   = simplifiedchinese.GBK
	big5 = traditionalchinese.Big5
	w52  = charmap.Windows1252
	w54  = charmap.Windows1254
)

// TestCharsetsInMail decodes raw 8-bit text as a mail client shows it.
// Each message is written here; the bytes are what real mail carries.
func TestCharsetsInMail(t *testing.T) {
	type guess struct{ where, value, how string } // how: "elsewhere" or "fit"
	tests := []struct {
		name    string
		msg     string
		subject string
		from    string
		text    []string // substrings of Message.Text
		guesses []guess  // charset.guessed findings, exactly
	}{
		{name: "pound sign in a raw subject",
			msg:     "From: news@example.co.uk\r\nSubject: Gambler wins \xa37,000\r\n\r\nbody\r\n",
			subject: "Gambler wins £7,000",
			guesses: []guess{{"header:Subject", "windows-1252", "fit"}}},
		{name: "Norwegian name in a raw From",
			msg:     "From: Kari Sel\xe5sdal <kari@example.no>\r\nSubject: hei\r\n\r\nbody\r\n",
			from:    "Kari Selåsdal <kari@example.no>",
			guesses: []guess{{"header:From", "windows-1252", "fit"}}},
		{name: "Korean subject, ks_c_5601-1987 body",
			msg: "Subject: " + enc(kr, "회의 일정 안내") + "\r\nContent-Type: text/plain; charset=ks_c_5601-1987\r\n" +
				"Content-Transfer-Encoding: 8bit\r\n\r\n" + enc(kr, "안녕하세요. 다음 주 회의 일정입니다.") + "\r\n",
			subject: "회의 일정 안내",
			text:    []string{"안녕하세요. 다음 주 회의 일정입니다."},
			guesses: []guess{{"header:Subject", "euc-kr", "elsewhere"}}},
		{name: "Korean subject, euc-kr encoded word in From",
			msg:     "From: " + bword("euc-kr", kr, "김철수") + " <kim@example.kr>\r\nSubject: " + enc(kr, "감사합니다") + "\r\n\r\nbody\r\n",
			subject: "감사합니다", from: "김철수 <kim@example.kr>",
			guesses: []guess{{"header:Subject", "euc-kr", "elsewhere"}}},
		{name: "GB2312 part after the raw subject",
			msg: "Subject: " + enc(gb, "发票") + "\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
				"Content-Type: text/plain; charset=gb2312\r\n\r\n" + enc(gb, "请查收附件中的发票。") + "\r\n--b--\r\n",
			subject: "发票",
			text:    []string{"请查收附件中的发票。"},
			guesses: []guess{{"header:Subject", "gbk", "elsewhere"}}},
		{name: "Big5 labelled chinesebig5",
			msg: "Subject: " + enc(big5, "會議通知") + "\r\nContent-Type: text/plain; charset=\"chinesebig5\"\r\n\r\n" +
				enc(big5, "明天下午開會。") + "\r\n",
			subject: "會議通知",
			text:    []string{"明天下午開會。"},
			guesses: []guess{{"header:Subject", "big5", "elsewhere"}}},
		{name: "windows-1254 body, raw Turkish subject",
			msg: "Subject: " + enc(w54, "Güzel şehir İstanbul") + "\r\nContent-Type: text/plain; charset=windows-1254\r\n\r\n" +
				enc(w54, "Görüşmek üzere.") + "\r\n",
			subject: "Güzel şehir İstanbul",
			text:    []string{"Görüşmek üzere."},
			guesses: []guess{{"header:Subject", "windows-1254", "elsewhere"}}},
		{name: "iso-8859-1 read as windows-1252",
			msg: "Subject: =?iso-8859-1?Q?Matrox_Parhelia=99_review?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\n" +
				"Content-Transfer-Encoding: quoted-printable\r\n\r\nThe Parhelia=99 is =93fast=94.\r\n",
			subject: "Matrox Parhelia™ review",
			text:    []string{"The Parhelia™ is “fast”."}},
		{name: "latin1 and us-ascii labels",
			msg: "Subject: =?latin1?Q?caf=E9?= =?us-ascii?Q?=80?=\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" +
				"price \x8099\r\n",
			subject: "café€",
			text:    []string{"price €99"}},
		{name: "body without a charset",
			msg:     "Subject: x\r\nContent-Type: text/plain\r\n\r\nthe world\x92s largest \x93ocean\x94\r\n",
			subject: "x",
			text:    []string{"the world’s largest “ocean”"},
			guesses: []guess{{"body", "windows-1252", "fit"}}},
		{name: "part without a charset, charset declared in a later part",
			msg: "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" +
				enc(kr, "무료 상담") + "\r\n--b\r\nContent-Type: text/html; charset=euc-kr\r\n\r\n<p>" + enc(kr, "무료 상담") + "</p>\r\n--b--\r\n",
			text:    []string{"무료 상담\n<p>무료 상담</p>"},
			guesses: []guess{{"part:1", "euc-kr", "elsewhere"}}},
		{name: "unlabelled Shift_JIS body",
			msg:     "Subject: test\r\n\r\n" + enc(sj, "お世話になっております。ご請求書を送付いたします。") + "\r\n",
			subject: "test",
			text:    []string{"お世話になっております。ご請求書を送付いたします。"},
			guesses: []guess{{"body", "shift_jis", "fit"}}},
		{name: "unlabelled EUC-JP body",
			msg:     "Subject: test\r\n\r\n" + enc(euc, "明日の会議は十時からです。") + "\r\n",
			subject: "test",
			text:    []string{"明日の会議は十時からです。"},
			guesses: []guess{{"body", "euc-jp", "fit"}}},
		{name: "unlabelled ISO-2022-JP body is no guess",
			msg:     "Subject: test\r\n\r\n" + enc(iso, "よろしくお願いします。") + "\r\n",
			subject: "test",
			text:    []string{"よろしくお願いします。"}},
		{name: "raw Shift_JIS subject next to an iso-8859-1 part",
			msg:     "Subject: " + enc(sj, "ご請求書の送付") + "\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nInvoice attached.\r\n",
			subject: "ご請求書の送付",
			guesses: []guess{{"header:Subject", "shift_jis", "fit"}}},
		{name: "raw Shift_JIS file name",
			msg: "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=shift_jis\r\n\r\n" +
				enc(sj, "添付します") + "\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"" +
				enc(sj, "見積書") + ".pdf\"\r\n\r\n%PDF\r\n--b--\r\n",
			text:    []string{"添付します"},
			guesses: []guess{{"part:2/header:Content-Disposition", "shift_jis", "elsewhere"}}},
		{name: "unknown charset",
			msg:     "Subject: x\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nna\xefve\r\n",
			subject: "x",
			text:    []string{"naïve"},
			guesses: []guess{{"body", "windows-1252", "fit"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ParseBytes([]byte(tt.msg), DefaultLimits())
			if tt.subject != "" && m.Subject != tt.subject {
				t.Errorf("Subject %q; want %q", m.Subject, tt.subject)
			}
			if tt.from != "" && m.From != tt.from {
				t.Errorf("From %q; want %q", m.From, tt.from)
			}
			for _, s := range tt.text {
				if !strings.Contains(m.Text, s) {
					t.Errorf("Text %q lacks %q", m.Text, s)
				}
			}
			if strings.ContainsAny(m.Text+m.Subject, "\u0080\u0099\u0092\u0093\u0094\uFFFD") {
				t.Errorf("C1 control or U+FFFD in %q / %q", m.Subject, m.Text)
			}
			var got []guess
			for _, f := range findings(m, FindingCharsetGuessed) {
				how := "fit"
				if strings.Contains(f.Reason, "declared elsewhere") {
					how = "elsewhere"
				}
				got = append(got, guess{f.Where, f.Value, how})
			}
			if len(got) != len(tt.guesses) {
				t.Fatalf("guesses %+v; want %+v", got, tt.guesses)
			}
			for i := range got {
				if got[i] != tt.guesses[i] {
					t.Errorf("guess %d: %+v; want %+v", i, got[i], tt.guesses[i])
				}
			}
		})
	}
}

func TestTagSubjectLatin1(t *testing.T) {
	got, ok := TagSubject("=?iso-8859-1?Q?Parhelia=99_review?=", "[SPAM]")
	dec, _ := DecodeHeader(got)
	if !ok || dec != "[SPAM] Parhelia™ review" {
		t.Errorf("TagSubject = %q (%q), %v", got, dec, ok)
	}
}

// TestDetect weighs text of every language this filter sees, encoded in
// its usual charsets, without any hint.
func TestDetect(t *testing.T) {
	tests := []struct {
		e    encoding.Encoding
		s    string
		want string
	}{
		{sj, "会議の件について", "shift_jis"},
		{sj, "会議", "shift_jis"},
		{sj, "株式会社", "shift_jis"},
		{sj, "表示・ソフト・能力", "shift_jis"},
		{sj, "Re: 見積書", "shift_jis"},
		{sj, "PDFファイルを送ります", "shift_jis"},
		{sj, "2025年6月2日", "shift_jis"},
		{sj, "①②㈱ 髙﨑", "shift_jis"},
		{sj, "ｱﾝｹｰﾄ", "shift_jis"},
		{sj, "〒100-0001 東京都千代田区", "shift_jis"},
		{euc, "会議の件について", "euc-jp"},
		{euc, "会議", "euc-jp"},
		{euc, "株式会社日本電気", "euc-jp"},
		{euc, "こんにちは", "euc-jp"},
		{euc, "【重要】お知らせ", "euc-jp"},
		{kr, "안녕하세요", "euc-kr"},
		{kr, "회의 일정 안내", "euc-kr"},
		{kr, "[광고] 무료 상담", "euc-kr"},
		{gb, "你好，世界", "gbk"},
		{gb, "我们的产品", "gbk"},
		{big5, "中文郵件測試", "big5"},
		{big5, "我們的產品", "big5"},
		{w52, "Gambler wins £7,000", "windows-1252"},
		{w52, "Selåsdal", "windows-1252"},
		{w52, "world’s largest", "windows-1252"},
		{w52, "Café crème brûlée", "windows-1252"},
		{w52, "Grüße aus München", "windows-1252"},
		{w52, "“Quoted” – dash…", "windows-1252"},
		{w52, "Škoda Octavia", "windows-1252"},
		{w52, "Price: €99", "windows-1252"},
		{w52, "España año", "windows-1252"},
		{w52, "Ærø Øst", "windows-1252"},
		{w52, "© 2024 Acme®", "windows-1252"},
		{w52, "Smörgåsbord", "windows-1252"},
		{w52, "é", "windows-1252"},
	}
	for _, tt := range tests {
		b := []byte(enc(tt.e, tt.s))
		got, name, k, _ := (*Decoder)(nil).decodeText(b, false)
		if name != tt.want || got != tt.s || k != guessDetect {
			t.Errorf("%q: decoded as %s (%d) to %q; want %s", tt.s, name, k, got, tt.want)
		}
	}
}

func TestDecoderHints(t *testing.T) {
	var d Decoder
	d.Declare("Subject", "=?ks_c_5601-1987?B?"+"x"+"?= plain")
	d.Declare("Content-Type", `multipart/mixed; boundary="charset=utf-8"`)
	d.Declare("Content-Type", `text/plain; CHARSET="Big5"`)
	d.Declare("X-Other", "charset=gb2312")
	var names []string
	for _, h := range d.hints {
		names = append(names, h.name)
	}
	if strings.Join(names, ",") != "euc-kr,big5" {
		t.Errorf("hints %q; want euc-kr,big5", names)
	}
	for _, tt := range []struct{ in, want string }{
		{enc(kr, "안녕"), "안녕"},
		{enc(big5, "你好"), "你好"},
		{"Gambler wins \xa37,000", "Gambler wins £7,000"},
		{enc(sj, "ご請求書の送付"), "ご請求書の送付"},
	} {
		if got, ok := d.Decode(tt.in); got != tt.want || ok {
			t.Errorf("Decode(%q) = %q, %v; want %q, false", tt.in, got, ok, tt.want)
		}
	}
	// Bounded: a header with thousands of labels.
	var e Decoder
	e.Declare("Subject", strings.Repeat("=?x-a?q?a?= ", 10000)+"=?euc-kr?q?a?=")
	if len(e.hints) != 0 || e.declared != maxDeclared {
		t.Errorf("%d hints after %d labels", len(e.hints), e.declared)
	}
}

func TestLookupCharset(t *testing.T) {
	tests := []struct{ label, want string }{
		{"iso-8859-1", "windows-1252"}, {"ISO_8859-1", "windows-1252"}, {"latin1", "windows-1252"}, {"us-ascii", "windows-1252"},
		{"ks_c_5601-1987", "euc-kr"}, {"cp949", "euc-kr"}, {"gb2312", "gbk"}, {"chinesebig5", "big5"}, {"x-sjis", "shift_jis"},
		{"cp932", "shift_jis"}, {"\"UTF-8\"", "utf-8"}, {"iso-2022-jp*ja", "iso-2022-jp"}, {"windows-1254", "windows-1254"},
		{"iso-2022-kr", ""}, {"x-no-such", ""}, {"", ""},
	}
	for _, tt := range tests {
		_, name, ok := lookupCharset(tt.label)
		if name != tt.want || ok != (tt.want != "") {
			t.Errorf("lookupCharset(%q) = %q, %v; want %q", tt.label, name, ok, tt.want)
		}
	}
}

func FuzzDetect(f *testing.F) {
	for _, s := range []string{"Gambler wins \xa37,000", "Sel\xe5sdal", "world\x92s", "\x89\xef\x8b\x63", "\xb2\xf1\xb5\xc4",
		enc(kr, "안녕"), enc(gb, "你好"), enc(big5, "你好"), "\x81\x30\x81\x30", "\xe3\x81", "\x8e", "\x8f\xa1", "a\x82"} {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "euc-kr")
	}
	f.Add([]byte("\x1b$B$\"\x1b(B"), "iso-2022-jp")
	f.Fuzz(func(t *testing.T, b []byte, label string) {
		var d Decoder
		d.DeclareCharset(label)
		d.Declare("Content-Type", "text/plain; charset="+label)
		for _, cut := range []bool{false, true} {
			s, name, _, _ := d.decodeText(b, cut)
			if !utf8.ValidString(s) || name == "" {
				t.Fatalf("decodeText(%q) = %q, %q", b, s, name)
			}
		}
		for i := range cjkCandidates {
			c := &cjkCandidates[i]
			c.score(b, c.freq())
		}
		scoreWestern(b)
		scoreUTF8(b)
		if s, _ := d.Decode(string(b)); !utf8.ValidString(s) {
			t.Fatalf("Decode(%q) = %q", b, s)
		}
	})
}
