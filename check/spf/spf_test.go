package spf

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/checktest"
	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/config"
)

// show is a finding as the tests compare it.
func show(fs []check.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name+"="+f.Value+"@"+f.Where)
	}
	return out
}

// TestRun checks which identities the check evaluates and the findings it
// reports for them.
func TestRun(t *testing.T) {
	_, r := fakeDNS(t, []string{
		txt("example.com.", "v=spf1 ip4:192.0.2.0/24 -all"),
		txt("mx.example.net.", "v=spf1 a -all"),
		"mx.example.net. A 198.51.100.9",
		txt("bad.example.org.", "v=spf1 include:nothing.example.org"),
	}, nil)
	trusted := netip.MustParsePrefix("10.0.0.0/8")
	env := &check.Env{DNS: r, Trusted: trusted.Contains}
	def := Defaults()
	noHelo := def
	noHelo.Helo = false
	outbound := def
	outbound.Outbound = true

	tests := []struct {
		name    string
		c       Config
		in      check.Input
		want    []string
		wantErr error
	}{
		{name: "mail from and helo", c: def,
			in:   check.Input{ClientIP: netip.MustParseAddr("192.0.2.7"), Helo: "mx.example.net", Sender: "alice@example.com"},
			want: []string{"spf=pass@mailfrom", "spf.pass=example.com@mailfrom", "spf=fail@helo", "spf.helo.fail=mx.example.net@helo"}},
		{name: "helo off", c: noHelo,
			in:   check.Input{ClientIP: netip.MustParseAddr("192.0.2.7"), Helo: "mx.example.net", Sender: "alice@example.com"},
			want: []string{"spf=pass@mailfrom", "spf.pass=example.com@mailfrom"}},
		{name: "null sender is the HELO identity", c: def,
			in:   check.Input{ClientIP: netip.MustParseAddr("198.51.100.9"), Helo: "mx.example.net", Sender: ""},
			want: []string{"spf=pass@helo", "spf.pass=mx.example.net@helo", "spf.helo.pass=mx.example.net@helo"}},
		{name: "null sender <> with helo off", c: noHelo,
			in:   check.Input{ClientIP: netip.MustParseAddr("192.0.2.1"), Helo: "mx.example.net.", Sender: "<>"},
			want: []string{"spf=fail@helo", "spf.fail=mx.example.net@helo"}},
		{name: "sender in angle brackets, domain case", c: noHelo,
			in:   check.Input{ClientIP: netip.MustParseAddr("198.51.100.1"), Helo: "x", Sender: "<bob@EXAMPLE.com>"},
			want: []string{"spf=fail@mailfrom", "spf.fail=example.com@mailfrom"}},
		{name: "helo IP literal is none", c: def,
			in:   check.Input{ClientIP: netip.MustParseAddr("192.0.2.7"), Helo: "[192.0.2.7]", Sender: ""},
			want: []string{"spf=none@helo", "spf.none=[192.0.2.7]@helo", "spf.helo.none=[192.0.2.7]@helo"}},
		{name: "permerror", c: noHelo,
			in:   check.Input{ClientIP: netip.MustParseAddr("192.0.2.7"), Helo: "h.example.org", Sender: "a@bad.example.org"},
			want: []string{"spf=permerror@mailfrom", "spf.permerror=bad.example.org@mailfrom"}},
		{name: "trusted network is not checked", c: def,
			in: check.Input{ClientIP: netip.MustParseAddr("10.1.2.3"), Helo: "mx.example.net", Sender: "alice@example.com"}},
		{name: "authenticated session is not checked", c: def,
			in: check.Input{ClientIP: netip.MustParseAddr("192.0.2.7"), AuthUser: "alice", Helo: "mx.example.net", Sender: "alice@example.com"}},
		{name: "outbound = true checks them", c: outbound,
			in:   check.Input{ClientIP: netip.MustParseAddr("10.1.2.3"), AuthUser: "alice", Helo: "mx.example.net", Sender: "alice@example.com"},
			want: []string{"spf=fail@mailfrom", "spf.fail=example.com@mailfrom", "spf=fail@helo", "spf.helo.fail=mx.example.net@helo"}},
		{name: "no client address", c: def, in: check.Input{Helo: "mx.example.net", Sender: "alice@example.com"}},
		{name: "behind a known host: mail from only", c: def,
			in:   check.Input{ClientIP: netip.MustParseAddr("192.0.2.7"), Helo: "relay.example.net", Sender: "alice@example.com", Headers: []check.RawHeader{{Name: "Received", Value: "x"}}},
			want: []string{"spf=pass@mailfrom", "spf.pass=example.com@mailfrom"}},
		{name: "behind a known host: not the null sender", c: def,
			in: check.Input{ClientIP: netip.MustParseAddr("192.0.2.7"), Helo: "relay.example.net", Headers: []check.RawHeader{{Name: "Received", Value: "x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Env = env
			fs, err := New(tt.c).Run(t.Context(), &in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if got := show(fs); !slices.Equal(got, tt.want) {
				t.Errorf("findings\n%q\nwant\n%q", got, tt.want)
			}
			for _, f := range fs {
				if !strings.Contains(f.Reason, f.Where+" ") || !strings.Contains(f.Reason, in.ClientIP.Unmap().String()) {
					t.Errorf("reason %q does not say the identity and the client", f.Reason)
				}
			}
		})
	}
}

// TestRunReason: the reason names the domain, the result and why.
func TestRunReason(t *testing.T) {
	_, r := fakeDNS(t, []string{txt("example.com.", "v=spf1 ip4:192.0.2.0/24 -all")}, nil)
	fs, err := New(Defaults()).Run(t.Context(), &check.Input{ClientIP: netip.MustParseAddr("198.51.100.1"),
		Helo: "h.example.org", Sender: "a@example.com", Env: &check.Env{DNS: r}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "mailfrom example.com: fail for 198.51.100.1 (matched all)"; fs[0].Reason != want {
		t.Errorf("reason %q, want %q", fs[0].Reason, want)
	}
}

// TestRunFailures: no resolver and an offline resolver fail the check
// (check.error, then on_error), they are not a temperror about the sender.
func TestRunFailures(t *testing.T) {
	off, err := dns.New(dns.Options{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	in := check.Input{ClientIP: netip.MustParseAddr("192.0.2.7"), Helo: "h.example.org", Sender: "a@example.com"}
	for _, tt := range []struct {
		name string
		env  *check.Env
		want error
	}{
		{"no env", nil, ErrNoResolver},
		{"no resolver", &check.Env{}, ErrNoResolver},
		{"dry run offline", &check.Env{DNS: off, Offline: true}, ErrOffline},
		{"offline resolver", &check.Env{DNS: off}, ErrOffline},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := in
			in.Env = tt.env
			fs, err := New(Defaults()).Run(t.Context(), &in)
			if !errors.Is(err, tt.want) || fs != nil {
				t.Errorf("Run = %v, %v; want %v", show(fs), err, tt.want)
			}
		})
	}
}

// TestTimeoutWithinBudget: a DNS server that never answers gives
// temperror within [spf] timeout, before the check's budget ends, so the
// result is a finding and not a spent budget.
func TestTimeoutWithinBudget(t *testing.T) {
	srv, r := fakeDNS(t, nil, nil)
	srv.Set("example.com.", dnstestDrop)
	srv.Set("h.example.org.", dnstestDrop)
	c := Defaults()
	c.Timeout = config.Dur(700 * time.Millisecond)
	ch := New(c)
	if ch.Budget() <= c.Timeout.D {
		t.Fatalf("budget %v is not past the timeout %v", ch.Budget(), c.Timeout.D)
	}
	fs, err := ch.Run(t.Context(), &check.Input{ClientIP: netip.MustParseAddr("192.0.2.7"),
		Helo: "h.example.org", Sender: "a@example.com", Env: &check.Env{DNS: r}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"spf=temperror@mailfrom", "spf.temperror=example.com@mailfrom", "spf=temperror@helo", "spf.helo.temperror=h.example.org@helo"}
	if got := show(fs); !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}

func TestSenderResult(t *testing.T) {
	fs := []check.Finding{
		{Name: "dnsbl.zen", Value: "127.0.0.2"},
		{Name: "spf", Value: "fail", Where: "helo"},
		{Name: "spf.helo.fail", Value: "mx.example.net", Where: "helo"},
		{Name: "spf", Value: "pass", Where: "mailfrom"},
		{Name: "spf.pass", Value: "example.com", Where: "mailfrom"},
	}
	res, domain, where, ok := SenderResult(fs)
	if !ok || res != Pass || domain != "example.com" || where != WhereMailFrom {
		t.Errorf("SenderResult = %q %q %q %v", res, domain, where, ok)
	}
	if _, _, _, ok := SenderResult(fs[:3]); ok {
		t.Errorf("SenderResult found a sender result among HELO findings only")
	}
}

func TestFindingsDeclared(t *testing.T) {
	var names []string
	for _, d := range New(Defaults()).Findings() {
		names = append(names, d.Name)
	}
	for _, n := range []string{"spf", "spf.fail", "spf.softfail", "spf.temperror", "spf.permerror", "spf.pass", "spf.neutral", "spf.none", "spf.helo.fail"} {
		if !slices.Contains(names, n) {
			t.Errorf("%s not declared: %q", n, names)
		}
	}
	if _, err := check.NewSet(New(Defaults())); err != nil {
		t.Error(err)
	}
}

func TestConfig(t *testing.T) {
	cfg := checktest.Config(t, "")
	if got := *config.Section[Config](cfg, Section); got != Defaults() {
		t.Errorf("defaults %+v, want %+v", got, Defaults())
	}
	if cs := build(cfg); len(cs) != 1 || cs[0].Name() != "spf" || cs[0].Stage().String() != "mail" {
		t.Errorf("build = %v", cs)
	}
	if cs := build(checktest.Config(t, "[spf]\nenabled = false\n")); len(cs) != 0 {
		t.Errorf("disabled: built %v", cs)
	}
	c := build(checktest.Config(t, "[spf]\non_error = \"tempfail\"\ntimeout = \"3s\"\n"))[0]
	if c.OnError() != check.OnErrorTempfail || c.Budget() != 4*time.Second {
		t.Errorf("on_error %v budget %v", c.OnError(), c.Budget())
	}
	for src, want := range map[string]string{
		"[spf]\ntimeout = \"0s\"\n":      "spf.timeout: must be between 0 and 25s",
		"[spf]\ntimeout = \"30s\"\n":     "spf.timeout: must be between 0 and 25s",
		"[spf]\non_error = \"accept\"\n": "spf.on_error",
		"[spf]\nhelo_check = true\n":     "spf.helo_check: unknown key",
	} {
		_, rep, err := config.Decode("t.toml", []byte(src))
		if err == nil {
			err = rep.Err()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}
