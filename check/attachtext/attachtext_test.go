package attachtext

import (
	"context"
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/scanner/message"
)

func TestUnreadable(t *testing.T) {
	att := func(file string, b []byte) string {
		if b == nil {
			var err error
			if b, err = os.ReadFile("../../scanner/doctext/testdata/" + file); err != nil {
				t.Fatal(err)
			}
		}
		return "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=" + file +
			"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(b) + "\r\n"
	}
	msg := "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		att("report.pdf", nil) + att("encrypted.pdf", nil) +
		att("broken.docx", []byte("PK\x03\x04 this is no zip")) + // named as OOXML, no zip
		att("broken.pdf", []byte("%PDF-1.4\ngarbage\n")) +
		att("locked.xlsx", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 OLE")) + "--b--\r\n"
	m := message.ParseBytes([]byte(msg), message.DefaultLimits())
	fs, err := Check{}.Run(context.Background(), &check.Input{Message: m})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		if f.Name != FindingUnreadable || f.Reason == "" {
			t.Errorf("finding %+v", f)
		}
		got = append(got, f.Where+"="+f.Value)
	}
	want := "attachment:encrypted.pdf=encrypted attachment:broken.docx=corrupt attachment:broken.pdf=corrupt attachment:locked.xlsx=encrypted"
	if strings.Join(got, " ") != want {
		t.Errorf("findings %q\nwant %q", got, want)
	}
	if fs, _ := (Check{}).Run(context.Background(), &check.Input{}); fs != nil {
		t.Errorf("no message: %v", fs)
	}
}
