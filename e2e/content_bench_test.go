package e2e

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/clamd/clamdtest"
)

// contentBenchRules go after the embedded default in the content
// benchmarks: every message is scanned as `make run` scans it, and gets
// a header, as clamav-milter adds X-Virus-Scanned.
const contentBenchRules = `
[[rule]]
name = "stamp"
subject = "^bench"
add_headers = ["X-Mailwarden-Scanned: yes"]
`

// clamdBenchOptions lets clamd take the 10 MB attachment (13.5 MB in
// base64) whole, from both milters.
var clamdBenchOptions = clamdtest.Options{StreamMaxLength: "40M", Extra: []string{"MaxFileSize 40M", "MaxScanSize 200M"}}

// withClamd is the [clamav] section for clamd at address.
func withClamd(address string) string {
	// 32 scans of 13.5 MB on a 2-core machine queue for clamd for
	// minutes: the timeout stays under Postfix's milter_content_timeout.
	return "\n[clamav]\naddress = \"" + address + "\"\ntimeout = \"250s\"\nmax_size = \"40MiB\"\n"
}

// benchSize is one message shape of the content benchmarks: the header
// block is made per message (its own Message-ID), the body once.
type benchSize struct {
	name string
	head func(i int) string
	body []byte // dot-stuffed, ending in ".\r\n"
	size int    // header and body as sent
}

// benchSizes are a 5 KB plain message, a 300 KB message (text and a
// 220 KB PDF), and a message with a 10 MB attachment. Attachments are
// pseudo-random bytes, as compressed files are.
func benchSizes() []benchSize {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	plainHead := func(i int) string {
		return fmt.Sprintf("Received: from client.example.net (client.example.net [192.0.2.7])\r\n"+
			"\tby mx.example.net with ESMTPS id 4Qx%06d; Tue, 1 Dec 2026 10:00:00 +0000\r\n"+
			"From: Alice <alice@example.net>\r\nTo: Bob <bob@example.com>\r\nSubject: bench %d\r\n"+
			"Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <bench-%d-%d@example.net>\r\nMIME-Version: 1.0\r\n", i, i, time.Now().UnixNano(), i)
	}
	text := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString("The quick brown fox jumps over the lazy dog, again and again.\r\n")
		}
		return b.String()
	}
	withAttachment := func(name, ctype string, data []byte) []byte {
		return []byte("--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text(3000) +
			"--b1\r\nContent-Type: " + ctype + "; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + wrapBase64(data) + "--b1--\r\n")
	}
	multiHead := func(i int) string {
		return plainHead(i) + "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
	}
	sizes := []benchSize{
		{name: "5KB", head: func(i int) string {
			return plainHead(i) + "Content-Type: text/plain; charset=utf-8\r\n\r\n"
		}, body: []byte(text(5000))},
		{name: "300KB", head: multiHead, body: withAttachment("report.pdf", "application/pdf", append([]byte("%PDF-1.7\n"), random(220<<10)...))},
		{name: "10MB-attachment", head: multiHead, body: withAttachment("data.bin", "application/octet-stream", random(10<<20))},
	}
	for i := range sizes {
		sizes[i].size = len(sizes[i].head(0)) + len(sizes[i].body)
		sizes[i].body = dotStuff(sizes[i].body)
	}
	return sizes
}

func wrapBase64(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	b.Grow(len(enc) + len(enc)/38)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	b.WriteString("\r\n")
	return b.String()
}

// smtpClient is one open SMTP session that sends message after message.
type smtpClient struct {
	conn net.Conn
	c    *smtpConn
}

func dialSMTP(addr string) (*smtpClient, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	s := &smtpClient{conn: conn, c: &smtpConn{r: bufio.NewReader(conn), w: conn}}
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	if r, err := s.c.reply(); err != nil || !r.OK() {
		conn.Close()
		return nil, fmt.Errorf("e2e: banner %v: %w", r, err)
	}
	if r, err := s.c.cmd("EHLO client.mailwarden.test"); err != nil || !r.OK() {
		conn.Close()
		return nil, fmt.Errorf("e2e: EHLO %v: %w", r, err)
	}
	return s, nil
}

// send sends one message from sender (head as is, body already
// dot-stuffed) and returns the reply to its end of data.
func (s *smtpClient) send(sender, head string, body []byte) (Reply, error) {
	s.c.log.Reset()
	_ = s.conn.SetDeadline(time.Now().Add(5 * time.Minute))
	for _, line := range []string{"MAIL FROM:<" + sender + ">", "RCPT TO:<bob@example.com>"} {
		if r, err := s.c.cmd(line); err != nil || !r.OK() {
			return r, err
		}
	}
	if r, err := s.c.cmd("DATA"); err != nil || r.Class() != 3 {
		return r, err
	}
	if _, err := s.conn.Write([]byte(head)); err != nil {
		return Reply{}, err
	}
	if _, err := s.conn.Write(body); err != nil {
		return Reply{}, err
	}
	return s.c.reply()
}

