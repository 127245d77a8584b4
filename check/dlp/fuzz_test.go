package dlp

import (
	"strings"
	"testing"
)

// FuzzLuhn: a valid number changed in one digit is never valid (the Luhn
// check catches every single-digit error).
func FuzzLuhn(f *testing.F) {
	for _, s := range []string{"4111111111111111", "79927398713", "0", "", "12a"} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, d string, at int) {
		if !Luhn(d) {
			return
		}
		if !allDigits(d) {
			t.Fatalf("Luhn(%q) with a non-digit", d)
		}
		i := (at%len(d) + len(d)) % len(d)
		for c := byte('0'); c <= '9'; c++ {
			if c == d[i] {
				continue
			}
			m := d[:i] + string(c) + d[i+1:]
			if Luhn(m) {
				t.Fatalf("Luhn(%q) and Luhn(%q)", d, m)
			}
		}
	})
}

// FuzzValidators: no validator panics, and each accepts only its form.
func FuzzValidators(f *testing.F) {
	for _, s := range []string{"123456789018", "7000012050002", "DE89370400440532013000", "123456789", "4111111111111111", "", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidCard(s) && (len(s) < 13 || len(s) > 19 || !Luhn(s)) {
			t.Fatalf("ValidCard(%q)", s)
		}
		if ValidMyNumber(s) && len(s) != 12 {
			t.Fatalf("ValidMyNumber(%q)", s)
		}
		if ValidCorporateNumber(s) && len(s) != 13 {
			t.Fatalf("ValidCorporateNumber(%q)", s)
		}
		if ValidIBAN(s) && ibanLength[s[:2]] != len(s) {
			t.Fatalf("ValidIBAN(%q)", s)
		}
		if ValidSSN(s) && (len(s) != 9 || s[:3] == "000" || s[0] == '9') {
			t.Fatalf("ValidSSN(%q)", s)
		}
	})
}

// FuzzFind: no template panics on any text, and every value found is
// valid and made of the text's own characters.
func FuzzFind(f *testing.F) {
	for _, s := range []string{
		"card 4111 1111 1111 1111.", "マイナンバー 1234 5678 9018", "法人番号7000012050002",
		"IBAN DE89 3704 0044 0532 0130 00", "SSN 123-45-6789", "a@b.example", "+81 3-1234-5678 (555) 123-4567",
		"4111 1111 1111 1111 4111 1111 1111 1111 4111", "\xff4111111111111111\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		digitsOf := digits(strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s), "")
		for _, tmpl := range Templates {
			for _, m := range find(tmpl, s) {
				ok := true
				switch tmpl {
				case CreditCard:
					ok = ValidCard(m.value)
				case MyNumber:
					ok = ValidMyNumber(m.value)
				case CorporateNumber:
					ok = ValidCorporateNumber(m.value)
				case IBAN:
					ok = ValidIBAN(m.value)
				case SSN:
					ok = ValidSSN(m.value)
				case Email:
					ok = strings.Contains(strings.ToLower(s), m.value)
				}
				if !ok {
					t.Fatalf("%s found %q in %q", tmpl, m.value, s)
				}
				if tmpl != Email && tmpl != IBAN && !strings.Contains(digitsOf, strings.TrimPrefix(m.value, "+")) {
					t.Fatalf("%s found %q, not in the digits of %q", tmpl, m.value, s)
				}
			}
		}
	})
}
