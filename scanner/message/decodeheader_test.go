package message

import (
	"encoding/base64"
	"testing"
	"unicode/utf8"
)

func TestDecodeHeader(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	nichi := "日" // E6 97 A5
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"ascii", "Hello world", "Hello world", true},
		{"empty", "", "", true},
		{"utf8 B", "=?UTF-8?B?" + b64("日本語") + "?=", "日本語", true},
		{"lower-case b", "=?utf-8?b?" + b64("日本語") + "?=", "日本語", true},
		{"Q latin1", "=?iso-8859-1?q?caf=E9_au_lait?=", "café au lait", true},
		{"Q bad escape kept", "=?utf-8?Q?100=ZZ?=", "100=ZZ", true},
		{"space between words dropped", "=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab", true},
		{"folded space between words dropped", "=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=", "ab", true},
		{"space before text kept", "=?UTF-8?Q?a?= b", "a b", true},
		{"space after text kept", "a =?UTF-8?Q?b?=", "a b", true},
		{"multibyte split across words",
			"=?UTF-8?B?" + b64(nichi[:2]) + "?= =?UTF-8?B?" + b64(nichi[2:]) + "?=", "日", true},
		{"iso-2022-jp", "=?ISO-2022-JP?B?GyRCMnE1RCRON28bKEI=?=", "会議の件", true},
		{"iso-2022-jp language suffix", "=?ISO-2022-JP*ja?B?GyRCMnE1RCRON28bKEI=?=", "会議の件", true},
		{"shift_jis", "=?Shift_JIS?B?grKQv4uBj5E=?=", "ご請求書", true},
		{"cp932", "=?cp932?B?h0CHQQ==?=", "①②", true},
		{"windows-31j", "=?windows-31j?B?h0CHQQ==?=", "①②", true},
		{"ms932", "=?MS932?B?h0CHQQ==?=", "①②", true},
		{"x-sjis", "=?x-sjis?B?h0CHQQ==?=", "①②", true},
		{"euc-jp", "=?EUC-JP?B?xvzL3A==?=", "日本", true},
		{"iso-8859-15", "=?ISO-8859-15?Q?=A4?=", "€", true},
		{"windows-1252", "=?windows-1252?Q?=80?=", "€", true},
		{"gb2312", "=?GB2312?B?1tDOxA==?=", "中文", true},
		{"unknown charset next to good word",
			"=?x-unknown?B?" + b64("secret") + "?= =?UTF-8?B?" + b64("良い") + "?=",
			"=?x-unknown?B?" + b64("secret") + "?= 良い", false},
		{"good, unknown, good",
			"=?UTF-8?Q?A?= =?x-bad?Q?B?= =?UTF-8?Q?C?=", "A =?x-bad?Q?B?= C", false},
		{"bad base64 word kept, rest decoded",
			"=?UTF-8?B?!!!!?= =?UTF-8?B?" + b64("ok") + "?=", "=?UTF-8?B?!!!!?= ok", false},
		{"missing padding tolerated", "=?UTF-8?B?5pel5pys?=", "日本", true},
		{"missing padding tolerated 2", "=?UTF-8?B?" + "44GC" + "?=", "あ", true},
		{"raw utf-8", "会議 meeting", "会議 meeting", true},
		{"raw iso-2022-jp", "\x1b$B2q5D\x1b(B meeting", "会議 meeting", true},
		{"raw shift_jis guessed", "\x89\xef\x8b\x63", "会議", false},
		{"raw euc-jp guessed", "\xb2\xf1\xb5\xc4", "会議", false},
		{"glued to text", "abc=?UTF-8?B?" + b64("日") + "?=def", "abc日def", true},
		{"inside quotes", `"=?UTF-8?B?` + b64("山田") + `?=" <y@example.jp>`, `"山田" <y@example.jp>`, true},
		{"not an encoded word", "=?utf-8?x?abc?=", "=?utf-8?x?abc?=", true},
		{"unterminated", "=?utf-8?B?abc", "=?utf-8?B?abc", true},
		{"lone =?", "a =? b", "a =? b", true},
		{"unfold", "a\r\n b\n\tc", "a b\tc", true},
		{"invalid utf-8 in utf-8 word", "=?UTF-8?Q?=FF?=", "\uFFFD", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := DecodeHeader(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("DecodeHeader(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
			if !utf8.ValidString(got) {
				t.Errorf("DecodeHeader(%q) = %q: not valid UTF-8", tt.in, got)
			}
		})
	}
}

func TestParseMediaHeader(t *testing.T) {
	tests := []struct {
		in, param, want string
		forms           int
	}{
		{`text/plain; charset="utf-8"`, "charset", "utf-8", 1},
		{`text/plain; charset=utf-8 (comment)`, "charset", "utf-8", 1},
		{`attachment; filename="a \"b\".txt"`, "filename", `a "b".txt`, 1},
		{`attachment; filename=my file.pdf`, "filename", "my file.pdf", 1},
		{`attachment; filename*=UTF-8''%E6%97%A5.txt`, "filename", "日.txt", 1},
		{`attachment; filename*=utf-8'ja'%E6%97%A5.txt`, "filename", "日.txt", 1},
		{`attachment; filename*=iso-2022-jp''%1B%24B2q5D%1B%28B.doc`, "filename", "会議.doc", 1},
		{`attachment; filename*=shift_jis''%89%EF%8B%63.doc`, "filename", "会議.doc", 1},
		{`attachment; filename*0="abc"; filename*1="def.txt"`, "filename", "abcdef.txt", 1},
		{`attachment; filename*1="def.txt"; filename*0="abc"`, "filename", "abcdef.txt", 1},
		{`attachment; filename*0*=UTF-8''%E6%97; filename*1*=%A5.txt`, "filename", "日.txt", 1},
		{`attachment; filename="=?UTF-8?B?5pel?=.txt"`, "filename", "日.txt", 1},
		{`attachment; filename=fallback.txt; filename*=UTF-8''%E6%97%A5.txt`, "filename", "日.txt", 2},
		{`multipart/mixed; boundary="a"; boundary="b"`, "boundary", "a", 2},
		{`multipart/mixed; BOUNDARY=a; boundary*=b`, "boundary", "b", 2},
	}
	for _, tt := range tests {
		h := parseMediaHeader(tt.in)
		got, _ := h.text(tt.param)
		if got != tt.want {
			t.Errorf("parseMediaHeader(%q).text(%q) = %q; want %q", tt.in, tt.param, got, tt.want)
		}
		if p := h.params[tt.param]; p == nil || p.forms() != tt.forms {
			t.Errorf("parseMediaHeader(%q): %q forms = %v; want %d", tt.in, tt.param, p, tt.forms)
		}
	}
}
