package clamav

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/clamd"
	"github.com/mailwarden/mailwarden/scanner/clamd/clamdtest"
	"github.com/mailwarden/mailwarden/scanner/message"
)

func plain(body string) []byte {
	return []byte("From: a@example.net\r\nTo: b@example.com\r\nSubject: test\r\n\r\n" + body + "\r\n")
}

func withAttachment(name string, content []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(content)
	return []byte("From: a@example.net\r\nTo: b@example.com\r\nSubject: test\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--b\r\nContent-Type: application/octet-stream; name=" + name + "\r\nContent-Disposition: attachment; filename=" + name + "\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + enc + "\r\n--b--\r\n")
}

func newCheck(t *testing.T, mod func(*Config)) *Check {
	t.Helper()
	c := Defaults()
	mod(&c)
	ch, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func run(t *testing.T, ch *Check, raw []byte) ([]check.Finding, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ch.Budget())
	defer cancel()
	return ch.Run(ctx, &check.Input{Raw: raw, Env: &check.Env{}})
}

// text renders findings as NAME=VALUE, the ".UNOFFICIAL" clamd may add to
// the names of unsigned databases removed.
func text(fs []check.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name+"="+strings.TrimSuffix(strings.ReplaceAll(f.Value, ".UNOFFICIAL", ""), ".UNOFFICIAL"))
	}
	return strings.Join(out, " ")
}

// TestRealClamd scans messages with Debian's clamd on the test database.
func TestRealClamd(t *testing.T) {
	s := clamdtest.Start(t, clamdtest.Options{StreamMaxLength: "1M", TCP: true,
		Extra: []string{"MaxFileSize 100K", "MaxScanSize 200K"}})
	big := bytes.Repeat([]byte("0123456789abcdef"), 150<<10/16) // 150 KB, over MaxFileSize
	for _, addr := range []string{s.Address(), s.TCPAddress()} {
		ch := newCheck(t, func(c *Config) { c.Address = addr })
		for _, tc := range []struct {
			name string
			msg  []byte
			want string
		}{
			{"clean", plain("hello, world"), ""},
			{"eicar in the body", plain(clamdtest.EICAR), "virus=" + clamdtest.EICARSignature},
			{"eicar base64 attachment", withAttachment("eicar.com", []byte(clamdtest.EICAR)), "virus=" + clamdtest.EICARSignature},
			{"custom signature", withAttachment("a.bin", []byte("xx "+clamdtest.Custom+" yy")), "virus=" + clamdtest.CustomSignature},
			{"mass-mailer", plain(clamdtest.MassMailer), "virus=" + clamdtest.MassMailerSignature + " virus.massmailer=" + clamdtest.MassMailerSignature},
			{"clamd's limit alert", withAttachment("big.bin", big), "scan.exclusion=clamd:Heuristics.Limits.Exceeded.MaxFileSize"},
		} {
			fs, err := run(t, ch, tc.msg)
			if err != nil || text(fs) != tc.want {
				t.Errorf("%s %s: %s, %v; want %s", addr[:4], tc.name, text(fs), err, tc.want)
			}
			for _, f := range fs {
				if f.Where != "message" || f.Reason == "" {
					t.Errorf("%s: finding %+v", tc.name, f)
				}
			}
		}
		// Over clamd's StreamMaxLength (1M) but under max_size: clamd
		// refuses the stream, which is an error, never clean.
		fs, err := run(t, ch, plain(strings.Repeat("a", 2<<20)))
		if !errors.Is(err, clamd.ErrSizeLimit) || len(fs) != 0 {
			t.Errorf("%s over StreamMaxLength: %s, %v; want ErrSizeLimit", addr[:4], text(fs), err)
		}
	}
	// clamd stopped: an error, so on_error decides.
	ch := newCheck(t, func(c *Config) { c.Address = s.Address() })
	s.Stop()
	if fs, err := run(t, ch, plain(clamdtest.EICAR)); err == nil {
		t.Errorf("clamd down: %s, no error", text(fs))
	}
	if ch.OnError() != check.OnErrorTempfail {
		t.Errorf("default on_error %q", ch.OnError())
	}
}

