package check

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestNetwork(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want string
	}{
		{"192.0.2.77", "192.0.2.0/24"},
		{"::ffff:192.0.2.77", "192.0.2.0/24"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
	} {
		if got := Network(netip.MustParseAddr(tc.ip), 24, 64).String(); got != tc.want {
			t.Errorf("Network(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
	if got := Network(netip.MustParseAddr("192.0.2.77"), 32, 128).String(); got != "192.0.2.77/32" {
		t.Errorf("Network /32 = %s", got)
	}
	if got := Network(netip.Addr{}, 24, 64); got.IsValid() {
		t.Errorf("Network of no address = %v, want the zero prefix", got)
	}
}

func TestStateKey(t *testing.T) {
	if got := StateKey("throttle.x", "192.0.2.0/24"); got != "throttle.x|192.0.2.0/24" {
		t.Errorf("short key = %q", got)
	}
	long := strings.Repeat("a", 300) + "@example.com"
	a, b := StateKey("grey", long, "x"), StateKey("grey", long, "y")
	if a == b || len(a) > maxReadableKey || !strings.HasPrefix(a, "grey|sha256:") {
		t.Errorf("long keys %q and %q: want distinct hashes under the bound", a, b)
	}
	// The parts are delimited before hashing: moving the boundary changes the key.
	if StateKey("p", long+"a", "b") == StateKey("p", long, "ab") {
		t.Error("hashed keys ignore where one part ends")
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "1m", 5 * time.Minute: "5m", 90 * time.Minute: "1h30m", time.Hour: "1h",
		36 * 24 * time.Hour: "36d", 90 * time.Second: "1m30s", 45 * time.Second: "45s", 0: "0s",
		1500 * time.Millisecond: "1.5s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
