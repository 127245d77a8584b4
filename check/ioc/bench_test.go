package ioc

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system time so far: on a shared
// machine, a truer cost than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeBig writes a list of n entries: 70% domains, 10% URLs, 10% IPv4
// addresses and networks, 5% addresses, 5% SHA-256 values.
func writeBig(b *testing.B, n int) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "big.txt")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		switch i % 20 {
		case 0, 1:
			fmt.Fprintf(w, "http://host%d.bad-%d.example/path/%d\n", i, i%977, i)
		case 2:
			fmt.Fprintf(w, "10.%d.%d.%d\n", i>>16&0xff, i>>8&0xff, i&0xff)
		case 3:
			j := i / 20
			fmt.Fprintf(w, "%d.%d.%d.0/24\n", 100+j>>16, j>>8&0xff, j&0xff)
		case 4:
			fmt.Fprintf(w, "user%d@bad-%d.example\n", i, i%977)
		case 5:
			fmt.Fprintf(w, "%064x\n", i)
		default:
			fmt.Fprintf(w, "c2-%d.bad-%d.example\n", i, i%977)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return p
}

// BenchmarkLoad1M loads a list of a million entries; heap-MB is what the
// loaded list holds, B/entry the same per entry, cpu-s the CPU time of a
// load (garbage collection included).
func BenchmarkLoad1M(b *testing.B) {
	const n = 1_000_000
	p := writeBig(b, n)
	var heap uint64
	var cpu time.Duration
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c0 := cpuTime()
		s, err := load(p, FormatAuto, DefaultMaxEntries)
		cpu = cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if s.entries != n || s.bad != 0 {
			b.Fatalf("%d entries, %d bad", s.entries, s.bad)
		}
		heap = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(s)
	}
	b.ReportMetric(float64(heap)/1e6, "heap-MB")
	b.ReportMetric(float64(heap)/n, "B/entry")
	b.ReportMetric(cpu.Seconds(), "cpu-s")
}

// BenchmarkLookup matches a URL's host and parents, an address and a
// client IP against the million-entry list.
func BenchmarkLookup(b *testing.B) {
	s, err := load(writeBig(b, 1_000_000), FormatAuto, DefaultMaxEntries)
	if err != nil {
		b.Fatal(err)
	}
	ip := netip.MustParseAddr("198.51.100.7")
	for b.Loop() {
		s.domain("www.login.clean-site.example")
		s.email("someone@clean-site.example")
		s.ip(ip)
	}
}
