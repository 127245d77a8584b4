package dlp

import "strings"

// digits returns s's ASCII digits, or "" when s has a byte that is neither
// a digit nor one of seps.
func digits(s, seps string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case strings.IndexByte(seps, c) >= 0:
		default:
			return ""
		}
	}
	return b.String()
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Luhn reports whether the digit string d passes the Luhn (mod 10) check
// of ISO/IEC 7812-1 annex B. A string with a non-digit fails.
func Luhn(d string) bool {
	if !allDigits(d) {
		return false
	}
	sum := 0
	for i := 0; i < len(d); i++ {
		n := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}

// prefixIn reports whether the first len(lo) digits of d are within [lo, hi].
func prefixIn(d, lo, hi string) bool {
	if len(d) < len(lo) {
		return false
	}
	p := d[:len(lo)]
	return p >= lo && p <= hi
}

// CardBrand names the card network whose IIN range and length d falls in
// (Visa, Mastercard including its 2-series, American Express, Discover,
// JCB, Diners Club, UnionPay), or "" for none. It does not check Luhn.
func CardBrand(d string) string {
	n := len(d)
	if !allDigits(d) {
		return ""
	}
	switch {
	case d[0] == '4' && (n == 13 || n == 16 || n == 19):
		return "visa"
	case (prefixIn(d, "51", "55") || prefixIn(d, "2221", "2720")) && n == 16:
		return "mastercard"
	case (prefixIn(d, "34", "34") || prefixIn(d, "37", "37")) && n == 15:
		return "amex"
	case (prefixIn(d, "6011", "6011") || prefixIn(d, "644", "649") || prefixIn(d, "65", "65") ||
		prefixIn(d, "622126", "622925")) && n >= 16 && n <= 19:
		return "discover"
	case prefixIn(d, "3528", "3589") && n >= 16 && n <= 19:
		return "jcb"
	case (prefixIn(d, "300", "305") || prefixIn(d, "3095", "3095") || prefixIn(d, "36", "36") ||
		prefixIn(d, "38", "39")) && n >= 14 && n <= 19:
		return "diners"
	case prefixIn(d, "62", "62") && n >= 16 && n <= 19:
		return "unionpay"
	}
	return ""
}

// ValidCard reports whether the digit string d is a payment card number:
// a known IIN range and length, and the Luhn check.
func ValidCard(d string) bool {
	return CardBrand(d) != "" && Luhn(d)
}

// cardGrouping reports whether the group lengths of a separated card
// number are a printed layout: 4-4-4-4(-3), 4-6-5 (Amex), 4-6-4 (Diners),
// 4-4-4-1 (13-digit Visa), 4-4-4-2 or 4-4-4-4-1..3.
func cardGrouping(groups []string) bool {
	if len(groups) == 1 {
		return true
	}
	if len(groups[0]) != 4 {
		return false
	}
	if len(groups) == 3 && len(groups[1]) == 6 && (len(groups[2]) == 5 || len(groups[2]) == 4) {
		return true
	}
	for i, g := range groups[1:] {
		last := i == len(groups)-2
		if !last && len(g) != 4 || last && (len(g) < 1 || len(g) > 4) {
			return false
		}
	}
	return len(groups) >= 4 && len(groups) <= 5
}

// ValidMyNumber reports whether d is a Japanese individual number (個人番号,
// My Number): 12 digits whose last is the check digit of the Ordinance of
// the Ministry of Internal Affairs and Communications No. 85 (2014), art. 5.
func ValidMyNumber(d string) bool {
	if len(d) != 12 || !allDigits(d) {
		return false
	}
	sum := 0
	for n := 1; n <= 11; n++ {
		p := int(d[11-n] - '0')
		q := n + 1
		if n >= 7 {
			q = n - 5
		}
		sum += p * q
	}
	r := sum % 11
	check := 0
	if r > 1 {
		check = 11 - r
	}
	return int(d[11]-'0') == check
}

// ValidCorporateNumber reports whether d is a Japanese corporate number
// (法人番号): 13 digits whose first is the check digit,
// 9 - (sum of P(n)*Q(n) mod 9), n counted from the last digit, Q(n) 1 for
// odd n and 2 for even n.
func ValidCorporateNumber(d string) bool {
	if len(d) != 13 || !allDigits(d) {
		return false
	}
	sum := 0
	for n := 1; n <= 12; n++ {
		p := int(d[13-n] - '0')
		q := 1
		if n%2 == 0 {
			q = 2
		}
		sum += p * q
	}
	return int(d[0]-'0') == 9-sum%9
}

// ibanLength is the IBAN length per country (the SWIFT IBAN registry).
var ibanLength = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
	"BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
	"DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
	"GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
	"IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
	"LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
	"MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
	"PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
	"SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
	"TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

// ValidIBAN reports whether s, upper case without spaces, is an IBAN: a
// country of the registry, its length, and ISO 13616 mod 97 = 1.
func ValidIBAN(s string) bool {
	if len(s) < 5 {
		return false
	}
	want, ok := ibanLength[s[:2]]
	if !ok || len(s) != want || s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9' {
		return false
	}
	r := 0
	for i := 0; i < len(s); i++ {
		c := s[(i+4)%len(s)]
		switch {
		case c >= '0' && c <= '9':
			r = (r*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			r = (r*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	return r == 1
}

// ValidSSN reports whether d, 9 digits, is a possible US Social Security
// number: area not 000, 666 or 900-999, group not 00, serial not 0000
// (the SSA's rules since 2011), and not a number published in
// advertising (078-05-1120, 219-09-9999).
func ValidSSN(d string) bool {
	if len(d) != 9 || !allDigits(d) {
		return false
	}
	area, group, serial := d[:3], d[3:5], d[5:]
	switch {
	case area == "000", area == "666", area[0] == '9', group == "00", serial == "0000":
		return false
	case d == "078051120", d == "219099999":
		return false
	}
	return true
}
