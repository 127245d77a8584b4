package gtube

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/scanner/message"
)

func TestGTUBE(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString([]byte("hello " + message.GTUBE + "\r\n"))
	for _, tc := range []struct {
		name, msg, where string
	}{
		{"plain body", "Subject: x\r\n\r\n" + message.GTUBE + "\r\n", "body"},
		{"base64 attachment", "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
			"Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/plain; name=a.txt\r\nContent-Disposition: attachment; filename=a.txt\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + enc + "\r\n--b--\r\n", "attachment:a.txt"},
		{"clean", "Subject: x\r\n\r\nnothing here\r\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := message.ParseBytes([]byte(tc.msg), message.DefaultLimits())
			fs, err := Check{}.Run(context.Background(), &check.Input{Message: m})
			if err != nil {
				t.Fatal(err)
			}
			if tc.where == "" {
				if len(fs) != 0 {
					t.Errorf("findings %+v in a clean message", fs)
				}
				return
			}
			if len(fs) != 1 || fs[0].Name != Finding || fs[0].Where != tc.where {
				t.Errorf("findings %+v, want %s at %s", fs, Finding, tc.where)
			}
		})
	}
}
