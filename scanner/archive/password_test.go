package archive

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The fixtures in testdata/ were made once by independent tools; see
// testdata/README.md for the commands. Their password is "abc123".
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type opened struct {
	paths    []string
	problems []string
	res      Result
	data     map[string]string
}

func walkPasswords(t testing.TB, name string, data []byte, lim Limits) opened {
	t.Helper()
	o := opened{data: map[string]string{}}
	o.res = Walk(context.Background(), name, data, lim, func(e *Entry) {
		p := e.Path
		switch {
		case e.Password > 0:
			p += fmt.Sprintf(" (opened by %d)", e.Password)
		case e.Encrypted:
			p += " (encrypted)"
		}
		o.paths = append(o.paths, p)
		o.data[e.Path] = string(e.Data)
	})
	for _, p := range o.res.Problems {
		o.problems = append(o.problems, p.Path+" "+p.Value())
	}
	return o
}

func TestWalkPasswords(t *testing.T) {
	right := []string{"wrong", "abc123"}
	for _, tc := range []struct {
		name      string
		fixture   string
		passwords []string
		tries     int
		paths     []string
		problems  []string
		opened    []Opened
		triesUsed int
	}{
		{name: "zipcrypto, right password second", fixture: "zipcrypto.zip", passwords: right, tries: 10,
			paths:  []string{"a/invoice.exe (opened by 2)", "a/readme.txt (opened by 2)"},
			opened: []Opened{{"a", 2}}, triesUsed: 2},
		{name: "zipcrypto streamed, with a data descriptor", fixture: "zipcrypto-stream.zip", passwords: right, tries: 10,
			paths: []string{"a/- (opened by 2)"}, opened: []Opened{{"a", 2}}, triesUsed: 2},
		{name: "zipcrypto, wrong passwords", fixture: "zipcrypto.zip", passwords: []string{"wrong", "abc"}, tries: 10,
			paths:     []string{"a/invoice.exe (encrypted)", "a/readme.txt (encrypted)"},
			problems:  []string{"a/invoice.exe archive.encrypted", "a/readme.txt archive.encrypted"},
			triesUsed: 4},
		{name: "zipcrypto, tries spent", fixture: "zipcrypto.zip", passwords: right, tries: 1,
			paths:     []string{"a/invoice.exe (encrypted)", "a/readme.txt (encrypted)"},
			problems:  []string{"a/invoice.exe archive.encrypted", "a/readme.txt archive.encrypted"},
			triesUsed: 1},
		{name: "zipcrypto, trying disabled", fixture: "zipcrypto.zip", passwords: right, tries: 0,
			paths:    []string{"a/invoice.exe (encrypted)", "a/readme.txt (encrypted)"},
			problems: []string{"a/invoice.exe archive.encrypted", "a/readme.txt archive.encrypted"}},
		{name: "winzip aes-256", fixture: "aes256.zip", passwords: right, tries: 10,
			paths:  []string{"a/invoice.exe (opened by 2)", "a/readme.txt (opened by 2)"},
			opened: []Opened{{"a", 2}}, triesUsed: 2},
		{name: "winzip aes-256, wrong password", fixture: "aes256.zip", passwords: []string{"abc124"}, tries: 10,
			paths:     []string{"a/invoice.exe (encrypted)", "a/readme.txt (encrypted)"},
			problems:  []string{"a/invoice.exe archive.encrypted", "a/readme.txt archive.encrypted"},
			triesUsed: 2},
		{name: "winzip aes-128", fixture: "aes128.zip", passwords: []string{"abc123"}, tries: 10,
			paths: []string{"a/invoice.exe (opened by 1)"}, opened: []Opened{{"a", 1}}, triesUsed: 1},
		{name: "nested zip in an opened zip", fixture: "nested.zip", passwords: right, tries: 10,
			paths:  []string{"a/inner.zip (opened by 2)", "a/inner.zip/payload.exe"},
			opened: []Opened{{"a", 2}}, triesUsed: 2},
		{name: "7z", fixture: "plain.7z", paths: []string{"a/invoice.exe", "a/readme.txt"}},
		{name: "7z with a plain header", fixture: "plain-header.7z", paths: []string{"a/invoice.exe", "a/readme.txt"}},
		{name: "7z, encrypted content", fixture: "encrypted.7z",
			paths:    []string{"a/invoice.exe (encrypted)", "a/readme.txt (encrypted)"},
			problems: []string{"a/invoice.exe archive.encrypted", "a/readme.txt archive.encrypted"}},
		{name: "7z, encrypted content opened", fixture: "encrypted.7z", passwords: right, tries: 10,
			paths:  []string{"a/invoice.exe (opened by 2)", "a/readme.txt (opened by 2)"},
			opened: []Opened{{"a", 2}}, triesUsed: 2},
		{name: "7z, encrypted header", fixture: "encrypted-header.7z", passwords: []string{"wrong"}, tries: 10,
			problems: []string{"a archive.encrypted"}, triesUsed: 1},
		{name: "7z, encrypted header opened", fixture: "encrypted-header.7z", passwords: right, tries: 10,
			paths:  []string{"a/invoice.exe (opened by 2)", "a/readme.txt (opened by 2)"},
			opened: []Opened{{"a", 2}}, triesUsed: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := walkPasswords(t, "a", fixture(t, tc.fixture), Limits{Passwords: tc.passwords, MaxTries: tc.tries})
			if !slices.Equal(o.paths, tc.paths) || !slices.Equal(o.problems, tc.problems) {
				t.Errorf("paths %q, problems %q; want %q, %q (%+v)", o.paths, o.problems, tc.paths, tc.problems, o.res.Problems)
			}
			if !slices.Equal(o.res.Opened, tc.opened) || o.res.Tries != tc.triesUsed {
				t.Errorf("opened %+v after %d tries, want %+v after %d", o.res.Opened, o.res.Tries, tc.opened, tc.triesUsed)
			}
			for _, n := range []string{"a/readme.txt", "a/-"} {
				if d, ok := o.data[n]; ok && tc.problems == nil && d != "hello from inside the archive\n" {
					t.Errorf("%s is %q", n, d)
				}
			}
		})
	}
}

