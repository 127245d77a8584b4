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
	var got []string
	for _, m := range o.mods {
		if strings.HasPrefix(strings.ToLower(m.HeaderName), "x-spam-") || m.HeaderName == "X-Stamp" {
			got = append(got, fmt.Sprintf("%v %s %d %q", m.Type, m.HeaderName, m.HeaderIndex, strings.TrimSpace(m.HeaderValue)))
		}
	}
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
