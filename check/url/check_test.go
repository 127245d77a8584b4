package url

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/check/dns/dnstest"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/message"
)

func load(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, rep, err := config.Decode("c.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func run(t *testing.T, c check.Check, env *check.Env, msg string) ([]check.Finding, error) {
	t.Helper()
	m := message.ParseBytes([]byte(msg), message.DefaultLimits())
	ctx, cancel := context.WithTimeout(context.Background(), c.Budget())
	defer cancel()
	return c.Run(ctx, &check.Input{Message: m, Env: env})
}

func show(fs []check.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name+" "+f.Value+" @"+f.Where)
	}
	return out
}

const htmlMsg = "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n詳細はhttps://bit.ly/abc。または http://0xc0000201/x\r\n" +
	"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
	`<a href="https://evil.example/login">https://www.paypal.com/</a> <a href="https://www.example.com/">example.com</a> ` +
	`<a href="https://www.google.com/url?q=https%3A%2F%2Fshop.example%2F">shop.example</a> <a href="http://[2001:db8::1]/">here</a>` +
	"\r\n--b--\r\n"

func TestLocalFindings(t *testing.T) {
	cfg := load(t, "[urls]\nshorteners = [\"sho.rt\"]\n")
	c := build(cfg)
	if len(c) != 2 {
		t.Fatalf("%d checks without zones or blocklist, want url and an idle uribl", len(c))
	}
	if fs, err := run(t, c[1], &check.Env{}, htmlMsg); err != nil || len(fs) != 0 {
		t.Fatalf("uribl without zones or blocklist: %v, %v; want nothing", fs, err)
	}
	fs, err := run(t, c[0], &check.Env{}, htmlMsg)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"url.shortener https://bit.ly/abc @body",
		"url.ip http://192.0.2.1/x @body",
		"url.ip http://[2001:db8::1]/ @html",
		"url.mismatch https://evil.example/login @html",
	}
	if got := show(fs); !slices.Equal(got, want) {
		t.Errorf("findings\n%q\nwant\n%q", got, want)
	}
	for _, f := range fs {
		if f.Name == FindingIP && f.Where == "body" && !strings.Contains(f.Reason, "hex form") {
			t.Errorf("url.ip reason %q does not say the form", f.Reason)
		}
		if f.Name == FindingMismatch && !strings.Contains(f.Reason, "paypal.com") {
			t.Errorf("url.mismatch reason %q", f.Reason)
		}
	}
	fs, _ = run(t, c[0], &check.Env{}, "Subject: x\r\n\r\nhttps://www.sho.rt/x\r\n")
	if got := show(fs); !slices.Equal(got, []string{"url.shortener https://www.sho.rt/x @body"}) {
		t.Errorf("configured shortener: %q", got)
	}
}

// TestCap: past max_urls the findings say so.
func TestCap(t *testing.T) {
	c := build(load(t, "[urls]\nmax_urls = 3\n"))[0]
	fs, _ := run(t, c, &check.Env{}, "Subject: x\r\n\r\nhttp://1.2.3.4/ http://a.example/ http://b.example/ http://5.6.7.8/\r\n")
	if len(fs) != 1 || !strings.Contains(fs[0].Reason, "urls.max_urls=3") {
		t.Errorf("findings %+v, want one url.ip noting urls.max_urls=3", fs)
	}
}

