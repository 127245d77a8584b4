package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/mailwarden/mailwarden/check/dns/dnstest"
	"github.com/mailwarden/mailwarden/config"
)

// dkimpySign is a signer in Python's dkimpy (Debian's python3-dkim): it
// signs standard input with the key file for domain and selector, and
// writes the signed message.
const dkimpySign = `import sys, dkim
algo, domain, selector, keyfile = sys.argv[1:5]
msg = sys.stdin.buffer.read()
key = open(keyfile, 'rb').read().strip()
sig = dkim.sign(msg, selector.encode(), domain.encode(), key,
    include_headers=[b'from', b'to', b'subject', b'date', b'message-id'],
    signature_algorithm=algo.encode())
sys.stdout.buffer.write(sig + msg)
`

// dkimpy signs msg with dkimpy, the other implementation of the interop
// tests (Debian's /usr/bin/python3, whatever python3 is first in PATH).
func dkimpy(t *testing.T, msg []byte, algo, domain, selector, keyFile string) []byte {
	t.Helper()
	script := filepath.Join(t.TempDir(), "sign.py")
	if err := os.WriteFile(script, []byte(dkimpySign), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", script, algo, domain, selector, keyFile)
	cmd.Stdin = bytes.NewReader(msg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dkimpy %s: %v\n%s (python3-dkim is installed by e2e/install-deps.sh)", algo, err, stderr.String())
	}
	if !bytes.HasPrefix(out, []byte("DKIM-Signature:")) {
		t.Fatalf("dkimpy wrote no signature:\n%s", out)
	}
	return out
}

// txtRR is a TXT record split into 255-byte strings.
func txtRR(name, value string) mdns.RR {
	var parts []string
	for len(value) > 255 {
		parts, value = append(parts, value[:255]), value[255:]
	}
	return &mdns.TXT{Hdr: mdns.RR_Header{Name: mdns.Fqdn(name), Rrtype: mdns.TypeTXT, Class: mdns.ClassINET, Ttl: 300},
		Txt: append(parts, value)}
}

const dkimConfig = `
[organization]
internal_domains = ["example.com"]

[dns]
servers = ["%s"]

[auth]
authserv_id = "mx.mailwarden.test"
`

// TestDKIMInterop sends messages signed by dkimpy (RSA 2048 and Ed25519,
// RFC 8463) through real Postfix and Sendmail to mailwarden under the
// embedded default rules, with the keys and DMARC policies on a fake DNS
// server: they pass DKIM and DMARC, and arrive at the sink with our
// Authentication-Results at the top and a forged one claiming our
// authserv-id removed. An unsigned message from a p=reject domain is
// refused at end of message with 550 5.7.1 naming the rule dmarc-reject.
func TestDKIMInterop(t *testing.T) {
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaFile := filepath.Join(dir, "rsa.pem")
	if err := os.WriteFile(rsaFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), 0o600); err != nil {
		t.Fatal(err)
	}
	rsaPub, _ := x509.MarshalPKIXPublicKey(rsaKey.Public())
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edFile := filepath.Join(dir, "ed.key")
	// dkimpy reads an Ed25519 key as the base64 of its 32-byte seed.
	if err := os.WriteFile(edFile, []byte(base64.StdEncoding.EncodeToString(edKey.Seed())), 0o600); err != nil {
		t.Fatal(err)
	}

	dnsSrv := dnstest.New(t)
	dnsSrv.AddRR(txtRR("rsa._domainkey.example.org", "v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(rsaPub)),
		txtRR("ed._domainkey.example.org", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(edPub)),
		txtRR("_dmarc.example.org", "v=DMARC1; p=reject"))
	conf := string(config.DefaultTOML()) + fmt.Sprintf(dkimConfig, dnsSrv.Addr())

	for _, m := range MTAs {
		t.Run(m.Name, func(t *testing.T) {
			sink := StartSink(t)
			mw := startMailwarden(t, conf)
			mta := m.Start(t, mw.addr, sink.Addr())
			message := func(id string) []byte {
				return []byte("From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: dkim " + id +
					"\r\nDate: " + dateNow() + "\r\nMessage-ID: <" + id + "@example.net>\r\n" +
					"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Bob,\r\n\r\n  signed  by dkimpy.\r\n")
			}
			for _, tc := range []struct{ algo, selector, key string }{
				{"rsa-sha256", "rsa", rsaFile},
				{"ed25519-sha256", "ed", edFile},
			} {
				t.Run(tc.algo, func(t *testing.T) {
					id := m.Name + "-dkimpy-" + tc.selector
					signed := dkimpy(t, message(id), tc.algo, "example.org", tc.selector, tc.key)
					forged := "Authentication-Results: mx.mailwarden.test; dkim=pass header.d=bank.example; dmarc=pass\r\n"
					r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.org", []string{"bob@example.com"}, append([]byte(forged), signed...))
					if !r.Accepted() {
						t.Fatalf("not accepted: %s", r)
					}
					d := waitDelivered(t, sink, mta, id, 1)[0]
					ars := d.HeaderValues("Authentication-Results")
					if len(ars) != 1 {
						t.Fatalf("Authentication-Results %q, want ours alone\n%s", ars, d.Data)
					}
					ar := strings.Join(strings.Fields(ars[0]), " ")
					if !strings.HasPrefix(ar, "mx.mailwarden.test;") || !strings.Contains(ar, "dkim=pass header.d=example.org") ||
						!strings.Contains(ar, "dmarc=pass") || strings.Contains(ar, "bank.example") {
						t.Errorf("Authentication-Results %q", ar)
					}
					row := mw.trackingRow(t, "--subject", "dkim "+id)
					if row.Action != "accept" {
						t.Errorf("tracking row %+v", row)
					}
				})
			}
			t.Run("DMARC p=reject spoof is refused at end of message", func(t *testing.T) {
				id := m.Name + "-dmarc-spoof"
				r := Send(t, mta.SMTPAddr, "127.0.0.1", "x@attacker.example", []string{"bob@example.com"}, message(id))
				if r.Data.Code != 550 || !strings.Contains(r.Data.Text, "5.7.1") || !strings.Contains(r.Data.Text, "dmarc-reject") {
					t.Fatalf("want 550 5.7.1 naming dmarc-reject at end of message: %s", r)
				}
				// A dkimpy signature broken on the way fails too.
				id = m.Name + "-dmarc-tampered"
				signed := dkimpy(t, message(id), "ed25519-sha256", "example.org", "ed", edFile)
				tampered := bytes.Replace(signed, []byte("Hello Bob"), []byte("Hello Eve"), 1)
				r = Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.org", []string{"bob@example.com"}, tampered)
				if r.Data.Code != 550 || !strings.Contains(r.Data.Text, "dmarc-reject") {
					t.Fatalf("tampered message: want 550 naming dmarc-reject: %s", r)
				}
				if n := len(deliveriesOf(sink, m.Name+"-dmarc-spoof")) + len(deliveriesOf(sink, id)); n != 0 {
					t.Errorf("%d refused messages delivered", n)
				}
			})
		})
	}
}
