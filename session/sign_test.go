package session

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailwarden/mailwarden/check/dkimsign"
)

const signEd25519 = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIM2iCR7OdZXw9paDe6Dvvr91A/l6ysg5A1uANUNKdrYb
-----END PRIVATE KEY-----
`

// signRuntime is a runtime signing for example.com (and its subdomains)
// with an Ed25519 key, mail from 10.0.0.0/8 or authenticated being ours,
// with rules that tag the subject and add a header.
func signRuntime(t *testing.T) *Runtime {
	t.Helper()
	key := filepath.Join(t.TempDir(), "ed.pem")
	if err := os.WriteFile(key, []byte(signEd25519), 0o600); err != nil {
		t.Fatal(err)
	}
	return runtimeWith(t, `
[organization]
internal_domains = ["example.com"]
trusted_networks = ["10.0.0.0/8"]

[[dkim_sign]]
domain = "example.com"
selector = "ed"
key_file = "`+key+`"
subdomains = true

[[rule]]
name = "tag"
subject = "(?i)offer"
tag_subject = "[EXT]"
add_headers = ["X-Mailwarden: tagged"]
`)
}

func lookupEd(name string) ([]string, error) {
	if name != "ed._domainkey.example.com" {
		return nil, errors.New("NXDOMAIN")
	}
	k, err := dkimsign.ParseKey([]byte(signEd25519))
	if err != nil {
		return nil, err
	}
	rec, err := dkimsign.PublicRecord(k)
	return []string{rec}, err
}

// TestSign: outbound mail whose header From is a signing domain gets a
// signature over the message as the milter's changes leave it (subject
// tagged, header added, release header removed), and a dkim_sign finding
// for its row; other mail gets none.
func TestSign(t *testing.T) {
	rt := signRuntime(t)
	msg := "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: an offer\r\n" +
		"X-Mailwarden-Release: token\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nHello\r\n"
	tests := []struct {
		name, ip, auth, msg string
		signed              bool
	}{
		{name: "trusted network", ip: "10.1.2.3", msg: msg, signed: true},
		{name: "authenticated", ip: "198.51.100.7", auth: "alice", msg: msg, signed: true},
		{name: "subdomain", ip: "10.1.2.3", msg: strings.Replace(msg, "@example.com", "@mail.Example.com", 1), signed: true},
		{name: "inbound", ip: "198.51.100.7", msg: msg},
		{name: "other domain", ip: "10.1.2.3", msg: strings.Replace(msg, "@example.com", "@example.org", 1)},
		{name: "lookalike domain", ip: "10.1.2.3", msg: strings.Replace(msg, "@example.com", "@badexample.com", 1)},
		{name: "two From fields", ip: "10.1.2.3", msg: "From: x@example.com\r\n" + msg},
		{name: "two From addresses", ip: "10.1.2.3", msg: strings.Replace(msg, "<alice@example.com>", "<alice@example.com>, carol@example.com", 1)},
		{name: "no From", ip: "10.1.2.3", msg: strings.Replace(msg, "From: Alice <alice@example.com>\r\n", "", 1)},
		{name: "encoded display name", ip: "10.1.2.3", msg: strings.Replace(msg, "Alice", "=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=", 1), signed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSession(rt, quiet)
			s.LeadSpace = true
			defer s.Close()
			s.Connect(netip.MustParseAddr(tt.ip), "client.example")
			s.Helo("client.example", "", "")
			s.Mail("alice@example.com", tt.auth, "Q1", 0)
			s.Rcpt("bob@example.net")
			hs, body := SplitMessage([]byte(tt.msg))
			for _, h := range hs {
				s.Header(h.Name, h.Value)
			}
			s.EOH()
			if err := s.Body(body); err != nil {
				t.Fatal(err)
			}
			res, err := s.EOM()
			if err != nil {
				t.Fatal(err)
			}
			sigs, err := s.Sign(res)
			if err != nil {
				t.Fatal(err)
			}
			var found []string
			for _, f := range res.Findings {
				if f.Name == FindingSigned {
					found = append(found, f.Value)
				}
			}
			if !tt.signed {
				if len(sigs) != 0 || len(found) != 0 {
					t.Fatalf("signed: %+v, findings %v", sigs, found)
				}
				return
			}
			if len(sigs) != 1 || strings.Join(found, ",") != "d=example.com s=ed" {
				t.Fatalf("signatures %+v, findings %v", sigs, found)
			}
			// The message as it leaves: the signature first, then the
			// outgoing header, then the body.
			var out strings.Builder
			out.WriteString("DKIM-Signature:" + sigs[0].Value + "\r\n")
			var names []string
			for _, f := range s.OutgoingHeader(res) {
				out.WriteString(f.Name + ":" + f.Value + "\r\n")
				names = append(names, f.Name)
			}
			out.WriteString("\r\n")
			out.Write(body)
			if got := strings.Join(names, " "); got != "From To Subject Date X-Mailwarden" {
				t.Errorf("outgoing fields %s", got)
			}
			if !strings.Contains(out.String(), "Subject: [EXT] an offer\r\n") {
				t.Errorf("subject not tagged:\n%s", out.String())
			}
			vs, err := dkim.VerifyWithOptions(strings.NewReader(out.String()), &dkim.VerifyOptions{LookupTXT: lookupEd})
			if err != nil || len(vs) != 1 || vs[0].Err != nil {
				t.Fatalf("verify: %v %+v\n%s", err, vs, out.String())
			}
			// Signed before the tag, the signature would not verify: the
			// tagged Subject is what it covers.
			untagged := strings.Replace(out.String(), "[EXT] ", "", 1)
			if vs, _ := dkim.VerifyWithOptions(strings.NewReader(untagged), &dkim.VerifyOptions{LookupTXT: lookupEd}); len(vs) != 1 || vs[0].Err == nil {
				t.Errorf("the untagged message verifies too")
			}
		})
	}
}

// TestDryRunSigns: `mailwarden check` reports the signature a message
// would get.
func TestDryRunSigns(t *testing.T) {
	rt := signRuntime(t)
	rep := DryRun(rt, DryRunInput{ClientIP: netip.MustParseAddr("10.0.0.1"), From: "a@example.com",
		Rcpts: []string{"b@example.net"}, Message: []byte("From: a@example.com\nSubject: x\n\nbody\n")}, quiet)
	n := 0
	for _, f := range rep.Findings {
		if f.Name == FindingSigned && f.Value == "d=example.com s=ed" {
			n++
		}
	}
	if rep.Action != "accept" || n != 1 {
		t.Errorf("action %s, findings %+v", rep.Action, rep.Findings)
	}
}
