package message

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func collect(dec func([]byte, emitFunc) (int64, string), src string) (string, int64, string) {
	var out []byte
	n, problem := dec([]byte(src), func(p []byte) { out = append(out, p...) })
	return string(out), n, problem
}

func TestDecodeBase64(t *testing.T) {
	tests := []struct {
		name, in, want string
		bad            bool
	}{
		{"plain", "aGVsbG8gd29ybGQ=", "hello world", false},
		{"wrapped CRLF", "aGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n", "hello world", false},
		{"wrapped LF odd", "aGVsb\nG8gd29\nybGQ=\n", "hello world", false},
		{"spaces and tabs", "aGVs bG8g\td29y bGQ=", "hello world", false},
		{"missing padding", "aGVsbG8gd29ybGQ", "hello world", false},
		{"invalid chars skipped", "aGVs!bG8g*d29ybGQ=", "hello world", true},
		{"data after padding", "aGk=aGk=", "hihi", true},
		{"truncated group", "aGVsbG8gd", "hello ", true},
		{"empty", "", "", false},
		{"only newlines", "\r\n\r\n", "", false},
	}
	for _, tt := range tests {
		got, n, problem := collect(decodeBase64, tt.in)
		if got != tt.want || n != int64(len(tt.want)) || (problem != "") != tt.bad {
			t.Errorf("%s: decodeBase64(%q) = %q, %d, %q; want %q, bad=%v", tt.name, tt.in, got, n, problem, tt.want, tt.bad)
		}
	}
	// Large input crosses the fast path's chunks; a bad byte late in it
	// sends the tail to the careful decoder.
	data := make([]byte, 300<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	enc := strings.Join(b64lines(data), "\r\n")
	for _, in := range []string{enc, enc[:200<<10] + "\x00" + enc[200<<10:], strings.ReplaceAll(enc, "\r\n", "\n")} {
		var out []byte
		n, _ := decodeBase64([]byte(in), func(p []byte) { out = append(out, p...) })
		if !bytes.Equal(out, data) || n != int64(len(data)) {
			t.Errorf("large decode: got %d bytes (n=%d), want %d, equal=%v", len(out), n, len(data), bytes.Equal(out, data))
		}
		if n2, _ := decodeBase64([]byte(in), nil); n2 != n {
			t.Errorf("size-only decode = %d, want %d", n2, n)
		}
	}
}

func TestDecodeQP(t *testing.T) {
	tests := []struct {
		name, in, want string
		bad            bool
	}{
		{"plain", "hello", "hello", false},
		{"escapes", "caf=C3=A9 =3D", "café =", false},
		{"lower-case hex", "caf=c3=a9", "café", false},
		{"soft break CRLF", "long=\r\nline\r\n", "longline\r\n", false},
		{"soft break LF", "long=\nline\n", "longline\n", false},
		{"soft break with trailing space", "long= \r\nline", "longline", false},
		{"trailing whitespace dropped", "a  \r\nb\t\r\n", "a\r\nb\r\n", false},
		{"bad escape kept", "a=ZZb", "a=ZZb", true},
		{"= at end of input", "a=", "a", false},
		{"short escape", "a=4", "a=4", true},
	}
	for _, tt := range tests {
		got, n, problem := collect(decodeQP, tt.in)
		if got != tt.want || n != int64(len(tt.want)) || (problem != "") != tt.bad {
			t.Errorf("%s: decodeQP(%q) = %q, %d, %q; want %q, bad=%v", tt.name, tt.in, got, n, problem, tt.want, tt.bad)
		}
	}
	big := strings.Repeat("=E6=97=A5", 20000) // more than one scratch buffer
	got, n, _ := collect(decodeQP, big)
	if got != strings.Repeat("日", 20000) || n != 60000 {
		t.Errorf("large decodeQP: %d bytes", n)
	}
}
