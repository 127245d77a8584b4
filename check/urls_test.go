package check

import (
	"testing"

	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/scanner/urls"
)

func TestURLsShared(t *testing.T) {
	m := message.ParseBytes([]byte("Subject: x\r\n\r\nsee https://www.example.com/a and http://192.0.2.1/b\r\n"), message.DefaultLimits())
	lim := urls.Limits{MaxURLs: 10, MaxBytes: 1 << 10}
	in := &Input{Message: m, Shared: &Shared{}}
	a, b := URLs(in, lim), URLs(in, lim)
	if a != b {
		t.Error("the same stage's search ran twice")
	}
	if len(a.URLs()) != 2 {
		t.Errorf("urls %+v, want 2", a.URLs())
	}
	if c := URLs(in, urls.Limits{MaxURLs: 1, MaxBytes: 1 << 10}); c == a || len(c.URLs()) != 1 {
		t.Errorf("other limits shared the search: %+v", c.URLs())
	}
	alone := &Input{Message: m}
	if c, d := URLs(alone, lim), URLs(alone, lim); c == d {
		t.Error("without a memo the searches were shared")
	}
}
