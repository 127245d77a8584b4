package dlp

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// luhnComplete appends the Luhn check digit to the digit string p.
func luhnComplete(p string) string {
	for c := '0'; c <= '9'; c++ {
		if Luhn(p + string(c)) {
			return p + string(c)
		}
	}
	panic("unreachable")
}

// genCard returns a valid number of length n with prefix p.
func genCard(r *rand.Rand, p string, n int) string {
	for len(p) < n-1 {
		p += strconv.Itoa(r.IntN(10))
	}
	return luhnComplete(p)
}

func TestLuhn(t *testing.T) {
	for _, tc := range []struct {
		d    string
		want bool
	}{
		{"4111111111111111", true},
		{"4111111111111112", false},
		{"79927398713", true},
		{"79927398710", false},
		{"0", true},
		{"", false},
		{"4111x11111111111", false},
	} {
		if got := Luhn(tc.d); got != tc.want {
			t.Errorf("Luhn(%q) = %v, want %v", tc.d, got, tc.want)
		}
	}
}

func TestCardBrand(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		prefix string
		n      int
		want   string
	}{
		{"4", 16, "visa"}, {"4", 13, "visa"}, {"4", 19, "visa"},
		{"51", 16, "mastercard"}, {"55", 16, "mastercard"}, {"2221", 16, "mastercard"}, {"2720", 16, "mastercard"},
		{"34", 15, "amex"}, {"37", 15, "amex"},
		{"6011", 16, "discover"}, {"644", 16, "discover"}, {"65", 19, "discover"}, {"622126", 16, "discover"},
		{"3528", 16, "jcb"}, {"3589", 19, "jcb"},
		{"300", 14, "diners"}, {"3095", 14, "diners"}, {"36", 14, "diners"}, {"38", 16, "diners"},
		{"62", 16, "unionpay"}, {"6212", 19, "unionpay"},
		// Outside every range or length.
		{"4", 15, ""}, {"51", 15, ""}, {"56", 16, ""}, {"2220", 16, ""}, {"2721", 16, ""},
		{"34", 16, ""}, {"3527", 16, ""}, {"3590", 16, ""}, {"306", 14, ""}, {"1", 16, ""}, {"9", 16, ""}, {"0", 16, ""},
	} {
		d := genCard(r, tc.prefix, tc.n)
		if got := CardBrand(d); got != tc.want {
			t.Errorf("CardBrand(%s) = %q, want %q", d, got, tc.want)
		}
		if got := ValidCard(d); got != (tc.want != "") {
			t.Errorf("ValidCard(%s) = %v", d, got)
		}
		// The same number with a wrong check digit is never valid.
		bad := d[:len(d)-1] + strconv.Itoa((int(d[len(d)-1]-'0')+1)%10)
		if ValidCard(bad) {
			t.Errorf("ValidCard(%s) with a wrong check digit", bad)
		}
	}
	// Published test numbers.
	for _, d := range []string{"4111111111111111", "5555555555554444", "2223003122003222", "378282246310005",
		"6011111111111117", "3530111333300000", "30569309025904", "6200000000000005", "4012888888881881"} {
		if !ValidCard(d) {
			t.Errorf("test card %s not valid", d)
		}
	}
}

func TestMyNumber(t *testing.T) {
	for _, tc := range []struct {
		d    string
		want bool
	}{
		{"123456789018", true},
		{"123456789017", false},
		{"123456789019", false},
		{"000000000000", true}, // remainder 0: check digit 0
		{"12345678901", false},
		{"1234567890180", false},
		{"12345678901a", false},
	} {
		if got := ValidMyNumber(tc.d); got != tc.want {
			t.Errorf("ValidMyNumber(%q) = %v, want %v", tc.d, got, tc.want)
		}
	}
	// Exactly one check digit fits each base.
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		base := ""
		for range 11 {
			base += strconv.Itoa(r.IntN(10))
		}
		n := 0
		for c := '0'; c <= '9'; c++ {
			if ValidMyNumber(base + string(c)) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s: %d check digits fit", base, n)
		}
	}
}

func TestCorporateNumber(t *testing.T) {
	for _, tc := range []struct {
		d    string
		want bool
	}{
		{"7000012050002", true}, // the National Tax Agency
		{"8000012050002", false},
		{"700001205000", false},
		{"70000120500021", false},
		{"700001205000x", false},
	} {
		if got := ValidCorporateNumber(tc.d); got != tc.want {
			t.Errorf("ValidCorporateNumber(%q) = %v, want %v", tc.d, got, tc.want)
		}
	}
}

