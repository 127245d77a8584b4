package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/clamd/clamdtest"
)

// testFiles are the samples of Debian's clamav-testfiles package that
// must be found through Postfix, each holding clam.exe (the test
// database's ClamAV-Test-File).
var testFiles = []string{"clam.exe", "clam.zip", "clam.7z", "clam.tar.gz", "clam.exe.mbox.base64"}

const testFilesDir = "/usr/share/clamav-testfiles"

// attached is a message with data attached as name, base64.
func attached(id, subject, name string, data []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	lines = append(lines, enc)
	return []byte("From: Alice <alice@example.net>\r\nTo: bob@example.com\r\nSubject: " + subject +
		"\r\nDate: " + dateNow() + "\r\nMessage-ID: <" + id + "@example.net>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--b1\r\nContent-Type: application/octet-stream; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + strings.Join(lines, "\r\n") + "\r\n--b1--\r\n")
}

// TestClamAV runs viruses through real Postfix, mailwarden under the
// embedded default with [clamav] set, and a real clamd on the test
// database: EICAR and the clamav-testfiles samples go to the virus
// quarantine, scanned once for two recipients; a clean message is
// delivered; with clamd gone the message is tempfailed, never passed.
func TestClamAV(t *testing.T) {
	start := time.Now()
	cd := clamdtest.Start(t, clamdtest.Options{})
	conf := string(config.DefaultTOML()) + "\n[clamav]\naddress = \"" + cd.Address() + "\"\ntimeout = \"10s\"\n"
	sink := StartSink(t)
	mw := startMailwarden(t, conf)
	mta := StartPostfix(t, mw.addr, sink.Addr())
	t.Logf("setup (clamd, sink, mailwarden, Postfix): %v", time.Since(start).Round(time.Millisecond))

	quarantinedVirus := func(t *testing.T, id, subject, signature string, data []byte, rcpts ...string) {
		t.Helper()
		r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", rcpts, data)
		if r.Err != nil || !r.Accepted() {
			t.Fatalf("%s not accepted: %v %s", id, r.Err, r)
		}
		e := senderRows(t, mw, 1, "--subject", subject)[0]
		f := checkRow(t, e, "eom", "quarantine", "virus", "virus")
		if !clamdtest.SameSignature(f.Value, signature) || f.Where != "message" {
			t.Errorf("%s: finding %+v, want virus=%s", id, f, signature)
		}
		q := mw.quarantined(t, "--area", "virus", "--subject", subject)
		if len(q) != 1 || q[0].Rule != "virus" || len(q[0].Recipients) != len(rcpts) {
			t.Errorf("%s: quarantine %+v", id, q)
		}
	}

	t.Run("clean message is delivered", func(t *testing.T) {
		r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"bob@example.com"}, msg("clam-clean", "clam clean", "nothing here"))
		if !r.Accepted() {
			t.Fatalf("not accepted: %s", r)
		}
		waitDelivered(t, sink, mta, "clam-clean", 1)
	})

	t.Run("EICAR to two recipients is quarantined, scanned once", func(t *testing.T) {
		quarantinedVirus(t, "clam-eicar", "clam eicar", clamdtest.EICARSignature,
			msg("clam-eicar", "clam eicar", clamdtest.EICAR), "bob@example.com", "carol@example.com")
		// clamd logs each stream it finds a virus in.
		log, _ := os.ReadFile(filepath.Join(cd.Dir, "clamd.log"))
		if n := strings.Count(string(log), "Eicar-Test-Signature"); n != 1 {
			t.Errorf("clamd found EICAR %d times for one message, want once:\n%s", n, tail(string(log), 10))
		}
	})

	t.Run("EICAR attached in base64", func(t *testing.T) {
		quarantinedVirus(t, "clam-eicar-att", "clam eicar attached", clamdtest.EICARSignature,
			attached("clam-eicar-att", "clam eicar attached", "eicar.com", []byte(clamdtest.EICAR)), "bob@example.com")
	})

	t.Run("custom signature", func(t *testing.T) {
		quarantinedVirus(t, "clam-custom", "clam custom", clamdtest.CustomSignature,
			msg("clam-custom", "clam custom", "text "+clamdtest.Custom+" text"), "bob@example.com")
	})

	for _, name := range testFiles {
		t.Run("clamav-testfiles "+name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(testFilesDir, name))
			if err != nil {
				t.Fatalf("%v (install Debian's clamav-testfiles: sudo bash e2e/install-deps.sh)", err)
			}
			subject := "clam testfile " + name
			quarantinedVirus(t, "clam-tf-"+name, subject, clamdtest.TestFileSignature,
				attached("clam-tf-"+name, subject, name, data), "bob@example.com")
		})
	}

	t.Run("clamd down: tempfail, never a pass", func(t *testing.T) {
		cd.Stop()
		r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"bob@example.com"}, msg("clam-down", "clam down", clamdtest.EICAR))
		if stage, reply := r.Rejected(); stage != StageEOM || reply.Code != 451 || !strings.HasPrefix(reply.Text, "4.3.0") {
			t.Fatalf("with clamd down: %q %v, want 451 4.3.0 at end of message: %s", stage, reply, r)
		}
		e := senderRows(t, mw, 1, "--subject", "clam down")[0]
		if e.Action != "tempfail" {
			t.Errorf("tracking row action %q, want tempfail", e.Action)
		}
	})

	time.Sleep(time.Second)
	ids := []string{"clam-eicar", "clam-eicar-att", "clam-custom", "clam-down"}
	for _, name := range testFiles {
		ids = append(ids, "clam-tf-"+name)
	}
	for _, id := range ids {
		if n := len(deliveriesOf(sink, id)); n != 0 {
			t.Errorf("%s was delivered %d times", id, n)
		}
	}
}
