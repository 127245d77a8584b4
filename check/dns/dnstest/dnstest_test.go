package dnstest_test

import (
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/mailwarden/mailwarden/check/dns/dnstest"
)

func exchange(t *testing.T, net, addr, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	c := &mdns.Client{Net: net, Timeout: time.Second}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s: %v", net, name, err)
	}
	return resp
}

func TestServer(t *testing.T) {
	s, err := dnstest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Add("Host.Test. 42 IN A 192.0.2.1", "host.test. 42 IN TXT \"x\"", "a.b.test. 42 IN A 192.0.2.2")
	for _, tc := range []struct {
		net, name string
		qtype     uint16
		rcode     int
		answers   int
	}{
		{"udp", "host.test.", mdns.TypeA, mdns.RcodeSuccess, 1},
		{"tcp", "HOST.TEST.", mdns.TypeA, mdns.RcodeSuccess, 1},
		{"udp", "host.test.", mdns.TypeMX, mdns.RcodeSuccess, 0},
		{"udp", "b.test.", mdns.TypeA, mdns.RcodeSuccess, 0}, // empty non-terminal
		{"udp", "none.test.", mdns.TypeA, mdns.RcodeNameError, 0},
	} {
		resp := exchange(t, tc.net, s.Addr(), tc.name, tc.qtype)
		if resp.Rcode != tc.rcode || len(resp.Answer) != tc.answers {
			t.Errorf("%s %s: rcode %d, %d answers; want %d, %d", tc.net, tc.name, resp.Rcode, len(resp.Answer), tc.rcode, tc.answers)
		}
		if tc.answers > 0 && resp.Answer[0].Header().Ttl != 42 {
			t.Errorf("%s: TTL %d, want 42", tc.name, resp.Answer[0].Header().Ttl)
		}
		if tc.answers == 0 && (len(resp.Ns) != 1 || resp.Ns[0].(*mdns.SOA).Minttl != 60) {
			t.Errorf("%s: negative answer without the SOA: %v", tc.name, resp.Ns)
		}
	}
	if n := s.Count("host.test", mdns.TypeA); n != 2 {
		t.Errorf("Count = %d, want 2 (UDP and TCP)", n)
	}
	if q := s.Queries(); len(q) != 5 || q[1] != (dnstest.Query{Name: "host.test.", Type: mdns.TypeA, Net: "tcp"}) {
		t.Errorf("Queries = %v", q)
	}
	s.Set("host.test", dnstest.Behavior{Rcode: mdns.RcodeServerFailure})
	if resp := exchange(t, "udp", s.Addr(), "host.test.", mdns.TypeA); resp.Rcode != mdns.RcodeServerFailure {
		t.Errorf("injected SERVFAIL: rcode %d", resp.Rcode)
	}
	s.Set("host.test", dnstest.Behavior{})
	s.Remove("host.test")
	if resp := exchange(t, "udp", s.Addr(), "host.test.", mdns.TypeA); resp.Rcode != mdns.RcodeNameError {
		t.Errorf("removed name: rcode %d, want NXDOMAIN", resp.Rcode)
	}
	s.ResetLog()
	if s.Total() != 0 || len(s.Queries()) != 0 {
		t.Error("ResetLog kept queries")
	}
	// Close abandons a delayed answer and may be called twice.
	s.Set("a.b.test", dnstest.Behavior{Delay: time.Hour})
	go func() {
		m := new(mdns.Msg)
		m.SetQuestion("a.b.test.", mdns.TypeA)
		(&mdns.Client{Timeout: 2 * time.Second}).Exchange(m, s.Addr())
	}()
	for s.Total() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAddPanicsOnBadRecord(t *testing.T) {
	s := dnstest.New(t)
	defer func() {
		if recover() == nil {
			t.Error("Add of a bad record did not panic")
		}
	}()
	s.Add("host.test. 60 IN A not-an-address")
}
