package attachment

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// pe is the smallest thing with a PE signature: a DOS header whose
// e_lfanew points at "PE\0\0".
func pe() []byte {
	b := make([]byte, 128)
	copy(b, "MZ")
	binary.LittleEndian.PutUint32(b[60:], 64)
	copy(b[64:], "PE\x00\x00\x4c\x01")
	return b
}

var elf = append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 56)...)

// ole is an OLE compound file whose directory holds the root entry and the
// given (name, type) entries.
func ole(entries ...any) []byte {
	b := make([]byte, 512+128*(1+len(entries)/2))
	copy(b, []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1})
	put := func(i int, name string, typ byte) {
		e := b[512+128*i:]
		u := utf16.Encode([]rune(name))
		for j, c := range u {
			binary.LittleEndian.PutUint16(e[2*j:], c)
		}
		binary.LittleEndian.PutUint16(e[64:], uint16(2*(len(u)+1)))
		e[66] = typ
	}
	put(0, "Root Entry", 5)
	for i := 0; i < len(entries); i += 2 {
		put(1+i/2, entries[i].(string), byte(entries[i+1].(int)))
	}
	return b
}

type zf struct {
	name      string
	data      []byte
	encrypted bool
}

func zipOf(t *testing.T, files ...zf) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
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

// att is one attachment of a test message.
type att struct {
	header string // the part's Content-Type and Content-Disposition lines
	data   []byte
}

func named(name, ctype string, data []byte) att {
	return att{fmt.Sprintf("Content-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\n", ctype, name, name), data}
}

