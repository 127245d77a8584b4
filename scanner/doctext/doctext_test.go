package doctext

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The fixtures are written by testdata/mkpdf.py and testdata/mkooxml.py.
func TestExtract(t *testing.T) {
	tests := []struct {
		file string
		kind Kind
		want []string // lines or pieces of the text, in order
	}{
		// Lines end at a move down, words part at a TJ gap.
		{"report.pdf", PDF, []string{"Quarterly report\nThis document is CONFIDENTIAL: project Falcon.\n",
			"Pay to card 4111 1111 1111 1111 or see https://pdf-link.example/pay\n", "Second page: café crème (ok)\nnext line\n"}},
		{"memo.docx", DOCX, []string{"Internal memo\nProject Falcon\tis STRICTLY CONFIDENTIAL\n社外秘 & 極秘\nhttps://docx-link.example/x\ndeleted words\n", "footer text"}},
		{"cards.xlsx", XLSX, []string{"Name\nCard number\n", "Alice\t4111111111111111\t\n", "ab"}},
		{"deck.pptx", PPTX, []string{"Slide one: roadmap\n", "Slide two\n", "Slide ten\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := fixture(t, tt.file)
			if k := Detect("x.bin", "application/octet-stream", data); k != tt.kind {
				t.Errorf("Detect = %q; want %q", k, tt.kind)
			}
			text, err := Extract(context.Background(), tt.kind, data, Limits{})
			if err != nil {
				t.Fatalf("Extract: %v (text %q)", err, text)
			}
			rest := text
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("text %q lacks %q (in order)", text, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestUnreadable(t *testing.T) {
	docx := fixture(t, "memo.docx")
	pdfData := fixture(t, "report.pdf")
	ole := append(append([]byte{}, oleMagic...), make([]byte, 504)...)
	tests := []struct {
		name string
		kind Kind
		data []byte
		lim  Limits
		want error
		text string // a piece of the partial text
	}{
		{"encrypted pdf", PDF, fixture(t, "encrypted.pdf"), Limits{}, ErrEncrypted, ""},
		{"encrypted docx (OLE)", DOCX, ole, Limits{}, ErrEncrypted, ""},
		{"truncated pdf", PDF, pdfData[:len(pdfData)/2], Limits{}, ErrCorrupt, ""},
		{"pdf garbage", PDF, []byte("%PDF-1.4\nnot really\n%%EOF\n"), Limits{}, ErrCorrupt, ""},
		{"truncated docx", DOCX, docx[:len(docx)-30], Limits{}, ErrCorrupt, ""},
		{"zip without parts", XLSX, zipOf(t, map[string]string{"a.txt": "x"}), Limits{}, ErrCorrupt, ""},
		{"bad xml", DOCX, zipOf(t, map[string]string{"word/document.xml": "<w:document><w:t>ok</w:t><<<"}), Limits{}, ErrCorrupt, "ok"},
		{"input over the cap", PDF, pdfData, Limits{MaxInputBytes: 100}, ErrLimit, ""},
		{"text over the cap", DOCX, docx, Limits{MaxTextBytes: 10}, ErrLimit, "Internal m"},
		{"pages over the cap", PDF, pdfData, Limits{MaxPages: 1}, ErrLimit, "Quarterly"},
		{"too many files", DOCX, docx, Limits{MaxFiles: 2}, ErrLimit, ""},
		{"unpacked over the cap", DOCX, docx, Limits{MaxUnpackedBytes: 100}, ErrLimit, ""},
		{"ratio", DOCX, zipOf(t, map[string]string{"word/document.xml": "<w:t>" + strings.Repeat("a", 4<<20) + "</w:t>"}), Limits{}, ErrLimit, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := Extract(context.Background(), tt.kind, tt.data, tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v; want %v", err, tt.want)
			}
			if r := Reason(err); r == "error" || r == "" || errors.Is(err, ErrLimit) && !strings.HasPrefix(r, "doctext.") {
				t.Errorf("Reason %q", r)
			}
			if !strings.Contains(text, tt.text) {
				t.Errorf("text %q lacks %q", text, tt.text)
			}
			if tt.lim.MaxTextBytes > 0 && len(text) > tt.lim.MaxTextBytes {
				t.Errorf("text %d bytes over %d", len(text), tt.lim.MaxTextBytes)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, f := range []struct {
		k    Kind
		name string
	}{{PDF, "report.pdf"}, {DOCX, "memo.docx"}} {
		_, err := Extract(ctx, f.k, fixture(t, f.name), Limits{})
		if !errors.Is(err, ErrLimit) || !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err %v; want ErrLimit and context.Canceled", f.name, err)
		}
	}
	_, err := Extract(context.Background(), PDF, fixture(t, "report.pdf"), Limits{Timeout: time.Nanosecond})
	if !errors.Is(err, ErrLimit) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: err %v", err)
	}
}

// TestCyclicPDF: a page tree that loops is ended by the deadline, which
// the library itself has none of.
func TestCyclicPDF(t *testing.T) {
	start := time.Now()
	_, err := Extract(context.Background(), PDF, fixture(t, "cycle.pdf"), Limits{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLimit) || !errors.Is(err, context.DeadlineExceeded) || Reason(err) != "doctext.timeout=200ms" {
		t.Fatalf("err %v (%q) after %v", err, Reason(err), time.Since(start))
	}
}

func TestDetect(t *testing.T) {
	ole := append(append([]byte{}, oleMagic...), 0, 0)
	tests := []struct {
		name, media string
		data        []byte
		want        Kind
	}{
		{"a.pdf", "application/pdf", []byte("%PDF-1.7\n"), PDF},
		{"a.bin", "", []byte("junk\n%PDF-1.7\n"), PDF},
		{"a.pdf", "application/pdf", []byte("not a pdf"), ""},
		{"secret.xlsx", "", ole, XLSX},
		{"old.doc", "application/msword", ole, ""},
		{"a.zip", "application/zip", zipOf(t, map[string]string{"a.txt": "x"}), ""},
		{"a.docx", "", zipOf(t, map[string]string{"word/document.xml": "<x/>"}), DOCX},
	}
	for _, tt := range tests {
		if got := Detect(tt.name, tt.media, tt.data); got != tt.want {
			t.Errorf("Detect(%q, %q) = %q; want %q", tt.name, tt.media, got, tt.want)
		}
	}
}

func TestFixPDFHeader(t *testing.T) {
	for in, want := range map[string]string{
		"%PDF-2.0\nrest": "%PDF-1.7\nrest",
		"%PDF-1.4 \nx":   "%PDF-1.7\n\nx",
		"%PDF-1.4\nx":    "%PDF-1.4\nx",
		"%PDF-":          "%PDF-",
	} {
		if got := string(fixPDFHeader([]byte(in))); got != want {
			t.Errorf("fixPDFHeader(%q) = %q; want %q", in, got, want)
		}
	}
}

func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for n, s := range files {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(s))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func FuzzExtractPDF(f *testing.F) {
	f.Add(fixture(f, "report.pdf"))
	f.Add(fixture(f, "encrypted.pdf"))
	f.Add([]byte("%PDF-1.4\n%%EOF\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		check(t, PDF, b)
	})
}

func FuzzExtractOOXML(f *testing.F) {
	for _, n := range []string{"memo.docx", "cards.xlsx", "deck.pptx"} {
		f.Add(fixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, k := range []Kind{DOCX, XLSX, PPTX} {
			check(t, k, b)
		}
		Detect("a.docx", "", b)
	})
}

func check(t *testing.T, k Kind, b []byte) {
	lim := Limits{MaxTextBytes: 4096, Timeout: time.Second}
	text, err := Extract(context.Background(), k, b, lim)
	if len(text) > lim.MaxTextBytes || !utf8.ValidString(text) {
		t.Fatalf("%s: %d bytes, valid %v", k, len(text), utf8.ValidString(text))
	}
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrEncrypted) && !errors.Is(err, ErrLimit) {
		t.Fatalf("%s: error %v wraps no sentinel", k, err)
	}
}