// TestCache: a verdict kept is not asked again, for its TTL only.
func TestCache(t *testing.T) {
	s := clamdtest.Start(t, clamdtest.Options{})
	ch := newCheck(t, func(c *Config) { c.Address = s.Address(); c.CacheTTL = config.Dur(time.Hour); c.CacheEntries = 2 })
	now := time.Now()
	virus, clean := plain(clamdtest.EICAR), plain("hello")
	for _, m := range [][]byte{virus, clean} {
		if _, err := run(t, ch, m); err != nil {
			t.Fatal(err)
		}
	}
	s.Stop()
	if fs, err := run(t, ch, virus); err != nil || text(fs) != "virus="+clamdtest.EICARSignature {
		t.Errorf("cached virus: %s, %v", text(fs), err)
	}
	if fs, err := run(t, ch, clean); err != nil || len(fs) != 0 {
		t.Errorf("cached clean: %s, %v", text(fs), err)
	}
	if _, err := run(t, ch, plain("other")); err == nil {
		t.Error("a message not cached was not asked")
	}
	if _, ok := ch.cache.get(sha(virus), now.Add(2*time.Hour)); ok {
		t.Error("a verdict outlived its TTL")
	}
	// Two entries at most: a third pushes out the oldest.
	ch.cache.put(sha([]byte("3")), clamd.Result{}, now)
	if _, ok := ch.cache.get(sha(virus), now); ok || ch.cache.len() != 2 {
		t.Errorf("the oldest verdict stayed past cache_entries: %d kept", ch.cache.len())
	}
	if _, ok := ch.cache.get(sha(clean), now); !ok {
		t.Error("the newer verdict went")
	}
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }

// TestMaxSize: a message over max_size is not sent, and is scan.exclusion.
func TestMaxSize(t *testing.T) {
	// No clamd at this address: the check must not try it.
	ch := newCheck(t, func(c *Config) {
		c.Address = "unix:" + filepath.Join(t.TempDir(), "none.sock")
		c.MaxSize = config.Bytes(100)
	})
	fs, err := run(t, ch, plain(strings.Repeat("a", 200)))
	if err != nil || text(fs) != "scan.exclusion=clamav.max_size=100" {
		t.Errorf("over max_size: %s, %v", text(fs), err)
	}
}

func TestNoAddress(t *testing.T) {
	ch := newCheck(t, func(*Config) {})
	if fs, err := run(t, ch, plain(clamdtest.EICAR)); err != nil || len(fs) != 0 {
		t.Errorf("without an address: %s, %v", text(fs), err)
	}
}

// TestTimeout: a clamd that takes the stream and never answers fails the
// check at its budget.
func TestTimeout(t *testing.T) {
	p := filepath.Join(t.TempDir(), "slow.sock")
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(io.Discard, c) }()
		}
	}()
	ch := newCheck(t, func(c *Config) { c.Address = "unix:" + p; c.Timeout = config.Dur(200 * time.Millisecond) })
	if ch.Budget() != 200*time.Millisecond {
		t.Errorf("budget %v", ch.Budget())
	}
	fs, err := run(t, ch, plain("hello"))
	if !errors.Is(err, context.DeadlineExceeded) || len(fs) != 0 {
		t.Errorf("silent clamd: %s, %v", text(fs), err)
	}
}

// TestOffline: an offline dry run does not reach a clamd over TCP.
func TestOffline(t *testing.T) {
	ch := newCheck(t, func(c *Config) { c.Address = "inet:192.0.2.1:3310" })
	_, err := ch.Run(context.Background(), &check.Input{Raw: plain("x"), Env: &check.Env{Offline: true}})
	if !errors.Is(err, ErrOffline) {
		t.Errorf("offline: %v", err)
	}
}

