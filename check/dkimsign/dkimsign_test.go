package dkimsign

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailwarden/mailwarden/config"
)

// opensslEd25519 is a key as `openssl genpkey -algorithm ed25519` writes it.
const opensslEd25519 = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIM2iCR7OdZXw9paDe6Dvvr91A/l6ysg5A1uANUNKdrYb
-----END PRIVATE KEY-----
`

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSA is one 2048-bit key for the package's tests (generating is slow).
func testRSA(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func writeKey(t *testing.T, dir, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	k := testRSA(t)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pkcs8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)})
	tests := []struct {
		name    string
		data    []byte
		mode    os.FileMode
		algo    string // "" means an error containing errHas
		errHas  string
		missing bool
	}{
		{name: "pkcs1.pem", data: pkcs1, mode: 0o600, algo: "rsa-sha256"},
		{name: "pkcs8.pem", data: pkcs8, mode: 0o400, algo: "rsa-sha256"},
		{name: "ed.pem", data: []byte(opensslEd25519), mode: 0o600, algo: "ed25519-sha256"},
		{name: "group.pem", data: pkcs1, mode: 0o640, errHas: "group.pem is mode 0640, readable by group or others"},
		{name: "world.pem", data: []byte(opensslEd25519), mode: 0o604, errHas: "mode 0604"},
		{name: "small.pem", data: smallPEM, mode: 0o600, errHas: "RSA key of 1024 bits; at least 2048"},
		{name: "cert.pem", data: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), mode: 0o600, errHas: `PEM block "CERTIFICATE"`},
		{name: "text.pem", data: []byte("not a key\n"), mode: 0o600, errHas: "no PEM block"},
		{name: "garbage.pem", data: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), mode: 0o600, errHas: "unusable key"},
		{name: "absent.pem", missing: true, errHas: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if !tt.missing {
				p = writeKey(t, dir, tt.name, tt.data, tt.mode)
			}
			s, err := LoadKey(p)
			if tt.algo != "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := Algorithm(s); got != tt.algo {
					t.Errorf("algorithm %s, want %s", got, tt.algo)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) || !errors.Is(err, ErrKey) {
				t.Fatalf("error %v, want one wrapping ErrKey containing %q", err, tt.errHas)
			}
			if !tt.missing && !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file %s", err, p)
			}
		})
	}
}

// TestConfig checks that [[dkim_sign]] tables load their keys at config
// load, and that a bad one is a problem naming the table, the key and the
// file, relative paths taken from the config file's directory.
func TestConfig(t *testing.T) {
	dir := t.TempDir()
	der, _ := x509.MarshalPKCS8PrivateKey(testRSA(t))
	writeKey(t, dir, "rsa.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	writeKey(t, dir, "ed.pem", []byte(opensslEd25519), 0o600)
	writeKey(t, dir, "open.pem", []byte(opensslEd25519), 0o644)
	file := filepath.Join(dir, "mailwarden.toml")

	good := `
[[dkim_sign]]
domain = "Example.COM."
selector = "rsa2026"
key_file = "rsa.pem"

[[dkim_sign]]
domain = "example.com"
selector = "ed2026"
key_file = "` + filepath.Join(dir, "ed.pem") + `"
subdomains = true
`
	cfg, rep, err := config.Decode(file, []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	s := FromConfig(cfg)
	keys := s.KeysFor("EXAMPLE.com")
	if len(keys) != 2 || keys[0].Selector != "rsa2026" || Algorithm(keys[0].Signer) != "rsa-sha256" ||
		keys[1].Selector != "ed2026" || Algorithm(keys[1].Signer) != "ed25519-sha256" || keys[0].Domain != "example.com" {
		t.Fatalf("keys for example.com: %+v", keys)
	}
	if k := s.KeysFor("mail.example.com"); len(k) != 1 || k[0].Selector != "ed2026" {
		t.Errorf("keys for a subdomain: %+v (only the table with subdomains = true)", k)
	}
	if k := s.KeysFor("badexample.com"); len(k) != 0 {
		t.Errorf("keys for badexample.com: %+v", k)
	}
	if FromConfig(mustDecode(t, file, "")) != nil {
		t.Error("a config without [[dkim_sign]] has a signer")
	}

	bad := `
[[dkim_sign]]
domain = "example.com"
selector = "s1"
key_file = "open.pem"

[[dkim_sign]]
domain = "nodot"
selector = "bad selector"

