package doctext

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ledongthuc/pdf"
)

// ctxReaderAt is the document as the PDF library reads it: every read
// checks the context, so that the library, which cannot be interrupted
// otherwise, stops (by a panic it or extractPDF recovers) once the deadline
// has passed.
type ctxReaderAt struct {
	ctx context.Context
	r   *bytes.Reader
}

// errStop is what ctxReaderAt panics with.
var errStop = errors.New("doctext: deadline")

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if c.ctx.Err() != nil {
		panic(errStop)
	}
	return c.r.ReadAt(p, off)
}

func extractPDF(ctx context.Context, data []byte, lim Limits, w *textWriter) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
				return
			}
			err = fmt.Errorf("%w: pdf: the reader failed: %v", ErrCorrupt, truncate(fmt.Sprint(r), 120))
		}
	}()
	data = fixPDFHeader(data)
	ra := ctxReaderAt{ctx: ctx, r: bytes.NewReader(data)}
	r, err := pdf.NewReader(ra, int64(len(data)))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, pdf.ErrInvalidPassword) || bytes.Contains(data, []byte("/Encrypt")) {
			return fmt.Errorf("%w: pdf: %w", ErrEncrypted, err)
		}
		return fmt.Errorf("%w: pdf: %w", ErrCorrupt, err)
	}
	n := r.NumPage()
	if total := n; n > lim.MaxPages {
		defer func() {
			if err == nil {
				err = limitErr(fmt.Sprintf("doctext.max_pages=%d", lim.MaxPages), fmt.Sprintf("%d pages; the rest was not read", total), nil)
			}
		}()
		n = lim.MaxPages
	}
	var firstErr error
	for i := 1; i <= n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		// Each page's own fonts: pages may give one name to different
		// fonts, which a cache by name across pages would mix up.
		text, err := p.GetPlainText(nil)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("%w: pdf page %d: %w", ErrCorrupt, i, err)
			}
			continue
		}
		if !w.write(text) {
			return nil
		}
		w.newline()
	}
	return firstErr
}

// fixPDFHeader gives a "%PDF-2.0" file, or one whose header line ends in
// a space, the "%PDF-1.7\n" header the library insists on; readers open
// both. The copy is made only then.
func fixPDFHeader(data []byte) []byte {
	if len(data) < 9 || !bytes.HasPrefix(data, []byte("%PDF-")) {
		return data
	}
	if bytes.HasPrefix(data, []byte("%PDF-1.")) && data[7] >= '0' && data[7] <= '7' && (data[8] == '\r' || data[8] == '\n') {
		return data
	}
	if data[6] != '.' || data[8] != '\r' && data[8] != '\n' && data[8] != ' ' {
		return data
	}
	out := bytes.Clone(data)
	copy(out, "%PDF-1.7\n")
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

var _ io.ReaderAt = ctxReaderAt{}
