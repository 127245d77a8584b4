package lists

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPatternMatch(t *testing.T) {
	type tc struct {
		pattern string
		addr    string
		want    bool
		bug     string // non-empty: a known bug; the row is skipped until it is fixed
	}
	tests := []tc{
		// Exact address.
		{"user@example.com", "user@example.com", true, ""},
		{"user@example.com", "other@example.com", false, ""},
		{"user@example.com", "user@example.org", false, ""},
		{"user@example.com", "user@sub.example.com", false, ""},
		{"user@example.com", "", false, ""},
		{"user@example.com", "user", false, ""},
		{"user@example.com", "<user@example.com>", true, ""},
		// Case-insensitive domain (RFC 5321 §2.4) and, by choice, local part.
		{"user@example.com", "user@EXAMPLE.COM", true, ""},
		{"USER@Example.Com", "user@example.com", true, ""},
		{"user@example.com", "User@Example.com", true, ""},
		// Trailing dot of a fully qualified domain, on either side.
		{"user@example.com", "user@example.com.", true, ""},
		{"user@example.com.", "user@example.com", true, ""},
		{"*@example.com.", "a@EXAMPLE.com.", true, ""},
		// Any user at the domain.
		{"*@example.com", "anyone@example.com", true, ""},
		{"*@example.com", "anyone@Example.COM", true, ""},
		{"*@example.com", "anyone@sub.example.com", false, ""},
		{"*@example.com", "anyone@badexample.com", false, ""},
		{"*@example.com", "", false, ""},
		// Any user at any subdomain, not the domain itself.
		{"*@*.example.com", "a@sub.example.com", true, ""},
		{"*@*.example.com", "a@deep.sub.example.com", true, ""},
		{"*@*.example.com", "a@SUB.Example.com", true, ""},
		{"*@*.example.com", "a@example.com", false, ""},
		{"*@*.example.com", "a@badexample.com", false, ""},
		{"*@*.example.com", "a@example.com.evil.org", false, ""},
		{"*@*.example.com", "a@sub.example.com.", true, ""},
		{"*@*.example.com.", "a@sub.example.com", true, ""},
		// A local part at any domain.
		{"postmaster@*", "postmaster@example.com", true, ""},
		{"postmaster@*", "POSTMASTER@example.org", true, ""},
		{"postmaster@*", "abuse@example.com", false, ""},
		{"postmaster@*", "", false, ""},
		// Any local part at any domain: every address but the null sender.
		{"*@*", "a@b.example", true, ""},
		{"*@*", "", false, ""},
		// Anything, the null sender included.
		{"*", "a@b.example", true, ""},
		{"*", "", true, ""},
		{"*", "no-at-sign", true, ""},
		// Only the null sender.
		{"<>", "", true, ""},
		{"<>", "a@b.example", false, ""},
		{"<>", "MAILER-DAEMON@example.com", false, ""},
		// The null sender written with its brackets is the null sender.
		{"<>", "<>", true, ""},
		{"*@*", "<>", false, ""},
		{"*", "<>", true, ""},
		{"user@*", "<>", false, ""},
		// user@*.domain: the local part at any subdomain.
		{"user@*.example.com", "USER@a.example.com", true, ""},
		{"user@*.example.com", "user@example.com", false, ""},
		{"user@*.example.com", "other@a.example.com", false, ""},
		// The last @ splits, as in SplitAddress.
		{`"a@b"@example.com`, `"a@b"@example.com`, true, ""},
		// Surrounding white space is not part of the pattern.
		{"  user@example.com\t", "user@example.com", true, ""},
		// Patterns pasted with angle brackets, as consoles show addresses.
		{"<user@example.com>", "user@example.com", true, ""},
		{"<*@example.com>", "a@example.com", true, ""},
		// Local parts as RFC 5321 §4.1.2 and practice have them: atext and
		// dots, a quoted string, UTF-8 (RFC 6531), and the consecutive and
		// trailing dots of old Japanese mobile addresses.
		{"first.last+tag@example.com", "First.Last+Tag@example.com", true, ""},
		{"o'brien@example.com", "o'brien@example.com", true, ""},
		{`"john smith"@example.com`, `"john smith"@example.com`, true, ""},
		{"ユーザー@例え.jp", "ユーザー@例え.jp", true, ""},
		{"taro..yamada.@docomo.ne.jp", "taro..yamada.@docomo.ne.jp", true, ""},
		// Domains: one label, hyphens and underscores inside labels, and
		// address literals (RFC 5321 §4.1.3).
		{"root@localhost", "root@localhost", true, ""},
		{"a@mail-gw_1.example.com", "a@MAIL-GW_1.example.com", true, ""},
		{"a@[192.0.2.1]", "a@[192.0.2.1]", true, ""},
		{"a@[IPv6:2001:db8::1]", "a@[ipv6:2001:DB8::1]", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.addr, func(t *testing.T) {
			p, err := ParsePattern(tt.pattern)
			if err != nil {
				t.Fatalf("ParsePattern(%q): %v", tt.pattern, err)
			}
			if got := p.Match(tt.addr); got != tt.want {
				if tt.bug != "" {
					t.Skip("BUG: " + tt.bug)
				}
				t.Errorf("%q.Match(%q) = %v, want %v", tt.pattern, tt.addr, got, tt.want)
			} else if tt.bug != "" {
				t.Errorf("row marked as a bug now passes; remove its bug text: %s", tt.bug)
			}
			if p.String() != tt.pattern {
				t.Errorf("String() = %q, want the pattern as written %q", p.String(), tt.pattern)
			}
		})
	}
}

