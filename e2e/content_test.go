package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check/dns/dnstest"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/clamd/clamdtest"
)

// contentConfig is added to the embedded default (which brings the rules
// virus, executable-inbound and scan-exclusion): clamd, the fake DNS
// server for a URI blocklist, a keyword list with width-insensitive
// Japanese entries, and rules on DLP and URL findings. %s are clamd's
// address and the DNS server.
const contentConfig = `
[clamav]
address = "%s"
timeout = "10s"

[dns]
servers = ["%s"]
timeout = "1s"

[[uribl]]
name = "black"
zone = "uribl.test"
codes = { "127.0.0.2" = "black" }

[[keywords]]
name = "confidential"
nfkc = true
case_insensitive = true
entities = ["subject", "body", "html", "attachment_names"]
entries = [
  { text = "社外秘", description = "marked not for outside (kanji)" },
  { text = "コンフィデンシャル", description = "marked confidential (katakana)" },
]

[[rule]]
name = "confidential"
findings = ["keyword.confidential"]
action = "reject"

[[rule]]
name = "card-numbers"
findings = ["dlp.credit_card"]
action = "quarantine"
quarantine = "dlp"

[[rule]]
name = "mismatch"
findings = ["url.mismatch"]
action = "quarantine"
quarantine = "spam"
`

// tinyPE is the smallest thing file-type detection takes for a PE
// executable: an MZ header pointing at a PE signature.
var tinyPE = mustBase64("TVoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
	"AAAAQAAAAFBFAABMAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
	"AAAAAAAAAAAAAAAAAAA=")

