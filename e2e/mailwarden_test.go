package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check/dns/dnstest"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// mailwardenBinary builds cmd/mailwarden once per test run.
var mailwardenBinary = sync.OnceValues(func() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "mailwarden-e2e-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "mailwarden")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/mailwarden")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// daemon is a running `mailwarden serve`.
type daemon struct {
	bin, conf, data, addr string
	cmd                   *exec.Cmd
	log                   *syncBuffer
	exited                chan struct{} // closed when the process has exited
	waitErr               error         // its exit status, after exited
}

// syncBuffer is a bytes.Buffer safe for the daemon's output goroutines and
// the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startMailwarden runs the real binary on a config, on a random loopback
// port, with its own data directory; t.Cleanup stops it with SIGTERM.
func startMailwarden(t testing.TB, config string) *daemon {
	t.Helper()
	return startMailwardenWith(t, config, daemonOptions{})
}

// startMailwardenOn is [startMailwarden] listening on a unix socket.
func startMailwardenOn(t testing.TB, config, socket string) *daemon {
	t.Helper()
	return startMailwardenWith(t, config, daemonOptions{socket: socket})
}

// daemonOptions vary how [startMailwardenWith] runs the daemon.
type daemonOptions struct {
	socket string   // a unix socket path; "" listens on a random loopback port
	prefix []string // a command that runs the daemon, e.g. prlimit
}

// dnsTable finds a [dns] table in a config.
var dnsTable = regexp.MustCompile(`(?m)^\s*\[dns\]`)

