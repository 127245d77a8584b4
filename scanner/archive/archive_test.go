package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// file is one member of a test archive.
type file struct {
	name      string
	data      []byte
	encrypted bool // set the zip "encrypted" flag (the data stays plain)
	store     bool // no compression
}

func zipOf(t testing.TB, files ...file) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		if f.store {
			h.Method = zip.Store
		}
		if f.encrypted {
			h.Flags |= 1
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tarOf(t testing.TB, files ...file) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gzipOf(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Name = name
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func xzOf(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	xw, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := xw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// nested wraps data in n zips, each holding the next as "lN.zip".
func nested(t testing.TB, n int, data []byte) []byte {
	for i := n; i > 0; i-- {
		name := fmt.Sprintf("l%d.zip", i)
		if i == n {
			name = "payload.exe"
		}
		data = zipOf(t, file{name: name, data: data})
	}
	return data
}

// bzip2Hello is "hello\n" compressed by bzip2 (the stdlib has no writer).
var bzip2Hello = []byte{
	0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0xc1, 0xc0, 0x80, 0xe2, 0x00, 0x00,
	0x01, 0x41, 0x00, 0x00, 0x10, 0x02, 0x44, 0xa0, 0x00, 0x30, 0xcd, 0x00, 0xc3, 0x46, 0x29, 0x97,
	0x17, 0x72, 0x45, 0x38, 0x50, 0x90, 0xc1, 0xc0, 0x80, 0xe2,
}

type walked struct {
	paths    []string
	problems []string
	res      Result
}

func walk(t testing.TB, name string, data []byte, lim Limits) walked {
	t.Helper()
	var w walked
	w.res = Walk(context.Background(), name, data, lim, func(e *Entry) {
		p := e.Path
		if e.Encrypted {
			p += " (encrypted)"
		}
		w.paths = append(w.paths, p)
	})
	for _, p := range w.res.Problems {
		w.problems = append(w.problems, p.Path+" "+p.Value())
	}
	return w
}

func TestWalk(t *testing.T) {
	exe := append([]byte("MZ\x90\x00"), make([]byte, 60)...)
	bomb := zipOf(t, file{name: "zeros.bin", data: make([]byte, 4<<20)})
	for _, tc := range []struct {
		name     string
		file     string
		data     []byte
		lim      Limits
		format   string
		paths    []string
		problems []string
	}{
		{name: "not an archive", file: "a.txt", data: []byte("hello")},
		{name: "zip", file: "a.zip", data: zipOf(t, file{name: "x.txt", data: []byte("x")}, file{name: "dir/", data: nil}, file{name: "dir/y.exe", data: exe}),
			format: "zip", paths: []string{"a.zip/x.txt", "a.zip/dir/y.exe"}},
		{name: "tar.gz", file: "a.tgz", data: gzipOf(t, "a.tar", tarOf(t, file{name: "b/c.js", data: []byte("alert(1)")})),
			format: "gzip", paths: []string{"a.tgz/a.tar", "a.tgz/a.tar/b/c.js"}},
		{name: "tgz without a name", file: "a.TGZ", data: gzipOf(t, "", tarOf(t, file{name: "x", data: []byte("x")})),
			format: "gzip", paths: []string{"a.TGZ/a.tar", "a.TGZ/a.tar/x"}},
		{name: "gzip without a name", file: "doc.pdf.gz", data: gzipOf(t, "", []byte("%PDF-1.4")),
			format: "gzip", paths: []string{"doc.pdf.gz/doc.pdf"}},
		{name: "bzip2", file: "h.txt.bz2", data: bzip2Hello, format: "bzip2", paths: []string{"h.txt.bz2/h.txt"}},
		{name: "xz", file: "a.exe.xz", data: xzOf(t, exe), format: "xz", paths: []string{"a.exe.xz/a.exe"}},
		{name: "nested zips within depth", file: "n.zip", data: nested(t, 3, exe), format: "zip",
			paths: []string{"n.zip/l1.zip", "n.zip/l1.zip/l2.zip", "n.zip/l1.zip/l2.zip/payload.exe"}},
		{name: "nested zips beyond depth", file: "n.zip", data: nested(t, 5, exe), lim: Limits{MaxDepth: 3}, format: "zip",
			paths:    []string{"n.zip/l1.zip", "n.zip/l1.zip/l2.zip", "n.zip/l1.zip/l2.zip/l3.zip"},
			problems: []string{"n.zip/l1.zip/l2.zip/l3.zip archive.max_depth=3"}},
		{name: "zip bomb by ratio", file: "bomb.zip", data: bomb, format: "zip",
			paths: []string{"bomb.zip/zeros.bin"}, problems: []string{"bomb.zip/zeros.bin archive.max_ratio=100"}},
		{name: "zip bomb within a higher ratio", file: "bomb.zip", data: bomb, lim: Limits{MaxRatio: 10000}, format: "zip",
			paths: []string{"bomb.zip/zeros.bin"}},
		{name: "total bytes", file: "big.zip", data: zipOf(t, file{name: "a", data: make([]byte, 3000), store: true}, file{name: "b", data: make([]byte, 3000), store: true}, file{name: "c", data: []byte("c"), store: true}),
			lim: Limits{MaxBytes: 5000}, format: "zip", paths: []string{"big.zip/a", "big.zip/b"},
			problems: []string{"big.zip/b archive.max_bytes=5000"}},
		{name: "file count", file: "many.zip", data: zipOf(t, file{name: "1"}, file{name: "2"}, file{name: "3"}),
			lim: Limits{MaxFiles: 2}, format: "zip", paths: []string{"many.zip/1", "many.zip/2"},
			problems: []string{"many.zip/3 archive.max_files=2"}},
		{name: "encrypted member", file: "secret.zip", data: zipOf(t, file{name: "inv.exe", data: exe, encrypted: true}, file{name: "readme.txt", data: []byte("pw: 1234")}),
			format: "zip", paths: []string{"secret.zip/inv.exe (encrypted)", "secret.zip/readme.txt"},
			problems: []string{"secret.zip/inv.exe archive.encrypted"}},
		{name: "corrupt zip", file: "bad.zip", data: []byte("PK\x03\x04garbage"), format: "zip",
			problems: []string{"bad.zip archive.corrupt"}},
		{name: "corrupt gzip", file: "bad.gz", data: []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff}, format: "gzip",
			paths: []string{"bad.gz/bad"}, problems: []string{"bad.gz/bad archive.corrupt"}},
		{name: "7z cut short", file: "a.7z", data: []byte("7z\xbc\xaf\x27\x1c\x00\x04"), format: "7z",
			problems: []string{"a.7z archive.corrupt"}},
		{name: "ooxml has its own limits", file: "a.docx",
			data:   zipOf(t, file{name: "[Content_Types].xml", data: []byte("<Types/>")}, file{name: "word/document.xml", data: []byte("<w/>")}, file{name: "word/vbaProject.bin", data: []byte("x")}),
			lim:    Limits{MaxFiles: 2, OOXMLMaxFiles: 5},
			format: "ooxml", paths: []string{"a.docx/[Content_Types].xml", "a.docx/word/document.xml", "a.docx/word/vbaProject.bin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := walk(t, tc.file, tc.data, tc.lim)
			if w.res.Format != tc.format {
				t.Errorf("format %q, want %q", w.res.Format, tc.format)
			}
			if !slices.Equal(w.paths, tc.paths) {
				t.Errorf("paths\n%q, want\n%q", w.paths, tc.paths)
			}
			var problems []string
			for _, p := range w.problems { // the reason text is not compared
				problems = append(problems, strings.TrimSpace(p))
			}
			if !slices.Equal(problems, tc.problems) {
				t.Errorf("problems\n%q, want\n%q (%+v)", problems, tc.problems, w.res.Problems)
			}
		})
	}
}

// TestWalkLyingSize checks that a zip member declaring a huge packed size
// still meets the ratio limit: the allowance is taken from the archive's
// real size.
func TestWalkLyingSize(t *testing.T) {
	z := zipOf(t, file{name: "zeros", data: make([]byte, 4<<20)})
	// Patch the central directory's compressed size (offset 20 of the
	// record), which archive/zip reads, to 1 GB.
	i := bytes.Index(z, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(z[i+20:], 1<<30)
	w := walk(t, "lie.zip", z, Limits{})
	if !slices.Contains(w.problems, "lie.zip/zeros archive.max_ratio=100") {
		t.Errorf("problems %q, want the ratio limit", w.problems)
	}
}

// TestWalkContent checks that a member's bytes are its content, and that a
// bomb's are cut at the ratio limit, not read whole.
func TestWalkContent(t *testing.T) {
	var got [][]byte
	Walk(context.Background(), "a.zip", zipOf(t, file{name: "a", data: []byte("alpha")}, file{name: "z", data: make([]byte, 8<<20)}), Limits{}, func(e *Entry) {
		got = append(got, bytes.Clone(e.Data))
	})
	if len(got) != 2 || string(got[0]) != "alpha" {
		t.Fatalf("got %d entries, first %q", len(got), got[0])
	}
	if n := len(got[1]); n > 2<<20 {
		t.Errorf("bomb member kept %d bytes, more than the ratio allows", n)
	}
}

func TestWalkCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Walk(ctx, "n.zip", nested(t, 3, []byte("x")), Limits{}, func(*Entry) {})
	if len(res.Problems) != 1 || res.Problems[0].Value() != LimitTime {
		t.Errorf("problems %+v, want one %s", res.Problems, LimitTime)
	}
}

func FuzzWalk(f *testing.F) {
	f.Add(zipOf(f, file{name: "a.txt", data: []byte("hello")}))
	f.Add(nested(f, 4, []byte("MZ")))
	f.Add(zipOf(f, file{name: "z", data: make([]byte, 1<<16)}))
	f.Add(zipOf(f, file{name: "e.exe", data: []byte("MZ"), encrypted: true}))
	f.Add(gzipOf(f, "t.tar", tarOf(f, file{name: "x.js", data: []byte("x")})))
	f.Add(tarOf(f, file{name: "in.zip", data: zipOf(f, file{name: "a"})}))
	f.Add(bzip2Hello)
	f.Add(xzOf(f, []byte("hello")))
	f.Add(rarOf(file{name: "a.exe", data: []byte("MZ")}, file{name: "b", data: []byte("b"), encrypted: true}))
	for _, n := range []string{"plain.7z", "plain-header.7z", "encrypted.7z", "encrypted-header.7z", "zipcrypto.zip", "aes128.zip", "aes256.zip", "nested.zip", "solid.7z", "zipcrypto-stream.zip"} {
		f.Add(fixture(f, n))
	}
	f.Add(sevenZipOf([]byte{0x01, 0x05, 0xf0, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00}))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The fixtures' password is a candidate, so that fuzzing reaches
		// the decryption code.
		lim := Limits{MaxDepth: 4, MaxBytes: 1 << 20, MaxFiles: 20, Passwords: []string{"x", "abc123"}, MaxTries: 3}
		var total int64
		files := 0
		res := Walk(context.Background(), "f", data, lim, func(e *Entry) {
			total += int64(len(e.Data))
			files++
			if e.Depth < 1 || e.Depth > lim.MaxDepth {
				t.Fatalf("entry %s at depth %d", e.Path, e.Depth)
			}
		})
		if total > lim.MaxBytes {
			t.Fatalf("unpacked %d bytes, over the limit %d", total, lim.MaxBytes)
		}
		if res.Files != files {
			t.Fatalf("visited %d files, result says %d, limit %d", files, res.Files, lim.MaxFiles)
		}
	})
}