func TestURIBL(t *testing.T) {
	srv := dnstest.New(t)
	srv.Add("evil.example.uribl.test. 60 IN A 127.0.0.2",
		"4.3.2.1.uribl.test. 60 IN A 127.0.0.4",
		"evil.example.other.test. 60 IN A 127.0.0.8",
		"evil.example.refusing.test. 60 IN A 127.0.0.1",
		"clean.example.refusing.test. 60 IN A 127.0.0.1")
	srv.Set("evil.example.slow.test.", dnstest.Behavior{Delay: 3 * time.Second})
	srv.Set("clean.example.slow.test.", dnstest.Behavior{Delay: 3 * time.Second})
	cfg := load(t, `[dns]
servers = ["`+srv.Addr()+`"]

[urls]
blocklist = ["bad.example", "192.0.2.9"]

[[uribl]]
name = "black"
zone = "uribl.test"
codes = { "127.0.0.2" = "black", "127.0.0.4" = "grey" }

[[uribl]]
name = "other"
zone = "other.test"
codes = { "&2" = "two" }
codes_only = true

[[uribl]]
name = "refusing"
zone = "refusing.test"

[[uribl]]
name = "slow"
zone = "slow.test"
timeout = "300ms"
on_error = "tempfail"
`)
	res, err := dns.FromConfig(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	cs := build(cfg)
	if len(cs) != 2 {
		t.Fatalf("%d checks, want url and uribl", len(cs))
	}
	bl := cs[1]
	if bl.OnError() != check.OnErrorTempfail {
		t.Errorf("on_error %s, want tempfail (a zone says so)", bl.OnError())
	}
	msg := "Subject: x\r\n\r\nhttps://www.evil.example/a http://1.2.3.4/ http://clean.example/ http://x.sub.bad.example/ http://192.0.2.9/\r\n"
	start := time.Now()
	fs, err := run(t, bl, &check.Env{DNS: res}, msg)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v; the slow zone's timeout is 300ms", d)
	}
	if err == nil || !strings.Contains(err.Error(), "slow") {
		t.Errorf("err %v, want the slow zone's failure (on_error tempfail)", err)
	}
	got := map[string]check.Finding{}
	for _, f := range fs {
		got[f.Name+" "+f.Value] = f
	}
	want := map[string]string{
		"url.listed https://www.evil.example/a": "evil.example is listed in black (uribl.test): 127.0.0.2: black",
		"url.listed http://1.2.3.4/":            "1.2.3.4 is listed in black (uribl.test): 127.0.0.4: grey",
		"url.listed http://x.sub.bad.example/":  "bad.example is in the [urls] blocklist",
		"url.listed http://192.0.2.9/":          "192.0.2.9 is in the [urls] blocklist",
		"check.error uribl.refusing":            "127.0.0.1",
		"check.error uribl.slow":                "lookup failed",
	}
	for k, reason := range want {
		if f, ok := got[k]; !ok || !strings.Contains(f.Reason, reason) {
			t.Errorf("%s: %+v, want reason with %q", k, f, reason)
		}
	}
	if len(fs) != len(want) {
		t.Errorf("findings %q, want %d", show(fs), len(want))
	}
	// The codes_only zone answered 127.0.0.8, no code of its: not listed.
	for _, f := range fs {
		if strings.Contains(f.Reason, "other") {
			t.Errorf("codes_only zone listed: %+v", f)
		}
	}
}

func TestURIBLOffline(t *testing.T) {
	cfg := load(t, "[[uribl]]\nname = \"bl\"\nzone = \"bl.test\"\n")
	res, err := dns.FromConfig(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	bl := build(cfg)[1]
	fs, err := run(t, bl, &check.Env{DNS: res}, "Subject: x\r\n\r\nhttp://a.example/\r\n")
	if err != nil {
		t.Errorf("a skip zone failed the check: %v", err)
	}
	if len(fs) != 1 || fs[0].Name != check.FindingError || fs[0].Value != "uribl.bl" {
		t.Errorf("findings %+v, want check.error uribl.bl", fs)
	}
	if _, err := run(t, bl, &check.Env{}, "Subject: x\r\n\r\nhttp://a.example/\r\n"); err == nil {
		t.Error("no resolver and no error")
	}
}

func TestMaxLookups(t *testing.T) {
	srv := dnstest.New(t)
	cfg := load(t, "[dns]\nservers = [\""+srv.Addr()+"\"]\n[urls]\nmax_lookups = 2\n[[uribl]]\nname = \"bl\"\nzone = \"bl.test\"\n")
	res, _ := dns.FromConfig(cfg, false)
	srv.Add("c.example.bl.test. 60 IN A 127.0.0.2")
	fs, err := run(t, build(cfg)[1], &check.Env{DNS: res}, "Subject: x\r\n\r\nhttp://a.example/ http://b.example/ http://c.example/\r\n")
	if err != nil || len(fs) != 0 {
		t.Errorf("findings %+v, err %v: the third domain is past max_lookups", fs, err)
	}
	if n := srv.Count("c.example.bl.test.", 1); n != 0 {
		t.Errorf("c.example asked %d times", n)
	}
}

func TestConfigProblems(t *testing.T) {
	_, rep, err := config.Decode("c.toml", []byte(`[urls]
max_urls = 0
parallel = 100
shorteners = ["not a host"]
blocklist = ["http://x.example/"]

[[uribl]]
name = "Bad"
zone = "x.test"

[[uribl]]
name = "ok"
zone = "ok.test"
codes = { "10.0.0.1" = "never" }
on_error = "explode"

[[uribl]]
name = "ok"
zone = "again.test"
`))
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Err().Error()
	for _, want := range []string{
		"c.toml:2: urls.max_urls: must be between 1 and 100000",
		"c.toml:3: urls.parallel: must be between 1 and 64",
		`c.toml:4: urls.shorteners[0]: "not a host" is not a host name`,
		`c.toml:5: urls.blocklist[0]: "http://x.example/" is neither a domain nor an IP address`,
		`c.toml:7: uribl[0]: name "Bad"`,
		`c.toml:11: uribl[1]: code "10.0.0.1"`,
		`c.toml:15: uribl[1].on_error: "explode" is not allowed`,
		`c.toml:18: uribl[2].name: duplicate list "ok"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
