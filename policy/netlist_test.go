package policy

import (
	"net/netip"
	"testing"
)

// TestNetList: the rules' network lists are [lists.IPList]s looked up now
// (the parser and the lookup are tested in policy/lists).
func TestNetList(t *testing.T) {
	l, errs := ParseNetList([]string{"192.0.2.0/24 # office", "2001:db8::/32, 198.51.100.7-9", "bad"})
	if len(errs) != 1 || l.Len() != 3 {
		t.Fatalf("%d entries, errors %v; want 3 and one error", l.Len(), errs)
	}
	for ip, want := range map[string]string{"::ffff:192.0.2.7": "192.0.2.0/24", "198.51.100.9": "198.51.100.7-9", "198.51.100.10": "", "2001:db8::1": "2001:db8::/32"} {
		e, ok := l.Lookup(netip.MustParseAddr(ip))
		if ok != (want != "") || e.Text != want || l.Contains(netip.MustParseAddr(ip)) != ok {
			t.Errorf("Lookup(%s) = %q, %v; want %q", ip, e.Text, ok, want)
		}
	}
	if (NetList{}).Contains(netip.MustParseAddr("192.0.2.1")) {
		t.Error("the empty list holds 192.0.2.1")
	}
}

// TestClientReasonNamesEntry: a client.network finding names the entry the
// client is in, not the whole list (which may have 100,000 entries).
func TestClientReasonNamesEntry(t *testing.T) {
	_, pol := mustLoad(t, "[[rule]]\nname = \"r\"\nclients = [\"198.51.100.0/24\", \"192.0.2.10-20\", \"2001:db8::/32\"]\naction = \"reject\"\n")
	f := &Facts{ClientIP: netip.MustParseAddr("192.0.2.15")}
	v := pol.Evaluate(StageConnect, f, "")
	if len(v.Matches) != 1 || len(v.Matches[0].Findings) != 1 {
		t.Fatalf("matches %+v", v.Matches)
	}
	if got := v.Matches[0].Findings[0].Reason; got != "client 192.0.2.15 is in 192.0.2.10-20" {
		t.Errorf("reason %q", got)
	}
}