func (s *smtpClient) close() {
	_, _ = s.c.cmd("QUIT")
	s.conn.Close()
}

// blast sends n messages of size over conc SMTP sessions at once and
// returns the wall time and the summed time of the transactions (MAIL to
// the reply after the message). A refusal fails the benchmark, but with
// tempfails set a 4xx is counted there instead.
func blast(b *testing.B, mta *MTA, size benchSize, n, conc int, tempfails *atomic.Int64) (wall, sum time.Duration) {
	b.Helper()
	var next, failed atomic.Int64
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialSMTP(mta.SMTPAddr)
			if err != nil {
				b.Error(err)
				failed.Add(1)
				return
			}
			defer c.close()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				t0 := time.Now()
				// A sender per message: the embedded default throttles
				// 200 messages a minute from one inbound sender.
				r, err := c.send(fmt.Sprintf("bench-%d@example.net", i), size.head(int(i)), size.body)
				total.Add(int64(time.Since(t0)))
				if err == nil && r.Class() == 4 && tempfails != nil {
					tempfails.Add(1)
					if _, err := c.c.cmd("RSET"); err != nil {
						b.Error(err)
						failed.Add(1)
						return
					}
					continue
				}
				if err != nil || r.Class() != 2 {
					b.Errorf("%s: message %d of %s: %v %v", mta, i, size.name, r, err)
					failed.Add(1)
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%s: %d sessions failed\n%s", mta, failed.Load(), tail(mta.Logs(), 30))
	}
	return time.Since(start), time.Duration(total.Load())
}

// clamavMilter is Debian's clamav-milter, configured in a temp dir and
// asking the given clamd.
type clamavMilter struct {
	addr string
	cmd  *exec.Cmd
	dir  string
}