func startMailwardenWith(t testing.TB, config string, o daemonOptions) *daemon {
	t.Helper()
	socket := o.socket
	bin, err := mailwardenBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !dnsTable.MatchString(config) {
		// No daemon of the tests asks the system's resolver (the network
		// is loopback only, and the default's DMARC rules look up every
		// From domain): one without [dns] gets an empty fake DNS server,
		// where every name is NXDOMAIN.
		config += fmt.Sprintf("\n[dns]\nservers = [%q]\n", dnstest.New(t).Addr())
	}
	dir := t.TempDir()
	d := &daemon{bin: bin, conf: filepath.Join(dir, "mailwarden.toml"), data: filepath.Join(dir, "data"), log: &syncBuffer{}}
	if err := os.WriteFile(d.conf, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	network, listen := "tcp", ""
	if socket != "" {
		network, d.addr, listen = "unix", socket, "unix:"+socket
	} else {
		d.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		listen = "inet:" + d.addr
	}
	argv := append(append(append([]string{}, o.prefix...), bin), "serve", "-c", d.conf, "--data", d.data, "--listen", listen)
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.exited = make(chan struct{})
	go func() { d.waitErr = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
			if d.waitErr != nil {
				t.Errorf("mailwarden exited with %v", d.waitErr)
			}
		case <-time.After(45 * time.Second):
			_ = d.cmd.Process.Kill()
			t.Errorf("mailwarden did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("mailwarden log:\n%s", tail(d.log.String(), 60))
		}
	})
	if !waitFor(10*time.Second, func() bool {
		c, err := net.Dial(network, d.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("mailwarden did not listen on %s:\n%s", d.addr, d.log.String())
	}
	// No release key in the config: one is generated in the data directory.
	if key, err := os.ReadFile(filepath.Join(d.data, "release.key")); err != nil || len(strings.TrimSpace(string(key))) != 64 {
		t.Fatalf("release.key: %q, %v", key, err)
	}
	return d
}

// cli runs a mailwarden command against the daemon's config and data.
func (d *daemon) cli(t *testing.T, args ...string) string {
	t.Helper()
	full := append(append([]string{}, args...), "-c", d.conf, "--data", d.data)
	out, err := exec.Command(d.bin, full...).CombinedOutput()
	if err != nil {
		t.Fatalf("mailwarden %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

const e2eConfig = `
[server]
log_level = "debug"

[organization]
internal_domains = ["example.com"]

[[rule]]
name = "blocked-client"
clients = ["127.0.0.66"]
action = "reject"
reply = "554 5.7.1 Client blocked"

[[rule]]
name = "no-such-user"
recipients = ["nobody@example.com"]
action = "reject"
reply = "550 5.1.1 No such user"

[[rule]]
name = "ceo-lottery"
recipients = ["ceo@example.com"]
subject = "(?i)lottery"
action = "quarantine"
quarantine = "policy"

[[rule]]
name = "gtube"
findings = ["content.gtube"]
action = "quarantine"
quarantine = "spam"

[[rule]]
name = "tag-meeting"
subject = "会議"
tag_subject = "[社外]"

[[rule]]
name = "stamp-clean"
subject = "^clean"
add_headers = ["X-Mailwarden-Scanned: yes"]
`

const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// msg builds a message with a unique Message-ID so each case finds its own
// delivery in the shared sink.
// dateNow is a Date field's value for a message sent now: the daemon's
// spam tests read a Date far from its clock as a spam sign
// (spamtest.date_past, spamtest.date_future).
func dateNow() string { return time.Now().UTC().Format(time.RFC1123Z) }

func msg(id, subject, body string) []byte {
	return []byte("From: Alice <alice@example.net>\r\nTo: bob@example.com\r\nSubject: " + subject +
		"\r\nDate: " + dateNow() + "\r\nMessage-ID: <" + id + "@example.net>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

// deliveriesOf returns the sink's deliveries of one Message-ID.
func deliveriesOf(s *Sink, id string) []Delivery {
	var out []Delivery
	for _, d := range s.Deliveries() {
		if v, _ := d.Header("Message-ID"); strings.Contains(v, "<"+id+"@") {
			out = append(out, d)
		}
	}
	return out
}

// waitDelivered waits for n deliveries of id.
func waitDelivered(t *testing.T, s *Sink, mta *MTA, id string, n int) []Delivery {
	t.Helper()
	var got []Delivery
	if !waitFor(30*time.Second, func() bool { got = deliveriesOf(s, id); return len(got) >= n }) {
		t.Fatalf("%s: %d deliveries of %s, want %d\nqueue:\n%s\nlogs:\n%s", mta.Name, len(got), id, n, mta.Queue(), tail(mta.Logs(), 40))
	}
	return got
}

type logRow struct {
	QueueID    string `json:"queue_id"`
	ClientIP   string `json:"client_ip"`
	Helo       string
	Direction  string
	Size       int64
	Stage      string
	Action     string
	Sender     string
	Subject    string
	MessageID  string `json:"message_id"`
	Recipients []struct{ Address, Action, Rule string }
	Matches    []struct {
		Rule     string
		Findings []struct{ Name, Where string }
	}
	QuarantineIDs []string `json:"quarantine_ids"`
}

// trackingRow waits for the tracking-log row whose Message-ID holds id.
func (d *daemon) trackingRow(t *testing.T, filter ...string) logRow {
	t.Helper()
	var rows []logRow
	ok := waitFor(10*time.Second, func() bool {
		rows = nil
		out := d.cli(t, append([]string{"log", "--format", "json"}, filter...)...)
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var r logRow
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			rows = append(rows, r)
		}
		return len(rows) > 0
	})
	if !ok {
		t.Fatalf("no tracking row for %v", filter)
	}
	return rows[0]
}

type quarantineRow struct {
	ID         string
	Area       string
	Rule       string
	Recipients []string
	Released   map[string]string
	Subject    string
}

func (d *daemon) quarantined(t *testing.T, args ...string) []quarantineRow {
	t.Helper()
	out := d.cli(t, append([]string{"quarantine", "list", "--format", "json"}, args...)...)
	var rows []quarantineRow
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r quarantineRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("quarantine line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestMailwarden runs every end-to-end case against both real MTAs.
func TestMailwarden(t *testing.T) {
	for _, m := range MTAs {
		t.Run(m.Name, func(t *testing.T) {
			sink := StartSink(t)
			mw := startMailwarden(t, e2eConfig)
			mta := m.Start(t, mw.addr, sink.Addr())
			id := func(name string) string { return m.Name + "-" + name }

			t.Run("clean mail is delivered with the added header", func(t *testing.T) {
				r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"bob@example.com"}, msg(id("clean"), "clean mail", "hello"))
				if !r.Accepted() {
					t.Fatalf("not accepted: %s", r)
				}
				d := waitDelivered(t, sink, mta, id("clean"), 1)[0]
				if v, ok := d.Header("X-Mailwarden-Scanned"); !ok || strings.TrimSpace(v) != "yes" {
					t.Errorf("X-Mailwarden-Scanned = %q, %v\n%s", v, ok, d.Data)
				}
				row := mw.trackingRow(t, "--subject", "clean mail")
				if row.Action != "accept" || len(row.Recipients) != 1 || row.Recipients[0].Action != "accept" ||
					row.QueueID == "" || row.ClientIP != "127.0.0.1" || row.Helo != "client.mailwarden.test" ||
					row.Direction != "inbound" || row.MessageID != "<"+id("clean")+"@example.net>" || row.Size < 200 {
					t.Errorf("tracking row %+v", row)
				}
			})

			t.Run("a header flood is refused at end of headers, and its row has what was known", func(t *testing.T) {
				var flood strings.Builder
				for i := range 2100 { // past limits.max_header_fields (2000)
					fmt.Fprintf(&flood, "X-F: %d\r\n", i)
				}
				data := msg(id("flood"), "header flood", "x")
				data = append([]byte("X-Before: 1\r\n"+strings.Replace(string(data), "\r\n\r\n", "\r\n"+flood.String()+"\r\n", 1)), nil...)
				r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"bob@example.com", "carol@example.com"}, data)
				if r.Data.Code != 552 || !strings.Contains(r.Data.Text, "limits.max_header_fields") {
					t.Fatalf("want 552 naming limits.max_header_fields: %s", r)
				}
				row := mw.trackingRow(t, "--subject", "header flood")
				if row.Stage != "eoh" || row.Action != "reject" || row.MessageID != "<"+id("flood")+"@example.net>" ||
					row.Size < 2000*8 || len(row.Recipients) != 2 || row.QueueID == "" {
					t.Errorf("tracking row %+v", row)
				}
				for _, rc := range row.Recipients {
					if rc.Rule != "limits.max_header_fields" || rc.Action != "reject" {
						t.Errorf("recipient %+v: want the deciding rule", rc)
					}
				}
				if len(deliveriesOf(sink, id("flood"))) != 0 {
					t.Error("the flooded message was delivered")
				}
			})

			t.Run("listed client network gets 5xx before MAIL", func(t *testing.T) {
				r := Send(t, mta.SMTPAddr, "127.0.0.66", "alice@example.net", []string{"bob@example.com"}, msg(id("blocked"), "blocked", "x"))
				stage, reply := r.Rejected()
				t.Logf("%s refused the blocked client at %s: %v", m.Name, stage, reply)
				if reply.Class() != 5 || (stage != StageConnect && stage != StageHelo && stage != StageMail) {
					t.Fatalf("got stage %q reply %v: %s", stage, reply, r)
				}
				if r.Mail.Code != 0 && r.Mail.Class() != 5 {
					t.Errorf("MAIL was not refused: %s", r)
				}
				if len(deliveriesOf(sink, id("blocked"))) != 0 {
					t.Errorf("blocked mail was delivered")
				}
				row := mw.trackingRow(t, "--ip", "127.0.0.66")
				if row.Stage != "connect" || row.Action != "reject" || len(row.Matches) == 0 || row.Matches[0].Rule != "blocked-client" {
					t.Errorf("tracking row %+v", row)
				}
			})

			t.Run("one recipient rejected at RCPT, the other delivered", func(t *testing.T) {
				r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"nobody@example.com", "bob@example.com"}, msg(id("rcpt"), "rcpt test", "x"))
				if r.Rcpt[0].Code != 550 || !strings.Contains(r.Rcpt[0].Text, "5.1.1") || !strings.Contains(r.Rcpt[0].Text, "no-such-user") {
					t.Errorf("rcpt 1: %v", r.Rcpt[0])
				}
				if !r.Rcpt[1].OK() || !r.Accepted() {
					t.Fatalf("rcpt 2 or data refused: %s", r)
				}
				d := waitDelivered(t, sink, mta, id("rcpt"), 1)[0]
				if strings.Join(d.To, ",") != "bob@example.com" {
					t.Errorf("delivered to %v", d.To)
				}
			})

			t.Run("GTUBE is quarantined and released once, byte for byte", func(t *testing.T) {
				r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"bob@example.com"}, msg(id("gtube"), "gtube test", gtube))
				if !r.Accepted() {
					t.Fatalf("not accepted: %s", r)
				}
				row := mw.trackingRow(t, "--subject", "gtube test")
				if row.Action != "quarantine" || len(row.QuarantineIDs) != 1 || row.Recipients[0].Action != "quarantine" {
					t.Fatalf("tracking row %+v", row)
				}
				found := false
				for _, m := range row.Matches {
					for _, f := range m.Findings {
						found = found || (m.Rule == "gtube" && f.Name == "content.gtube" && f.Where == "body")
					}
				}
				if !found {
					t.Errorf("tracking row lacks gtube/content.gtube@body: %+v", row.Matches)
				}
				qid := row.QuarantineIDs[0]
				q := mw.quarantined(t, "--area", "spam", "--subject", "gtube test")
				if len(q) != 1 || q[0].ID != qid || q[0].Rule != "gtube" {
					t.Fatalf("quarantine %+v, want id %s", q, qid)
				}
				time.Sleep(2 * time.Second)
				if n := len(deliveriesOf(sink, id("gtube"))); n != 0 {
					t.Fatalf("quarantined mail was delivered %d times", n)
				}
				raw := []byte(mw.cli(t, "quarantine", "export", qid))

				out := mw.cli(t, "quarantine", "release", qid, "--smtp", mta.SMTPAddr)
				if !strings.Contains(out, "released to bob@example.com") {
					t.Errorf("release said %q", out)
				}
				d := waitDelivered(t, sink, mta, id("gtube"), 1)[0]
				if !bytes.HasSuffix(d.Data, raw) {
					t.Fatalf("released message differs from the quarantined bytes\n--- delivered\n%s\n--- quarantined\n%s", d.Data, raw)
				}
				prefix := d.Data[:len(d.Data)-len(raw)]
				t.Logf("%s: released copy = %d quarantined bytes after %q", m.Name, len(raw), prefix)
				if !bytes.HasPrefix(prefix, []byte("Received:")) || bytes.Count(prefix, []byte("\r\n")) < 1 ||
					strings.Contains(string(prefix), "X-Mailwarden-Release") {
					t.Errorf("only the MTA's Received header may precede the original bytes, got:\n%s", prefix)
				}
				for _, line := range strings.Split(strings.TrimSuffix(string(prefix), "\r\n"), "\r\n") {
					if !strings.HasPrefix(line, "Received:") && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
						t.Errorf("unexpected line before the original message: %q", line)
					}
				}

				out = mw.cli(t, "quarantine", "release", qid, "--smtp", mta.SMTPAddr)
				if !strings.Contains(out, "already released") {
					t.Errorf("second release said %q", out)
				}
				time.Sleep(2 * time.Second)
				if n := len(deliveriesOf(sink, id("gtube"))); n != 1 {
					t.Errorf("after a second release: %d deliveries, want 1", n)
				}
				if q := mw.quarantined(t, "--area", "spam", "--subject", "gtube test"); len(q) != 1 || q[0].Released["bob@example.com"] == "" {
					t.Errorf("release not recorded: %+v", q)
				}
			})

			t.Run("a quarantined copy carrying an old release header is released", func(t *testing.T) {
				// A released copy that was quarantined again keeps the release
				// header it came with; this one carries a stale one.
				stale := append([]byte("X-Mailwarden-Release: v1; id=0000; rule=gtube; from=YQ; nonce=n;\r\n\texp=1; rcpt=Yg; mac=AAAA\r\n"),
					msg(id("again"), "released again", gtube)...)
				if r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"bob@example.com"}, stale); !r.Accepted() {
					t.Fatalf("not accepted: %s", r)
				}
				row := mw.trackingRow(t, "--subject", "released again")
				if row.Action != "quarantine" || len(row.QuarantineIDs) != 1 {
					t.Fatalf("tracking row %+v", row)
				}
				qid := row.QuarantineIDs[0]
				if raw := mw.cli(t, "quarantine", "export", qid[:8]); !strings.HasPrefix(raw, "X-Mailwarden-Release: v1; id=0000") &&
					!strings.Contains(raw, "\r\nX-Mailwarden-Release: v1; id=0000") {
					t.Fatalf("the quarantined copy lost its old release header:\n%s", raw)
				}
				out := mw.cli(t, "quarantine", "release", qid[:8], "--smtp", mta.SMTPAddr)
				if !strings.Contains(out, "released to bob@example.com via "+mta.SMTPAddr+": 2.0.0") {
					t.Errorf("release said %q", out)
				}
				d := waitDelivered(t, sink, mta, id("again"), 1)[0]
				if vs := d.HeaderValues("X-Mailwarden-Release"); len(vs) != 0 {
					t.Errorf("release headers reached the recipient: %q", vs)
				}
				// The released copy names the hop it first came by.
				found := false
				for _, v := range d.HeaderValues("Received") {
					found = found || (strings.Contains(v, "[127.0.0.1]") && strings.Contains(v, "mailwarden quarantine "+qid) &&
						strings.Contains(v, " id "+row.QueueID+";") && strings.Contains(v, "from "+row.Helo+" "))
				}
				if !found {
					t.Errorf("no trace of the original hop (HELO %s, queue ID %s) in:\n%s", row.Helo, row.QueueID, d.Data)
				}
				released := mw.trackingRow(t, "--subject", "released again", "--action", "accept")
				if len(released.Recipients) != 1 || released.Recipients[0].Action != "accept" {
					t.Errorf("tracking row of the released copy %+v", released)
				}
				if q := mw.quarantined(t, "--subject", "released again"); len(q) != 1 {
					t.Errorf("quarantined again: %+v", q)
				}
			})

			t.Run("ISO-2022-JP subject is tagged and stays readable", func(t *testing.T) {
				subject := "=?ISO-2022-JP?B?GyRCMnE1RCRON28bKEI=?=" // 会議の件
				r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"bob@example.com"}, msg(id("jp"), subject, "本文"))
				if !r.Accepted() {
					t.Fatalf("not accepted: %s", r)
				}
				d := waitDelivered(t, sink, mta, id("jp"), 1)[0]
				raw, _ := d.Header("Subject")
				for _, c := range raw {
					if c > 0x7e {
						t.Fatalf("Subject is not 7-bit: %q", raw)
					}
				}
				dec, ok := message.DecodeHeader(strings.TrimSpace(raw))
				t.Logf("%s: tagged Subject:%s", m.Name, raw)
				if !ok || dec != "[社外] 会議の件" {
					t.Errorf("Subject %q decodes to %q (ok %v), want %q", raw, dec, ok, "[社外] 会議の件")
				}
				if n := strings.Count(string(d.Data), "\r\nSubject:"); n != 1 {
					t.Errorf("%d Subject fields", n)
				}
				row := mw.trackingRow(t, "--subject", "会議の件")
				if row.Subject != "会議の件" {
					t.Errorf("tracking subject %q", row.Subject)
				}
			})

			t.Run("two recipients: one quarantined, one delivered", func(t *testing.T) {
				r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"ceo@example.com", "bob@example.com"}, msg(id("split"), "You won the LOTTERY", "x"))
				if !r.Accepted() {
					t.Fatalf("not accepted: %s", r)
				}
				d := waitDelivered(t, sink, mta, id("split"), 1)[0]
				if strings.Join(d.To, ",") != "bob@example.com" {
					t.Errorf("delivered to %v, want only bob", d.To)
				}
				q := mw.quarantined(t, "--area", "policy", "--subject", "LOTTERY")
				if len(q) != 1 || strings.Join(q[0].Recipients, ",") != "ceo@example.com" || q[0].Rule != "ceo-lottery" {
					t.Errorf("quarantine %+v", q)
				}
				row := mw.trackingRow(t, "--subject", "LOTTERY")
				got := map[string]string{}
				for _, rc := range row.Recipients {
					got[rc.Address] = rc.Action
				}
				if row.Action != "split" || got["ceo@example.com"] != "quarantine" || got["bob@example.com"] != "accept" {
					t.Errorf("tracking row %+v", row)
				}
				time.Sleep(time.Second)
				if n := len(deliveriesOf(sink, id("split"))); n != 1 {
					t.Errorf("%d deliveries, want 1", n)
				}
			})
		})
	}
}

