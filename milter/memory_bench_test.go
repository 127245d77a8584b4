package milter

import (
	"bytes"
	"encoding/base64"
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/session"

	gomilter "github.com/d--j/go-milter"
)

// peakSampler records the peak of the Go heap and of the resident set
// while it runs, every millisecond.
type peakSampler struct {
	stop        chan struct{}
	wg          sync.WaitGroup
	heap, rss   atomic.Uint64
	base, base2 uint64
}

func heapObjects() uint64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64()
}

func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func startPeak() *peakSampler {
	runtime.GC()
	p := &peakSampler{stop: make(chan struct{}), base: heapObjects(), base2: rss()}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if h := heapObjects(); h > p.heap.Load() {
				p.heap.Store(h)
			}
			if r := rss(); r > p.rss.Load() {
				p.rss.Store(r)
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peakSampler) done() (heap, rss uint64) {
	close(p.stop)
	p.wg.Wait()
	return p.heap.Load() - min(p.base, p.heap.Load()), p.rss.Load() - min(p.base2, p.rss.Load())
}

// BenchmarkEOMMemory measures what an end-of-message scan really holds at
// its peak, for large messages of several shapes, delivered and
// quarantined, against the reservation it takes from limits.scan_memory
// ([scanCost]). The figure to watch is peak/reserved (live heap plus the
// resident growth outside it, which is SQLite's): under 1 means the
// accounting covers the scan. The client's own copy of the message is
// allocated before the baseline.
func BenchmarkEOMMemory(b *testing.B) {
	ts := startServer(b, "[limits]\nmax_message_size = \"200MB\"\nscan_memory = \"2GiB\"\n"+testConfig)
	const size = 50 << 20
	// A GC target of 5% keeps the heap close to the live bytes, so the
	// figure is what the scan holds, not garbage awaiting collection (the
	// daemon bounds that with its memory limit; see [memoryLimit]).
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	shapes := []struct{ name, msg string }{
		{"text", "Subject: big text\r\n\r\n" + strings.Repeat("the quick brown fox jumps over the lazy dog\r\n", size/45)},
		{"base64-attachment", "Subject: big attachment\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n" +
			"Content-Type: application/octet-stream; name=x.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrap76(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("binary\x00\x01"), size/8*3/4))) + "\r\n--b--\r\n"},
		{"text-quarantined", "Subject: big gtube\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n" + strings.Repeat("the quick brown fox jumps over the lazy dog\r\n", size/45)},
	}
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			hs, body := session.SplitMessage([]byte("From: a@example.net\r\nTo: bob@example.com\r\nMessage-ID: <big@example.net>\r\n" + sh.msg))
			total := int64(len(body))
			for _, h := range hs {
				total += int64(len(h.Name) + len(h.Value) + 3)
			}
			var peakHeap, peakRSS uint64
			for b.Loop() {
				p := startPeak()
				c := gomilter.NewClient("tcp", ts.addr, gomilter.WithActions(gomilter.AllClientSupportedActionMasks))
				s, err := c.Session(gomilter.NewMacroBag())
				if err != nil {
					b.Fatal(err)
				}
				_, _ = s.Conn("c", gomilter.FamilyInet, 25, "198.51.100.1")
				_, _ = s.Helo("c")
				_, _ = s.Mail("a@example.net", "")
				_, _ = s.Rcpt("bob@example.com", "")
				_, _ = s.DataStart()
				for _, h := range hs {
					_, _ = s.HeaderField(h.Name, h.Value, nil)
				}
				_, _ = s.HeaderEnd()
				_, a, err := s.BodyReadFrom(bytes.NewReader(body))
				if err != nil || (a.Type != gomilter.ActionAccept && a.Type != gomilter.ActionDiscard) {
					b.Fatalf("%+v %v", a, err)
				}
				s.Close()
				h, r := p.done()
				peakHeap, peakRSS = max(peakHeap, h), max(peakRSS, r)
			}
			reserved := float64(scanCost(total))
			b.ReportMetric(float64(peakHeap)/float64(total), "peak-heap/size")
			b.ReportMetric(float64(peakRSS)/float64(total), "peak-rss/size")
			b.ReportMetric(reserved/float64(total), "reserved/size")
			b.ReportMetric(float64(peakHeap+peakRSS)/reserved, "peak/reserved")
			b.Logf("%s: %d MB message, peak live heap %.2f×, peak RSS growth (SQLite's copies) %.2f×, reserved %.2f×, peak/reserved %.2f",
				sh.name, total>>20, float64(peakHeap)/float64(total), float64(peakRSS)/float64(total), reserved/float64(total), float64(peakHeap+peakRSS)/reserved)
		})
	}
}

func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76])
		b.WriteString("\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// BenchmarkHeaderFlood sends messages of 200,000 tiny header fields over 8
// sessions at once, as an SMTP client can through Postfix, and reports the
// daemon's peak heap. Past limits.max_header_fields nothing more is kept,
// so the peak stays near what the kept fields need.
func BenchmarkHeaderFlood(b *testing.B) {
	const fields, conc = 200_000, 8
	ts := startServer(b, testConfig)
	var peak uint64
	for b.Loop() {
		p := startPeak()
		var wg sync.WaitGroup
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := gomilter.NewClient("tcp", ts.addr, gomilter.WithActions(gomilter.AllClientSupportedActionMasks))
				s, err := c.Session(gomilter.NewMacroBag())
				if err != nil {
					b.Error(err)
					return
				}
				defer s.Close()
				_, _ = s.Conn("c", gomilter.FamilyInet, 25, "198.51.100.1")
				_, _ = s.Helo("c")
				_, _ = s.Mail("a@example.net", "")
				_, _ = s.Rcpt("bob@example.com", "")
				_, _ = s.DataStart()
				for i := range fields {
					if _, err := s.HeaderField("X", strconv.Itoa(i), nil); err != nil {
						b.Error(err)
						return
					}
				}
				if a, err := s.HeaderEnd(); err != nil || a.SMTPCode != 552 {
					b.Errorf("end of headers: %+v %v; want 552", a, err)
				}
			}()
		}
		wg.Wait()
		h, _ := p.done()
		peak = max(peak, h)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.Logf("%d sessions × %d header fields: peak heap %.1f MiB", conc, fields, float64(peak)/(1<<20))
}
