//go:debug rsa1024min=0

package dkim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	mdns "github.com/miekg/dns"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/check/dns/dnstest"
)

// TXT is a TXT record for name holding value, split into strings of at
// most 255 bytes as a zone file would (RFC 7208 §3.3 joins them again).
func TXT(name, value string) mdns.RR {
	var parts []string
	for len(value) > 255 {
		parts, value = append(parts, value[:255]), value[255:]
	}
	parts = append(parts, value)
	return &mdns.TXT{Hdr: mdns.RR_Header{Name: mdns.Fqdn(name), Rrtype: mdns.TypeTXT, Class: mdns.ClassINET, Ttl: 300}, Txt: parts}
}

func keyRecord(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k)
	default:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
}

const message = "From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: hello\r\n" +
	"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nHello Bob.\r\n\r\nAlice\r\n"

func sign(t *testing.T, msg, domain, selector string, key crypto.Signer, length bool) string {
	t.Helper()
	var b bytes.Buffer
	o := &msgdkim.SignOptions{Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed}
	if err := msgdkim.Sign(&b, strings.NewReader(msg), o); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if length {
		// go-msgauth never signs with l=: rewrite the tag in, which breaks
		// the signature, as an attacker's copy of a real l= signature
		// would not; the result must be policy either way.
		out = strings.Replace(out, "DKIM-Signature: ", "DKIM-Signature: l=12; ", 1)
	}
	return out
}