func mustBase64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// zipOf returns a zip archive holding files, name to content, in order.
func zipOf(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		f, err := w.Create(files[i])
		if err == nil {
			_, err = f.Write([]byte(files[i+1]))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// htmlMsg is [msg] with an HTML body.
func htmlMsg(id, subject, html string) []byte {
	return bytes.Replace(msg(id, subject, html), []byte("text/plain; charset=utf-8"), []byte("text/html; charset=utf-8"), 1)
}

// TestContent runs the content checks through each real MTA with one
// daemon on the embedded default plus [contentConfig], a real clamd and a
// fake DNS server: a keyword list matched width-insensitively (rejected,
// the rule named in the reply), card numbers (quarantined) beside an
// order number (delivered), a URL on a URI blocklist and a link whose
// text shows another domain (quarantined), an executable inside a zip
// (quarantined by the embedded default), and EICAR (the virus
// quarantine). Postfix and Sendmail must give the same verdicts; each
// case checks the sink or the quarantine, and the tracking row's finding.
func TestContent(t *testing.T) {
	start := time.Now()
	cd := clamdtest.Start(t, clamdtest.Options{})
	dnsSrv := dnstest.New(t)
	dnsSrv.Add("evil.example.uribl.test. 60 IN A 127.0.0.2")
	conf := string(config.DefaultTOML()) + fmt.Sprintf(contentConfig, cd.Address(), dnsSrv.Addr())
	sink := StartSink(t)
	mw := startMailwarden(t, conf)
	t.Logf("setup (clamd, fake DNS, sink, mailwarden): %v", time.Since(start).Round(time.Millisecond))

	exeZip := zipOf(t, "readme.txt", "run the installer\r\n", "setup.exe", string(tinyPE))
	type outcome int
	const (
		delivered outcome = iota
		rejected
		quarantined
	)
	cases := []struct {
		name    string
		subject string // the MTA's name is put in front
		data    func(id, subject string) []byte
		want    outcome
		rule    string // the deciding rule, "" for a delivered message
		finding string
		value   string   // the finding's value; "" for any
		also    []string // more values of the same finding in the match
		where   string
		area    string // the quarantine area
	}{
		{
			name: "half-width katakana and full-width kanji keyword is rejected", subject: "keyword report",
			data: func(id, s string) []byte {
				return msg(id, s, "この資料はｺﾝﾌｨﾃﾞﾝｼｬﾙです。\r\n（社外秘）")
			},
			want: rejected, rule: "confidential", finding: "keyword.confidential", value: "社外秘", where: "body",
			also: []string{"コンフィデンシャル"},
		},
		{
			name: "card numbers are quarantined", subject: "dlp payment",
			data: func(id, s string) []byte {
				return msg(id, s, "Charge 4111 1111 1111 1111 (exp 12/28), or 5500-0000-0000-0004.")
			},
			want: quarantined, rule: "card-numbers", finding: "dlp.credit_card", value: "2", where: "body", area: "dlp",
		},
		{
			name: "order and tracking numbers are delivered", subject: "dlp order",
			data: func(id, s string) []byte {
				return msg(id, s, "Order #4012888888881881 of 2026-11-23, parcel 1Z999AA10123456784, call 03-1234-5678.")
			},
			want: delivered,
		},
		{
			// The embedded default's url-listed rule quarantines it.
			name: "URL on a URI blocklist is quarantined", subject: "url listed",
			data: func(id, s string) []byte {
				return msg(id, s, "詳細はhttps://www.evil.example/login。よろしくお願いします。\r\nhttp://clean.example/")
			},
			want: quarantined, rule: "url-listed", finding: "url.listed", value: "https://www.evil.example/login", where: "body", area: "spam",
		},
		{
			name: "link text showing another domain is quarantined", subject: "url mismatch",
			data: func(id, s string) []byte {
				return htmlMsg(id, s, `<p>Please <a href="https://login.phish.example/paypal">https://www.paypal.com/signin</a>.</p>`)
			},
			want: quarantined, rule: "mismatch", finding: "url.mismatch", value: "https://login.phish.example/paypal", where: "html", area: "spam",
		},
		{
			name: "executable inside a zip is quarantined by the embedded default", subject: "zip with exe",
			data: func(id, s string) []byte { return attached(id, s, "invoice.zip", exeZip) },
			want: quarantined, rule: "executable-inbound", finding: "attachment.executable", value: "pe",
			where: "attachment:invoice.zip/setup.exe", area: "attachments",
		},
		{
			name: "attached executable is quarantined by the embedded default", subject: "attached exe",
			data: func(id, s string) []byte { return attached(id, s, "setup.exe", tinyPE) },
			want: quarantined, rule: "executable-inbound", finding: "attachment.executable", value: "pe",
			where: "attachment:setup.exe", area: "attachments",
		},
		{
			name: "EICAR goes to the virus quarantine", subject: "eicar",
			data: func(id, s string) []byte { return msg(id, s, clamdtest.EICAR) },
			want: quarantined, rule: "virus", finding: "virus", value: clamdtest.EICARSignature, where: "message", area: "virus",
		},
	}

	for _, m := range MTAs {
		t.Run(m.Name, func(t *testing.T) {
			mta := m.Start(t, mw.addr, sink.Addr())
			var notDelivered []string
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					id := fmt.Sprintf("content-%s-%d", m.Name, i)
					subject := m.Name + " " + tc.subject
					r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"bob@example.com"}, tc.data(id, subject))
					if r.Err != nil {
						t.Fatalf("%v\n%s", r.Err, r.Transcript)
					}
					row := senderRows(t, mw, 1, "--subject", subject)[0]
					switch tc.want {
					case delivered:
						if !r.Accepted() {
							t.Fatalf("not accepted: %s", r)
						}
						waitDelivered(t, sink, mta, id, 1)
						if row.Action != "accept" || row.Stage != "eom" || len(row.Matches) != 0 {
							t.Errorf("tracking row: %s at %s, matches %+v; want accept at eom, no match", row.Action, row.Stage, row.Matches)
						}
						for _, f := range row.Findings {
							if strings.HasPrefix(f.Name, "dlp.") {
								t.Errorf("finding %+v on a message without card numbers", f)
							}
						}
						return
					case rejected:
						checkReply(t, "end of message", r.Data, 550, "5.7.1", tc.rule, tc.finding)
					case quarantined:
						if !r.Accepted() {
							t.Fatalf("not accepted: %s", r)
						}
						q := mw.quarantined(t, "--area", tc.area, "--subject", subject)
						if len(q) != 1 || q[0].Rule != tc.rule || len(q[0].Recipients) != 1 || len(row.QuarantineIDs) != 1 || q[0].ID != row.QuarantineIDs[0] {
							t.Errorf("quarantine %+v, tracking row's ids %v: want one entry in %s by %s", q, row.QuarantineIDs, tc.area, tc.rule)
						}
					}
					f := checkRow(t, row, "eom", map[outcome]string{rejected: "reject", quarantined: "quarantine"}[tc.want], tc.rule, tc.finding)
					if f.Where != tc.where || (tc.value != "" && f.Value != tc.value && !clamdtest.SameSignature(f.Value, tc.value)) {
						t.Errorf("finding %s=%q @%s, want %q @%s", f.Name, f.Value, f.Where, tc.value, tc.where)
					}
					t.Logf("%s: %s; %s=%q @%s (%s)", m.Name, row.Action, f.Name, f.Value, f.Where, f.Reason)
					for _, v := range tc.also {
						found := false
						for _, mt := range row.Matches {
							for _, g := range mt.Findings {
								found = found || (mt.Rule == tc.rule && g.Name == tc.finding && g.Value == v && g.Where == tc.where)
							}
						}
						if !found {
							t.Errorf("match %s lacks %s=%q @%s: %+v", tc.rule, tc.finding, v, tc.where, row.Matches)
						}
					}
					notDelivered = append(notDelivered, id)
				})
			}
			time.Sleep(time.Second)
			for _, id := range notDelivered {
				if n := len(deliveriesOf(sink, id)); n != 0 {
					t.Errorf("%s was delivered %d times", id, n)
				}
			}
		})
	}
	if n := dnsSrv.Count("evil.example.uribl.test.", 1); n == 0 {
		t.Errorf("the URI blocklist was never asked for evil.example")
	}
}
