package message

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

func TestUTF7Decode(t *testing.T) {
	tests := []struct{ in, want string }{
		// RFC 2152 section "Examples".
		{"A+ImIDkQ.", "A\u2262\u0391."},
		{"Hi Mom -+Jjo--!", "Hi Mom -\u263A-!"},
		{"+ZeVnLIqe-", "日本語"},
		{"Item 3 is +AKM-1.", "Item 3 is £1."},
		// "+-" is "+"; a "-" after a run is absorbed, only one.
		{"1 +- 1 = 2", "1 + 1 = 2"},
		{"+AGEAYgBj--", "abc-"},
		{"+AGEAYgBj", "abc"}, // a run may end at the end of the text
		{"+AGE.", "a."},
		// A surrogate pair: U+1F600.
		{"+2D3eAA-", "\U0001F600"},
		{"Gr+APw-+AN8-e", "Grüße"},
		// Lenient: "+" that starts no run is kept.
		{"a + b", "a + b"},
		{"C+", "C+"},
		// Ill-formed: 8-bit bytes, an unpaired surrogate, bits left over.
		{"caf\xe9", "caf\uFFFD"},
		{"+2D0-x", "\uFFFDx"},
		{"+3gA-x", "\uFFFDx"},
		{"+2D0AYQ-", "\uFFFDa"},
		{"+AGEA-", "a\uFFFD"}, // 12 bits left over
		{"+AGF-", "a\uFFFD"},  // non-zero padding
		{"", ""},
	}
	for _, tt := range tests {
		got, err := UTF7.NewDecoder().String(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("decode %q = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		// Byte by byte through a reader, as go-message reads a body: the
		// state carries over every split.
		r := transform.NewReader(&oneByte{s: tt.in}, UTF7.NewDecoder())
		var b bytes.Buffer
		if _, err := b.ReadFrom(r); err != nil || b.String() != tt.want {
			t.Errorf("streamed %q = %q, %v; want %q", tt.in, b.String(), err, tt.want)
		}
	}
}

// oneByte reads one byte at a time.
type oneByte struct{ s string }

func (o *oneByte) Read(p []byte) (int, error) {
	if o.s == "" {
		return 0, errEOF
	}
	p[0] = o.s[0]
	o.s = o.s[1:]
	return 1, nil
}

var errEOF = func() error { _, err := strings.NewReader("").Read(nil); return err }()

func TestUTF7Encode(t *testing.T) {
	for _, s := range []string{"Hi Mom -☺-!", "1 + 1", "日本語のメール", "\U0001F600 ok", "Item 3 is £1.", "a-b+c"} {
		e, err := UTF7.NewEncoder().String(s)
		if err != nil || !isPlain7bitString(e) {
			t.Fatalf("encode %q = %q, %v", s, e, err)
		}
		d, err := UTF7.NewDecoder().String(e)
		if err != nil || d != s {
			t.Errorf("round trip %q -> %q -> %q, %v", s, e, d, err)
		}
	}
	if e, _ := UTF7.NewEncoder().String("Hi Mom -☺-!"); e != "Hi Mom -+Jjo--+ACE-" {
		t.Errorf("encode = %q", e)
	}
}

// TestUTF7InMail decodes UTF-7 where mail has it: encoded words in both
// encodings and a text body, quoted-printable or not.
func TestUTF7InMail(t *testing.T) {
	msg := "From: =?UTF-7?Q?+ZeVnLIqe-?= <a@example.jp>\r\n" +
		"Subject: =?utf-7?B?" + b64("Free +ZeVnLIqe- offer") + "?= =?UTF-7?Q?_+AKM-1?=\r\n" +
		"Content-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=UTF-7\r\n\r\nWin a +AKM-1000 prize +- more: +ZeVnLIqe-\r\n" +
		"--b\r\nContent-Type: text/html; charset=\"unicode-1-1-utf-7\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"<p>Gr+APw-+AN8-e</p>=\r\n\r\n--b--\r\n"
	m := ParseBytes([]byte(msg), DefaultLimits())
	if m.Subject != "Free 日本語 offer £1" {
		t.Errorf("Subject %q", m.Subject)
	}
	if m.From != "日本語 <a@example.jp>" {
		t.Errorf("From %q", m.From)
	}
	for _, s := range []string{"Win a £1000 prize + more: 日本語", "<p>Grüße</p>"} {
		if !strings.Contains(m.Text, s) {
			t.Errorf("Text %q lacks %q", m.Text, s)
		}
	}
	if fs := findings(m, FindingMalformed); len(fs) != 0 {
		t.Errorf("malformed: %+v", fs)
	}
	if _, name, ok := lookupCharset("UTF-7"); !ok || name != "utf-7" {
		t.Errorf("lookupCharset(UTF-7) = %q, %v", name, ok)
	}
}

// TestDeclaredCharsets decodes each charset the issue names, declared in
// an encoded word and as a body's charset parameter.
func TestDeclaredCharsets(t *testing.T) {
	tests := []struct {
		label string
		e     encoding.Encoding
		text  string
	}{
		{"ISO-2022-JP", japanese.ISO2022JP, "お見積りの件"},
		{"ISO-2022-JP-2", japanese.ISO2022JP, "お見積りの件"},
		{"Shift_JIS", japanese.ShiftJIS, "ご請求書①㈱"},
		{"CP932", japanese.ShiftJIS, "髙﨑様 ①"},
		{"windows-31j", japanese.ShiftJIS, "ｱﾝｹｰﾄ"},
		{"EUC-JP", japanese.EUCJP, "明日の会議"},
		{"GB18030", simplifiedchinese.GB18030, "发票 €"},
		{"GB2312", simplifiedchinese.GBK, "发票"},
		{"Big5", big5, "會議通知"},
		{"KOI8-R", charmap.KOI8R, "Привет, мир"},
		{"KOI8-U", charmap.KOI8U, "Ґанок"},
		{"windows-1251", charmap.Windows1251, "Счёт на оплату"},
		{"windows-1250", charmap.Windows1250, "Zażółć gęślą"},
		{"windows-1253", charmap.Windows1253, "Καλημέρα"},
		{"windows-1255", charmap.Windows1255, "שלום"},
		{"windows-1256", charmap.Windows1256, "مرحبا"},
		{"windows-874", charmap.Windows874, "สวัสดี"},
		{"UTF-7", UTF7, "Grüße 日本"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			raw := enc(tt.e, tt.text)
			msg := "Subject: =?" + tt.label + "?B?" + b64(raw) + "?=\r\nContent-Type: text/plain; charset=" + tt.label +
				"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + raw + "\r\n"
			m := ParseBytes([]byte(msg), DefaultLimits())
			if m.Subject != tt.text {
				t.Errorf("Subject %q; want %q", m.Subject, tt.text)
			}
			if strings.TrimSpace(m.Text) != tt.text {
				t.Errorf("Text %q; want %q", m.Text, tt.text)
			}
			if fs := append(findings(m, FindingMalformed), findings(m, FindingCharsetGuessed)...); len(fs) != 0 {
				t.Errorf("findings %+v", fs)
			}
		})
	}
	// ISO-2022-JP-2 designations that ISO-2022-JP lacks (here GB 2312)
	// lose only their own characters.
	m := ParseBytes([]byte("Content-Type: text/plain; charset=iso-2022-jp-2\r\n\r\n"+
		enc(japanese.ISO2022JP, "日本")+"\x1b$A<x\x1b(B and "+enc(japanese.ISO2022JP, "語")+"\r\n"), DefaultLimits())
	if !strings.Contains(m.Text, "日本") || !strings.Contains(m.Text, "語") {
		t.Errorf("ISO-2022-JP-2 text %q", m.Text)
	}
}

func FuzzUTF7(f *testing.F) {
	for _, s := range []string{"A+ImIDkQ.", "Hi Mom -+Jjo--!", "+ZeVnLIqe-", "+2D3eAA-", "+-", "+", "+AGF-", "+2D0-", "\xff+A"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UTF7.NewDecoder().Bytes(b)
		if err != nil || !utf8.Valid(s) {
			t.Fatalf("decode %q = %q, %v", b, s, err)
		}
		if len(s) > 3*len(b)+3 {
			t.Fatalf("decode %q grew to %d bytes", b, len(s))
		}
		// What the encoder writes decodes back.
		e, err := UTF7.NewEncoder().Bytes(s)
		if err != nil || !isPlain7bit(e) {
			t.Fatalf("encode %q = %q, %v", s, e, err)
		}
		if d, err := UTF7.NewDecoder().Bytes(e); err != nil || !bytes.Equal(d, s) {
			t.Fatalf("round trip %q -> %q -> %q, %v", s, e, d, err)
		}
	})
}
