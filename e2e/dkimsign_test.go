package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// dkimpyVerify verifies every DKIM-Signature of a message with Debian's
// python3-dkim (dkimpy), the key records answered from records instead of
// DNS. It prints one line per signature: "d=DOMAIN s=SELECTOR a=ALGO pass"
// or "... fail".
const dkimpyVerify = `
import json, re, sys
import dkim
records = json.loads(sys.argv[1])
msg = sys.stdin.buffer.read()
def dnsfunc(name, timeout=5):
    return records.get(name.decode().rstrip('.'), '').encode() or None
head = msg.split(b'\r\n\r\n', 1)[0]
n = len(re.findall(rb'(?mi)^dkim-signature:', head))
d = dkim.DKIM(msg)
for i in range(n):
    ok = d.verify(idx=i, dnsfunc=dnsfunc)
    print('d=%s s=%s a=%s %s' % (d.domain.decode(), d.selector.decode(), d.signature_fields[b'a'].decode(), 'pass' if ok else 'fail'))
`

// dkimpyVerifies runs [dkimpyVerify] on msg.
func dkimpyVerifies(t *testing.T, records map[string]string, msg []byte) string {
	t.Helper()
	py := "/usr/bin/python3" // Debian's, which has python3-dkim
	if _, err := os.Stat(py); err != nil {
		missing(t, "python3 (%v): run e2e/install-deps.sh", err)
	}
	rec, _ := json.Marshal(records)
	cmd := exec.Command(py, "-c", dkimpyVerify, string(rec))
	cmd.Stdin = strings.NewReader(string(msg))
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "No module named 'dkim'") {
		missing(t, "python3-dkim: run e2e/install-deps.sh")
	}
	if err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// keygen runs `mailwarden dkim keygen` and returns the record it prints,
// its strings joined, by name.
func keygen(t *testing.T, bin, file string, args ...string) (name, value string) {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"dkim", "keygen", "--out", file}, args...)...).Output()
	if err != nil {
		t.Fatalf("dkim keygen %v: %v", args, err)
	}
	line := strings.TrimSpace(string(out))
	name, rest, ok := strings.Cut(line, ". IN TXT ")
	if !ok {
		t.Fatalf("keygen printed %q", line)
	}
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(rest, -1) {
		value += m[1]
	}
	return name, value
}

