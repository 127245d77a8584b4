// Package doctext extracts the text of document attachments for the checks
// that match text (keyword lists, DLP templates, URLs): PDF, and the Office
// Open XML formats DOCX, XLSX and PPTX.
//
// The OOXML formats are zip files of XML parts and are read with
// archive/zip and encoding/xml (which expands no entities but the five
// predefined ones, so an XML bomb has nothing to multiply):
//   - DOCX: the w:t runs (and w:delText, text deleted under tracked
//     changes, which is still in the file) of word/document.xml, the
//     headers, footers, footnotes, endnotes and comments;
//   - XLSX: xl/sharedStrings.xml, and the inline strings and values of the
//     cells of every worksheet, a tab between cells and a line per row;
//   - PPTX: the a:t runs of every slide and its notes.
//
// PDF is read with github.com/ledongthuc/pdf, a maintained fork of
// rsc.io/pdf with text extraction that has no dependencies (pdfcpu, the
// other maintained Go PDF library, extracts no text). The content streams
// are interpreted here, over the library's parser and font encodings
// (ToUnicode maps included), so that line moves end lines and gaps part
// words; text drawn as images is not seen. A PDF with an empty user password is
// decrypted; one that needs a password is [ErrEncrypted].
//
// Every document is hostile input, so [Extract] is bounded by [Limits]: the
// input size, the text written, the pages read, the zip entries, the bytes
// unpacked and the compression ratio of each part, and a deadline. The PDF
// library panics on some malformed files; a panic is recovered and is
// [ErrCorrupt]. The library cannot be interrupted inside one content
// stream, so the deadline is checked at every read of the file, which the
// library does while it inflates a stream. Going over a bound is an error
// wrapping [ErrLimit], with the text read so far.
package doctext

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is a document format.
type Kind string

// The formats.
const (
	PDF  Kind = "pdf"
	DOCX Kind = "docx"
	XLSX Kind = "xlsx"
	PPTX Kind = "pptx"
)

// Errors. An unreadable document's error wraps one of them.
var (
	// ErrCorrupt is a document that cannot be parsed.
	ErrCorrupt = errors.New("doctext: corrupt document")
	// ErrEncrypted is a document that needs a password.
	ErrEncrypted = errors.New("doctext: encrypted document")
	// ErrLimit is a bound of [Limits] reached.
	ErrLimit = errors.New("doctext: limit reached")
)

// Limits bounds [Extract]. Zero fields mean their defaults.
type Limits struct {
	// MaxInputBytes is the largest document read. Default 20 MiB.
	MaxInputBytes int64
	// MaxTextBytes caps the text extracted from one document. Default
	// 2 MiB.
	MaxTextBytes int
	// MaxPages caps the PDF pages read. Default 2000.
	MaxPages int
	// MaxFiles caps the zip entries of an OOXML document. Default 2000.
	MaxFiles int
	// MaxUnpackedBytes caps the bytes unpacked from an OOXML document's
	// parts. Default 100 MiB.
	MaxUnpackedBytes int64
	// MaxRatio caps the compression ratio of an OOXML part bigger than
	// 1 MiB unpacked. Default 100.
	MaxRatio int64
	// Timeout bounds one document, within the context's deadline. Default
	// 3 s.
	Timeout time.Duration
}

