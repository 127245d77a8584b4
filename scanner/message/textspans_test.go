package message

import (
	"fmt"
	"strings"
	"testing"
)

func TestTextSpans(t *testing.T) {
	msg := "Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n" +
		"--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n" +
		"--b\r\nContent-Type: text/plain; name=a.txt\r\n\r\natt\r\n--b--\r\n"
	m := ParseBytes([]byte(msg), DefaultLimits())
	var b strings.Builder
	for _, s := range m.TextSpans() {
		fmt.Fprintf(&b, "%s %s %v %q\n", s.Where, s.Part, s.HTML, s.Text)
	}
	want := "body part:1 false \"plain\"\nbody part:2 true \"<p>html</p>\"\nattachment:a.txt part:3 false \"att\"\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
