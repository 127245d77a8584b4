package session_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scannerAddrs starts the fake scanners a pipeline case's scanners section
// scripts and returns the config with their addresses in place:
//
//	clamav: ANSWER   a fake clamd on a unix socket, $CLAMAV in the config,
//	                 answering ANSWER to every INSTREAM ("stream: OK",
//	                 "stream: Eicar-Test-Signature FOUND",
//	                 "INSTREAM size limit exceeded. ERROR"); "down" is a
//	                 socket nobody listens on
//
// A scanners section without its $NAME in the config, or the reverse, is
// an error, as for dns. The real clamd's answers are tested in
// check/clamav and e2e; here the answers are scripted, so a case shows
// what each one means for the message.
func scannerAddrs(t *testing.T, src []byte, lines []string) ([]byte, error) {
	uses := bytes.Contains(src, []byte("$CLAMAV"))
	var answer string
	for _, l := range lines {
		name, a, _ := strings.Cut(l, ":")
		if strings.TrimSpace(name) != "clamav" {
			return nil, fmt.Errorf("%q: unknown scanner (want clamav)", l)
		}
		answer = strings.TrimSpace(a)
	}
	switch {
	case answer != "" && !uses:
		return nil, fmt.Errorf("the case has a clamav scanner, but its config never names $CLAMAV (write [clamav] address = \"$CLAMAV\")")
	case answer == "" && uses:
		return nil, fmt.Errorf("the config names $CLAMAV, but the case has no clamav scanner")
	case answer == "":
		return src, nil
	}
	dir, err := os.MkdirTemp("", "clamav")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "clamd.sock")
	if answer != "down" {
		l, err := net.Listen("unix", sock)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go fakeClamd(c, answer)
			}
		}()
	}
	return bytes.ReplaceAll(src, []byte("$CLAMAV"), []byte("unix:"+sock)), nil
}

// fakeClamd reads one INSTREAM and answers it.
func fakeClamd(c net.Conn, answer string) {
	defer c.Close()
	cmd := make([]byte, len("zINSTREAM\x00"))
	if _, err := io.ReadFull(c, cmd); err != nil || string(cmd) != "zINSTREAM\x00" {
		return
	}
	for {
		var n uint32
		if err := binary.Read(c, binary.BigEndian, &n); err != nil {
			return
		}
		if n == 0 {
			break
		}
		if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
			return
		}
	}
	io.WriteString(c, answer+"\x00")
}

// TestScannerAddrs: a scanner without its $NAME, $NAME without its
// scanner, and an unknown scanner are errors, so a case cannot test less
// than it says.
func TestScannerAddrs(t *testing.T) {
	for _, tc := range []struct {
		src   string
		lines []string
		want  string
	}{
		{"[clamav]\n", []string{"clamav: stream: OK"}, "never names $CLAMAV"},
		{"[clamav]\naddress = \"$CLAMAV\"\n", nil, "no clamav scanner"},
		{"[clamav]\naddress = \"$CLAMAV\"\n", []string{"sophos: stream: OK"}, "unknown scanner"},
		{"[clamav]\naddress = \"$CLAMAV\"\n", []string{"clamav: stream: OK"}, ""},
	} {
		out, err := scannerAddrs(t, []byte(tc.src), tc.lines)
		switch {
		case tc.want == "" && (err != nil || !bytes.Contains(out, []byte(`address = "unix:/`))):
			t.Errorf("%q %v: %s, %v", tc.src, tc.lines, out, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q %v: %v, want %q", tc.src, tc.lines, err, tc.want)
		}
	}
}
