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
		if err := pageText(p, w); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("%w: pdf page %d: %w", ErrCorrupt, i, err)
			}
		}
		if w.full {
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

// errFull stops the interpretation of a page once the text is full.
var errFull = errors.New("doctext: text full")

// pageText writes the text a page's content stream shows. It is the
// library's Page.GetPlainText with what matching needs added: a text
// object, a move to another line (Td, TD with a vertical move, T*, ', ")
// ends a line, and a move along the line, a new text matrix or a TJ gap
// wider than a fifth of an em is a space, so that words on separate lines
// or cells do not run together. Each page's own fonts are used: pages may
// give one name to different fonts.
func pageText(p pdf.Page, w *textWriter) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if r == errFull {
				return
			}
			if e, ok := r.(error); ok && errors.Is(e, errStop) {
				panic(r) // the deadline: extractPDF's recover
			}
			err = fmt.Errorf("%v", truncate(fmt.Sprint(r), 120))
		}
	}()
	strm := p.V.Key("Contents")
	if strm.Kind() == pdf.Null {
		return nil
	}
	encs := map[string]pdf.TextEncoding{}
	for _, name := range p.Fonts() {
		f := p.Font(name)
		encs[name] = f.Encoder()
	}
	var enc pdf.TextEncoding = latin1{}
	sep := ""
	show := func(raw string) {
		t := enc.Decode(raw)
		if t == "" {
			return
		}
		if sep != "" && w.b.Len() > 0 {
			last := w.b.String()[w.b.Len()-1]
			if last != ' ' && last != '\n' {
				w.write(sep)
			}
		}
		sep = ""
		if !w.write(t) {
			panic(errFull)
		}
	}
	brk := func(s string) {
		if s == "\n" || sep == "" {
			sep = s
		}
	}
	pdf.Interpret(strm, func(stk *pdf.Stack, op string) {
		args := make([]pdf.Value, stk.Len())
		for i := len(args) - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		switch op {
		case "BT", "T*":
			brk("\n")
		case "Td", "TD":
			if len(args) == 2 {
				switch {
				case args[1].Float64() != 0:
					brk("\n")
				case args[0].Float64() != 0:
					brk(" ")
				}
			}
		case "Tm":
			brk(" ")
		case "Tf":
			if len(args) == 2 {
				if e, ok := encs[args[0].Name()]; ok && e != nil {
					enc = e
				} else {
					enc = latin1{}
				}
			}
		case "Tj":
			if len(args) == 1 {
				show(args[0].RawString())
			}
		case "'", "\"":
			brk("\n")
			if len(args) > 0 {
				show(args[len(args)-1].RawString())
			}
		case "TJ":
			if len(args) != 1 {
				return
			}
			a := args[0]
			for i := 0; i < a.Len(); i++ {
				x := a.Index(i)
				if x.Kind() == pdf.String {
					show(x.RawString())
				} else if x.Float64() < -200 { // thousandths of an em
					brk(" ")
				}
			}
		}
	})
	return nil
}

// latin1 is the encoding of text in no known font: bytes as Latin-1, so
// that the text stays valid UTF-8.
type latin1 struct{}

func (latin1) Decode(raw string) string {
	b := make([]rune, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		b = append(b, rune(raw[i]))
	}
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

var _ io.ReaderAt = ctxReaderAt{}
