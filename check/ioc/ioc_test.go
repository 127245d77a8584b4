package ioc

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/checktest"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// checks builds the three checks for a config.
func checks(t *testing.T, src string) (client, content, rcpt check.Check) {
	t.Helper()
	cs := build(checktest.Config(t, src))
	if len(cs) != 3 {
		t.Fatalf("%d checks, want 3", len(cs))
	}
	return cs[0], cs[1], cs[2]
}

func writeList(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func show(fs []check.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s=%q @%s", f.Name, f.Value, f.Where))
	}
	return strings.Join(out, "\n")
}

func zipOf(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, err := w.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestMatches(t *testing.T) {
	dir := t.TempDir()
	payload := []byte("MZ not really a program")
	inner := []byte("the dropper inside the zip")
	sum := func(b []byte) string { s := sha256.Sum256(b); return fmt.Sprintf("%x", s) }
	p := writeList(t, dir, "c2.txt", "# C2\n192.0.2.0/24\n2001:db8:bad::/48\nevil.example\nBad@Phish.Example\n"+
		"http://tracker.example/pixel.gif\nbücher.example\n"+strings.ToUpper(sum(payload))+"\n"+sum(inner)+"\n")
	p2 := writeList(t, dir, "feed.csv", "type,value\ndomain,exfil.example\n")
	client, content, rcpt := checks(t, fmt.Sprintf("[[ioc]]\nname = \"c2\"\nfile = %q\n[[ioc]]\nname = \"feed\"\nfile = %q\n", p, p2))

	env := &check.Env{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	run := func(c check.Check, in *check.Input) string {
		t.Helper()
		in.Env = env
		var fs []check.Finding
		var err error
		if l, ok := c.(check.Late); ok && in.Message != nil {
			fs, err = l.RunLate(ctx, in)
		} else {
			fs, err = c.Run(ctx, in)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if !strings.Contains(f.Reason, "IOC list") || !strings.Contains(f.Reason, ".txt:") && !strings.Contains(f.Reason, ".csv:") {
				t.Errorf("reason %q does not name the list and file:line", f.Reason)
			}
		}
		return show(fs)
	}
	for _, tc := range []struct {
		name string
		c    check.Check
		in   *check.Input
		want string
	}{
		{"client in a network", client, &check.Input{ClientIP: netip.MustParseAddr("192.0.2.77")}, `ioc="192.0.2.0/24" @client`},
		{"client IPv4-mapped", client, &check.Input{ClientIP: netip.MustParseAddr("::ffff:192.0.2.1")}, `ioc="192.0.2.0/24" @client`},
		{"client IPv6", client, &check.Input{ClientIP: netip.MustParseAddr("2001:db8:bad:1::9")}, `ioc="2001:db8:bad::/48" @client`},
		{"client not listed", client, &check.Input{ClientIP: netip.MustParseAddr("198.51.100.1")}, ``},
		{"sender listed", content, &check.Input{Sender: "bad@phish.example"}, `ioc="Bad@Phish.Example" @sender`},
		{"sender of a listed domain's subdomain", content, &check.Input{Sender: "x@mail.EVIL.example"}, `ioc="evil.example" @sender`},
		{"null sender", content, &check.Input{Sender: ""}, ``},
		{"recipient of a listed domain", rcpt, &check.Input{Rcpt: "boss@exfil.example"}, `ioc="exfil.example" @recipient`},
		{"recipient not listed", rcpt, &check.Input{Rcpt: "bob@example.com"}, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.c, tc.in); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}

	z := zipOf(t, "docs/setup.exe", inner)
	msg := "From: \"Support\" <support@evil.example>\r\nReply-To: a@example.com, Bad@phish.example\r\nSubject: x\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		`<a href="https://login.evil.example/x">here</a> <img src="http://tracker.example/pixel.gif#x"> ` +
		`<a href="http://xn--bcher-kva.example/">books</a> <a href="http://192.0.2.5/">ip</a> <a href="https://clean.example/">ok</a>` + "\r\n" +
		"--b\r\nContent-Type: application/octet-stream; name=invoice.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(payload) + "\r\n" +
		"--b\r\nContent-Type: application/zip; name=docs.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(z) + "\r\n--b--\r\n"
	m := message.ParseBytes([]byte(msg), message.DefaultLimits())
	headers := []check.RawHeader{{Name: "From", Value: ` "Support" <support@evil.example>`}, {Name: "Reply-To", Value: " a@example.com, Bad@phish.example"}}
	got := run(content, &check.Input{Message: m, Headers: headers})
	want := strings.Join([]string{
		`ioc="evil.example" @header:From`,
		`ioc="Bad@Phish.Example" @header:Reply-To`,
		`ioc="evil.example" @url`,
		`ioc="http://tracker.example/pixel.gif" @url`,
		`ioc="bücher.example" @url`,
		`ioc="192.0.2.0/24" @url`,
		`ioc="` + strings.ToUpper(sum(payload)) + `" @attachment:invoice.pdf`,
		`ioc="` + sum(inner) + `" @attachment:docs.zip/docs/setup.exe`,
	}, "\n")
	if got != want {
		t.Errorf("end of message:\n%s\nwant:\n%s", got, want)
	}
}

func TestHeaderAddresses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`"A" <a@x.example>, b@y.example`, "a@x.example b@y.example"},
		{`=?UTF-8?B?5bGx55Sw?= <yamada@x.example>`, "yamada@x.example"},
		{`broken "name <a@x.example> and <b@y.example>`, "a@x.example b@y.example"},
		{`bare@x.example`, "bare@x.example"},
		{`no address here`, ""},
	} {
		if got := strings.Join(headerAddresses(tc.in), " "); got != tc.want {
			t.Errorf("headerAddresses(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestReload: a changed file is picked up without a restart once
// reload_interval has passed on the check's clock, in the background; a
// file that then goes missing or unreadable keeps the entries loaded
// before.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	p := writeList(t, dir, "c2.txt", "evil.example\n")
	client, content, _ := checks(t, fmt.Sprintf("[[ioc]]\nname = \"c2\"\nfile = %q\nreload_interval = \"10s\"\n", p))
	_ = client
	clock := checktest.NewClock(checktest.T0)
	var logs bytes.Buffer
	env := &check.Env{Now: clock.Now, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	l := content.(*Check).m.lists[0]
	sender := func(addr string) string {
		t.Helper()
		fs, err := content.Run(context.Background(), &check.Input{Sender: addr, Env: env})
		if err != nil {
			t.Fatal(err)
		}
		l.reloads.Wait() // a reload the run started
		return show(fs)
	}
	if got := sender("a@evil.example"); got != `ioc="evil.example" @sender` {
		t.Fatalf("before the change: %s", got)
	}
	// The new file: another size, and a time the stat sees as changed.
	writeList(t, dir, "c2.txt", "other.example\n# and more\n")
	os.Chtimes(p, checktest.T0.Add(time.Minute), checktest.T0.Add(time.Minute))
	if got := sender("a@other.example"); got != "" {
		t.Errorf("within reload_interval the old list still serves, got %s", got)
	}
	clock.Advance(11 * time.Second)
	if got := sender("a@other.example"); got != "" { // the change seen once: it may be half written
		t.Errorf("a change seen once is loaded: %s", got)
	}
	clock.Advance(11 * time.Second)
	sender("a@other.example") // seen again: reloads in the background
	if got := sender("a@other.example"); got != `ioc="other.example" @sender` {
		t.Errorf("after the change: %q", got)
	}
	if got := sender("a@evil.example"); got != "" {
		t.Errorf("the old entry still matches: %s", got)
	}

	// Gone: the old entries stay, and the error is logged once.
	os.Remove(p)
	for range 3 {
		clock.Advance(11 * time.Second)
		if got := sender("a@other.example"); got != `ioc="other.example" @sender` {
			t.Errorf("after the file went: %q", got)
		}
	}
	if n := strings.Count(logs.String(), "ioc list file cannot be read"); n != 1 {
		t.Errorf("the missing file logged %d times, want once:\n%s", n, logs.String())
	}
	// Back with bad lines: loaded, the lines logged with file:line.
	writeList(t, dir, "c2.txt", "third.example\nnot an entry\n")
	clock.Advance(11 * time.Second)
	sender("x@y.example")
	clock.Advance(11 * time.Second)
	sender("x@y.example")
	if got := sender("a@third.example"); got != `ioc="third.example" @sender` {
		t.Errorf("after the file came back: %q", got)
	}
	if !strings.Contains(logs.String(), p+":2: not a domain") {
		t.Errorf("the bad line is not logged with file:line:\n%s", logs.String())
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeList(t, dir, "good.txt", "evil.example\nnot an entry\n")
	for _, tc := range []struct {
		name, src string
		want      []string // problems, then warnings after "warn:"
	}{
		{"missing file", "[[ioc]]\nname = \"c2\"\nfile = \"" + dir + "/none.txt\"\n",
			[]string{"c.toml:3: ioc[0].file: open " + dir + "/none.txt: no such file or directory"}},
		{"relative path", "[[ioc]]\nname = \"c2\"\nfile = \"c2.txt\"\n",
			[]string{`c.toml:3: ioc[0].file: "c2.txt" is not an absolute path (hint: an absolute path)`}},
		{"a directory", "[[ioc]]\nname = \"c2\"\nfile = \"" + dir + "\"\n",
			[]string{"c.toml:3: ioc[0].file: " + dir + " is not a regular file"}},
		{"bad keys", "[[ioc]]\nname = \"c 2\"\nfile = \"" + good + "\"\nformat = \"xml\"\nreload_interval = \"1ms\"\nmax_entries = -1\n[[ioc]]\nfile = \"" + good + "\"\n",
			[]string{
				`c.toml:2: ioc[0].name: ioc list name "c 2" is missing or invalid (hint: letters, digits, dot, dash and underscore, up to 100)`,
				`c.toml:4: ioc[0].format: "xml" is not allowed (hint: one of auto, lines, csv)`,
				`c.toml:5: ioc[0].reload_interval: must be between 1s and 24h (hint: 5s is the default)`,
				`c.toml:6: ioc[0].max_entries: must be between 1 and 100000000 (hint: 1000000 is the default)`,
				`c.toml:7: ioc[1].name: ioc list name "" is missing or invalid (hint: letters, digits, dot, dash and underscore, up to 100)`,
			}},
		{"unrecognised lines are warnings", "[[ioc]]\nname = \"c2\"\nfile = \"" + good + "\"\nmax_entries = 1\n",
			[]string{"warn:",
				"c.toml:3: warning: ioc[0].file: " + good + ":2: not a domain, URL, IP address or network, email address or SHA-256 value: \"not an entry\" has white space inside (hint: the line is skipped)",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rep, err := config.Decode("c.toml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			rep.Err()
			for _, p := range rep.Problems {
				got = append(got, p.String())
			}
			if len(rep.Warnings) > 0 {
				got = append(got, "warn:")
				for _, p := range rep.Warnings {
					got = append(got, p.String())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestMaxEntries(t *testing.T) {
	dir := t.TempDir()
	p := writeList(t, dir, "c2.txt", "a.example\nb.example\na.example\nc.example\n")
	s, err := load(p, FormatAuto, 2)
	if err != nil {
		t.Fatal(err)
	}
	if s.entries != 2 || s.capped != 1 || len(s.domains) != 2 {
		t.Errorf("entries %d, capped %d, domains %v; want 2, 1 (c.example; a.example twice counts once)", s.entries, s.capped, s.domains)
	}
	if _, ok := s.domain("c.example"); ok {
		t.Error("an entry past max_entries matches")
	}
}

func TestNoTablesNoChecks(t *testing.T) {
	if cs := build(checktest.Config(t, "")); len(cs) != 0 {
		t.Errorf("%d checks without [[ioc]]", len(cs))
	}
}

// TestConcurrentReload: sessions keep matching while new files are renamed
// over the list and reloads swap it under them (run with -race); each
// sees a whole list.
func TestConcurrentReload(t *testing.T) {
	dir := t.TempDir()
	p := writeList(t, dir, "c2.txt", "evil.example\nboth.example\n")
	_, content, _ := checks(t, fmt.Sprintf("[[ioc]]\nname = \"c2\"\nfile = %q\nreload_interval = \"1s\"\n", p))
	clock := checktest.NewClock(checktest.T0)
	env := &check.Env{Now: clock.Now}
	done := make(chan struct{})
	errs := make(chan string, 100)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- ""
					return
				default:
				}
				fs, err := content.Run(context.Background(), &check.Input{Sender: "x@both.example", Env: env})
				if err != nil || len(fs) != 1 {
					errs <- fmt.Sprintf("findings %v, err %v", fs, err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		tmp := writeList(t, dir, "c2.tmp", strings.Repeat(fmt.Sprintf("e%d.example\n", i), i+1)+"both.example\n")
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			clock.Advance(2 * time.Second)
			time.Sleep(2 * time.Millisecond)
		}
	}
	close(done)
	for range 4 {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
	content.(*Check).m.lists[0].reloads.Wait()
}

// TestReloadChangedWhileRead: a load that does not find the file the looks
// saw (it changed again since, or while it was read) keeps the old list.
func TestReloadChangedWhileRead(t *testing.T) {
	dir := t.TempDir()
	p := writeList(t, dir, "c2.txt", "evil.example\n")
	_, content, _ := checks(t, fmt.Sprintf("[[ioc]]\nname = \"c2\"\nfile = %q\n", p))
	l := content.(*Check).m.lists[0]
	old := l.cur.Load()
	writeList(t, dir, "c2.txt", "")
	l.reloads.Add(1)
	l.reload(nil, fileStat{old.mod, 999})
	if l.cur.Load() != old {
		t.Error("a load of another version than the looks saw was swapped in")
	}
	fi, _ := os.Stat(p)
	l.reloads.Add(1)
	l.reload(nil, fileStat{fi.ModTime(), fi.Size()})
	if l.cur.Load() == old || l.cur.Load().entries != 0 {
		t.Error("the version the looks saw was not swapped in")
	}
}