// TestDaemonSignals checks SIGHUP reload (a bad config is logged and the
// old one stays in force; a good one takes effect), that the daemon keeps
// serving after bad input on the milter port, and that SIGTERM drains an
// open session within shutdown_timeout.
func TestDaemonSignals(t *testing.T) {
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := strings.Replace(e2eConfig, "[server]\n", "[server]\nshutdown_timeout = \"2s\"\nmetrics_listen = \""+metricsAddr+"\"\n", 1)
	mw := startMailwarden(t, conf)
	sink := StartSink(t)
	mta := StartPostfix(t, mw.addr, sink.Addr())
	blocked := func() bool {
		r := Send(t, mta.SMTPAddr, "127.0.0.66", "alice@example.net", []string{"bob@example.com"}, msg("hup", "hup", "x"))
		stage, _ := r.Rejected()
		return stage == StageConnect
	}
	hup := func(config, want string) {
		t.Helper()
		if err := os.WriteFile(mw.conf, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		before := strings.Count(mw.log.String(), want)
		_ = mw.cmd.Process.Signal(syscall.SIGHUP)
		if !waitFor(5*time.Second, func() bool { return strings.Count(mw.log.String(), want) > before }) {
			t.Fatalf("no %q logged:\n%s", want, mw.log.String())
		}
	}
	if !blocked() {
		t.Fatal("the blocked client was not refused before any reload")
	}
	hup("[[rule]]\nname = \"x\"\naction = \"rejekt\"\n", "reload failed")
	if !blocked() {
		t.Fatal("after a failed reload the old config is no longer in force")
	}
	hup(strings.Replace(conf, `clients = ["127.0.0.66"]`, `clients = ["127.0.0.67"]`, 1), "config reloaded")
	if blocked() {
		t.Fatal("after a good reload the new config is not in force")
	}

	// Bad input on the milter port, then a real session through Postfix.
	for _, payload := range [][]byte{{0, 0, 0, 0}, []byte("GET / HTTP/1.0\r\n\r\n"), bytes.Repeat([]byte{0xff}, 64)} {
		c, err := net.Dial("tcp", mw.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(payload)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 64)
		c.Read(buf)
		c.Close()
	}
	r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"bob@example.com"}, msg("after-bad-input", "clean after", "x"))
	if !r.Accepted() {
		t.Fatalf("after bad input: %s\n%s", r, mw.log.String())
	}
	waitDelivered(t, sink, mta, "after-bad-input", 1)

	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Two refused blocked clients, then two accepted messages: one after
	// the good reload, one after the bad input.
	for _, want := range []string{`mailwarden_transactions_total{action="accept",stage="eom"} 2`,
		`mailwarden_transactions_total{action="reject",stage="connect"} 2`, "mailwarden_sessions_active ", "mailwarden_panics_total 0"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// SIGTERM with an SMTP session left open mid-transaction: the daemon
	// waits up to shutdown_timeout (2s), then closes it and exits 0.
	c, err := net.Dial("tcp", mta.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "EHLO open.example\r\nMAIL FROM:<a@example.net>\r\n")
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	_ = mw.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-mw.exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("still running %v after SIGTERM", time.Since(start))
	}
	took := time.Since(start)
	if mw.waitErr != nil || took > 10*time.Second {
		t.Errorf("exit %v after %v", mw.waitErr, took)
	}
	if !strings.Contains(mw.log.String(), "shutting down") {
		t.Errorf("no shutdown logged:\n%s", tail(mw.log.String(), 20))
	}
	t.Logf("SIGTERM with an open session: exited after %v", took.Round(10*time.Millisecond))
}
