package attachment

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPasswords(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want []string
	}{
		{"english", "Hi,\nthe password is abc123. Thanks", []string{"abc123", "abc123."}},
		{"colon", "Password: Tr0ub4dor&3\n", []string{"Tr0ub4dor&3"}},
		{"japanese full-width colon", "パスワード：abc123", []string{"abc123"}},
		{"japanese は", "解凍パスワードは xyz789 です。", []string{"xyz789"}},
		{"japanese sentence", "パスワードは別途お送りします。", nil},
		{"full-width letters", "ＰＷ：ａｂｃ１２３", []string{"abc123"}},
		{"next line", "The password:\n\n  s3cret\nregards", []string{"s3cret"}},
		{"next line, CRLF", "Password:\r\nabc123\r\n", []string{"abc123"}},
		{"word at line end", "パスワード\nqwerty1", []string{"qwerty1"}},
		{"quoted", `use the password "open sesame" to open it`, []string{"open sesame"}},
		{"japanese quotes", "暗証番号「4321」", []string{"4321"}},
		{"qualifier", "Password for the zip file: zz-top", []string{"zz-top"}},
		{"pw short form", "PW=hunter2", []string{"hunter2"}},
		{"german", "Kennwort: geheim42", []string{"geheim42"}},
		{"french", "Le mot de passe est: soleil7", []string{"soleil7"}},
		{"spanish", "Contraseña: luna8", []string{"luna8"}},
		{"not a word", "a bypass road, the passage: none", nil},
		{"no separator", "this zip is password protected", nil},
		{"html", "<p>Password: <b>abc123</b></p>", []string{"abc123"}},
		{"url is no separator", "see pass https://example.com/x", nil},
		{"several", "pw: one1\npw: two2\npw: one1", []string{"one1", "two2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Passwords([]string{tc.text}, 10); !slices.Equal(got, tc.want) {
				t.Errorf("Passwords(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
	if got := Passwords([]string{"pw: a1\npw: b2\npw: c3"}, 2); !slices.Equal(got, []string{"a1", "b2"}) {
		t.Errorf("capped at 2: %q", got)
	}
	if got := Passwords([]string{"pw: a1"}, 0); got != nil {
		t.Errorf("capped at 0: %q", got)
	}
}

func FuzzPasswords(f *testing.F) {
	f.Add("the password is abc123.")
	f.Add("パスワード：「ａｂｃ」\n次")
	f.Add("pw:\n\n")
	f.Add("<p>Password</p><p>x</p>")
	f.Fuzz(func(t *testing.T, s string) {
		got := Passwords([]string{s}, 5)
		if len(got) > 5 {
			t.Fatalf("%d candidates", len(got))
		}
		for _, c := range got {
			if c == "" || len(c) > maxPasswordLen {
				t.Fatalf("candidate %q", c)
			}
		}
	})
}

// archiveFixture is one of scanner/archive's fixtures (made by zip and
// 7zz, password "abc123"; see its testdata/README.md).
func archiveFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "scanner", "archive", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// msgText is msg with body text.
func msgText(text string, atts ...att) []byte {
	m := string(msg(atts...))
	body := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte(text))
	return []byte(strings.Replace(m, "Content-Type: text/plain\r\n\r\nsee attached", body, 1))
}

func TestAttachmentPasswords(t *testing.T) {
	opened := func(name string, members ...string) []string {
		out := []string{"archive.format " + strings.TrimPrefix(filepath.Ext(name), ".") + " @" + name}
		out = append(out, members...)
		return append(out, "archive.password_opened "+name+" @"+name)
	}
	zipExe := []string{"attachment.encrypted zip @s.zip/invoice.exe", "attachment.executable pe @s.zip/invoice.exe", "attachment.encrypted zip @s.zip/readme.txt"}
	notOpened := []string{"archive.format zip @s.zip",
		"attachment.executable extension:exe @s.zip/invoice.exe", "attachment.encrypted zip @s.zip/invoice.exe", "attachment.encrypted zip @s.zip/readme.txt",
		"scan.exclusion archive.encrypted @s.zip/invoice.exe", "scan.exclusion archive.encrypted @s.zip/readme.txt"}
	tries := func(n int) Config { c := Defaults(); c.PasswordTries = n; return c }
	for _, tc := range []struct {
		name    string
		cfg     Config
		text    string
		fixture string
		file    string
		want    []string
	}{
		{"english, zipcrypto", Defaults(), "Hello,\nthe password is abc123.\n", "zipcrypto.zip", "s.zip", opened("s.zip", zipExe...)},
		{"japanese, aes-256", Defaults(), "お世話になります。\nパスワード：abc123\n", "aes256.zip", "s.zip", opened("s.zip", zipExe...)},
		{"next line, aes-128", Defaults(), "Password:\nabc123\n", "aes128.zip", "s.zip", opened("s.zip", zipExe[:2]...)},
		{"full-width", Defaults(), "ＰＷ：ａｂｃ１２３", "zipcrypto.zip", "s.zip", opened("s.zip", zipExe...)},
		{"wrong password", Defaults(), "password: abc124", "zipcrypto.zip", "s.zip", notOpened},
		{"no password in the text", Defaults(), "see attached", "zipcrypto.zip", "s.zip", notOpened},
		{"tries spent", tries(1), "pw: nope1\npw: abc123", "zipcrypto.zip", "s.zip", notOpened},
		{"trying disabled", tries(0), "pw: abc123", "zipcrypto.zip", "s.zip", notOpened},
		{"nested zip with an exe", Defaults(), "pw: abc123", "nested.zip", "s.zip", opened("s.zip",
			"attachment.encrypted zip @s.zip/inner.zip", "archive.format zip @s.zip/inner.zip", "archive.nested 1 @s.zip/inner.zip",
			"attachment.executable pe @s.zip/inner.zip/payload.exe")},
		{"7z with its file list encrypted", Defaults(), "password: abc123", "encrypted-header.7z", "s.7z", opened("s.7z",
			"attachment.encrypted 7z @s.7z/invoice.exe", "attachment.executable pe @s.7z/invoice.exe", "attachment.encrypted 7z @s.7z/readme.txt")},
		{"7z with its file list encrypted, no password", Defaults(), "hi", "encrypted-header.7z", "s.7z",
			[]string{"archive.format 7z @s.7z", "attachment.encrypted 7z @s.7z", "scan.exclusion archive.encrypted @s.7z"}},
		{"7z", Defaults(), "hi", "plain.7z", "s.7z", []string{"archive.format 7z @s.7z", "attachment.executable pe @s.7z/invoice.exe"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := brief(run(t, tc.cfg, msgText(tc.text, named(tc.file, "application/octet-stream", archiveFixture(t, tc.fixture)))), false)
			if !slices.Equal(got, tc.want) {
				t.Errorf("findings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestPasswordNotReported checks that no finding carries the password.
func TestPasswordNotReported(t *testing.T) {
	for _, f := range run(t, Defaults(), msgText("pw: abc123", named("s.zip", "application/zip", archiveFixture(t, "zipcrypto.zip")))) {
		if strings.Contains(f.Value+f.Reason+f.Where, "abc123") {
			t.Errorf("finding %+v shows the password", f)
		}
	}
}

// BenchmarkPasswords is the search on 1 MB of text that is all password
// words, the worst case: it must stay linear.
func BenchmarkPasswords(b *testing.B) {
	text := strings.Repeat("pw pass パスワード password ", 1<<20/36)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Passwords([]string{text}, 10)
	}
}
