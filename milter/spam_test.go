package milter

import (
	"fmt"
	"strings"
	"testing"

	gomilter "github.com/d--j/go-milter"
)

// TestSpamHeaders: delivered inbound mail loses the X-Spam-* fields its
// sender wrote, by ChangeHeader with each field's index among those of
// its name, last first, before ours are added; mail from a trusted network
// is not touched.
func TestSpamHeaders(t *testing.T) {
	ts := startServer(t, `[organization]
internal_domains = ["example.com"]
trusted_networks = ["10.0.0.0/8"]

[[rule]]
name = "pills"
subject = "(?i)pills"
score = 6

[[rule]]
name = "stamp"
add_headers = ["X-Stamp: yes"]
`)
	msg := "X-Spam-Status: No, score=-10.0\r\nX-Spam-Flag: NO\r\nx-spam-status: No\r\n" + mkmsg("cheap pills", "hello")
	o := send(t, ts.addr, txn{ip: "198.51.100.7", from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: msg})
	if o.action.Type != gomilter.ActionAccept {
		t.Fatalf("action %v", o.action.Type)
	}
	got := headerMods(o, "x-spam-", "x-stamp")
	want := []string{
		fmt.Sprintf("%v X-Spam-Status 2 %q", gomilter.ActionChangeHeader, ""),
		fmt.Sprintf("%v X-Spam-Status 1 %q", gomilter.ActionChangeHeader, ""),
		fmt.Sprintf("%v X-Spam-Flag 1 %q", gomilter.ActionChangeHeader, ""),
		fmt.Sprintf("%v X-Stamp 0 %q", gomilter.ActionAddHeader, "yes"),
		fmt.Sprintf("%v X-Spam-Flag 0 %q", gomilter.ActionAddHeader, "YES"),
		fmt.Sprintf("%v X-Spam-Status 0 %q", gomilter.ActionAddHeader, "Yes, score=6.0 required=5.0 tests=pills"),
		fmt.Sprintf("%v X-Spam-Score 0 %q", gomilter.ActionAddHeader, "6.0"),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("X-Spam changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	o = send(t, ts.addr, txn{ip: "10.1.2.3", from: "a@example.com", rcpts: []string{"bob@example.net"}, msg: msg})
	for _, m := range o.mods {
		if strings.HasPrefix(strings.ToLower(m.HeaderName), "x-spam-") {
			t.Errorf("outbound mail changed: %+v", m)
		}
	}
}

// TestOwnHeaders: delivered inbound mail loses the X-Mailwarden-* fields
// its sender wrote (a forged graymail class), last first within a name,
// before the rules' own are added; trusted mail keeps them.
func TestOwnHeaders(t *testing.T) {
	ts := startServer(t, `[organization]
internal_domains = ["example.com"]
trusted_networks = ["10.0.0.0/8"]

[[rule]]
name = "stamp"
add_headers = ["X-Mailwarden-Graymail: newsletter"]
`)
	msg := "X-Mailwarden-Graymail: social\r\nx-mailwarden-graymail: notification\r\nX-Mailwarden-Warning: none\r\n" + mkmsg("hello", "hello")
	o := send(t, ts.addr, txn{ip: "198.51.100.7", from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: msg})
	if o.action.Type != gomilter.ActionAccept {
		t.Fatalf("action %v", o.action.Type)
	}
	got := headerMods(o, "x-mailwarden-")
	want := []string{
		fmt.Sprintf("%v X-Mailwarden-Warning 1 %q", gomilter.ActionChangeHeader, ""),
		fmt.Sprintf("%v X-Mailwarden-Graymail 2 %q", gomilter.ActionChangeHeader, ""),
		fmt.Sprintf("%v X-Mailwarden-Graymail 1 %q", gomilter.ActionChangeHeader, ""),
		fmt.Sprintf("%v X-Mailwarden-Graymail 0 %q", gomilter.ActionAddHeader, "newsletter"),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("X-Mailwarden changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	o = send(t, ts.addr, txn{ip: "10.1.2.3", from: "a@example.com", rcpts: []string{"bob@example.net"}, msg: msg})
	for _, m := range o.mods {
		if m.Type == gomilter.ActionChangeHeader && strings.HasPrefix(strings.ToLower(m.HeaderName), "x-mailwarden-") {
			t.Errorf("trusted mail changed: %+v", m)
		}
	}
}

// headerMods are the header changes of o to fields whose lower-case name
// begins with one of prefixes, as "TYPE NAME INDEX VALUE".
func headerMods(o outcome, prefixes ...string) []string {
	var out []string
	for _, m := range o.mods {
		for _, p := range prefixes {
			if strings.HasPrefix(strings.ToLower(m.HeaderName), p) {
				out = append(out, fmt.Sprintf("%v %s %d %q", m.Type, m.HeaderName, m.HeaderIndex, strings.TrimSpace(m.HeaderValue)))
				break
			}
		}
	}
	return out
}
