package received

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// knownNets is a known-host predicate over networks, as the lead's list is.
func knownNets(nets ...string) func(netip.Addr) bool {
	var ps []netip.Prefix
	for _, n := range nets {
		ps = append(ps, netip.MustParsePrefix(n))
	}
	return func(a netip.Addr) bool {
		for _, p := range ps {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
}

// The known hosts of these tests: a prefilter network, an internal IPv6
// network, and the relay's loopback for the content-filter hop.
var known = knownNets("192.0.2.0/24", "2001:db8:1::/48", "127.0.0.0/8")

// pf is a Postfix field written by host by for a client helo/rev/ip.
func pf(helo, rev, ip, by string) string {
	lit := "[" + ip + "]"
	if strings.Contains(ip, ":") {
		lit = "[IPv6:" + ip + "]"
	}
	return fmt.Sprintf(" from %s (%s %s)\r\n\tby %s (Postfix) with ESMTP id 4XSq2h1Gm5z9sTL\r\n\tfor <user@example.com>; Mon, 14 Oct 2024 10:00:00 +0200 (CEST)", helo, rev, lit, by)
}

func TestFirstUntrusted(t *testing.T) {
	var (
		us       = pf("filter1.example.net", "filter1.example.net", "192.0.2.10", "mx.example.com")
		byFilter = pf("mail.sender.example", "mail.sender.example", "203.0.113.5", "filter1.example.net")
		// Forged fields the sender put in its own header.
		forgedKnown = pf("filter2.example.net", "filter2.example.net", "192.0.2.20", "filter1.example.net")
		forgedOther = pf("clean.example", "clean.example", "198.51.100.1", "mail.sender.example")
		forged6     = pf("clean6.example", "clean6.example", "2001:db8:ffff::9", "mail.sender.example")
		junk        = " from x (((( by"
	)
	deep := []string{us}
	for i := range MaxHops {
		deep = append(deep, pf("hub", "hub", fmt.Sprintf("192.0.2.%d", 100+i), "hub"))
	}

	for _, tc := range []struct {
		name   string
		fields []string
		client string
		ip     string // "" for none
		index  int
		helo   string
		err    error
	}{
		{"client not known", []string{forgedKnown, forgedOther}, "203.0.113.5", "203.0.113.5", -1, "", nil},
		{"client not known, no fields", nil, "203.0.113.5", "203.0.113.5", -1, "", nil},
		{"our own field on top", []string{us, byFilter, forgedOther}, "192.0.2.10", "203.0.113.5", 1, "mail.sender.example", nil},
		{"our field not visible", []string{byFilter, forged6, forgedOther}, "192.0.2.10", "203.0.113.5", 0, "mail.sender.example", nil},
		{"forged fields below claim known hosts", []string{us, byFilter, forgedKnown, forged6, forgedKnown, forgedOther}, "192.0.2.10", "203.0.113.5", 1, "mail.sender.example", nil},
		{"forged field at the bottom is unreadable", []string{us, byFilter, junk}, "192.0.2.10", "203.0.113.5", 1, "mail.sender.example", nil},
		{"sender's HELO claims a known address", []string{us, pf("[192.0.2.20]", "unknown", "203.0.113.5", "filter1.example.net")},
			"192.0.2.10", "203.0.113.5", 1, "[192.0.2.20]", nil},
		{"known chain of two", []string{us, pf("filter2", "filter2", "192.0.2.20", "filter1"), pf("snd", "snd", "203.0.113.9", "filter2"), forgedKnown},
			"192.0.2.10", "203.0.113.9", 2, "snd", nil},
		{"IPv6 chain", []string{pf("hub6", "hub6", "2001:db8:1::25", "mx"), pf("snd6", "snd6", "2001:db8:ffff::7", "hub6")},
			"2001:db8:1::25", "2001:db8:ffff::7", 1, "snd6", nil},
		{"mapped client", []string{byFilter}, "::ffff:192.0.2.10", "203.0.113.5", 0, "mail.sender.example", nil},
		{"Exim known host", []string{us, " from mail.sender.example ([203.0.113.5]:51234 helo=h.sender.example)\r\n\tby filter1 with esmtps (Exim 4.96)\r\n\tid 1sABCD-000123-4x; Mon, 14 Oct 2024 10:00:00 +0200"},
			"192.0.2.10", "203.0.113.5", 1, "h.sender.example", nil},
		{"Exchange known host", []string{us, " from mail.sender.example (203.0.113.5) by\r\n filter1.example.net (192.0.2.10) with Microsoft SMTP Server id 15.20.8069.10\r\n via Frontend Transport; Tue, 15 Oct 2024 12:34:53 +0000"},
			"192.0.2.10", "203.0.113.5", 1, "mail.sender.example", nil},
		{"private hop not known", []string{us, pf("pc", "unknown", "10.1.2.3", "filter1")}, "192.0.2.10", "10.1.2.3", 1, "pc", nil},
		{"loopback hop not known", []string{pf("localhost", "localhost", "127.0.0.1", "mx")}, "192.0.2.10", "127.0.0.1", 0, "localhost", nil},
		{"loopback hop known: content filter", []string{us, pf("localhost", "localhost", "127.0.0.1", "filter1"), byFilter},
			"192.0.2.10", "203.0.113.5", 2, "mail.sender.example", nil},
		{"no IP literal", []string{us, " from filter2 by filter1 with SMTP; Mon, 14 Oct 2024 10:00:00 +0200", byFilter},
			"192.0.2.10", "", 1, "", ErrNoIP},
		{"local submission on a known host", []string{us, " by filter1 (Postfix, from userid 0) id X; Mon, 14 Oct 2024 10:00:00 +0200"},
			"192.0.2.10", "", 1, "", ErrNoIP},
		{"malformed field at a known host", []string{us, junk, byFilter}, "192.0.2.10", "", 1, "", ErrMalformed},
		{"ambiguous field at a known host", []string{us, " from x ([192.0.2.20]) (unknown [203.0.113.5]) by filter1 (Postfix); Mon, 14 Oct 2024 10:00:00 +0200"},
			"192.0.2.10", "", 1, "", ErrAmbiguous},
		{"HELO spelling a second by clause", []string{us, " from a by b (unknown [192.0.2.20]) by filter1 (Postfix); Mon, 14 Oct 2024 10:00:00 +0200"},
			"192.0.2.10", "", 1, "", ErrMalformed},
		{"chain ends at a known host", []string{us, forgedKnown}, "192.0.2.10", "", 1, "", ErrChainEnd},
		{"no fields from a known client", nil, "192.0.2.10", "", -1, "", ErrChainEnd},
		{"chain longer than the cap", deep, "192.0.2.10", "", MaxHops - 1, "", ErrTooManyHops},
		{"no client address", []string{byFilter}, "", "", -1, "", ErrNoClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var client netip.Addr
			if tc.client != "" {
				client = netip.MustParseAddr(tc.client)
			}
			k := known
			if tc.name == "loopback hop not known" {
				k = knownNets("192.0.2.0/24") // without 127/8
			}
			h := FirstUntrusted(tc.fields, client, k)
			var ip string
			if h.IP.IsValid() {
				ip = h.IP.String()
			}
			if ip != tc.ip || h.Index != tc.index || h.HELO != tc.helo || !errors.Is(h.Err, tc.err) || (h.Err == nil) != (tc.err == nil) {
				t.Errorf("FirstUntrusted = IP %q index %d HELO %q err %v; want %q %d %q %v\nreason: %s",
					ip, h.Index, h.HELO, h.Err, tc.ip, tc.index, tc.helo, tc.err, h.Reason)
			}
			if h.Reason == "" {
				t.Error("no reason")
			}
		})
	}
}

// TestFirstUntrustedReason pins the tracking-log wording of each outcome.
func TestFirstUntrustedReason(t *testing.T) {
	us := pf("filter1", "filter1", "192.0.2.10", "mx.example.com")
	client := netip.MustParseAddr("192.0.2.10")
	for _, tc := range []struct {
		fields []string
		want   string
	}{
		{[]string{us, pf("snd", "snd", "203.0.113.5", "filter1")},
			"Received[1] by filter1 (written by known host 192.0.2.10) records 203.0.113.5, which is not a known host"},
		{[]string{pf("pc", "pc", "10.1.2.3", "mx")},
			"Received[0] by mx (written here or by the SMTP client 192.0.2.10) records 10.1.2.3 (a private address), which is not a known host"},
		{[]string{us, " by filter1 (Postfix) id X; Mon, 14 Oct 2024 10:00:00 +0200"},
			"Received[1] by filter1 (written by known host 192.0.2.10) records no client address"},
		{[]string{us, " from x (y"},
			"Received[1] (written by known host 192.0.2.10) cannot be read: received: malformed field: unterminated comment"},
		{nil, "no Received fields below the known SMTP client 192.0.2.10"},
		{[]string{us}, "all 1 Received fields record known hosts, the last 192.0.2.10"},
	} {
		if got := FirstUntrusted(tc.fields, client, known).Reason; got != tc.want {
			t.Errorf("reason %q\n want %q", got, tc.want)
		}
	}
	if got := FirstUntrusted(nil, netip.MustParseAddr("203.0.113.5"), known).Reason; got != "SMTP client 203.0.113.5 is not a known host" {
		t.Errorf("reason %q", got)
	}
}
