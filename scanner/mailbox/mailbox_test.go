package mailbox

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func split(t *testing.T, in string, max int) []string {
	t.Helper()
	var out []string
	err := Split(strings.NewReader(in), max, func(msg []byte, err error) error {
		if errors.Is(err, ErrTooBig) {
			out = append(out, "TOOBIG")
			return nil
		}
		out = append(out, string(msg))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"two", "From a@x Mon Dec  1 10:00:00 2025\nSubject: 1\n\nbody 1\n\nFrom b@x Mon Dec  1 10:00:01 2025\nSubject: 2\n\nbody 2\n",
			0, []string{"Subject: 1\n\nbody 1\n", "Subject: 2\n\nbody 2\n"}},
		{"crlf", "From a@x\r\nSubject: 1\r\n\r\nb\r\n\r\nFrom b@x\r\nSubject: 2\r\n\r\nc\r\n",
			0, []string{"Subject: 1\r\n\r\nb\r\n", "Subject: 2\r\n\r\nc\r\n"}},
		{"From in text is no separator", "From a@x\nSubject: 1\n\nline\nFrom here on\n",
			0, []string{"Subject: 1\n\nline\nFrom here on\n"}},
		{"mboxrd unquoting", "From a@x\nSubject: 1\n\n>From the start\n>>From deeper\n> From not\n",
			0, []string{"Subject: 1\n\nFrom the start\n>From deeper\n> From not\n"}},
		{"blank lines kept inside", "From a@x\nS: 1\n\n\n\nx\n\n\nFrom b@x\nS: 2\n",
			0, []string{"S: 1\n\n\n\nx\n\n", "S: 2\n"}},
		{"empty messages dropped", "From a@x\n\nFrom b@x\nS: 2\n", 0, []string{"S: 2\n"}},
		{"no final newline", "From a@x\nS: 1\n\nend", 0, []string{"S: 1\n\nend"}},
		{"text before the first From_", "S: 0\n\nFrom a@x\nS: 1\n", 0, []string{"S: 0\n", "S: 1\n"}},
		{"too big", "From a@x\nS: 1\n\n" + strings.Repeat("x", 100) + "\n\nFrom b@x\nS: 2\n", 50, []string{"TOOBIG", "S: 2\n"}},
		{"empty", "", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := split(t, tc.in, tc.max)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestSplitLongLines: lines longer than the read buffer stay whole, and a
// long From_ line is dropped whole.
func TestSplitLongLines(t *testing.T) {
	long := strings.Repeat("y", 200<<10)
	got := split(t, "From a@x "+long+"\nS: 1\n\n"+long+"\n", 0)
	if len(got) != 1 || got[0] != "S: 1\n\n"+long+"\n" {
		t.Errorf("got %d messages, first %d bytes", len(got), len(got[0]))
	}
}

func TestWalk(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("Maildir/cur/1.host:2,S", "Subject: a\n\nx\n")
	write("Maildir/new/2.host", "Subject: b\n\nx\n")
	write("Maildir/dovecot.index.cache", "\x00\x01binary")
	write("mh/1", "Received: by x\nSubject: c\n\nx\n")
	write("mh/big", "Subject: d\n\n"+strings.Repeat("z", 300)+"\n")
	write("mbox", "From a@x\nSubject: e\n\n\nFrom b@x\nSubject: f\n")
	var got []string
	err := Walk(dir, 200, func(where string, msg []byte, err error) error {
		rel, _ := filepath.Rel(dir, where)
		switch {
		case err != nil:
			got = append(got, rel+"="+err.Error())
		default:
			got = append(got, rel+"="+string(bytes.SplitN(msg, []byte("\n"), 2)[0]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Maildir/cur/1.host:2,S=Subject: a",
		"Maildir/dovecot.index.cache=" + ErrNotMessage.Error(),
		"Maildir/new/2.host=Subject: b",
		"mbox:1=Subject: e", "mbox:2=Subject: f",
		"mh/1=Received: by x",
		"mh/big=" + ErrTooBig.Error(),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := Walk(filepath.Join(dir, "none"), 0, nil); err == nil {
		t.Error("walking a missing path: no error")
	}
}

// FuzzSplit: the splitter never fails on any input, passes no message
// over the limit, and keeps every byte of a message that has no From_
// lines, blank lines or quoted From lines.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"From a\nS: 1\n\nb\n\nFrom b\nS: 2\n", ">From x\n", "\r\n\r\nFrom \r\n", "From a\n" + strings.Repeat("x", 70000)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 4096
		var total int
		err := Split(bytes.NewReader(in), max, func(msg []byte, err error) error {
			if err == nil && (len(msg) > max || len(bytes.TrimSpace(msg)) == 0) {
				t.Fatalf("message of %d bytes passed", len(msg))
			}
			total += len(msg)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if total > len(in) {
			t.Fatalf("%d bytes out of %d in", total, len(in))
		}
		if len(in) <= max && !bytes.Contains(in, []byte("From ")) && !bytes.Contains(in, []byte("\n\n")) &&
			!bytes.Contains(in, []byte("\n\r\n")) && len(bytes.TrimSpace(in)) > 0 && !bytes.HasPrefix(in, []byte("\n")) && !bytes.HasPrefix(in, []byte("\r\n")) {
			var got []byte
			_ = Split(bytes.NewReader(in), max, func(msg []byte, err error) error { got = append(got, msg...); return nil })
			if !bytes.Equal(got, in) {
				t.Fatalf("got %q from %q", got, in)
			}
		}
	})
}
