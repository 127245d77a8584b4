package dnsbl

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/check/dns/dnstest"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
)

// TestZoneChecks builds the [[dnsbl]] checks from a config and runs them
// through the runner against a fake DNS server: a listing with its
// meaning and weight, an allow list, an error code, and a slow zone that
// spends its budget, each zone on its own.
func TestZoneChecks(t *testing.T) {
	srv := dnstest.New(t)
	srv.Add("2.2.0.192.bl.test. 60 IN A 127.0.0.2",
		"2.2.0.192.wl.test. 60 IN A 127.0.10.1",
		"2.2.0.192.broken.test. 60 IN A 127.255.255.254")
	srv.Set("2.2.0.192.slow.test.", dnstest.Behavior{Delay: 2 * time.Second})
	src := `[dns]
servers = ["` + srv.Addr() + `"]
timeout = "3s"
connect_budget = "500ms"

[[dnsbl]]
name = "bl"
zone = "bl.test"
codes = { "127.0.0.2" = "spam source" }
weight = 3

[[dnsbl]]
name = "wl"
zone = "wl.test"
allow = true
weight = -5

[[dnsbl]]
name = "broken"
zone = "broken.test"

[[dnsbl]]
name = "slow"
zone = "slow.test"
on_error = "tempfail"
`
	cfg, rep, err := config.Decode("c.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	cs := build(cfg)
	set, err := check.NewSet(cs...)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]policy.Stage{}
	for _, n := range set.FindingNames() {
		used[n] = policy.StageConnect
	}
	res, err := dns.FromConfig(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	runner := check.NewRunner(set, used)
	u := runner.NewRun(&check.Env{DNS: res})
	defer u.Close()
	start := time.Now()
	u.Start(policy.StageConnect, &check.Input{ClientIP: netip.MustParseAddr("192.0.2.2")})
	fail := u.Await(policy.StageConnect, "")
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("the connect stage took %v; the slow zone's budget is 500ms", d)
	}
	if fail == nil || fail.Check != "dnsbl.slow" {
		t.Errorf("failure %+v, want the slow zone (on_error tempfail)", fail)
	}
	got := map[string]check.Finding{}
	for _, f := range u.Findings("") {
		if f.Name == check.FindingError {
			got["error:"+f.Value] = f
			continue
		}
		got[f.Name] = f
	}
	if f := got["dnsbl.bl"]; f.Value != "127.0.0.2: spam source" || f.Score != 3 || !strings.Contains(f.Reason, "bl.test") {
		t.Errorf("dnsbl.bl = %+v", f)
	}
	if f := got["dnswl.wl"]; f.Score != -5 {
		t.Errorf("dnswl.wl = %+v", f)
	}
	if _, ok := got["dnsbl.broken"]; ok {
		t.Error("an error code was taken as a listing")
	}
	if f, ok := got["error:dnsbl.broken"]; !ok || !strings.Contains(f.Reason, "127.255.255.254") {
		t.Errorf("error code: %+v, want check.error naming the answer", f)
	}
	if _, ok := got["error:dnsbl.slow"]; !ok {
		t.Error("the slow zone is no check.error")
	}
}

func TestZoneConfigProblems(t *testing.T) {
	_, rep, err := config.Decode("c.toml", []byte(`[dns]
servers = ["localhost"]
connect_budget = "1m"

[[dnsbl]]
name = "Bad Name"
zone = "x.test"

[[dnsbl]]
name = "ok"
zone = "ok.test"
codes = { "10.0.0.1" = "never" }
on_error = "explode"
`))
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Err().Error()
	for _, want := range []string{
		`c.toml:2: dns.servers[0]: "localhost" is not IP:port`,
		"c.toml:3: dns.connect_budget: must be between 0 and 30s",
		"c.toml:5: dnsbl[0]:",
		"c.toml:9: dnsbl[1]:",
		`c.toml:13: dnsbl[1].on_error: "explode" is not allowed`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

// TestDefaultWeight: a zone without a weight scores 1, an allow list -1,
// as postscreen.
func TestDefaultWeight(t *testing.T) {
	cfg, _, err := config.Decode("c.toml", []byte("[[dnsbl]]\nname = \"a\"\nzone = \"a.test\"\n[[dnsbl]]\nname = \"w\"\nzone = \"w.test\"\nallow = true\n[[dnsbl]]\nname = \"z\"\nzone = \"z.test\"\nweight = 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, c := range build(cfg) {
		got = append(got, c.(*Check).zone.Config().Weight)
	}
	if len(got) != 3 || got[0] != 1 || got[1] != -1 || got[2] != 0 {
		t.Errorf("weights %v, want [1 -1 0]", got)
	}
}

// TestOffline: an offline resolver fails at once, a check.error.
func TestOffline(t *testing.T) {
	cfg, _, _ := config.Decode("c.toml", []byte("[[dnsbl]]\nname = \"bl\"\nzone = \"bl.test\"\n"))
	res, err := dns.FromConfig(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	c := build(cfg)[0]
	_, err = c.Run(context.Background(), &check.Input{ClientIP: netip.MustParseAddr("192.0.2.2"), Env: &check.Env{DNS: res}})
	if err == nil {
		t.Error("an offline lookup did not fail")
	}
}
