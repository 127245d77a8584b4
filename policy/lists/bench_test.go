package lists

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// benchIPList returns n list entries of every form, IPv4 and IPv6, in a
// fixed pseudo-random order, as a sender list exported from a gateway
// console holds them.
func benchIPList(n int) []string {
	r := rand.New(rand.NewPCG(7, 11))
	v4 := func() netip.Addr {
		return netip.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
	}
	v6 := func() netip.Addr {
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		for i := 4; i < 16; i++ {
			b[i] = byte(r.Uint32())
		}
		return netip.AddrFrom16(b)
	}
	out := make([]string, n)
	for i := range out {
		switch k := r.IntN(100); {
		case k < 40:
			out[i] = v4().String()
		case k < 60:
			out[i] = fmt.Sprintf("%s/%d", v4(), 16+r.IntN(17))
		case k < 70:
			a := v4()
			out[i] = fmt.Sprintf("%s-%d", a, int(a.As4()[3])+r.IntN(256-int(a.As4()[3])))
		case k < 75:
			a := v4()
			b := a.As4()
			b[2] = byte(int(b[2]) + r.IntN(256-int(b[2])))
			out[i] = a.String() + "-" + netip.AddrFrom4(b).String()
		case k < 85:
			out[i] = v6().String()
		case k < 95:
			out[i] = fmt.Sprintf("%s/%d", v6(), 48+r.IntN(81))
		default:
			a := v6()
			b := a.As16()
			out[i] = fmt.Sprintf("%s-%x", a, (int(b[14])<<8|int(b[15]))+r.IntN(65536-(int(b[14])<<8|int(b[15]))))
		}
	}
	return out
}

// benchProbes returns addresses that hit and miss a list: half are entry
// starts (hits), half random (mostly misses), a quarter of those IPv6.
func benchProbes(l IPList, n int) []netip.Addr {
	r := rand.New(rand.NewPCG(3, 5))
	entries := l.Entries()
	out := make([]netip.Addr, n)
	for i := range out {
		switch r.IntN(4) {
		case 0, 1:
			out[i] = entries[r.IntN(len(entries))].From
		case 2:
			out[i] = netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
		default:
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
			for j := 4; j < 16; j++ {
				b[j] = byte(r.Uint32())
			}
			out[i] = netip.AddrFrom16(b)
		}
	}
	return out
}

// BenchmarkIPList measures loading a 100,000-entry list (the target is
// under a second), as config elements and as one file with a comment on
// every tenth line and an expiry on every hundredth, and looking addresses
// up in it, with the linear scan the list replaced for comparison.
func BenchmarkIPList(b *testing.B) {
	const n = 100_000
	entries := benchIPList(n)
	b.Run("load-100000-elements", func(b *testing.B) {
		for b.Loop() {
			l, errs := ParseIPList(entries...)
			if len(errs) != 0 || l.Len() != n {
				b.Fatalf("%d entries, errors %v", l.Len(), errs)
			}
		}
	})
	var file strings.Builder
	for i, e := range entries {
		file.WriteString(e)
		switch {
		case i%100 == 0:
			file.WriteString("  # expires 2999-01-01 temporary block")
		case i%10 == 0:
			file.WriteString("  # ticket 42")
		}
		file.WriteByte('\n')
	}
	one := file.String()
	b.Run("load-100000-file", func(b *testing.B) {
		for b.Loop() {
			if l, errs := ParseIPList(one); len(errs) != 0 || l.Len() != n {
				b.Fatalf("%d entries, errors %v", l.Len(), errs)
			}
		}
	})
	l, _ := ParseIPList(one)
	probes := benchProbes(l, 1024)
	hits := 0
	for _, ip := range probes {
		if l.Contains(ip, time.Time{}) {
			hits++
		}
	}
	b.Logf("%d of %d probes hit", hits, len(probes))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.Run("lookup-100000", func(b *testing.B) {
		i := 0
		for b.Loop() {
			l.Contains(probes[i%len(probes)], at)
			i++
		}
	})
	b.Run("lookup-100000-now", func(b *testing.B) {
		i := 0
		for b.Loop() {
			l.Contains(probes[i%len(probes)], time.Time{})
			i++
		}
	})
	all := l.Entries()
	b.Run("lookup-100000-linear", func(b *testing.B) {
		i := 0
		for b.Loop() {
			linearContains(all, probes[i%len(probes)])
			i++
		}
	})
	small, _ := ParseIPList("127.0.0.1, ::1, 10.0.0.0/8, 192.168.0.0/16, 2001:db8::/32")
	b.Run("lookup-5", func(b *testing.B) {
		i := 0
		for b.Loop() {
			small.Contains(probes[i%len(probes)], at)
			i++
		}
	})
}