func resolver(t *testing.T, srv *dnstest.Server) *dns.Resolver {
	t.Helper()
	r, err := dns.New(dns.Options{Servers: []string{srv.Addr()}, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerify(t *testing.T) {
	srv := dnstest.New(t)
	r := resolver(t, srv)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 768)
	if err != nil {
		t.Fatal(err)
	}
	srv.AddRR(TXT("rsa._domainkey.example.org", keyRecord(t, rsaKey.Public())),
		TXT("ed._domainkey.example.org", keyRecord(t, edKey.Public())),
		TXT("weak._domainkey.example.org", keyRecord(t, weak.Public())))
	srv.Set("fail._domainkey.example.org.", dnstest.Behavior{Rcode: mdns.RcodeServerFailure})
	srv.Set("slow._domainkey.example.org.", dnstest.Behavior{Drop: true})

	tests := []struct {
		name string
		msg  string
		want string // the findings, "NAME=VALUE@WHERE" joined by ", "
	}{
		{"unsigned", message, "dkim=none@message"},
		{"rsa pass", sign(t, message, "example.org", "rsa", rsaKey, false), "dkim=pass@d=example.org s=rsa"},
		{"ed25519 pass", sign(t, message, "example.org", "ed", edKey, false), "dkim=pass@d=example.org s=ed"},
		{"dual signature", sign(t, sign(t, message, "example.org", "ed", edKey, false), "example.org", "rsa", rsaKey, false),
			"dkim=pass@d=example.org s=rsa, dkim=pass@d=example.org s=ed"},
		{"body changed", strings.Replace(sign(t, message, "example.org", "rsa", rsaKey, false), "Hello Bob", "Hello Eve", 1),
			"dkim=fail@d=example.org s=rsa"},
		{"header changed", strings.Replace(sign(t, message, "example.org", "rsa", rsaKey, false), "Subject: hello", "Subject: pay now", 1),
			"dkim=fail@d=example.org s=rsa"},
		{"no key", sign(t, message, "example.org", "gone", rsaKey, false), "dkim=permerror@d=example.org s=gone"},
		{"servfail", sign(t, message, "example.org", "fail", rsaKey, false), "dkim=temperror@d=example.org s=fail"},
		{"timeout", sign(t, message, "example.org", "slow", rsaKey, false), "dkim=temperror@d=example.org s=slow"},
		{"key under 1024 bits", sign(t, message, "example.org", "weak", weak, false), "dkim=fail@d=example.org s=weak"},
		{"l= shorter than the body", sign(t, message, "example.org", "rsa", rsaKey, true),
			"dkim=policy@d=example.org s=rsa, dkim.partial=l=12 of 21 bytes@d=example.org s=rsa"},
		{"l= covering the body", strings.Replace(sign(t, message, "example.org", "rsa", rsaKey, true), "l=12;", "l=21;", 1),
			"dkim=policy@d=example.org s=rsa"},
		{"malformed l=", strings.Replace(sign(t, message, "example.org", "rsa", rsaKey, true), "l=12;", "l=x;", 1),
			"dkim=permerror@d=example.org s=rsa"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Verify(context.Background(), r, []byte(tc.msg), Options{Timeout: 300 * time.Millisecond})
			if got := show(Findings(res)); got != tc.want {
				t.Errorf("findings\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func show(fs []check.Finding) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.Name+"="+f.Value+"@"+f.Where)
	}
	return strings.Join(parts, ", ")
}

// rfc8463 is the signed message of RFC 8463 Appendix A.3, an Ed25519 and
// an RSA signature by football.example.com, with the keys of A.2.
const rfc8463 = `DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;
 d=football.example.com; i=@football.example.com;
 q=dns/txt; s=brisbane; t=1528637909; h=from : to :
 subject : date : message-id : from : subject : date;
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;
 b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus
 Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;
 d=football.example.com; i=@football.example.com;
 q=dns/txt; s=test; t=1528637909; h=from : to : subject :
 date : message-id : from : subject : date;
 bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;
 b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3
 DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz
 dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=
From: Joe SixPack <joe@football.example.com>
To: Suzie Q <suzie@shopping.example.net>
Subject: Is dinner ready?
Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)
Message-ID: <20030712040037.46341.5F8J@football.example.com>

Hi.

We lost the game.  Are you hungry yet?

Joe.`

func TestRFC8463(t *testing.T) {
	srv := dnstest.New(t)
	srv.AddRR(TXT("brisbane._domainkey.football.example.com", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="),
		TXT("test._domainkey.football.example.com", "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"))
	raw := strings.ReplaceAll(rfc8463, "\n", "\r\n")
	res := Verify(context.Background(), resolver(t, srv), []byte(raw), Options{})
	if got, want := show(Findings(res)), "dkim=pass@d=football.example.com s=brisbane, dkim=pass@d=football.example.com s=test"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	// One byte of the body changed fails both.
	res = Verify(context.Background(), resolver(t, srv), []byte(strings.Replace(raw, "hungry", "Hungry", 1)), Options{})
	if got, want := show(Findings(res)), "dkim=fail@d=football.example.com s=brisbane, dkim=fail@d=football.example.com s=test"; got != want {
		t.Errorf("changed body: got %s\nwant %s", got, want)
	}
}

func TestLimit(t *testing.T) {
	srv := dnstest.New(t)
	msg := message
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	srv.AddRR(TXT("ed._domainkey.example.org", keyRecord(t, edKey.Public())))
	for range 4 {
		msg = sign(t, msg, "example.org", "ed", edKey, false)
	}
	res := Verify(context.Background(), resolver(t, srv), []byte(msg), Options{MaxSignatures: 2})
	if got, want := show(Findings(res)), "dkim=pass@d=example.org s=ed, dkim=pass@d=example.org s=ed, dkim.limit=2@message"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	if n := srv.Count("ed._domainkey.example.org.", mdns.TypeTXT); n > 2 {
		t.Errorf("%d key lookups for 2 verified signatures", n)
	}
}

func TestCanonicalBodyLength(t *testing.T) {
	tests := []struct {
		body          string
		simple, relax int64
	}{
		{"", 2, 0},
		{"\r\n\r\n", 2, 0},
		{"a\r\n", 3, 3},
		{"a \t b  \r\n\r\n\r\n", 9, 5},
		{"a\n\nb\n", 8, 8},
		{"no line end", 13, 13},
	}
	for _, tc := range tests {
		if got := canonicalBodyLength([]byte(tc.body), false); got != tc.simple {
			t.Errorf("simple %q = %d, want %d", tc.body, got, tc.simple)
		}
		if got := canonicalBodyLength([]byte(tc.body), true); got != tc.relax {
			t.Errorf("relaxed %q = %d, want %d", tc.body, got, tc.relax)
		}
	}
}

func TestSharedOnce(t *testing.T) {
	srv := dnstest.New(t)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	srv.AddRR(TXT("ed._domainkey.example.org", keyRecord(t, edKey.Public())))
	in := &check.Input{Raw: []byte(sign(t, message, "example.org", "ed", edKey, false)), Shared: &check.Shared{},
		Env: &check.Env{DNS: resolver(t, srv)}}
	a, b := Shared(context.Background(), in, Options{}), Shared(context.Background(), in, Options{})
	if a != b || len(a.Passing()) != 1 {
		t.Errorf("two verifications %p %p, passing %v", a, b, a.Passing())
	}
}

func FuzzCanonicalBodyLength(f *testing.F) {
	for _, s := range []string{"", "a\r\n", "a \t b  \r\n\r\n\r\n", "x\n\n\ny", " \r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		simple, relaxed := canonicalBodyLength([]byte(body), false), canonicalBodyLength([]byte(body), true)
		// Relaxed only ever removes or shrinks white space.
		if relaxed > simple || relaxed < 0 {
			t.Fatalf("%q: simple %d, relaxed %d", body, simple, relaxed)
		}
		ParseTags(body)
	})
}
