package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check/dkimsign"
)

// txtValue joins the quoted strings of a printed TXT record, checking
// each is at most 255 bytes.
func txtValue(t *testing.T, line, name string) string {
	t.Helper()
	prefix := name + " IN TXT "
	if !strings.HasPrefix(line, prefix) {
		t.Fatalf("record %q does not start with %q", line, prefix)
	}
	var b strings.Builder
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(line[len(prefix):], -1) {
		if len(m[1]) > 255 {
			t.Errorf("a string of %d bytes", len(m[1]))
		}
		b.WriteString(m[1])
	}
	return b.String()
}

func TestDKIMKeygen(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		algo, bits string
		keyLen     int // bytes of p=, decoded, at least
	}{
		{"rsa", "2048", 290},
		{"rsa", "3072", 420},
		{"ed25519", "", 32},
	} {
		t.Run(tc.algo+tc.bits, func(t *testing.T) {
			out := filepath.Join(dir, tc.algo+tc.bits+".pem")
			args := []string{"dkim", "keygen", "--domain", "Example.com.", "--selector", "s" + tc.bits, "--algo", tc.algo, "--out", out}
			if tc.bits != "" {
				args = append(args, "--bits", tc.bits)
			}
			code, stdout, stderr := runCmd(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			fi, err := os.Stat(out)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file %v, %v; want mode 0600", fi, err)
			}
			key, err := dkimsign.LoadKey(out)
			if err != nil {
				t.Fatal(err)
			}
			val := txtValue(t, strings.TrimSpace(stdout), "s"+tc.bits+"._domainkey.example.com.")
			want, _ := dkimsign.PublicRecord(key)
			if val != want {
				t.Errorf("record value %q, want the key's %q", val, want)
			}
			p, _ := base64.StdEncoding.DecodeString(val[strings.Index(val, "p=")+2:])
			if len(p) < tc.keyLen || !strings.Contains(val, "k="+tc.algo+";") {
				t.Errorf("record %q: p= of %d bytes", val, len(p))
			}
			if !strings.Contains(stderr, out) {
				t.Errorf("stderr %q does not name the file", stderr)
			}
			// A second run refuses to overwrite the key.
			before, _ := os.ReadFile(out)
			code, _, stderr = runCmd(t, args...)
			after, _ := os.ReadFile(out)
			if code != 1 || !strings.Contains(stderr, "exists; not overwriting") || string(before) != string(after) {
				t.Errorf("second run: exit %d, %s", code, stderr)
			}
		})
	}
	t.Run("default file name", func(t *testing.T) {
		t.Chdir(t.TempDir())
		if code, _, stderr := runCmd(t, "dkim", "keygen", "--domain", "example.org", "--selector", "mw", "--algo", "ed25519"); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if _, err := dkimsign.LoadKey("mw.example.org.pem"); err != nil {
			t.Error(err)
		}
	})
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--selector", "s"}, "--domain and --selector are required"},
		{[]string{"--domain", "example.com"}, "--domain and --selector are required"},
		{[]string{"--domain", "example.com", "--selector", "s", "--bits", "1024"}, "--bits 1024: RSA keys need at least 2048 bits"},
		{[]string{"--domain", "example.com", "--selector", "s", "--algo", "dsa"}, `--algo "dsa": want rsa or ed25519`},
		{[]string{"--domain", "example.com", "--selector", "s", "extra"}, `unexpected argument "extra"`},
	} {
		code, _, stderr := runCmd(t, append([]string{"dkim", "keygen", "--out", filepath.Join(dir, "never.pem")}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %s", tc.args, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "never.pem")); err == nil {
		t.Error("a refused run wrote a key")
	}
	if code, out, _ := runCmd(t, "help", "dkim", "keygen"); code != 0 || !strings.Contains(out, "--selector") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
}