func TestPatternCanonical(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Bob@Example.COM", "bob@example.com"},
		{"<bob@example.com.>", "bob@example.com"},
		{"*@Example.com", "*@example.com"},
		{"*@*.Example.com.", "*@*.example.com"},
		{"Postmaster@*", "postmaster@*"},
		{"*@*", "*@*"},
		{" * ", "*"},
		{"<>", "<>"},
		{`"John Smith"@example.com`, `"john smith"@example.com`},
		{"a@[IPv6:2001:DB8::1]", "a@[ipv6:2001:db8::1]"},
	} {
		p, err := ParsePattern(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Canonical(); got != tc.want {
			t.Errorf("ParsePattern(%q).Canonical() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParsePatternErrors(t *testing.T) {
	tests := []struct {
		pattern string
		errHas  string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"example.com", "has no @"},
		{"user", "has no @"},
		{"a*b@example.com", "only as the whole local part"},
		{"*a@example.com", "only as the whole local part"},
		{"a*@*", "only as the whole local part"},
		{"*@x*y", "only as the whole domain"},
		{"*@ex*.com", "only as the whole domain"},
		{"*@example.*", "only as the whole domain"},
		{"*@*.*.example.com", "use *@*.domain"},
		{"*@*.", "use *@*.domain"},
		{"@example.com", "needs a local part and a domain"},
		{"user@", "needs a local part and a domain"},
		{"@", "needs a local part and a domain"},
		{"**", "has no @"},
		// Two @ in an unquoted address: a typo, never an address.
		{"bob@@example.com", "more than one @"},
		{"bob@example.com@", "more than one @"},
		{"a@b@example.com", "more than one @"},
		{"@", "needs a local part and a domain"},
		{"@x", "needs a local part and a domain"},
		{"bob@", "needs a local part and a domain"},
		{"<@example.com>", "needs a local part and a domain"},
		// White space inside a pattern: lists split on ASCII white space,
		// so this is what addr_match sees, or a non-ASCII space.
		{"bob smith@example.com", "white space"},
		{"bob@exa mple.com", "white space"},
		{"bob\u3000@example.com", "white space"},
		{"bob@example.com\u00a0x", "white space"},
		{"bob\x00@example.com", "control character"},
		// Characters an unquoted local part cannot hold.
		{"mailto:bob@example.com", `holds ":"`},
		{"bob(x)@example.com", `holds "("`},
		{`a"b@example.com`, `holds "\""`},
		{`"bob@example.com`, "unterminated quoted local part"},
		{`"bob"x@example.com`, "after the quoted local part"},
		{`"bob"`, "has no @"},
		{"\xff@example.com", "not valid UTF-8"},
		// Broken domains.
		{"bob@example..com", "empty label"},
		{"bob@.example.com", "empty label"},
		{"bob@example.com..", "empty label"},
		{"*@*..example.com", "empty label"},
		{"bob@-example.com", "starts or ends with -"},
		{"bob@example-.com", "starts or ends with -"},
		{"bob@example.com:25", `holds ":"`},
		{"bob@exam/ple.com", `holds "/"`},
		{"bob@[300.1.1.1]", "not an address literal"},
		{"bob@[IPv6:192.0.2.1]", "not an address literal"},
		{"bob@[2001:db8::1]", "not an address literal"},
		{"*@*.[192.0.2.1]", "use *@*.domain"},
		// Angle brackets only as one pair around the whole pattern.
		{"<bob@example.com", "angle brackets"},
		{"bob@example.com>", "angle brackets"},
		{"<<bob@example.com>>", "angle brackets"},
		{"<*>", "has no @"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			_, err := ParsePattern(tt.pattern)
			if err == nil {
				t.Fatalf("ParsePattern(%q) = nil error, want one containing %q", tt.pattern, tt.errHas)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("ParsePattern(%q) error %q, want it to contain %q", tt.pattern, err, tt.errHas)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParsePattern(%q) error %q is not ErrInvalid", tt.pattern, err)
			}
		})
	}
}

func TestSplitAddress(t *testing.T) {
	tests := []struct{ in, local, domain string }{
		{"user@Example.COM", "user", "example.com"},
		{"<User@example.com.>", "User", "example.com"},
		{"a@b@c.example", "a@b", "c.example"},
		{"postmaster", "postmaster", ""},
		{"", "", ""},
		{"<>", "", ""},
	}
	for _, tt := range tests {
		l, d := SplitAddress(tt.in)
		if l != tt.local || d != tt.domain {
			t.Errorf("SplitAddress(%q) = %q, %q; want %q, %q", tt.in, l, d, tt.local, tt.domain)
		}
	}
}

// FuzzParsePattern checks that parsing never panics, keeps the text
// as written, and that what parses behaves as documented: an exact pattern
// matches its own address in any ASCII case, and *@*.domain matches its
// subdomains but never the domain itself.
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"user@example.com", "*@example.com", "*@*.example.com", "user@*", "*", "<>",
		"", "a*b@x", "*@x*y", "@", "*@*.", "USER@Example.COM.", `"a@b"@c.example`, "a@b, c@d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("String() = %q, want %q", p.String(), s)
		}
		c, err := ParsePattern(p.Canonical())
		if err != nil || c.Canonical() != p.Canonical() {
			t.Fatalf("%q: Canonical %q parses as %q, %v", s, p.Canonical(), c.Canonical(), err)
		}
		for _, a := range []string{"", "a@b.example", strings.Trim(strings.TrimSpace(s), "<>"), strings.ToUpper(strings.TrimSpace(s))} {
			if c.Match(a) != p.Match(a) {
				t.Fatalf("%q and its Canonical %q disagree on %q", s, p.Canonical(), a)
			}
		}
		trimmed := strings.TrimSpace(s)
		if !strings.Contains(trimmed, "*") && trimmed != "<>" {
			if !p.Match(trimmed) {
				t.Fatalf("exact pattern %q does not match its own address", s)
			}
			if isASCII(trimmed) && !p.Match(strings.ToUpper(trimmed)) {
				t.Fatalf("exact pattern %q does not match %q", s, strings.ToUpper(trimmed))
			}
		}
		if d, ok := strings.CutPrefix(trimmed, "*@*."); ok {
			if p.Match("someone@" + d) {
				t.Fatalf("%q matches the domain itself", s)
			}
			if !p.Match("someone@sub." + d) {
				t.Fatalf("%q does not match a subdomain", s)
			}
		}
		if trimmed == "*" != p.Match("") && trimmed != "<>" {
			t.Fatalf("%q.Match(null sender) = %v", s, p.Match(""))
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