// rarOf builds a RAR 4 archive of stored (uncompressed) files, by hand:
// no rar writer exists in Go. flags 4 marks a file encrypted.
func rarOf(files ...file) []byte {
	block := func(typ byte, flags uint16, body []byte) []byte {
		h := []byte{typ, byte(flags), byte(flags >> 8), 0, 0}
		h = append(h, body...)
		size := len(h) + 2
		h[3], h[4] = byte(size), byte(size>>8)
		crc := crc32.ChecksumIEEE(h)
		return append([]byte{byte(crc), byte(crc >> 8)}, h...)
	}
	out := []byte("Rar!\x1a\x07\x00")
	out = append(out, block(0x73, 0, make([]byte, 6))...)
	for _, f := range files {
		var flags uint16 = 0x8000
		if f.encrypted {
			flags |= 4
		}
		b := binary.LittleEndian.AppendUint32(nil, uint32(len(f.data))) // packed
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f.data)))    // unpacked
		b = append(b, 2)                                                // host OS Windows
		b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(f.data))
		b = binary.LittleEndian.AppendUint32(b, 0) // time
		b = append(b, 20, 0x30)                    // version 2.0, stored
		b = binary.LittleEndian.AppendUint16(b, uint16(len(f.name)))
		b = binary.LittleEndian.AppendUint32(b, 0x20) // attributes
		b = append(b, f.name...)
		out = append(out, block(0x74, flags, b)...)
		out = append(out, f.data...)
	}
	return append(out, block(0x7b, 0x4000, nil)...)
}

