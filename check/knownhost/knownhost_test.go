package knownhost

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
)

func hosts(t *testing.T, src string) *Hosts {
	t.Helper()
	cfg, rep, err := config.Decode("c.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	return FromConfig(cfg)
}

// TestOrigin: a message relayed by a known host is judged by its first
// untrusted hop, which only a known host's own Received line can name; a
// chain that does not say is origin_unknown, never the relay or a forged
// address.
func TestOrigin(t *testing.T) {
	h := hosts(t, "[known_hosts]\nnetworks = [\"10.1.0.0/16 # the prefilter\"]\n")
	relay := netip.MustParseAddr("10.1.2.3")
	c := &Check{Hosts: h}
	for _, tc := range []struct {
		name     string
		received []string
		finding  string
		value    string
	}{
		{"the prefilter names the sender", []string{
			" from mx.sender.example (mx.sender.example [198.51.100.7]) by filter.example.net (Postfix) with ESMTPS id 4Q; Tue, 1 Dec 2026 10:00:00 +0000",
			" from forged.example ([10.1.9.9]) by evil.example; Tue, 1 Dec 2026 09:00:00 +0000",
		}, Origin, "198.51.100.7"},
		{"no Received line", nil, OriginUnknown, ""},
		{"an unreadable line", []string{" from (((( by x"}, OriginUnknown, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hs []check.RawHeader
			for _, r := range tc.received {
				hs = append(hs, check.RawHeader{Name: "Received", Value: r})
			}
			fs, err := c.RunLate(context.Background(), &check.Input{ClientIP: relay, Headers: hs})
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != 1 || fs[0].Name != tc.finding || (tc.value != "" && fs[0].Value != tc.value) {
				t.Fatalf("findings %+v, want %s %s", fs, tc.finding, tc.value)
			}
		})
	}
	if fs, _ := c.Run(context.Background(), &check.Input{ClientIP: relay}); len(fs) != 1 || fs[0].Name != Finding {
		t.Errorf("connect: %+v, want client.known_host", fs)
	}
	if fs, _ := c.Run(context.Background(), &check.Input{ClientIP: netip.MustParseAddr("192.0.2.1")}); len(fs) != 0 {
		t.Errorf("an ordinary client: %+v", fs)
	}
	if hosts(t, "[server]\n") != nil {
		t.Error("no networks, yet known hosts")
	}
	if h := hosts(t, "[known_hosts]\nnetworks = [\"10.0.0.0/8\"]\nmode = \"skip\"\n"); h.Received {
		t.Error("mode skip reads Received")
	}
}

func TestKnownHostsConfigProblems(t *testing.T) {
	_, rep, err := config.Decode("c.toml", []byte("[known_hosts]\nnetworks = [\"10.0.0.0/33\"]\nmode = \"trust\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err == nil {
		t.Fatal("bad [known_hosts] loaded")
	} else if got := err.Error(); !contains(got, "c.toml:2: known_hosts.networks[0]") || !contains(got, `c.toml:3: known_hosts.mode: "trust" is not allowed`) {
		t.Errorf("got\n%s", got)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
