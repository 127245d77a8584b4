package received

import (
	"net/netip"
	"testing"
)

// chain6 is a typical six-hop chain, topmost first: this MTA's Postfix
// field for a prefilter, the prefilter's (Exim), three Office 365 hops and
// the sender's submission server (Postfix, SASL).
var chain6 = []string{
	" from filter1.example.net (filter1.example.net [192.0.2.10])\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\r\n\t(No client certificate requested)\r\n\tby mx.example.com (Postfix) with ESMTPS id 4XSq2h1Gm5z9sTL\r\n\tfor <user@example.com>; Mon, 14 Oct 2024 10:00:05 +0200 (CEST)",
	" from mail-bn8nam12on2091.outbound.protection.outlook.com ([192.0.2.77]:51234 helo=NAM12-BN8-obe.outbound.protection.outlook.com)\r\n\tby filter1.example.net with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384\r\n\t(Exim 4.96)\r\n\t(envelope-from <alice@sender.example>)\r\n\tid 1sABCD-000123-4x\r\n\tfor user@example.com;\r\n\tMon, 14 Oct 2024 10:00:04 +0200",
	" from CH2PR12MB4101.namprd12.prod.outlook.com (2001:db8:1::20)\r\n by BN8NAM12FT044.mail.protection.outlook.com (2001:db8:1::8) with\r\n Microsoft SMTP Server (version=TLS1_2,\r\n cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.8069.17; Mon, 14 Oct\r\n 2024 08:00:03 +0000",
	" from BN9PR03CA0123.namprd03.prod.outlook.com (2001:db8:1::30)\r\n by CH2PR12MB4101.namprd12.prod.outlook.com (2001:db8:1::20) with\r\n Microsoft SMTP Server (version=TLS1_2,\r\n cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.8069.17 via Frontend\r\n Transport; Mon, 14 Oct 2024 08:00:02 +0000",
	" from mail.sender.example (192.0.2.150) by\r\n BN9PR03CA0123.mail.protection.outlook.com (10.167.243.153) with Microsoft\r\n SMTP Server (version=TLS1_3, cipher=TLS_AES_256_GCM_SHA384) id 15.20.8069.10\r\n via Frontend Transport; Mon, 14 Oct 2024 08:00:01 +0000",
	" from [192.168.1.10] (dyn-203-0-113-7.example.net [203.0.113.7])\r\n\t(Authenticated sender: alice@sender.example)\r\n\tby mail.sender.example (Postfix) with ESMTPSA id 4XSq2h1Gm5z9sTP\r\n\tfor <user@example.com>; Mon, 14 Oct 2024 10:00:00 +0200 (CEST)",
}

// BenchmarkParseChain parses all six fields.
func BenchmarkParseChain(b *testing.B) {
	n := 0
	for _, v := range chain6 {
		n += len(v)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range chain6 {
			if f, err := Parse(v); err != nil || !f.IP.IsValid() {
				b.Fatalf("Parse(%q) = %+v, %v", v, f, err)
			}
		}
	}
}

// BenchmarkFirstUntrusted walks the chain through five known hosts to the
// sixth field (the worst case for this chain: every field is read).
func BenchmarkFirstUntrusted(b *testing.B) {
	client := netip.MustParseAddr("192.0.2.10")
	b.ReportAllocs()
	for b.Loop() {
		if h := FirstUntrusted(chain6, client, known); h.Index != 5 || h.Err != nil {
			b.Fatalf("got %+v", h)
		}
	}
}