// TestWalkPasswordOnce checks that the candidate that opened one archive
// is tried first on the next.
func TestWalkPasswordOnce(t *testing.T) {
	z := fixture(t, "zipcrypto.zip")
	outer := zipOf(t, file{name: "one.zip", data: z, store: true}, file{name: "two.zip", data: z, store: true})
	o := walkPasswords(t, "o.zip", outer, Limits{Passwords: []string{"x", "y", "abc123"}, MaxTries: 10})
	// Three tries open one.zip, one more two.zip.
	if o.res.Tries != 4 || len(o.res.Opened) != 2 {
		t.Errorf("tries %d, opened %+v; want 4 tries, both opened", o.res.Tries, o.res.Opened)
	}
}

// sevenZipOf wraps a raw (unencoded) 7z header in a signature header.
func sevenZipOf(header []byte) []byte {
	b := []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c, 0, 4, 0, 0, 0, 0}
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(header)))
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(header))
	binary.LittleEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[12:32]))
	return append(b, header...)
}

// TestWalk7zGuard checks that 7z headers asking for too much are refused
// before the library allocates for them.
func TestWalk7zGuard(t *testing.T) {
	lzmaFolder := func(dict uint32) []byte {
		h := []byte{0x01, 0x04, 0x06, 0x00, 0x01, 0x09, 0x10, 0x00, 0x07, 0x0b, 0x01, 0x00,
			0x01, 0x23, 0x03, 0x01, 0x01, 0x05, 0x5d}
		h = binary.LittleEndian.AppendUint32(h, dict)
		return append(h, 0x0c, 0x10, 0x00, 0x00, 0x00)
	}
	for _, tc := range []struct {
		name    string
		data    []byte
		problem string
	}{
		{"four billion files", sevenZipOf([]byte{0x01, 0x05, 0xf0, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00}), "a.7z archive.max_files=65536"},
		{"a 1 GB dictionary", sevenZipOf(lzmaFolder(1 << 30)), "a.7z archive.max_dictionary=67108864"},
		{"zstd", sevenZipOf([]byte{0x01, 0x04, 0x07, 0x0b, 0x01, 0x00, 0x01, 0x04, 0x04, 0xf7, 0x11, 0x01, 0x0c, 0x10, 0x00, 0x00, 0x00}), "a.7z archive.unsupported"},
		{"bad start header CRC", func() []byte { b := sevenZipOf([]byte{0x01, 0x00}); b[8]++; return b }(), "a.7z archive.corrupt"},
		{"truncated", fixture(t, "plain.7z")[:100], "a.7z archive.corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := walk(t, "a.7z", tc.data, Limits{})
			if !slices.Equal(w.problems, []string{tc.problem}) {
				t.Errorf("problems %q (%+v), want %q", w.problems, w.res.Problems, tc.problem)
			}
		})
	}
}

// TestWalk7zSolid checks that the bytes a solid 7z block unpacks before a
// file count against the byte limit, though the walk did not keep them:
// a-zeros.bin (3 MB of zeros) is cut at the ratio limit, and b-payload.exe
// after it needs the rest of the zeros unpacked first.
func TestWalk7zSolid(t *testing.T) {
	data := fixture(t, "solid.7z")
	w := walk(t, "s.7z", data, Limits{})
	if want := []string{"s.7z/a-zeros.bin", "s.7z/b-payload.exe"}; !slices.Equal(w.paths, want) || !slices.Equal(w.problems, []string{"s.7z/a-zeros.bin archive.max_ratio=100"}) {
		t.Errorf("paths %q, problems %q", w.paths, w.problems)
	}
	w = walk(t, "s.7z", data, Limits{MaxBytes: 2_000_000})
	if want := []string{"s.7z/a-zeros.bin"}; !slices.Equal(w.paths, want) ||
		!slices.Equal(w.problems, []string{"s.7z/a-zeros.bin archive.max_ratio=100", "s.7z/b-payload.exe archive.max_bytes=2000000"}) {
		t.Errorf("paths %q, problems %q", w.paths, w.problems)
	}
}