[[dkim_sign]]
domain = "example.org"
selector = "s3"
key_file = "absent.pem"
`
	_, rep, err = config.Decode(file, []byte(bad))
	if err == nil {
		err = rep.Err()
	}
	if err == nil {
		t.Fatal("bad tables load")
	}
	msg := err.Error()
	for _, want := range []string{
		`:5: dkim_sign[0].key_file: dkimsign: unusable key: ` + filepath.Join(dir, "open.pem") + ` is mode 0644, readable by group or others; want 0600 or 0400 (hint: chmod 600`,
		`:8: dkim_sign[1].domain: "nodot" is not a domain`,
		`:9: dkim_sign[1].selector: "bad selector" is not a selector`,
		`dkim_sign[1].key_file: key_file is missing`,
		`:14: dkim_sign[2].key_file: dkimsign: unusable key: stat ` + filepath.Join(dir, "absent.pem") + `: no such file`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func mustDecode(t *testing.T, file, src string) *config.Config {
	t.Helper()
	cfg, rep, err := config.Decode(file, []byte(src))
	if err == nil {
		err = rep.Err()
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const testMessage = "From: Alice <alice@example.com>\r\n" +
	"To: bob@example.net\r\n" +
	"Subject: [TAG] hello\r\n" +
	"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n" +
	"Message-ID: <sign@example.com>\r\n" +
	"Received: from x by y\r\n" +
	"X-Added: yes\r\n" +
	"\r\n" +
	"Hello,  \r\nworld.\r\n\r\n\r\n"

func splitMessage(msg string) ([]Field, []byte) {
	head, body, _ := strings.Cut(msg, "\r\n\r\n")
	var hs []Field
	for _, l := range strings.Split(head, "\r\n") {
		n, v, _ := strings.Cut(l, ":")
		hs = append(hs, Field{Name: n, Value: v})
	}
	return hs, []byte(body)
}

// lookup answers the key records of keys, as DNS would.
func lookup(keys ...Key) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		for _, k := range keys {
			if name == k.Selector+"._domainkey."+k.Domain {
				rec, err := PublicRecord(k.Signer)
				return []string{rec}, err
			}
		}
		return nil, errors.New("NXDOMAIN")
	}
}

// verify checks msg (the signature fields prepended) with go-msgauth.
func verify(t *testing.T, msg string, keys ...Key) []*dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(strings.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup(keys...)})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func signed(sigs []Signature, msg string) string {
	var b strings.Builder
	for _, s := range sigs {
		b.WriteString("DKIM-Signature:" + s.Value + "\r\n")
	}
	return b.String() + msg
}

func TestSignDual(t *testing.T) {
	ed, err := ParseKey([]byte(opensslEd25519))
	if err != nil {
		t.Fatal(err)
	}
	keys := []Key{{Domain: "example.com", Selector: "rsa", Signer: testRSA(t)}, {Domain: "example.com", Selector: "ed", Signer: ed, Index: 1}}
	hs, body := splitMessage(testMessage)
	sigs, err := Sign(keys, hs, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 2 || sigs[0].Algorithm != "rsa-sha256" || sigs[1].Algorithm != "ed25519-sha256" {
		t.Fatalf("signatures %+v", sigs)
	}
	for _, s := range sigs {
		for _, tag := range []string{"c=relaxed/relaxed", "d=example.com", "h=From:From:Subject:Date:To:Message-ID;", "a=" + s.Algorithm} {
			if !strings.Contains(strings.Join(strings.Fields(s.Value), ""), strings.ReplaceAll(tag, " ", "")) {
				t.Errorf("signature %q lacks %s", s.Value, tag)
			}
		}
		if strings.Contains(s.Value, "Received") || strings.Contains(s.Value, "X-Added") {
			t.Errorf("signature %q signs a field outside the recommended set", s.Value)
		}
		if strings.Contains(s.Value, "\n") && !strings.Contains(s.Value, "\r\n") {
			t.Errorf("signature %q folds with bare LF", s.Value)
		}
	}
	msg := signed(sigs, testMessage)
	vs := verify(t, msg, keys...)
	if len(vs) != 2 {
		t.Fatalf("%d verifications", len(vs))
	}
	for _, v := range vs {
		if v.Err != nil {
			t.Errorf("%s: %v", v.Domain, v.Err)
		}
	}
	// Relaxed canonicalization: refolding and trailing space survive.
	refolded := strings.Replace(msg, "Subject: [TAG] hello", "Subject:   [TAG]\r\n\thello", 1)
	refolded = strings.Replace(refolded, "Hello,  \r\n", "Hello, \r\n", 1)
	for _, v := range verify(t, refolded, keys...) {
		if v.Err != nil {
			t.Errorf("refolded: %s: %v", v.Domain, v.Err)
		}
	}
	// What the signature protects: the subject, the body, and From, which
	// is oversigned so a second From added in transit fails.
	for name, tamper := range map[string]string{
		"subject": strings.Replace(msg, "[TAG] hello", "hello", 1),
		"body":    strings.Replace(msg, "world.", "World.", 1),
		// Added above the signed From, where a verifier that signs From only
		// once would pick the original, bottom-up (RFC 6376 §5.4.2).
		"second From": "From: mallory@evil.example\r\n" + msg,
	} {
		for _, v := range verify(t, tamper, keys...) {
			if v.Err == nil {
				t.Errorf("%s changed, but %s verifies", name, v.Domain)
			}
		}
	}
	// Unsigned fields may change.
	for _, v := range verify(t, strings.Replace(msg, "X-Added: yes", "X-Added: no", 1), keys...) {
		if v.Err != nil {
			t.Errorf("an unsigned field changed, and %v", v.Err)
		}
	}
}

func TestHeaderKeys(t *testing.T) {
	tests := []struct {
		fields []string
		want   string
	}{
		{[]string{"From", "To"}, "From:From:To"},
		{[]string{"to", "from", "Received", "cc", "Cc", "x-mailer"}, "From:From:To:Cc:Cc"},
		{nil, "From"},
		{[]string{"Subject", "Subject", "List-Id", "Content-Type", "MIME-Version", "Reply-To"}, "From:Reply-To:Subject:Subject:List-Id:MIME-Version:Content-Type"},
	}
	for _, tt := range tests {
		var hs []Field
		for _, n := range tt.fields {
			hs = append(hs, Field{Name: n, Value: " x"})
		}
		if got := strings.Join(HeaderKeys(hs), ":"); got != tt.want {
			t.Errorf("HeaderKeys(%v) = %s, want %s", tt.fields, got, tt.want)
		}
	}
}

func TestKeygenRecord(t *testing.T) {
	for _, algo := range []string{"rsa", "ed25519"} {
		t.Run(algo, func(t *testing.T) {
			key, pemData, err := GenerateKey(algo, 2048)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseKey(pemData)
			if err != nil {
				t.Fatal(err)
			}
			if !back.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Error("PEM does not hold the generated key")
			}
			rec, err := PublicRecord(key)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(rec, "v=DKIM1; k="+algo+"; p=") {
				t.Errorf("record %q", rec)
			}
			// A signature made with the key verifies against the record.
			hs, body := splitMessage(testMessage)
			k := Key{Domain: "example.com", Selector: "s", Signer: back}
			sigs, err := Sign([]Key{k}, hs, body)
			if err != nil {
				t.Fatal(err)
			}
			if v := verify(t, signed(sigs, testMessage), k); len(v) != 1 || v[0].Err != nil {
				t.Errorf("verification %+v", v[0])
			}
		})
	}
	if _, _, err := GenerateKey("rsa", 1024); !errors.Is(err, ErrKey) {
		t.Errorf("1024-bit RSA: %v", err)
	}
	if _, _, err := GenerateKey("dsa", 0); !errors.Is(err, ErrKey) {
		t.Errorf("dsa: %v", err)
	}
}

func TestTXTRecord(t *testing.T) {
	short := TXTRecord("example.com.", "s1", "v=DKIM1; k=ed25519; p=abc")
	if short != `s1._domainkey.example.com. IN TXT "v=DKIM1; k=ed25519; p=abc"` {
		t.Errorf("short record: %s", short)
	}
	long := strings.Repeat("a", 255) + strings.Repeat("b", 255) + "c"
	got := TXTRecord("example.com", "s1", long)
	want := `s1._domainkey.example.com. IN TXT "` + strings.Repeat("a", 255) + `" "` + strings.Repeat("b", 255) + `" "c"`
	if got != want {
		t.Errorf("long record:\n%s\nwant\n%s", got, want)
	}
	exact := TXTRecord("example.com", "s1", strings.Repeat("a", 255))
	if strings.Count(exact, `"`) != 2 {
		t.Errorf("255 bytes make one string: %s", exact)
	}
}

func BenchmarkSign(b *testing.B) {
	ed, err := ParseKey([]byte(opensslEd25519))
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("A line of an ordinary outbound message body, 72 bytes or so of text.\r\n"), 150) // ~10 KB
	hs, _ := splitMessage(testMessage)
	for _, k := range []Key{{Domain: "example.com", Selector: "rsa2048", Signer: testRSA(b)}, {Domain: "example.com", Selector: "ed25519", Signer: ed}} {
		b.Run(Algorithm(k.Signer), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := Sign([]Key{k}, hs, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzParseKey: any input gives a usable key or an ErrKey, never a panic
// or a key under the minimum.
func FuzzParseKey(f *testing.F) {
	f.Add([]byte(opensslEd25519))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseKey(b)
		if err != nil {
			if !errors.Is(err, ErrKey) {
				t.Fatalf("error %v does not wrap ErrKey", err)
			}
			return
		}
		if k, ok := s.(*rsa.PrivateKey); ok && k.N.BitLen() < MinRSABits {
			t.Fatalf("accepted a %d-bit key", k.N.BitLen())
		}
	})
}
