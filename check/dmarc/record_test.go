package dmarc

import (
	"errors"
	"fmt"
	"testing"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		in   string
		want string // "P SP NP pct adkim aspf", or the error
	}{
		{"v=DMARC1; p=reject", "reject - - 100 r r"},
		{"v=DMARC1;p=quarantine;sp=none;np=reject;pct=20;adkim=s;aspf=s", "quarantine none reject 20 s s"},
		{"v=DMARC1 ; P=Reject ; SP = Quarantine ;", "reject quarantine - 100 r r"},
		{"v=DMARC1; p=none; rua=mailto:a@example.com, mailto:b@example.com; fo=1; x-new=1", "none - - 100 r r"},
		{"v=DMARC1; p=reject; p=none", "reject - - 100 r r"},
		{"v=DMARC1; pct=0; p=reject", "reject - - 0 r r"},
		{"v=DMARC1; p=bogus; rua=mailto:a@example.com", "none - - 100 r r"}, // RFC 7489 §6.6.3 step 6
		{"v=DMARC1; rua=mailto:a@example.com", "none - - 100 r r"},
		{"v=DMARC1; p=reject; sp=bogus; rua=mailto:a@example.com", "none - - 100 r r"},
		{"v=DMARC1; p=bogus", "error: dmarc: bad record"},
		{"v=DMARC1; p=reject; pct=101", "error: dmarc: bad record"},
		{"v=DMARC1; p=reject; adkim=x", "error: dmarc: bad record"},
		{"v=DMARC1; p=reject; junk", "error: dmarc: bad record"},
		{"v=DMARC1", "error: dmarc: bad record"},
		{"p=reject; v=DMARC1", "error: dmarc: not a DMARC record"},
		{"v=spf1 -all", "error: dmarc: not a DMARC record"},
		{"v=dmarc1; p=reject", "error: dmarc: not a DMARC record"},
		{"", "error: dmarc: not a DMARC record"},
	}
	for _, tc := range tests {
		r, err := ParseRecord(tc.in)
		var got string
		if err != nil {
			got = "error: " + err.Error()
			if errors.Is(err, ErrSyntax) {
				got = "error: " + ErrSyntax.Error()
			}
		} else {
			got = fmt.Sprintf("%s %s %s %d %c %c", r.P, dash(r.SP), dash(r.NP), r.Pct, r.ADKIM, r.ASPF)
		}
		if got != tc.want {
			t.Errorf("ParseRecord(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"v=DMARC1; p=reject", "v=DMARC1;p=quarantine;sp=none;np=reject;pct=20;adkim=s;aspf=s",
		"v=DMARC1; p=bogus; rua=mailto:a@example.com", "v=DMARC1; pct=-1", "v=DMARC1;;;=;p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			if r != nil {
				t.Fatal("a record with an error")
			}
			return
		}
		if r.P != "none" && r.P != "quarantine" && r.P != "reject" {
			t.Fatalf("p=%q from %q", r.P, s)
		}
		for _, p := range []string{r.SP, r.NP} {
			if p != "" && p != "none" && p != "quarantine" && p != "reject" {
				t.Fatalf("policy %q from %q", p, s)
			}
		}
		if r.Pct < 0 || r.Pct > 100 || (r.ADKIM != 'r' && r.ADKIM != 's') || (r.ASPF != 'r' && r.ASPF != 's') {
			t.Fatalf("%+v from %q", r, s)
		}
	})
}
