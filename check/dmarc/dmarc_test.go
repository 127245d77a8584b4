package dmarc

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	mdns "github.com/miekg/dns"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/checktest"
	"github.com/mailwarden/mailwarden/check/dkim"
	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/check/dns/dnstest"
	"github.com/mailwarden/mailwarden/config"
)

type fixture struct {
	srv *dnstest.Server
	r   *dns.Resolver
	key ed25519.PrivateKey
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	srv := dnstest.New(t)
	r, err := dns.New(dns.Options{Servers: []string{srv.Addr()}, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	rec := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	for _, d := range []string{"example.org", "mail.example.org", "other.example", "example.com"} {
		srv.Add(fmt.Sprintf("sel._domainkey.%s. 300 IN TXT %q", d, rec))
	}
	srv.Add(`_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject; sp=quarantine; np=reject"`,
		`_dmarc.example.org. 300 IN TXT "some other text"`,
		`a.example.org. 300 IN A 192.0.2.1`,
		`_dmarc.strict.example. 300 IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s"`,
		`_dmarc.quar.example. 300 IN TXT "v=DMARC1; p=quarantine"`,
		`_dmarc.none.example. 300 IN TXT "v=DMARC1; p=none; rua=mailto:r@none.example"`,
		`_dmarc.sample.example. 300 IN TXT "v=DMARC1; p=reject; pct=0"`,
		`_dmarc.two.example. 300 IN TXT "v=DMARC1; p=reject"`,
		`_dmarc.two.example. 300 IN TXT "v=DMARC1; p=none"`,
		`_dmarc.bad.example. 300 IN TXT "v=DMARC1; p=sometimes"`,
		`_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"`)
	srv.Set("_dmarc.broken.example.", dnstest.Behavior{Rcode: mdns.RcodeServerFailure})
	return &fixture{srv: srv, r: r, key: key}
}

func (f *fixture) sign(t testing.TB, msg, domain string) string {
	t.Helper()
	var b bytes.Buffer
	if err := msgdkim.Sign(&b, strings.NewReader(msg), &msgdkim.SignOptions{Domain: domain, Selector: "sel", Signer: f.key}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func msgFrom(from ...string) string {
	var b strings.Builder
	for _, f := range from {
		b.WriteString("From: " + f + "\r\n")
	}
	b.WriteString("To: bob@example.net\r\nSubject: s\r\nMessage-ID: <m1@x>\r\n\r\nbody\r\n")
	return b.String()
}

// input is a check input for raw, its header fields parsed as the
// session passes them.
func (f *fixture) input(raw string, findings ...check.Finding) *check.Input {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	var hs []check.RawHeader
	for _, line := range strings.Split(head, "\r\n") {
		if line[0] == ' ' || line[0] == '\t' {
			hs[len(hs)-1].Value += "\n" + line
			continue
		}
		n, v, _ := strings.Cut(line, ":")
		hs = append(hs, check.RawHeader{Name: n, Value: v})
	}
	return &check.Input{ClientIP: netip.MustParseAddr("198.51.100.7"), Raw: []byte(raw), Headers: hs, Findings: findings,
		Shared: &check.Shared{}, Env: &check.Env{DNS: f.r}}
}

func spfPass(domain string) check.Finding {
	return check.Finding{Name: "spf.pass", Value: domain, Where: "mailfrom"}
}

func show(fs []check.Finding) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.Name+"="+f.Value+"@"+f.Where)
	}
	return strings.Join(parts, ", ")
}

func TestDMARC(t *testing.T) {
	f := newFixture(t)
	c := &Check{timeout: time.Second}
	plain := msgFrom("Alice <alice@example.org>")
	tests := []struct {
		name string
		in   *check.Input
		want string
	}{
		{"aligned DKIM", f.input(f.sign(t, plain, "example.org")), "dmarc=pass@policy=reject disposition=none, dmarc.pass=example.org@policy=reject disposition=none, dkim.aligned=example.org@d=example.org"},
		{"relaxed DKIM from a subdomain", f.input(f.sign(t, plain, "mail.example.org")), "dmarc=pass@policy=reject disposition=none, dmarc.pass=example.org@policy=reject disposition=none, dkim.aligned=example.org@d=mail.example.org"},
		{"DKIM of another domain", f.input(f.sign(t, plain, "other.example")),
			"dmarc=fail@policy=reject disposition=reject, dmarc.reject=example.org@policy=reject disposition=reject"},
		{"aligned SPF", f.input(plain, spfPass("mail.example.org")), "dmarc=pass@policy=reject disposition=none, dmarc.pass=example.org@policy=reject disposition=none"},
		{"SPF of another domain", f.input(plain, spfPass("other.example")),
			"dmarc=fail@policy=reject disposition=reject, dmarc.reject=example.org@policy=reject disposition=reject"},
		{"SPF fail", f.input(plain, check.Finding{Name: "spf.fail", Value: "example.org"}, check.Finding{Name: "spf.helo.pass", Value: "example.org"}),
			"dmarc=fail@policy=reject disposition=reject, dmarc.reject=example.org@policy=reject disposition=reject"},
		{"strict DKIM from a subdomain", f.input(f.sign(t, msgFrom("a@strict.example"), "mail.strict.example")),
			"dmarc=fail@policy=reject disposition=reject, dmarc.reject=strict.example@policy=reject disposition=reject"},
		{"strict SPF from a subdomain", f.input(msgFrom("a@strict.example"), spfPass("mail.strict.example")),
			"dmarc=fail@policy=reject disposition=reject, dmarc.reject=strict.example@policy=reject disposition=reject"},
		{"strict SPF exact", f.input(msgFrom("a@strict.example"), spfPass("STRICT.example")), "dmarc=pass@policy=reject disposition=none, dmarc.pass=strict.example@policy=reject disposition=none"},
		{"p=quarantine", f.input(msgFrom("a@quar.example")),
			"dmarc=fail@policy=quarantine disposition=quarantine, dmarc.quarantine=quar.example@policy=quarantine disposition=quarantine"},
		{"p=none", f.input(msgFrom("a@none.example")), "dmarc=fail@policy=none disposition=none"},
		{"existing subdomain: sp", f.input(msgFrom("a@a.example.org")),
			"dmarc=fail@policy=quarantine disposition=quarantine, dmarc.quarantine=a.example.org@policy=quarantine disposition=quarantine"},
		{"nonexistent subdomain: np (RFC 9091)", f.input(msgFrom("a@nx.example.org")),
			"dmarc=fail@policy=reject disposition=reject, dmarc.reject=nx.example.org@policy=reject disposition=reject"},
		{"pct=0 lowers reject to quarantine", f.input(msgFrom("a@sample.example")),
			"dmarc=fail@policy=reject disposition=quarantine, dmarc.quarantine=sample.example@policy=reject disposition=quarantine"},
		{"no record", f.input(msgFrom("a@nothing.example")), "dmarc=none@policy=none disposition=none"},
		// dkim.aligned does not need a DMARC record.
		{"no record, aligned DKIM", f.input(f.sign(t, msgFrom("a@other.example"), "other.example")),
			"dmarc=none@policy=none disposition=none, dkim.aligned=other.example@d=other.example"},
		{"no record, DKIM of the parent domain", f.input(f.sign(t, msgFrom("a@News.Other.Example."), "other.example")),
			"dmarc=none@policy=none disposition=none, dkim.aligned=news.other.example@d=other.example"},
		{"aligned SPF is not aligned DKIM", f.input(f.sign(t, plain, "other.example"), spfPass("example.org")),
			"dmarc=pass@policy=reject disposition=none, dmarc.pass=example.org@policy=reject disposition=none"},
		{"two records", f.input(msgFrom("a@two.example")), "dmarc=permerror@policy=none disposition=none"},
		{"bad record", f.input(msgFrom("a@bad.example")), "dmarc=permerror@policy=none disposition=none"},
		{"lookup failure", f.input(msgFrom("a@broken.example")), "dmarc=temperror@policy=none disposition=none"},
		{"authenticated session: ours, not evaluated", func() *check.Input { in := f.input(plain); in.AuthUser = "alice"; return in }(), ""},
		{"trusted network: ours, not evaluated", func() *check.Input {
			in := f.input(plain)
			in.Env.Trusted = func(netip.Addr) bool { return true }
			return in
		}(), ""},
		{"offline", func() *check.Input { in := f.input(plain); in.Env.DNS = nil; return in }(), "dmarc=temperror@policy=none disposition=none"},
		// CVE-2019-16378: the signed From is not the one the reader sees.
		{"two From fields", f.input(f.sign(t, msgFrom("a@other.example", "ceo@example.org"), "other.example")),
			"dmarc=fail@policy=reject disposition=reject, dmarc.reject=other.example@policy=reject disposition=reject"},
		{"two addresses in one From", f.input(f.sign(t, msgFrom("a@other.example, ceo@example.org"), "other.example")),
			"dmarc=fail@policy=reject disposition=reject, dmarc.reject=other.example@policy=reject disposition=reject"},
		{"two From without policies", f.input(msgFrom("a@other.example", "b@nothing.example")),
			"dmarc=fail@policy=none disposition=reject, dmarc.reject=other.example@policy=none disposition=reject"},
		{"two From, the first with a policy", f.input(msgFrom("ceo@example.org", "a@other.example")),
			"dmarc=fail@policy=reject disposition=reject, dmarc.reject=example.org@policy=reject disposition=reject"},
		{"no From", f.input("To: b@example.net\r\nSubject: s\r\n\r\nbody\r\n"), "dmarc=fail@policy=none disposition=none"},
		{"From without a domain", f.input(msgFrom("undisclosed")), "dmarc=fail@policy=none disposition=none"},
		{"encoded display name in an unknown charset", f.input(f.sign(t, msgFrom("=?x-unknown?B?QWxpY2U=?= <alice@example.org>"), "example.org")),
			"dmarc=pass@policy=reject disposition=none, dmarc.pass=example.org@policy=reject disposition=none, dkim.aligned=example.org@d=example.org"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := c.Run(context.Background(), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := show(fs); got != tc.want {
				t.Errorf("\n got %s\nwant %s\n(%v)", got, tc.want, fs)
			}
		})
	}
}

// A signature with l= is never a DKIM pass, so it never aligns: content
// appended after the signed length cannot pass DMARC on it.
func TestPartialSignatureDoesNotAlign(t *testing.T) {
	f := newFixture(t)
	signed := f.sign(t, msgFrom("alice@example.org"), "example.org")
	signed = strings.Replace(signed, "DKIM-Signature: ", "DKIM-Signature: l=6; ", 1) + "appended by an attacker\r\n"
	in := f.input(signed)
	res := dkim.Shared(context.Background(), in, dkim.Options{})
	if len(res.Signatures) != 1 || res.Signatures[0].Result != dkim.Policy || !res.Signatures[0].Partial() {
		t.Fatalf("signature %+v", res.Signatures)
	}
	fs, _ := (&Check{timeout: time.Second}).Run(context.Background(), in)
	if fs[0].Value != Fail {
		t.Errorf("DMARC %s on a partial signature", show(fs))
	}
}

func TestSampled(t *testing.T) {
	for _, pct := range []int{0, 1, 25, 50, 99, 100} {
		n := 0
		for i := range 10000 {
			key := fmt.Sprintf("<%d@example.org>", i)
			s := Sampled(key, pct)
			if s != Sampled(key, pct) {
				t.Fatalf("Sampled(%q, %d) changed", key, pct)
			}
			if s {
				n++
			}
		}
		// Within 2 points of pct over 10,000 keys; exact at 0 and 100.
		if (pct == 0 && n != 0) || (pct == 100 && n != 10000) || n < (pct-2)*100 || n > (pct+2)*100 {
			t.Errorf("pct=%d: %d of 10000 sampled", pct, n)
		}
	}
}

func TestOrgDomain(t *testing.T) {
	for in, want := range map[string]string{"example.org": "example.org", "a.b.example.org": "example.org",
		"mail.example.co.uk": "example.co.uk", "co.uk": "co.uk", "Example.ORG.": "example.org", "localhost": "localhost"} {
		if got := OrgDomain(in); got != want {
			t.Errorf("OrgDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSpoofInternal(t *testing.T) {
	f := newFixture(t)
	s := &SpoofCheck{internal: []string{"example.com", "*.corp.example.com"}}
	trusted := netip.MustParsePrefix("10.0.0.0/8")
	for _, ip := range []string{"198.51.100.7", "2001:db8::25"} {
		t.Run(ip, func(t *testing.T) {
			in := func(raw, sender string, fs ...check.Finding) *check.Input {
				i := f.input(raw, fs...)
				i.ClientIP, i.Sender = netip.MustParseAddr(ip), sender
				i.Env.Trusted = trusted.Contains
				return i
			}
			ceo := msgFrom("CEO <ceo@example.com>")
			tests := []struct {
				name string
				in   *check.Input
				want string
			}{
				{"forged From", in(ceo, "x@attacker.example"), "spoof.internal=ceo@example.com@header:From"},
				{"forged envelope and From", in(ceo, "ceo@example.com"), "spoof.internal=ceo@example.com@header:From, spoof.internal=ceo@example.com@envelope"},
				{"subdomain pattern", in(msgFrom("a@hr.corp.example.com"), ""), "spoof.internal=a@hr.corp.example.com@header:From"},
				{"SPF pass for the domain", in(ceo, "ceo@example.com", spfPass("example.com")), ""},
				{"SPF pass for another domain", in(ceo, "x@attacker.example", spfPass("attacker.example")), "spoof.internal=ceo@example.com@header:From"},
				{"aligned DKIM", in(f.sign(t, ceo, "example.com"), "x@attacker.example"), ""},
				{"DKIM of another domain", in(f.sign(t, ceo, "other.example"), "x@attacker.example"), "spoof.internal=ceo@example.com@header:From"},
				{"external From", in(msgFrom("a@example.net"), "a@example.net"), ""},
				{"authenticated", func() *check.Input { i := in(ceo, "ceo@example.com"); i.AuthUser = "ceo"; return i }(), ""},
			}
			for _, tc := range tests {
				fs, err := s.Run(context.Background(), tc.in)
				if err != nil {
					t.Fatal(err)
				}
				if got := show(fs); got != tc.want {
					t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
				}
			}
		})
	}
	// From a trusted network: ours, never a spoof.
	i := f.input(msgFrom("ceo@example.com"))
	i.ClientIP, i.Env.Trusted = netip.MustParseAddr("10.1.2.3"), trusted.Contains
	if fs, _ := s.Run(context.Background(), i); len(fs) != 0 {
		t.Errorf("trusted client: %s", show(fs))
	}
}

func TestFromAddresses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Alice <alice@example.org>", "alice@example.org"},
		{" alice@example.org", "alice@example.org"},
		{"\"Doe, John\" <j@example.org>", "j@example.org"},
		{"a@example.org, b@example.net", "a@example.org b@example.net"},
		{"=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?= <t@example.jp>", "t@example.jp"},
		{"John Q. Public <jqp@example.org>", "jqp@example.org"},
		{"Bank <support@bank.example> <evil@attacker.example>", "support@bank.example evil@attacker.example"},
		{"undisclosed", "undisclosed"},
		{"", ""},
	}
	for _, tc := range tests {
		got := strings.Join(FromAddresses([]check.RawHeader{{Name: "From", Value: tc.in}}), " ")
		if got != tc.want {
			t.Errorf("FromAddresses(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzFromAddresses(f *testing.F) {
	for _, s := range []string{"Alice <alice@example.org>", "a@b, c@d", "\"x\" <y@z> <w@v>", "=?utf-8?Q?=E2?= <a@b>", "(c) a@b (d)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		addrs := FromAddresses([]check.RawHeader{{Name: "From", Value: v}, {Name: "from", Value: v}})
		if len(addrs) > maxFromAddrs {
			t.Fatalf("%d addresses", len(addrs))
		}
		if strings.TrimSpace(v) != "" && len(addrs) < 2 {
			t.Fatalf("two From fields %q read as %d addresses: DMARC would not see them both", v, len(addrs))
		}
	})
}

// TestVerifyAlways: under [auth] verify = "always" the DMARC check runs on
// every message, rules or not (and brings SPF and DKIM with it);
// otherwise only when a rule names its findings.
func TestVerifyAlways(t *testing.T) {
	for src, always := range map[string]bool{
		"[auth]\nverify = \"always\"\n": true,
		"[auth]\nverify = \"rules\"\n":  false,
		"":                              false,
	} {
		var dm check.Check
		for _, c := range build(checktest.Config(t, src)) {
			if c.Name() == "dmarc" {
				dm = c
			}
		}
		_, isAlways := dm.(check.Always)
		_, learns := dm.(check.LearnsFrom)
		if isAlways != always || !learns {
			t.Errorf("%q: always %v, learns %v", src, isAlways, learns)
		}
	}
	_, rep, err := config.Decode("t.toml", []byte("[auth]\nverify = \"sometimes\"\n"))
	if err == nil {
		err = rep.Err()
	}
	if err == nil || !strings.Contains(err.Error(), "auth.verify") {
		t.Errorf("bad verify: %v", err)
	}
}
