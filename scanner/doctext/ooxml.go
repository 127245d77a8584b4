package doctext

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// ooxmlKind tells an OOXML zip by its main part, or "".
func ooxmlKind(data []byte) Kind {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return ""
	}
	for _, f := range zr.File {
		switch f.Name {
		case "word/document.xml":
			return DOCX
		case "xl/workbook.xml":
			return XLSX
		case "ppt/presentation.xml":
			return PPTX
		}
	}
	return ""
}

// ooxmlParts returns the parts whose text a kind shows, in reading order.
func ooxmlParts(k Kind, files []*zip.File) []*zip.File {
	var out []*zip.File
	add := func(match func(string) bool) {
		var sel []*zip.File
		for _, f := range files {
			if match(f.Name) {
				sel = append(sel, f)
			}
		}
		// slide2 before slide10.
		sort.SliceStable(sel, func(i, j int) bool { return partOrder(sel[i].Name) < partOrder(sel[j].Name) })
		out = append(out, sel...)
	}
	xmlIn := func(dir, prefix string) func(string) bool {
		return func(n string) bool {
			rest, ok := strings.CutPrefix(n, dir)
			return ok && strings.HasPrefix(rest, prefix) && strings.HasSuffix(rest, ".xml") && !strings.Contains(rest, "/")
		}
	}
	is := func(name string) func(string) bool { return func(n string) bool { return n == name } }
	switch k {
	case DOCX:
		add(is("word/document.xml"))
		for _, p := range []string{"header", "footer", "footnotes", "endnotes", "comments"} {
			add(xmlIn("word/", p))
		}
	case XLSX:
		add(is("xl/sharedStrings.xml"))
		add(xmlIn("xl/worksheets/", "sheet"))
	case PPTX:
		add(xmlIn("ppt/slides/", "slide"))
		add(xmlIn("ppt/notesSlides/", "notesSlide"))
	}
	return out
}

// partOrder sorts part names by the number in them.
func partOrder(name string) string {
	i := strings.IndexAny(name, "0123456789")
	if i < 0 {
		return name
	}
	j := i
	for j < len(name) && name[j] >= '0' && name[j] <= '9' {
		j++
	}
	n, _ := strconv.Atoi(name[i:j])
	return fmt.Sprintf("%s%09d%s", name[:i], n, name[j:])
}

func extractOOXML(ctx context.Context, k Kind, data []byte, lim Limits, w *textWriter) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, k, err)
	}
	if len(zr.File) > lim.MaxFiles {
		return limitErr(fmt.Sprintf("doctext.max_files=%d", lim.MaxFiles), fmt.Sprintf("%d zip entries", len(zr.File)), nil)
	}
	for _, f := range zr.File {
		if f.Name == "EncryptedPackage" || f.Flags&1 != 0 {
			return fmt.Errorf("%w: %s", ErrEncrypted, k)
		}
	}
	parts := ooxmlParts(k, zr.File)
	if len(parts) == 0 {
		return fmt.Errorf("%w: %s without its text parts", ErrCorrupt, k)
	}
	budget := lim.MaxUnpackedBytes
	for _, f := range parts {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := readPart(ctx, k, f, lim, budget, w)
		budget -= n
		if err != nil {
			return err
		}
		if w.full {
			return nil
		}
	}
	return nil
}

// limitedPart reads a zip entry within the unpacked budget and the ratio.
type limitedPart struct {
	r          io.Reader
	n, budget  int64
	total      int64 // the limit, for the error
	compressed int64
	maxRatio   int64
	err        error
}

const ratioFloor = 1 << 20 // parts smaller than this are not held to the ratio

func (p *limitedPart) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	switch {
	case p.n > p.budget:
		p.err = limitErr(fmt.Sprintf("doctext.max_unpacked_bytes=%d", p.total), "more bytes unpacked", nil)
	case p.n > ratioFloor && p.n > p.maxRatio*max(p.compressed, 1):
		p.err = limitErr(fmt.Sprintf("doctext.max_ratio=%d", p.maxRatio), "a part compressed more than that", nil)
	}
	if p.err != nil {
		return n, p.err
	}
	return n, err
}

// readPart writes the text of one XML part; it returns the bytes unpacked.
func readPart(ctx context.Context, k Kind, f *zip.File, lim Limits, budget int64, w *textWriter) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("%w: %s part %s: %w", ErrCorrupt, k, f.Name, err)
	}
	defer rc.Close()
	lp := &limitedPart{r: rc, budget: budget, total: lim.MaxUnpackedBytes, compressed: int64(f.CompressedSize64), maxRatio: lim.MaxRatio}
	d := xml.NewDecoder(lp)
	d.Strict = false
	var (
		inText  int  // inside a text element
		inValue bool // xlsx: inside a cell's v that is not a shared-string index
		cellT   string
		tokens  int
	)
	for {
		tokens++
		if tokens%4096 == 0 && ctx.Err() != nil {
			return lp.n, ctx.Err()
		}
		tok, err := d.RawToken()
		if err != nil {
			if errors.Is(err, io.EOF) {
				w.newline()
				return lp.n, nil
			}
			if lp.err != nil {
				return lp.n, lp.err
			}
			return lp.n, fmt.Errorf("%w: %s part %s: %w", ErrCorrupt, k, f.Name, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t", "delText":
				inText++
			case "tab":
				w.write("\t")
			case "br", "cr":
				w.write("\n")
			case "c": // xlsx cell
				cellT = ""
				for _, a := range t.Attr {
					if a.Name.Local == "t" {
						cellT = a.Value
					}
				}
			case "v":
				inValue = k == XLSX && cellT != "s"
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t", "delText":
				if inText > 0 {
					inText--
				}
			case "p", "si", "row":
				w.newline()
			case "c":
				w.write("\t")
			case "v":
				inValue = false
			}
		case xml.CharData:
			if inText > 0 || inValue {
				if !w.write(string(t)) {
					return lp.n, nil
				}
			}
		}
	}
}