func TestIBAN(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"DE89370400440532013000", true},
		{"GB82WEST12345698765432", true},
		{"FR1420041010050500013M02606", true},
		{"NL91ABNA0417164300", true},
		{"NO9386011117947", true},
		{"DE89370400440532013001", false}, // mod 97
		{"DE8937040044053201300", false},  // length
		{"XX89370400440532013000", false}, // country
		{"GB82west12345698765432", false}, // lower case
		{"DE", false},
	} {
		if got := ValidIBAN(tc.s); got != tc.want {
			t.Errorf("ValidIBAN(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestSSN(t *testing.T) {
	for _, tc := range []struct {
		d    string
		want bool
	}{
		{"123456789", true},
		{"000456789", false}, {"666456789", false}, {"900456789", false}, {"999456789", false},
		{"123006789", false}, {"123450000", false},
		{"078051120", false},
		{"12345678", false},
	} {
		if got := ValidSSN(tc.d); got != tc.want {
			t.Errorf("ValidSSN(%q) = %v, want %v", tc.d, got, tc.want)
		}
	}
}

// TestFind: each template in text, and the look-alikes it must not take.
func TestFind(t *testing.T) {
	for _, tc := range []struct {
		tmpl, text string
		want       []string // values found
	}{
		{CreditCard, "card 4111111111111111 exp 12/27", []string{"4111111111111111"}},
		{CreditCard, "card 4111 1111 1111 1111.", []string{"4111111111111111"}},
		{CreditCard, "card 4111-1111-1111-1111, thanks", []string{"4111111111111111"}},
		{CreditCard, "amex 3782 822463 10005", []string{"378282246310005"}},
		{CreditCard, "カード番号4111111111111111です", []string{"4111111111111111"}},
		{CreditCard, "two: 4111111111111111 4012888888881881", []string{"4111111111111111", "4012888888881881"}},
		{CreditCard, "qty 2 4111 1111 1111 1111", []string{"4111111111111111"}},
		{CreditCard, "Order #4111111111111111", nil},
		{CreditCard, "order 4111111111111112", nil},
		{CreditCard, "id 4111 11111 111 1111", nil}, // not a card layout
		{CreditCard, "4111-1111 1111-1111", nil},    // mixed separators
		{CreditCard, "card 4111-1111-1111-1111 12 28", []string{"4111111111111111"}},
		{SSN, "SSN 123-45-6789 2026", []string{"123456789"}},
		{CreditCard, "https://x.example/4111111111111111", nil},
		{CreditCard, "ref A4111111111111111", nil},
		{CreditCard, "v1.4111111111111111", nil},
		{CreditCard, "41111111111111111111", nil},                 // 20 digits
		{CreditCard, "1Z999AA10123456784", nil},                   // UPS tracking
		{CreditCard, "tracking 9400 1000 0000 0000 0000 00", nil}, // USPS
		{CreditCard, "fedex 123456789012 and 2024-01-15", nil},
		{CreditCard, "tel 03-1234-5678 090-1234-5678", nil},
		{MyNumber, "マイナンバー: 123456789018", []string{"123456789018"}},
		{MyNumber, "個人番号 1234 5678 9018", []string{"123456789018"}},
		{MyNumber, "order 123456789018", nil}, // no word naming it
		{MyNumber, "マイナンバー: 123456789017", nil},
		{CorporateNumber, "法人番号 7000012050002", []string{"7000012050002"}},
		{CorporateNumber, "invoice 7000012050002", nil},
		{IBAN, "IBAN: DE89 3704 0044 0532 0130 00 please", []string{"DE89370400440532013000"}},
		{IBAN, "pay to GB82WEST12345698765432.", []string{"GB82WEST12345698765432"}},
		{IBAN, "DE89 3704 0044 0532 0130 00 ABCD", []string{"DE89370400440532013000"}},
		{IBAN, "DE89 3704 0044 0532 0130 01", nil},
		{IBAN, "XDE89370400440532013000", nil},
		{SSN, "SSN 123-45-6789", []string{"123456789"}},
		{SSN, "SSN 666-45-6789 and 123-00-6789", nil},
		{SSN, "date 2024-01-15, phone 555-123-4567, 1-123-45-6789", nil},
		{Email, "a@example.com, B@Example.com, c.d+e@mail.example.co.jp", []string{"a@example.com", "b@example.com", "c.d+e@mail.example.co.jp"}},
		{Phone, "03-1234-5678, 090-1234-5678, +81 3 1234 5678, (555) 123-4567, 555.123.4567",
			[]string{"0312345678", "09012345678", "+81312345678", "5551234567", "5551234567"}},
		{Phone, "2024-01-15 4111 1111 1111 1111 order 1234-5678-9012 v1.2.3 12:30", nil},
	} {
		var got []string
		for _, m := range find(tc.tmpl, tc.text) {
			got = append(got, m.value)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s in %q: %q, want %q", tc.tmpl, tc.text, got, tc.want)
		}
	}
}

// TestRandomDigits: random digit strings in ordinary layouts are rarely
// cards (an IIN range and a Luhn digit), and random 12-digit numbers
// without a naming word are never My Numbers.
func TestRandomDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cards, n := 0, 10000
	for range n {
		d := ""
		for range 12 {
			d += strconv.Itoa(r.IntN(10))
		}
		text := "order " + d + " on 2026-12-01, tel 03-" + d[:4] + "-" + d[4:8]
		if len(find(MyNumber, text)) > 0 || len(find(CreditCard, text)) > 0 || len(find(SSN, text)) > 0 {
			t.Fatalf("found something in %q", text)
		}
		d16 := d + d[:4]
		cards += len(find(CreditCard, d16))
	}
	// About a tenth pass Luhn, and some 40% of 16-digit strings are in
	// an IIN range.
	if cards > n/15 {
		t.Errorf("%d of %d random 16-digit strings taken as cards", cards, n)
	}
}

func load(t *testing.T, src string) *Check {
	t.Helper()
	cfg, rep, err := config.Decode("c.toml", []byte(src))
	if err == nil {
		err = rep.Err()
	}
	if err != nil {
		t.Fatalf("config:\n%v", err)
	}
	cs := build(cfg)
	if len(cs) != 1 {
		t.Fatalf("%d checks", len(cs))
	}
	return cs[0].(*Check)
}

func TestRun(t *testing.T) {
	emails := ""
	for i := range 20 {
		emails += "user" + strconv.Itoa(i) + "@example.com\n"
	}
	msg := "Subject: card 4111 1111 1111 1111\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nSame card: 4111111111111111, and ５５５５５５５５５５５５４４４４ (full width).\r\n" + emails +
		"--b\r\nContent-Type: text/html\r\n\r\n<p>SSN <b>123-45-6789</b></p>\r\n" +
		"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=list.txt\r\n\r\nIBAN DE89370400440532013000\r\n--b--\r\n"
	m := message.ParseBytes([]byte(msg), message.DefaultLimits())
	run := func(c *Check) string {
		t.Helper()
		fs, err := c.Run(context.Background(), &check.Input{Message: m})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, f := range fs {
			b.WriteString(f.Name + "=" + f.Value + "@" + f.Where + " " + f.Reason + "\n")
		}
		return b.String()
	}
	got := run(load(t, ""))
	want := `dlp.credit_card=2@subject 2 payment card number(s); the first a visa card ending 1111
dlp.iban=1@attachment:list.txt 1 IBAN(s); the first of country DE ending 3000
dlp.us_ssn=1@html 1 US Social Security number(s); the first ending 6789
dlp.email=20@body 20 distinct email addresses
`
	if got != want {
		t.Errorf("default:\n%s\nwant:\n%s", got, want)
	}
	got = run(load(t, `[dlp]
templates = ["credit_card", "email"]
entities = ["body"]
[dlp.min_count]
credit_card = 3
email = 21
`))
	if got != "" {
		t.Errorf("over the counts, body only:\n%s", got)
	}
	got = run(load(t, `[dlp]
templates = ["credit_card", "iban"]
entities = ["body"]
`))
	if want := "dlp.credit_card=2@body 2 payment card number(s); the first a visa card ending 1111\n"; got != want {
		t.Errorf("body only:\n%s\nwant:\n%s", got, want)
	}
	if fs, _ := load(t, "").Run(context.Background(), &check.Input{}); fs != nil {
		t.Errorf("no message: %v", fs)
	}
}

func TestConfigProblems(t *testing.T) {
	src := `[dlp]
templates = ["credit_card", "passport"]
entities = ["body", "footer", "header:"]

[dlp.min_count]
email = 0
phone = -3
`
	_, rep, err := config.Decode("c.toml", []byte(src))
	if err == nil {
		err = rep.Err()
	}
	want := `c.toml:2: dlp.templates[1]: unknown template "passport" (hint: one of credit_card, my_number, jp_corporate_number, iban, us_ssn, email, phone)
c.toml:3: dlp.entities[1]: unknown entity "footer" (hint: one of subject, body, html, headers, header:NAME, attachment_names, attachment_text)
c.toml:3: dlp.entities[2]: unknown entity "header:" (hint: one of subject, body, html, headers, header:NAME, attachment_names, attachment_text)
c.toml:6: dlp.min_count.email: min_count 0 is not a count (hint: a count of at least 1)
c.toml:7: dlp.min_count.phone: min_count -3 is not a count (hint: a count of at least 1)`
	if err == nil || strings.TrimSpace(err.Error()) != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}