// TestDKIMSign is the signing issue's interoperability case: outbound mail
// through real Postfix (and Sendmail), which a rule tags and stamps with a
// header, leaves dual-signed (RSA and Ed25519), and both signatures verify
// at the sink with dkimpy and with go-msgauth; inbound mail and mail from
// another domain are not signed; the tracking row records each signature.
func TestDKIMSign(t *testing.T) {
	bin, err := mailwardenBinary()
	if err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	records := map[string]string{}
	n, v := keygen(t, bin, filepath.Join(keys, "rsa.pem"), "--domain", "example.com", "--selector", "rsa2026")
	records[n] = v
	n, v = keygen(t, bin, filepath.Join(keys, "ed.pem"), "--domain", "example.com", "--selector", "ed2026", "--algo", "ed25519")
	records[n] = v
	conf := `
[organization]
internal_domains = ["example.com"]
trusted_networks = ["127.0.0.1/32"]

[[dkim_sign]]
domain = "example.com"
selector = "rsa2026"
key_file = "` + filepath.Join(keys, "rsa.pem") + `"

[[dkim_sign]]
domain = "example.com"
selector = "ed2026"
key_file = "` + filepath.Join(keys, "ed.pem") + `"

[[rule]]
name = "tag-outbound"
direction = "outbound"
tag_subject = "[EXT]"
add_headers = ["X-Mailwarden-Outbound: yes"]
`
	lookup := func(name string) ([]string, error) {
		if r, ok := records[name]; ok {
			return []string{r}, nil
		}
		return nil, errors.New("NXDOMAIN")
	}
	for _, m := range MTAs {
		t.Run(m.Name, func(t *testing.T) {
			sink := StartSink(t)
			mw := startMailwarden(t, conf)
			mta := m.Start(t, mw.addr, sink.Addr())
			id := func(name string) string { return "dkim-" + m.Name + "-" + name }
			mail := func(name, from string) []byte {
				return []byte("From: Alice <" + from + ">\r\nTo: Bob <bob@example.net>\r\nCc: carol@example.org\r\n" +
					"Subject: quarterly figures " + name + "\r\nDate: " + dateNow() + "\r\n" +
					"Message-ID: <" + id(name) + "@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
					"Hello Bob,  \r\n\r\nthe figures are attached.\r\n.leading dot\r\n\r\n\r\n")
			}

			t.Run("outbound mail verifies after the subject tag and added header", func(t *testing.T) {
				r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.com", []string{"bob@example.net"}, mail("out", "alice@example.com"))
				if !r.Accepted() {
					t.Fatalf("not accepted: %s", r)
				}
				d := waitDelivered(t, sink, mta, id("out"), 1)[0]
				if s, _ := d.Header("Subject"); s != "[EXT] quarterly figures out" {
					t.Errorf("Subject %q: the rule's tag is missing", s)
				}
				if h, _ := d.Header("X-Mailwarden-Outbound"); h != "yes" {
					t.Errorf("X-Mailwarden-Outbound %q", h)
				}
				if sigs := d.HeaderValues("DKIM-Signature"); len(sigs) != 2 {
					t.Fatalf("%d DKIM-Signature fields, want 2:\n%s", len(sigs), d.Data)
				}
				head, _ := d.Split()
				t.Logf("%s delivered header:\n%s", m.Name, head)
				got := dkimpyVerifies(t, records, d.Data)
				for _, want := range []string{"d=example.com s=rsa2026 a=rsa-sha256 pass", "d=example.com s=ed2026 a=ed25519-sha256 pass"} {
					if !strings.Contains(got, want) {
						t.Errorf("dkimpy: want %q, got:\n%s\nmessage:\n%s", want, got, d.Data)
					}
				}
				vs, err := dkim.VerifyWithOptions(strings.NewReader(string(d.Data)), &dkim.VerifyOptions{LookupTXT: lookup})
				if err != nil || len(vs) != 2 {
					t.Fatalf("go-msgauth: %v, %d verifications", err, len(vs))
				}
				for _, v := range vs {
					if v.Err != nil {
						t.Errorf("go-msgauth: %s: %v", v.Domain, v.Err)
					}
				}
				// The verifier is not a rubber stamp: the untagged subject fails.
				untagged := strings.Replace(string(d.Data), "[EXT] ", "", 1)
				if got := dkimpyVerifies(t, records, []byte(untagged)); strings.Contains(got, "pass") {
					t.Errorf("dkimpy passes the untagged message:\n%s", got)
				}
				mw.trackingRow(t, "--subject", "quarterly figures out") // waits for it
				var row struct {
					Findings []struct{ Name, Value string }
				}
				out := mw.cli(t, "log", "--format", "json", "--subject", "quarterly figures out")
				if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &row); err != nil {
					t.Fatalf("log: %v\n%s", err, out)
				}
				var signed []string
				for _, f := range row.Findings {
					if f.Name == "dkim_sign" {
						signed = append(signed, f.Value)
					}
				}
				if strings.Join(signed, ", ") != "d=example.com s=rsa2026, d=example.com s=ed2026" {
					t.Errorf("tracking row's dkim_sign findings %v", signed)
				}
				if !strings.Contains(mw.log.String(), "dkim_signed=\"d=example.com s=rsa2026, d=example.com s=ed2026\"") {
					t.Errorf("the message log line does not name the signatures:\n%s", tail(mw.log.String(), 10))
				}
			})

			t.Run("inbound mail and other domains are not signed", func(t *testing.T) {
				for _, c := range []struct{ name, ip, from string }{
					{"inbound", "127.0.0.2", "alice@example.com"},
					{"other", "127.0.0.1", "alice@example.org"},
				} {
					r := Send(t, mta.SMTPAddr, c.ip, c.from, []string{"bob@example.net"}, mail(c.name, c.from))
					if !r.Accepted() {
						t.Fatalf("%s: not accepted: %s", c.name, r)
					}
					d := waitDelivered(t, sink, mta, id(c.name), 1)[0]
					if sigs := d.HeaderValues("DKIM-Signature"); len(sigs) != 0 {
						t.Errorf("%s mail signed: %v", c.name, sigs)
					}
				}
			})
		})
	}
}
