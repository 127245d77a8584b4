package authres

import (
	"slices"
	"strings"
	"testing"

	msgauthres "github.com/emersion/go-msgauth/authres"

	"github.com/mailwarden/mailwarden/check"
)

func TestServID(t *testing.T) {
	tests := []struct{ in, want string }{
		{" mx.example.com; spf=pass", "mx.example.com"},
		{"mx.example.com;spf=pass", "mx.example.com"},
		{"mx.example.com 1; none", "mx.example.com"},
		{" (a comment) mx.example.com; dkim=pass", "mx.example.com"},
		{"(nested (comment) \\) here) MX.Example.COM(x); none", "MX.Example.COM"},
		{"\"mx.example.com\"; none", "mx.example.com"},
		{"\r\n\tmx.example.com;\r\n\tnone", "mx.example.com"},
		{"(unclosed comment mx.example.com; none", ""},
		{"", ""},
		{";", ";"[:0]},
	}
	for _, tc := range tests {
		if got := ServID(tc.in); got != tc.want {
			t.Errorf("ServID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRemove(t *testing.T) {
	hs := []check.RawHeader{
		{Name: "Authentication-Results", Value: " other.example.net; spf=pass"},
		{Name: "Received", Value: " from x"},
		{Name: "authentication-results", Value: " (forged) mx.example.com; dmarc=pass header.from=bank.example"},
		{Name: "Authentication-Results", Value: " mx.example.com.; dkim=pass"},
		{Name: "Authentication-Results", Value: " mx.example.com.evil; dkim=pass"},
		{Name: "Authentication-Results", Value: " MX.EXAMPLE.COM"},
	}
	if got, want := Remove("mx.example.com", hs), []int{2, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("Remove = %v, want %v", got, want)
	}
}

func TestValue(t *testing.T) {
	fs := []check.Finding{
		{Name: "dkim", Value: "pass", Where: "d=example.org s=sel"},
		{Name: "spf", Value: "softfail", Where: "helo"},
		{Name: "spf", Value: "pass", Where: "mailfrom"},
		{Name: "spf.pass", Value: "example.org", Where: "mailfrom"},
		{Name: "dmarc", Value: "pass", Where: "policy=reject disposition=none"},
		{Name: "gtube"},
	}
	v, ok := Value("mx.example.com", fs, "alice@example.org", "mail.example.org")
	if !ok {
		t.Fatal("no value")
	}
	id, rs, err := msgauthres.Parse(v)
	if err != nil || id != "mx.example.com" || len(rs) != 3 {
		t.Fatalf("Parse(%q) = %q, %d results, %v", v, id, len(rs), err)
	}
	if s, ok := rs[0].(*msgauthres.SPFResult); !ok || s.Value != "pass" || s.From != "alice@example.org" {
		t.Errorf("spf %+v in %q", rs[0], v)
	}
	if d, ok := rs[1].(*msgauthres.DKIMResult); !ok || d.Value != "pass" || d.Domain != "example.org" {
		t.Errorf("dkim %+v in %q", rs[1], v)
	}
	if d, ok := rs[2].(*msgauthres.DMARCResult); !ok || d.Value != "pass" {
		t.Errorf("dmarc %+v in %q", rs[2], v)
	}
	if _, ok := Value("mx.example.com", []check.Finding{{Name: "gtube"}}, "", ""); ok {
		t.Error("a value without any authentication finding")
	}
	// The null sender's SPF is the HELO identity's.
	v, _ = Value("mx", []check.Finding{{Name: "spf", Value: "pass", Where: "helo"}}, "", "mail.example.org")
	if !strings.Contains(v, "spf=pass smtp.helo=mail.example.org") {
		t.Errorf("null sender: %q", v)
	}
}

func FuzzServID(f *testing.F) {
	for _, s := range []string{" mx.example.com; spf=pass", "(a (b) \\) c) x; none", "\"q\\\"d\"; none", "(", "\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		id := ServID(v)
		if len(id) > len(v) {
			t.Fatalf("ServID(%q) = %q, longer than its input", v, id)
		}
		if id != "" && !Ours(id, v) && !strings.HasPrefix(strings.TrimSpace(v), "\"") {
			t.Fatalf("Ours(%q, %q) is false", id, v)
		}
	})
}