func TestMassMailerNames(t *testing.T) {
	ch := newCheck(t, func(*Config) {})
	for name, want := range map[string]bool{
		"Win.Worm.Mydoom-1":        true,
		"Email.Worm.Netsky-3":      true,
		"Worm.SomeFool.P":          true,
		"Win.Trojan.Bagle-12":      true,
		"W32.Sober.X":              true,
		"Eicar-Test-Signature":     false,
		"Win.Trojan.Emotet-9953":   false,
		"Doc.Dropper.Agent-1":      false,
		"Email.Phishing.Bank-1":    false,
		"Html.Exploit.Wormhole-1":  false,
		"Heuristics.Encrypted.Zip": false,
	} {
		fs := ch.findings(clamd.Result{Infected: true, Signature: name}, "message", "")
		got := len(fs) == 2 && fs[1].Name == FindingMassMailer
		if got != want || fs[0].Name != Finding || fs[0].Value != name {
			t.Errorf("%s: %s; want mass-mailer %v", name, text(fs), want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		toml string
		key  string // "" for valid
	}{
		{`address = "unix:/run/clamav/clamd.ctl"`, ""},
		{`address = "inet:127.0.0.1:3310"` + "\ntimeout = \"10s\"\non_error = \"skip\"\nmax_size = \"10MiB\"\ncache_ttl = \"10m\"", ""},
		{`address = "/run/clamav/clamd.ctl"`, "clamav.address"},
		{`address = "inet:127.0.0.1"`, "clamav.address"},
		{`timeout = "0s"`, "clamav.timeout"},
		{`timeout = "10m"`, "clamav.timeout"},
		{`timeout = "soon"`, "clamav.timeout"},
		{`on_error = "accept"`, "clamav.on_error"},
		{`max_size = "0"`, "clamav.max_size"},
		{`max_size = "5GiB"`, "clamav.max_size"},
		{`max_connections = 0`, "clamav.max_connections"},
		{`mass_mailers = ["(worm"]`, "clamav.mass_mailers[0]"},
		{`cache_ttl = "-1s"`, "clamav.cache_ttl"},
		{`cache_entries = 0`, "clamav.cache_entries"},
		{`adress = "unix:/x"`, "clamav.adress"},
	} {
		cfg, rep, err := config.Decode("t.toml", []byte("[clamav]\n"+tc.toml+"\n"))
		if err == nil {
			err = rep.Err()
		}
		if tc.key == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.toml, err)
				continue
			}
			if _, err := check.Build(cfg); err != nil {
				t.Errorf("%s: build: %v", tc.toml, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no problem reported", tc.toml)
			continue
		}
		found := false
		for _, p := range rep.Problems {
			found = found || p.Key == tc.key
		}
		if !found {
			t.Errorf("%s: problems %v, want one at %s", tc.toml, rep.Problems, tc.key)
		}
		// The check is still built, so rules naming virus load.
		if cfg != nil {
			set, err := check.Build(cfg)
			if err != nil {
				t.Errorf("%s: build: %v", tc.toml, err)
			} else if _, ok := set.FindingStage(Finding); !ok {
				t.Errorf("%s: virus not declared", tc.toml)
			}
		}
	}
}

// TestOpenedArchives: EICAR in a password-protected zip (WinZip AES-256 by
// 7-Zip, ZipCrypto by Info-ZIP; testdata/README.md) is invisible to clamd
// as sent; with the password in the message text the check opens the zip
// and clamd finds it in the member.
func TestOpenedArchives(t *testing.T) {
	s := clamdtest.Start(t, clamdtest.Options{})
	ch := build(decode(t, "[clamav]\naddress = \""+s.Address()+"\"\n"))[0].(*Check)
	for _, file := range []string{"eicar-aes256.zip", "eicar-zipcrypto.zip"} {
		zip, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ name, text, want string }{
			{"no password in the text", "see attached", ""},
			{"a wrong password", "Password: letmein", ""},
			{"the password in Japanese", "添付ファイルのパスワード：S3cret-2026", "virus=" + clamdtest.EICARSignature},
			{"the password on the next line", "The password:\r\nS3cret-2026\r\n", "virus=" + clamdtest.EICARSignature},
		} {
			raw := withAttachmentText(tc.text, file, zip)
			msg := message.ParseBytes(raw, message.DefaultLimits())
			ctx, cancel := context.WithTimeout(context.Background(), ch.Budget())
			fs, err := ch.Run(ctx, &check.Input{Raw: raw, Message: msg, Env: &check.Env{}})
			cancel()
			if err != nil || text(fs) != tc.want {
				t.Errorf("%s, %s: %s, %v; want %q", file, tc.name, text(fs), err, tc.want)
			}
			for _, f := range fs {
				if f.Where != "attachment:"+file+"/eicar.com" || !strings.Contains(f.Reason, "opened with a password") {
					t.Errorf("%s, %s: finding %+v", file, tc.name, f)
				}
			}
		}
	}
	// [attachment] password_tries = 0 opens nothing.
	cfg := decode(t, "[clamav]\naddress = \""+s.Address()+"\"\n[attachment]\npassword_tries = 0\n")
	zip, _ := os.ReadFile(filepath.Join("testdata", "eicar-aes256.zip"))
	raw := withAttachmentText("Password: S3cret-2026", "eicar-aes256.zip", zip)
	ctx, cancel := context.WithTimeout(context.Background(), ch.Budget())
	defer cancel()
	fs, err := build(cfg)[0].Run(ctx, &check.Input{Raw: raw, Message: message.ParseBytes(raw, message.DefaultLimits()), Env: &check.Env{}})
	if err != nil || len(fs) != 0 {
		t.Errorf("password_tries = 0: %s, %v; want nothing", text(fs), err)
	}
}

func decode(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, rep, err := config.Decode("c.toml", []byte(src))
	if err != nil || rep.Err() != nil {
		t.Fatalf("config: %v %v", err, rep.Err())
	}
	return cfg
}

func withAttachmentText(body, name string, content []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(content)
	return []byte("From: a@example.net\r\nTo: b@example.com\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n" +
		"--b\r\nContent-Type: application/zip; name=" + name + "\r\nContent-Disposition: attachment; filename=" + name + "\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + enc + "\r\n--b--\r\n")
}
