package milter

import (
	"fmt"
	"strings"
	"testing"

	gomilter "github.com/d--j/go-milter"

	"github.com/mailwarden/mailwarden/check/dns/dnstest"
)

// TestAuthenticationResults: delivered inbound mail gets our
// Authentication-Results at the top, and loses every field already
// claiming our authserv-id (CVE-2020-12272), by ChangeHeader with the
// field's index among the Authentication-Results fields; others' fields
// stay. Mail from a trusted network is not touched.
func TestAuthenticationResults(t *testing.T) {
	srv := dnstest.New(t)
	srv.Add(`_dmarc.example.net. 300 IN TXT "v=DMARC1; p=none"`)
	ts := startServer(t, fmt.Sprintf(`[organization]
internal_domains = ["example.com"]
trusted_networks = ["10.0.0.0/8"]

[dns]
servers = [%q]

[auth]
authserv_id = "mx.example.com"

[[rule]]
name = "dmarc-reject"
findings = ["dmarc.reject"]
action = "reject"
`, srv.Addr()))
	msg := "Authentication-Results: relay.example.org; spf=pass smtp.mailfrom=a@example.net\r\n" +
		"Authentication-Results: (forged) MX.example.com; dmarc=pass header.from=example.net\r\n" +
		"Authentication-Results: mx.example.com.evil; dkim=pass\r\n" +
		"authentication-results: mx.example.com; dkim=pass header.d=example.net\r\n" + mkmsg("ar", "hello")

	o := send(t, ts.addr, txn{ip: "198.51.100.7", from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: msg})
	if o.action.Type != gomilter.ActionAccept {
		t.Fatalf("action %v", o.action.Type)
	}
	var got []string
	for _, m := range o.mods {
		if strings.EqualFold(m.HeaderName, "Authentication-Results") {
			got = append(got, fmt.Sprintf("%v %d %q", m.Type, m.HeaderIndex, strings.TrimSpace(m.HeaderValue)))
		}
	}
	want := []string{
		fmt.Sprintf("%v 4 %q", gomilter.ActionChangeHeader, ""),
		fmt.Sprintf("%v 2 %q", gomilter.ActionChangeHeader, ""),
		fmt.Sprintf("%v 0 %q", gomilter.ActionInsertHeader, "mx.example.com; spf=none smtp.mailfrom=a@example.net; dkim=none ; dmarc=fail reason=\"policy=none disposition=none\""),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Authentication-Results changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// From a trusted network the mail is ours: no header added, none removed.
	o = send(t, ts.addr, txn{ip: "10.1.2.3", from: "a@example.com", rcpts: []string{"bob@example.net"}, msg: msg})
	for _, m := range o.mods {
		if strings.EqualFold(m.HeaderName, "Authentication-Results") {
			t.Errorf("outbound mail changed: %+v", m)
		}
	}
}