func startClamavMilter(b *testing.B, clamdSocket string) *clamavMilter {
	b.Helper()
	bin := "/usr/sbin/clamav-milter"
	if _, err := os.Stat(bin); err != nil {
		missing(b, "clamav-milter is not installed (%v)", err)
	}
	dir := b.TempDir()
	m := &clamavMilter{dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", freePort(b))}
	_, port := splitHostPort(b, "clamav-milter", m.addr)
	conf := strings.Join([]string{
		"MilterSocket inet:" + strconv.Itoa(port) + "@127.0.0.1",
		"ClamdSocket unix:" + clamdSocket,
		"Foreground yes",
		"OnClean Accept",
		"OnInfected Quarantine",
		"OnFail Defer",
		"AddHeader Replace",
		"MaxFileSize 40M",
		"ReadTimeout 120",
		"TemporaryDirectory " + dir,
		"LogFile " + filepath.Join(dir, "clamav-milter.log"),
		"LogVerbose no",
		"PidFile " + filepath.Join(dir, "clamav-milter.pid"),
	}, "\n") + "\n"
	path := filepath.Join(dir, "clamav-milter.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "clamav-milter.out"))
	if err != nil {
		b.Fatal(err)
	}
	m.cmd = exec.Command(bin, "--config-file="+path)
	m.cmd.Stdout, m.cmd.Stderr = out, out
	if err := m.cmd.Start(); err != nil {
		out.Close()
		b.Fatalf("e2e: %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = m.cmd.Wait(); out.Close(); close(exited) }()
	b.Cleanup(func() {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = m.cmd.Process.Kill()
			<-exited
		}
	})
	if dead, ready := waitListening(exited, port, 30*time.Second); dead || !ready {
		log, _ := os.ReadFile(filepath.Join(dir, "clamav-milter.log"))
		o, _ := os.ReadFile(filepath.Join(dir, "clamav-milter.out"))
		b.Fatalf("e2e: clamav-milter on %s did not start (exited %v):\n%s\n%s", m.addr, dead, log, o)
	}
	return m
}

// BenchmarkContent measures end-of-message throughput through a real
// Postfix for 5 KB, 300 KB and 10 MB-attachment messages: Postfix
// without a milter, mailwarden on the embedded default without clamd,
// mailwarden with a real clamd, and Debian's clamav-milter on the same
// clamd, side by side. Four SMTP sessions send at once, one message each per op; msgs/s is the
// throughput, ms/msg the mean time of one transaction (MAIL to the reply
// after the message). clamd runs on the test database, so its scans are
// far cheaper than with the official signatures.
func BenchmarkContent(b *testing.B) {
	const conc = 4
	sink := StartSink(b)
	sink.KeepHeadersOnly()
	cd := clamdtest.Start(b, clamdBenchOptions)
	base := string(config.DefaultTOML()) + contentBenchRules
	mw := startMailwarden(b, base)
	mwClamd := startMailwarden(b, base+withClamd(cd.Address()))
	cm := startClamavMilter(b, cd.Socket)
	milters := []struct{ name, addr string }{
		{"none", ""},
		{"mailwarden", mw.addr},
		{"mailwarden+clamd", mwClamd.addr},
		{"clamav-milter", cm.addr},
	}
	mtas := map[string]*MTA{}
	for _, m := range milters {
		mtas[m.name] = StartPostfixWith(b, Options{RelayAddr: sink.Addr(), MilterAddr: m.addr})
	}
	for _, size := range benchSizes() {
		for _, m := range milters {
			b.Run("size="+size.name+"/milter="+m.name, func(b *testing.B) {
				// One op is a round of conc messages, one per session.
				b.SetBytes(int64(size.size * conc))
				n := b.N * conc
				wall, sum := blast(b, mtas[m.name], size, n, conc, nil)
				b.ReportMetric(float64(n)/wall.Seconds(), "msgs/s")
				b.ReportMetric(float64(sum.Microseconds())/1000/float64(n), "ms/msg")
			})
		}
	}
}

// vmHWM is the peak resident set of process pid (VmHWM in
// /proc/PID/status) in bytes.
func vmHWM(b *testing.B, pid int) int64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// BenchmarkPeakRSS sends 32 messages with a 10 MB attachment at once
// through a real Postfix to a fresh mailwarden daemon, on the embedded
// default without and with clamd, and reports the daemon's peak resident
// set (VmHWM; the target is under 300 MB) and how many of the 32 were
// tempfailed (limits.scan_memory, or a clamd timeout). Each round starts
// from the daemon's peak reset (clear_refs). MAILWARDEN_BENCH_SCAN_MEMORY
// sets limits.scan_memory, to compare budgets.
func BenchmarkPeakRSS(b *testing.B) {
	const conc = 32
	sink := StartSink(b)
	sink.KeepHeadersOnly()
	cd := clamdtest.Start(b, clamdBenchOptions)
	base := string(config.DefaultTOML()) + contentBenchRules
	if v := os.Getenv("MAILWARDEN_BENCH_SCAN_MEMORY"); v != "" {
		base += "\n[limits]\nscan_memory = \"" + v + "\"\n"
	}
	size := benchSizes()[2]
	for _, v := range []struct{ name, conf string }{
		{"clamd=no", base},
		{"clamd=yes", base + withClamd(cd.Address())},
	} {
		b.Run(v.name, func(b *testing.B) {
			mw := startMailwarden(b, v.conf)
			mta := StartPostfixWith(b, Options{RelayAddr: sink.Addr(), MilterAddr: mw.addr})
			pid := mw.cmd.Process.Pid
			idle := vmHWM(b, pid)
			var peak int64
			var wall time.Duration
			var tempfails atomic.Int64
			for b.Loop() {
				// Writing 5 resets the peak to the current resident set.
				if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
					b.Fatal(err)
				}
				w, _ := blast(b, mta, size, conc, conc, &tempfails)
				wall += w
				peak = max(peak, vmHWM(b, pid))
			}
			b.ReportMetric(float64(peak)/1e6, "peak-RSS-MB")
			b.ReportMetric(float64(idle)/1e6, "idle-RSS-MB")
			b.ReportMetric(wall.Seconds()/float64(b.N), "s/burst")
			b.ReportMetric(float64(tempfails.Load())/float64(b.N), "tempfailed/burst")
			b.Logf("%s: %d concurrent %d-byte messages: peak RSS %.0f MB (idle %.0f MB), %v a burst, %d tempfailed",
				v.name, conc, size.size, float64(peak)/1e6, float64(idle)/1e6, (wall / time.Duration(b.N)).Round(time.Millisecond), tempfails.Load())
			if tempfails.Load() > 0 {
				b.Logf("%s: why, from mailwarden's log:\n%s", v.name, grepLines(mw.log.String(), "tempfail", 10))
			}
		})
	}
}

// grepLines returns up to n lines of s that contain sub.
func grepLines(s, sub string, n int) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) && len(out) < n {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
