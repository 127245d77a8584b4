package release

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestStripHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		n              int
	}{
		{"none", "From: a\r\nSubject: x\r\n\r\nbody\r\n", "From: a\r\nSubject: x\r\n\r\nbody\r\n", 0},
		{"first", "X-Mailwarden-Release: v1; id=1\r\nFrom: a\r\n\r\nb\r\n", "From: a\r\n\r\nb\r\n", 1},
		{"after received, folded", "Received: from x\r\n\tby y\r\nX-Mailwarden-Release: v1;\r\n\tid=1;\r\n mac=2\r\nFrom: a\r\n\r\nb\r\n",
			"Received: from x\r\n\tby y\r\nFrom: a\r\n\r\nb\r\n", 1},
		{"two, any case, space before colon", "x-mailwarden-release: a\r\nFrom: a\r\nX-MAILWARDEN-RELEASE : b\r\n\r\nb\r\n", "From: a\r\n\r\nb\r\n", 2},
		{"last field, no body", "From: a\r\nX-Mailwarden-Release: v1", "From: a\r\n", 1},
		{"in the body stays", "From: a\r\n\r\nX-Mailwarden-Release: v1\r\n", "From: a\r\n\r\nX-Mailwarden-Release: v1\r\n", 0},
		{"after a non-field line stays", "From: a\r\nnot a field\r\nX-Mailwarden-Release: v1\r\n", "From: a\r\nnot a field\r\nX-Mailwarden-Release: v1\r\n", 0},
		{"bare LF", "X-Mailwarden-Release: v1\n\tmore\nFrom: a\n\nb\n", "From: a\n\nb\n", 1},
		{"similar name stays", "X-Mailwarden-Released: x\r\nX-Mailwarden-Release-Note: y\r\n\r\n", "X-Mailwarden-Released: x\r\nX-Mailwarden-Release-Note: y\r\n\r\n", 0},
		{"empty", "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := StripHeaders([]byte(tc.in))
			if string(got) != tc.want || n != tc.n {
				t.Errorf("StripHeaders(%q) = %q, %d; want %q, %d", tc.in, got, n, tc.want, tc.n)
			}
		})
	}
}

func FuzzStripHeaders(f *testing.F) {
	f.Add([]byte("Received: x\r\nX-Mailwarden-Release: v1;\r\n\tid=1\r\nFrom: a\r\n\r\nbody"))
	f.Add([]byte("X-Mailwarden-Release: a\nX-Mailwarden-Release: b\n\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, n := StripHeaders(raw)
		if n == 0 && !bytes.Equal(out, raw) {
			t.Fatalf("nothing removed, but %q became %q", raw, out)
		}
		if len(out) > len(raw) {
			t.Fatalf("output longer than input")
		}
		again, m := StripHeaders(out)
		if m != 0 || !bytes.Equal(again, out) {
			t.Fatalf("a second pass removed %d more from %q", m, out)
		}
		if i := bytes.Index(raw, []byte("\n\n")); n > 0 && i >= 0 && !bytes.HasSuffix(out, raw[i+1:]) {
			t.Fatalf("the body changed: %q -> %q", raw, out)
		}
	})
}

func TestTraceReceived(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("", 9*3600))
	for _, tc := range []struct {
		name string
		tr   Trace
		want string
	}{
		{"full", Trace{ClientIP: "192.0.2.1", ClientName: "mx.example.net", Helo: "mx.example.net", QueueID: "4XyZ1", Time: at,
			Entry: "0123abcd", Rule: "gtube", By: "mailwarden.localhost"},
			"from mx.example.net (mx.example.net [192.0.2.1])\r\n\tby mailwarden.localhost (mailwarden quarantine 0123abcd, rule gtube)\r\n\tid 4XyZ1; Mon, 23 Nov 2026 10:00:00 +0900"},
		{"no HELO, no name, no queue ID", Trace{ClientIP: "2001:db8::1", Time: at, Entry: "e", By: "h"},
			"from [2001:db8::1] (unknown [2001:db8::1])\r\n\tby h (mailwarden quarantine e); Mon, 23 Nov 2026 10:00:00 +0900"},
		{"local submission", Trace{Time: at, Entry: "e"},
			"from unknown\r\n\tby localhost (mailwarden quarantine e); Mon, 23 Nov 2026 10:00:00 +0900"},
		{"hostile HELO", Trace{ClientIP: "192.0.2.1", Helo: "evil)\r\nX-Injected: 1", ClientName: "a(b", Time: at, Entry: "e", Rule: "r;x", By: "h"},
			"from evil? (a?b [192.0.2.1])\r\n\tby h (mailwarden quarantine e, rule r?x); Mon, 23 Nov 2026 10:00:00 +0900"},
		{"non-ASCII HELO", Trace{Helo: "メール.example", Time: at, Entry: "e", By: "h"},
			"from " + strings.Repeat("?", len("メール")) + ".example\r\n\tby h (mailwarden quarantine e); Mon, 23 Nov 2026 10:00:00 +0900"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tr.Received(); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestNewMessage: the released copy is the trace, one release header, then
// the quarantined bytes without their old release headers, and the token
// verifies against the digest of what follows it, as the milter computes it.
func TestNewMessage(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	body := "From: a@example.net\r\nSubject: hi\r\n\r\nXJS*C4JDBQADN1\r\n"
	for _, tc := range []struct {
		name, raw string
	}{
		{"plain", body},
		{"released before", "Received: from mailwarden.localhost\r\n\tby mx; Mon, 23 Nov 2026 10:00:00 +0000\r\n" +
			"X-Mailwarden-Release: v1; id=old; rule=gtube;\r\n\tmac=AAAA\r\n" + body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := Token{ID: "q1", Rule: "gtube", Sender: "a@example.net", Nonce: NewNonce(), Recipients: []string{"bob@example.com"},
				Expires: time.Now().Add(time.Hour)}
			m := NewMessage(key, tok, []byte(tc.raw), &Trace{ClientIP: "192.0.2.1", Helo: "mx.example.net", Entry: "q1", By: "h"})
			if m.From != "a@example.net" || strings.Join(m.Recipients, ",") != "bob@example.com" {
				t.Errorf("envelope %q %v", m.From, m.Recipients)
			}
			data := string(m.Data)
			if n := strings.Count(strings.ToLower(data), "x-mailwarden-release:"); n != 1 {
				t.Fatalf("%d release headers:\n%s", n, data)
			}
			received, rest, ok := strings.Cut(data, "\r\n"+Header+": ")
			if !ok || !strings.HasPrefix(received, "Received: from mx.example.net (unknown [192.0.2.1])") {
				t.Fatalf("the trace does not come first:\n%s", data)
			}
			value, after, _ := strings.Cut(rest, "\r\n")
			want, _ := StripHeaders([]byte(tc.raw))
			if after != string(want) {
				t.Fatalf("after the header:\n%q\nwant\n%q", after, want)
			}
			if _, err := Verify(key, value, Digest([]byte(after)), time.Now()); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}
