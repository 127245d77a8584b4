package message

import "testing"

func TestPartTransferEncoding(t *testing.T) {
	msg := "Content-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: Base64 (comment)\r\n\r\naGk=\r\n" +
		"--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=68i\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B--\r\n"
	m := ParseBytes([]byte(msg), DefaultLimits())
	want := []struct{ cte, enc, body string }{{"base64", "aGk=", "hi"}, {"quoted-printable", "=68i", "hi"}, {"", "hi", "hi"}}
	if len(m.Parts) != len(want) {
		t.Fatalf("%d parts, want %d", len(m.Parts), len(want))
	}
	for i, w := range want {
		p := &m.Parts[i]
		if p.TransferEncoding() != w.cte || string(p.Encoded()) != w.enc || string(p.Body()) != w.body {
			t.Errorf("part %d: encoding %q, encoded %q, body %q; want %q, %q, %q", i, p.TransferEncoding(), p.Encoded(), p.Body(), w.cte, w.enc, w.body)
		}
	}
}
