package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"

	"github.com/mailwarden/mailwarden/config"
)

// BenchmarkMilter drives `mailwarden serve` (the same run function as the
// binary, on the embedded default rules) through the milter protocol with
// go-milter's client, at concurrency 1, 8 and 32, on ~5 KB and ~300 KB
// messages. Beside each figure it reports the same figure for a do-nothing
// go-milter server measured in the same run, and the ratio.
func BenchmarkMilter(b *testing.B) {
	mw := startServe(b)
	noop := startNoop(b)
	for _, size := range []int{5 << 10, 300 << 10} {
		msg := benchMessage(size)
		for _, conc := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("size=%dKB/conc=%d", size>>10, conc), func(b *testing.B) {
				base := drive(b, noop, msg, conc, b.N)
				got := drive(b, mw, msg, conc, b.N)
				b.ReportMetric(got.rate, "msgs/s")
				b.ReportMetric(base.rate, "noop-msgs/s")
				b.ReportMetric(got.rate/base.rate, "ratio")
				b.ReportMetric(float64(got.p50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(got.p99.Microseconds()), "p99-µs")
				b.ReportMetric(float64(base.p50.Microseconds()), "noop-p50-µs")
				b.ReportMetric(float64(base.p99.Microseconds()), "noop-p99-µs")
				b.Logf("n=%d mailwarden %.0f msgs/s p50 %v p99 %v | do-nothing %.0f msgs/s p50 %v p99 %v | ratio %.2f",
					b.N, got.rate, got.p50, got.p99, base.rate, base.p50, base.p99, got.rate/base.rate)
			})
		}
	}
}

type figures struct {
	rate     float64
	p50, p99 time.Duration
}

// drive sends n messages over conc parallel milter connections, one
// session per message as an MTA does per SMTP connection.
func drive(b *testing.B, addr string, msg []byte, conc, n int) figures {
	b.Helper()
	lat := make([]time.Duration, n)
	var next, failed int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := gomilter.NewClient("tcp", addr, gomilter.WithActions(gomilter.AllClientSupportedActionMasks))
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= int64(n) {
					return
				}
				t0 := time.Now()
				if err := oneMessage(c, msg, int(i)); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	return figures{rate: float64(n) / elapsed.Seconds(), p50: lat[n*50/100], p99: lat[min(n-1, n*99/100)]}
}

func oneMessage(c *gomilter.Client, msg []byte, i int) error {
	s, err := c.Session(gomilter.NewMacroBag())
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Conn("client.example.net", gomilter.FamilyInet, 25, "198.51.100.7"); err != nil {
		return err
	}
	if _, err := s.Helo("client.example.net"); err != nil {
		return err
	}
	if _, err := s.Mail("sender@example.net", ""); err != nil {
		return err
	}
	if _, err := s.Rcpt(fmt.Sprintf("user%d@example.com", i%50), ""); err != nil {
		return err
	}
	if _, err := s.DataStart(); err != nil {
		return err
	}
	head, body, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		name, value, _ := strings.Cut(line, ":")
		if _, err := s.HeaderField(name, value, nil); err != nil {
			return err
		}
	}
	if _, err := s.HeaderEnd(); err != nil {
		return err
	}
	_, act, err := s.BodyReadFrom(bytes.NewReader(body))
	if err != nil {
		return err
	}
	if act.Type != gomilter.ActionAccept && act.Type != gomilter.ActionContinue {
		return fmt.Errorf("message %d: %+v", i, act)
	}
	return nil
}

// benchMessage is a plausible multipart message of about size bytes: a text
// part and a base64 attachment.
func benchMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: Sender <sender@example.net>\r\nTo: user@example.com\r\nSubject: =?UTF-8?B?5Lya6K2w44Gu5Lu2?= quarterly report\r\n")
	b.WriteString("Message-ID: <bench@example.net>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	for b.Len() < size/3 {
		b.WriteString("The quarterly numbers are attached. Please review them before the meeting.\r\n")
	}
	b.WriteString("--b1\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n")
	for b.Len() < size-20 {
		b.WriteString("JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29k\r\n")
	}
	b.WriteString("--b1--\r\n")
	return b.Bytes()
}

// startServe runs `mailwarden serve` in-process on the default rules, with
// logging at warn so the figures are not a logging benchmark.
func startServe(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	conf := strings.Replace(string(config.DefaultTOML()), "[server]\n", "[server]\nlog_level = \"warn\"\n", 1)
	file := filepath.Join(dir, "bench.toml")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	addr := freeAddr(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "-c", file, "--listen", "inet:" + addr, "--data", filepath.Join(dir, "data")}, io.Discard, os.Stderr)
	}()
	b.Cleanup(func() { cancel(); <-done })
	waitListening(b, addr)
	return addr
}

func startNoop(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := gomilter.NewServer(
		gomilter.WithMilter(func() gomilter.Milter { return gomilter.NoOpMilter{} }),
		gomilter.WithActions(gomilter.OptAddHeader|gomilter.OptChangeHeader|gomilter.OptRemoveRcpt),
	)
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(t testing.TB, addr string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}
