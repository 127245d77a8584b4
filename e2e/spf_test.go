package e2e

import (
	"fmt"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/mailwarden/mailwarden/check/dns/dnstest"
	"github.com/mailwarden/mailwarden/config"
)

// spfConfig is added to the embedded default, which has no SPF rule
// (DMARC decides); this one refuses spf.fail at MAIL as RFC 7372 says.
// %s is the fake DNS server. Clients on 127/8 are inbound: no
// trusted_networks.
const spfConfig = `
[organization]
internal_domains = ["example.com"]

[dns]
servers = ["%s"]
timeout = "1s"

[spf]
timeout = "3s"

[[rule]]
name = "spf-fail"
findings = ["spf.fail"]
action = "reject"
reply = "550 5.7.23 SPF validation failed"
`

// TestSPF runs SPF through real Postfix with a fake DNS server: a sender
// whose domain's record does not list the client is refused at MAIL, and
// so is a bounce from a HELO name whose record fails; a listed client is
// delivered, and so is a sender whose DNS fails (temperror is not a fail).
func TestSPF(t *testing.T) {
	dnsSrv := dnstest.New(t)
	dnsSrv.Add(
		`fail.spf.test. 60 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`pass.spf.test. 60 IN TXT "v=spf1 include:_spf.provider.test -all"`,
		`_spf.provider.test. 60 IN TXT "v=spf1 ip4:127.0.0.120/29 -all"`,
		`bounce.spf.test. 60 IN TXT "v=spf1 a -all"`,
		`bounce.spf.test. 60 IN A 192.0.2.25`,
	)
	dnsSrv.Set("temp.spf.test.", dnstest.Behavior{Rcode: mdns.RcodeServerFailure})
	conf := string(config.DefaultTOML()) + fmt.Sprintf(spfConfig, dnsSrv.Addr())
	sink := StartSink(t)
	mw := startMailwarden(t, conf)
	mta := StartPostfix(t, mw.addr, sink.Addr())

	send := func(helo, from, id string) *SendResult {
		t.Helper()
		r := SendWith(t, SendOptions{Addr: mta.SMTPAddr, SrcIP: "127.0.0.121", Helo: helo, From: from,
			To: []string{"bob@example.com"}, Data: msg("spf-"+id, "spf "+id, "x")})
		if r.Err != nil {
			t.Fatalf("%s: %v\n%s", id, r.Err, r.Transcript)
		}
		return r
	}

	t.Run("spf fail is refused at MAIL with 550 5.7.23", func(t *testing.T) {
		r := send("client.mailwarden.test", "alice@fail.spf.test", "fail")
		if stage, reply := r.Rejected(); stage != StageMail {
			t.Fatalf("refused at %q with %v, want at MAIL: %s", stage, reply, r)
		}
		checkReply(t, "MAIL", r.Mail, 550, "5.7.23", "spf-fail", "spf.fail")
		f := checkRow(t, senderRows(t, mw, 1, "--sender", "alice@fail.spf.test")[0], "mail", "reject", "spf-fail", "spf.fail")
		if f.Value != "fail.spf.test" || f.Where != "mailfrom" {
			t.Errorf("finding %+v: want value fail.spf.test @mailfrom", f)
		}
		if n := dnsSrv.Count("fail.spf.test.", mdns.TypeTXT); n == 0 {
			t.Errorf("the sender domain's TXT record was never asked of the fake DNS server")
		}
	})

	t.Run("null sender is checked by its HELO name", func(t *testing.T) {
		r := send("bounce.spf.test", "", "bounce")
		if stage, reply := r.Rejected(); stage != StageMail {
			t.Fatalf("refused at %q with %v, want at MAIL: %s", stage, reply, r)
		}
		checkReply(t, "MAIL", r.Mail, 550, "5.7.23", "spf-fail", "spf.fail")
	})

	t.Run("spf pass through an include is delivered", func(t *testing.T) {
		r := send("client.mailwarden.test", "alice@pass.spf.test", "pass")
		if !r.Accepted() {
			t.Fatalf("not accepted: %s", r)
		}
		waitDelivered(t, sink, mta, "spf-pass", 1)
	})

	t.Run("temperror is not a fail", func(t *testing.T) {
		r := send("client.mailwarden.test", "alice@temp.spf.test", "temp")
		if !r.Accepted() {
			t.Fatalf("not accepted: %s", r)
		}
		waitDelivered(t, sink, mta, "spf-temp", 1)
	})

	time.Sleep(500 * time.Millisecond)
	for _, id := range []string{"fail", "bounce"} {
		if n := len(deliveriesOf(sink, "spf-"+id)); n != 0 {
			t.Errorf("refused message %s delivered %d times", id, n)
		}
	}
}