func msg(atts ...att) []byte {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	b.WriteString("--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n")
	for _, a := range atts {
		enc := base64.StdEncoding.EncodeToString(a.data)
		b.WriteString("--b\r\n" + a.header + "Content-Transfer-Encoding: base64\r\n\r\n")
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--b--\r\n")
	return []byte(b.String())
}

func run(t *testing.T, c Config, m []byte) []check.Finding {
	t.Helper()
	fs, err := New(c).Run(context.Background(), &check.Input{Message: message.ParseBytes(m, message.DefaultLimits())})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// brief is a finding as the table compares it; the names every file gets
// (name, extension, type) are left out unless all is set.
func brief(fs []check.Finding, all bool) []string {
	var out []string
	for _, f := range fs {
		if !all && (f.Name == FindingName || f.Name == FindingExtension || f.Name == FindingType) {
			continue
		}
		out = append(out, f.Name+" "+f.Value+" @"+strings.TrimPrefix(f.Where, "attachment:"))
	}
	return out
}

func TestAttachment(t *testing.T) {
	docm := zipOf(t, zf{name: "[Content_Types].xml", data: []byte(`<?xml version="1.0"?><Types/>`)},
		zf{name: "word/document.xml", data: []byte("<w:document/>")}, zf{name: "word/vbaProject.bin", data: ole("VBA", 1)})
	docx := zipOf(t, zf{name: "[Content_Types].xml", data: []byte(`<?xml version="1.0"?><Types/>`)},
		zf{name: "word/document.xml", data: []byte("<w:document/>")})
	bomb := zipOf(t, zf{name: "zeros.txt", data: make([]byte, 4<<20)})
	deep := pe()
	for i := 25; i > 0; i-- {
		deep = zipOf(t, zf{name: fmt.Sprintf("d%d.zip", i), data: deep})
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		want []string
	}{
		{"clean pdf", msg(named("report.pdf", "application/pdf", []byte("%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"))), nil},
		{"pe", msg(named("setup.exe", "application/octet-stream", pe())), []string{"attachment.executable pe @setup.exe"}},
		{"pe named pdf", msg(named("invoice.pdf", "application/pdf", pe())),
			[]string{"attachment.executable pe @invoice.pdf", "attachment.mismatch .pdf is application/vnd.microsoft.portable-executable @invoice.pdf"}},
		{"double extension", msg(named("invoice.pdf.exe", "application/pdf", pe())),
			[]string{"attachment.double_extension pdf.exe @invoice.pdf.exe", "attachment.executable pe @invoice.pdf.exe",
				"attachment.mismatch application/pdf is application/vnd.microsoft.portable-executable @invoice.pdf.exe"}},
		{"elf", msg(named("tool", "application/octet-stream", elf)), []string{"attachment.executable elf @tool"}},
		{"script by extension", msg(named("run.js", "text/plain", []byte("WScript.Echo(1)"))),
			[]string{"attachment.executable extension:js @run.js"}},
		{"shortcut in upper case", msg(named("PHOTO.LNK", "application/octet-stream", []byte("hello"))),
			[]string{"attachment.executable extension:lnk @PHOTO.LNK"}},
		{"nameless part", msg(att{"Content-Type: application/octet-stream\r\n", pe()}), []string{"attachment.executable pe @part:2"}},
		{"jpeg that is a zip", msg(named("cat.jpg", "image/jpeg", zipOf(t, zf{name: "a.txt", data: []byte("a")}))),
			[]string{"attachment.mismatch .jpg is application/zip @cat.jpg", "archive.format zip @cat.jpg"}},
		{"exe in zip", msg(named("docs.zip", "application/zip", zipOf(t, zf{name: "docs/invoice.pdf.exe", data: pe()}))),
			[]string{"archive.format zip @docs.zip", "attachment.double_extension pdf.exe @docs.zip/docs/invoice.pdf.exe",
				"attachment.executable pe @docs.zip/docs/invoice.pdf.exe"}},
		{"nested zips", msg(named("a.zip", "application/zip", zipOf(t, zf{name: "b.zip", data: zipOf(t, zf{name: "c.vbs", data: []byte("x")})}))),
			[]string{"archive.format zip @a.zip", "archive.format zip @a.zip/b.zip", "archive.nested 1 @a.zip/b.zip",
				"attachment.executable extension:vbs @a.zip/b.zip/c.vbs"}},
		{"zip bomb", msg(named("bomb.zip", "application/zip", bomb)),
			[]string{"archive.format zip @bomb.zip", "scan.exclusion archive.max_ratio=100 @bomb.zip/zeros.txt"}},
		{"too deep", msg(named("deep.zip", "application/zip", deep)), nil}, // filled in below
		{"encrypted member", msg(named("secret.zip", "application/zip", zipOf(t, zf{name: "a.exe", data: pe(), encrypted: true}))),
			[]string{"archive.format zip @secret.zip", "attachment.executable extension:exe @secret.zip/a.exe",
				"attachment.encrypted zip @secret.zip/a.exe", "scan.exclusion archive.encrypted @secret.zip/a.exe"}},
		{"docm", msg(named("q3.docm", "application/vnd.ms-word.document.macroEnabled.12", docm)),
			[]string{"attachment.macro ooxml @q3.docm/word/vbaProject.bin"}},
		{"docx without macros", msg(named("q3.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", docx)), nil},
		{"doc with macros", msg(named("q3.doc", "application/msword", ole("VBA", 1, "_VBA_PROJECT", 2))),
			[]string{"attachment.macro ole @q3.doc"}},
		{"doc without macros", msg(named("q3.doc", "application/msword", ole("WordDocument", 2))), nil},
		{"encrypted office", msg(named("pay.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ole("EncryptedPackage", 2))),
			[]string{"attachment.mismatch .xlsx is application/x-ole-storage @pay.xlsx", "attachment.encrypted office @pay.xlsx"}},
		{"pdf with javascript", msg(named("a.pdf", "application/pdf", []byte("%PDF-1.4\n1 0 obj <</OpenAction <</S /Java#53cript /JS (app.alert(1))>>>>\n"))),
			[]string{"attachment.pdf_javascript  @a.pdf"}},
		{"rar with an encrypted script", msg(named("a.rar", "application/vnd.rar", rar4("run.vbs", []byte("x"), true))),
			[]string{"archive.format rar @a.rar", "attachment.executable extension:vbs @a.rar/run.vbs",
				"attachment.encrypted rar @a.rar/run.vbs", "scan.exclusion archive.encrypted @a.rar/run.vbs"}},
		{"another name in Content-Type", msg(att{"Content-Type: application/octet-stream; name=\"run.hta\"\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n", []byte("<script>x</script>")}),
			[]string{"attachment.executable extension:hta @run.hta"}},
		{"7z cut short", msg(named("a.7z", "application/x-7z-compressed", []byte("7z\xbc\xaf\x27\x1c\x00\x04rest"))),
			[]string{"archive.format 7z @a.7z", "scan.exclusion archive.corrupt @a.7z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if tc.name == "too deep" {
				want = []string{"archive.format zip @deep.zip"}
				p := "deep.zip"
				for i := 1; i <= 20; i++ {
					p += fmt.Sprintf("/d%d.zip", i)
					want = append(want, "archive.format zip @"+p)
					want = append(want, fmt.Sprintf("archive.nested %d @%s", i, p))
				}
				want = append(want, "scan.exclusion archive.max_depth=20 @"+p)
			}
			got := brief(run(t, Defaults(), tc.msg), false)
			if !slices.Equal(got, want) {
				t.Errorf("findings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestAttachmentFacts checks the findings every file gets: name (RFC 2231
// decoded), extension and true type with size and SHA-256.
func TestAttachmentFacts(t *testing.T) {
	m := msg(att{"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''%E8%AB%8B%E6%B1%82%E6%9B%B8.PDF\r\n", []byte("%PDF-1.4\n")})
	fs := run(t, Defaults(), m)
	got := brief(fs, true)
	want := []string{"attachment.name 請求書.PDF @請求書.PDF", "attachment.extension pdf @請求書.PDF", "attachment.type application/pdf @請求書.PDF"}
	if !slices.Equal(got, want) {
		t.Fatalf("findings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		toml string
		want []string // problem keys
	}{
		{"", nil},
		{"[attachment]\nmax_depth = 3\nmax_bytes = \"10MB\"\nmax_files = 10\nmax_ratio = 50\ntimeout = \"2s\"\n", nil},
		{"[attachment]\nmax_files = 0\nmax_ratio = -1\n", []string{"attachment.max_files", "attachment.max_ratio"}},
		{"[attachment]\ntimeout = \"0s\"\nmax_bytes = \"0\"\n", []string{"attachment.max_bytes", "attachment.timeout"}},
		{"[attachment]\npassword_tries = -1\npassword_candidates = 1001\n", []string{"attachment.password_candidates", "attachment.password_tries"}},
	} {
		src := "[[rule]]\nname = \"x\"\nfindings = [\"attachment.executable\"]\naction = \"quarantine\"\n" + tc.toml
		cfg, r, err := config.Decode("t.toml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, p := range r.Problems {
			keys = append(keys, p.Key)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, tc.want) {
			t.Errorf("%q: problems %+v, want keys %q", tc.toml, r.Problems, tc.want)
		}
		if len(tc.want) == 0 && tc.toml != "" {
			c := config.Section[Config](cfg, Section)
			if c.MaxDepth != 3 || c.MaxBytes.N != 10_000_000 || c.MaxFiles != 10 || c.MaxRatio != 50 || c.Timeout.D != 2*time.Second {
				t.Errorf("decoded %+v", c)
			}
		}
	}
}

// rar4 is a RAR 4 archive of one stored file (see scanner/archive's tests).
func rar4(name string, data []byte, encrypted bool) []byte {
	block := func(typ byte, flags uint16, body []byte) []byte {
		h := append([]byte{typ, byte(flags), byte(flags >> 8), 0, 0}, body...)
		h[3], h[4] = byte(len(h)+2), byte((len(h)+2)>>8)
		crc := crc32.ChecksumIEEE(h)
		return append([]byte{byte(crc), byte(crc >> 8)}, h...)
	}
	out := append([]byte("Rar!\x1a\x07\x00"), block(0x73, 0, make([]byte, 6))...)
	var flags uint16 = 0x8000
	if encrypted {
		flags |= 4
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, 2)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(data))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, 20, 0x30)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(name)))
	b = binary.LittleEndian.AppendUint32(b, 0x20)
	b = append(b, name...)
	out = append(out, block(0x74, flags, b)...)
	out = append(out, data...)
	return append(out, block(0x7b, 0x4000, nil)...)
}

// BenchmarkAttachment is the check on a message with a 10 MB zip of
// ten 1 MB files of mixed bytes.
func BenchmarkAttachment(b *testing.B) {
	var files []zf
	for i := range 10 {
		d := make([]byte, 1<<20)
		for j := range d {
			d[j] = byte((j*7 + i) ^ (j >> 9))
		}
		files = append(files, zf{name: fmt.Sprintf("f%d.bin", i), data: d})
	}
	var bz bytes.Buffer
	zw := zip.NewWriter(&bz)
	for _, f := range files {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Store})
		_, _ = w.Write(f.data)
	}
	_ = zw.Close()
	m := message.ParseBytes(msg(named("big.zip", "application/zip", bz.Bytes())), message.DefaultLimits())
	c := New(Defaults())
	b.SetBytes(int64(bz.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Run(context.Background(), &check.Input{Message: m}); err != nil {
			b.Fatal(err)
		}
	}
}
