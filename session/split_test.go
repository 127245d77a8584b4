package session

import (
	"bytes"
	"fmt"
	"testing"
)

func ExampleSplitMessage() {
	hs, body := SplitMessage([]byte("Subject: a\n b\nTo: x\n\nbody\n"))
	for _, h := range hs {
		fmt.Printf("%q=%q\n", h.Name, h.Value)
	}
	fmt.Printf("%q\n", body)
	// Output:
	// "Subject"=" a\r\n b"
	// "To"=" x"
	// "body\r\n"
}

// FuzzSplitMessage checks that a message split into milter header fields and
// body is rebuilt byte for byte, as the quarantine needs.
func FuzzSplitMessage(f *testing.F) {
	f.Add([]byte("Subject: a\r\n b\r\nTo: x\r\n\r\nbody\r\n"))
	f.Add([]byte("From: a\n\nbody"))
	f.Add([]byte("X:\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var b bytes.Buffer
		writeCRLF(&b, string(in))
		want := b.Bytes()
		hs, body := SplitMessage(in)
		if !bytes.Contains(want, []byte("\r\n\r\n")) || len(hs) == 0 {
			return
		}
		got := append(append(HeaderBytes(hs, true), "\r\n"...), body...)
		// Only a clean header block (every line a field or a continuation,
		// ended by an empty line) round-trips; SplitMessage stops at the
		// first line that is neither.
		head, _, _ := bytes.Cut(want, []byte("\r\n\r\n"))
		for _, line := range bytes.Split(head, []byte("\r\n")) {
			if len(line) == 0 || (line[0] != ' ' && line[0] != '\t' && bytes.IndexByte(line, ':') <= 0) {
				return
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("rebuilt\n%q\nwant\n%q", got, want)
		}
	})
}