// DefaultLimits returns the default [Limits].
func DefaultLimits() Limits {
	return Limits{
		MaxInputBytes:    20 << 20,
		MaxTextBytes:     2 << 20,
		MaxPages:         2000,
		MaxFiles:         2000,
		MaxUnpackedBytes: 100 << 20,
		MaxRatio:         100,
		Timeout:          3 * time.Second,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxInputBytes <= 0 {
		l.MaxInputBytes = d.MaxInputBytes
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = d.MaxTextBytes
	}
	if l.MaxPages <= 0 {
		l.MaxPages = d.MaxPages
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = d.MaxFiles
	}
	if l.MaxUnpackedBytes <= 0 {
		l.MaxUnpackedBytes = d.MaxUnpackedBytes
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	return l
}

// Detect returns the format of a document from its content, with its file
// name and media type to tell the OOXML formats apart when the zip does not
// say, or "" when it is none of them. A zip or an OLE compound file named as
// OOXML is reported as that kind even when it holds no OOXML part: [Extract]
// then says it is corrupt, or, for OLE (which is how Office writes a
// document with a password), encrypted.
func Detect(name, mediaType string, data []byte) Kind {
	ext := strings.ToLower(path.Ext(name))
	switch {
	case hasPDFHeader(data):
		return PDF
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		if k := ooxmlKind(data); k != "" {
			return k
		}
		// A zip named as OOXML that is not one is a document that cannot
		// be read, not no document.
		if k := byName(ext, mediaType); k != "" && k != PDF {
			return k
		}
	case bytes.HasPrefix(data, oleMagic):
		if k := byName(ext, mediaType); k != "" && k != PDF {
			return k
		}
	}
	return ""
}

var oleMagic = []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}

// hasPDFHeader reports whether "%PDF-" is in the first KiB, where readers
// look for it.
func hasPDFHeader(data []byte) bool {
	return bytes.Contains(data[:min(len(data), 1024)], []byte("%PDF-"))
}

// KindByName is the format a file name's extension or a media type names,
// or "": what a document claims to be, before its content is seen.
func KindByName(name, mediaType string) Kind {
	return byName(strings.ToLower(path.Ext(name)), strings.ToLower(mediaType))
}

func byName(ext, mediaType string) Kind {
	switch {
	case ext == ".docx" || ext == ".docm" || strings.Contains(mediaType, "wordprocessingml"):
		return DOCX
	case ext == ".xlsx" || ext == ".xlsm" || strings.Contains(mediaType, "spreadsheetml"):
		return XLSX
	case ext == ".pptx" || ext == ".pptm" || strings.Contains(mediaType, "presentationml"):
		return PPTX
	case ext == ".pdf" || mediaType == "application/pdf":
		return PDF
	}
	return ""
}

// Extract returns the text of a document of kind k. On an error the text
// read so far is returned too; the error wraps [ErrCorrupt], [ErrEncrypted]
// or [ErrLimit], or is the context's.
func Extract(ctx context.Context, k Kind, data []byte, lim Limits) (string, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxInputBytes {
		return "", limitErr(fmt.Sprintf("doctext.max_input_bytes=%d", lim.MaxInputBytes), fmt.Sprintf("the document is %d bytes", len(data)), nil)
	}
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	w := &textWriter{max: lim.MaxTextBytes}
	var err error
	switch k {
	case PDF:
		err = extractPDF(ctx, data, lim, w)
	case DOCX, XLSX, PPTX:
		if bytes.HasPrefix(data, oleMagic) {
			return "", fmt.Errorf("%w: an OLE container named as %s, as Office writes a document with a password", ErrEncrypted, k)
		}
		err = extractOOXML(ctx, k, data, lim, w)
	default:
		return "", fmt.Errorf("%w: unknown kind %q", ErrCorrupt, k)
	}
	if err == nil && w.full {
		err = limitErr(fmt.Sprintf("doctext.max_text_bytes=%d", lim.MaxTextBytes), "more text than that; the rest was not read", nil)
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrLimit) {
		err = limitErr("doctext.timeout="+lim.Timeout.String(), "reading took too long (or the check's budget ended)", ctx.Err())
	}
	return w.b.String(), err
}

// LimitError is an [Extract] error for a bound reached. It is [ErrLimit].
type LimitError struct {
	// Limit names the bound as "doctext.max_pages=2000".
	Limit string
	// Detail says what went over it.
	Detail string
	// Err is the context's error for doctext.timeout, or nil.
	Err error
}

func limitErr(limit, detail string, err error) *LimitError {
	return &LimitError{Limit: limit, Detail: detail, Err: err}
}

func (e *LimitError) Error() string        { return "doctext: " + e.Detail + " (" + e.Limit + ")" }
func (e *LimitError) Is(target error) bool { return target == ErrLimit }
func (e *LimitError) Unwrap() error        { return e.Err }

// Reason is the short form of an [Extract] error, for a finding's value:
// "encrypted", "corrupt", or the bound reached ("doctext.max_pages=2000").
func Reason(err error) string {
	var le *LimitError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &le):
		return le.Limit
	case errors.Is(err, ErrEncrypted):
		return "encrypted"
	case errors.Is(err, ErrCorrupt):
		return "corrupt"
	}
	return "error"
}

// textWriter collects text up to max bytes.
type textWriter struct {
	b    strings.Builder
	max  int
	full bool
}

// write appends s, made valid UTF-8, cut at max; it reports whether there is
// room for more.
func (w *textWriter) write(s string) bool {
	if w.full {
		return false
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if room := w.max - w.b.Len(); len(s) > room {
		for room > 0 && !utf8.RuneStart(s[room]) {
			room--
		}
		s = s[:room]
		w.full = true
	}
	w.b.WriteString(s)
	return !w.full
}

// newline ends a line unless the text is empty or already ends one.
func (w *textWriter) newline() {
	if n := w.b.Len(); n > 0 && w.b.String()[n-1] != '\n' {
		w.write("\n")
	}
}