func TestWalkRar(t *testing.T) {
	exe := append([]byte("MZ"), make([]byte, 62)...)
	for _, tc := range []struct {
		name     string
		data     []byte
		paths    []string
		problems []string
	}{
		{"stored files", rarOf(file{name: "a.txt", data: []byte("hello")}, file{name: "b.exe", data: exe}),
			[]string{"a.rar/a.txt", "a.rar/b.exe"}, nil},
		{"a zip inside", rarOf(file{name: "in.zip", data: zipOf(t, file{name: "x.js", data: []byte("x")})}),
			[]string{"a.rar/in.zip", "a.rar/in.zip/x.js"}, nil},
		{"encrypted member", rarOf(file{name: "s.exe", data: exe, encrypted: true}),
			[]string{"a.rar/s.exe (encrypted)"}, []string{"a.rar/s.exe archive.encrypted"}},
		{"corrupt", []byte("Rar!\x1a\x07\x01\x00"), nil, []string{"a.rar archive.corrupt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := walk(t, "a.rar", tc.data, Limits{})
			if w.res.Format != FormatRar {
				t.Errorf("format %q", w.res.Format)
			}
			if !slices.Equal(w.paths, tc.paths) || !slices.Equal(w.problems, tc.problems) {
				t.Errorf("paths %q, problems %q (%+v); want %q, %q", w.paths, w.problems, w.res.Problems, tc.paths, tc.problems)
			}
		})
	}
}
