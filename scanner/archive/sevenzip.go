package archive

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/bodgit/sevenzip"
)

// sevenZip walks a 7z archive with github.com/bodgit/sevenzip, once
// check7z has found its header within bounds. An encrypted header or
// encrypted content is opened with the first candidate password that
// works, if any.
func (w *walker) sevenZip(p string, data []byte, depth int) {
	info, err := check7z(data, "")
	password, candidate := "", 0
	if errors.Is(err, err7zEncrypted) {
		candidate = w.tryPasswords(func(pw string) bool {
			i, err := check7z(data, pw)
			if err == nil {
				info = i
			}
			return err == nil
		})
		if candidate == 0 {
			w.problem(Problem{Path: p, Limit: ReasonEncrypt, Format: Format7z,
				Reason: fmt.Sprintf("%s is password-protected, its file list too; its content was not scanned%s", p, w.triedNote())})
			return
		}
		password, err = w.lim.Passwords[candidate-1], nil
	}
	if err != nil {
		w.sevenZipError(p, err)
		return
	}
	r, err := open7z(data, password)
	if err != nil {
		w.sevenZipError(p, err)
		return
	}
	// Content in encrypted folders needs a password: the first candidate
	// that decrypts the first such file to its CRC.
	if candidate == 0 && len(info.encrypted) > 0 {
		if f := first7z(r, info); f != nil {
			candidate = w.tryPasswords(func(pw string) bool {
				r2, err := open7z(data, pw)
				if err != nil {
					return false
				}
				return verify7z(r2.File[f.idx])
			})
		}
		if candidate > 0 {
			// A fresh reader: the one verified has read ahead.
			if r, err = open7z(data, w.lim.Passwords[candidate-1]); err != nil {
				w.sevenZipError(p, err)
				return
			}
		}
	}
	if candidate > 0 {
		w.opened(p, candidate)
	}
	files := 0
	pos := map[int]int64{}  // per folder, the offset unpacked so far
	next := map[int]int64{} // per folder, the offset of the next file
	for _, f := range r.File {
		if f.FileInfo().IsDir() {
			continue
		}
		mp := p + "/" + f.Name
		off := next[f.Stream]
		if f.UncompressedSize > 0 {
			next[f.Stream] = off + int64(f.UncompressedSize)
		}
		if info.encrypted[f.Stream] && candidate == 0 && f.UncompressedSize > 0 {
			if !w.encryptedMember(mp, f.Name, Format7z, depth, &files) {
				return
			}
			continue
		}
		// A solid folder is unpacked from its start: the bytes between
		// what was read and this file count against the byte budget.
		if skip := off - pos[f.Stream]; skip > 0 {
			if w.bytes+skip > w.lim.MaxBytes {
				w.bytes = w.lim.MaxBytes
				w.problem(Problem{Path: mp, Limit: LimitBytes, N: w.lim.MaxBytes,
					Reason: fmt.Sprintf("archives unpack to more than %d bytes (a solid 7z block); the rest was not scanned", w.lim.MaxBytes)})
				return
			}
			w.bytes += skip
		}
		rc, err := safe7zOpen(f)
		if err != nil {
			w.sevenZipError(mp, err)
			continue
		}
		cr := &countReader{r: rc}
		ok := w.member(mp, f.Name, Format7z, cr, int64(len(data)), depth, w.lim.MaxFiles, w.lim.MaxRatio, &files, candidate)
		safe7zClose(rc)
		if f.UncompressedSize > 0 { // an empty file has no folder
			pos[f.Stream] = off + cr.n
		}
		if !ok {
			return
		}
	}
}

// open7z opens data with the library, its panics made errors.
func open7z(data []byte, password string) (r *sevenzip.Reader, err error) {
	defer func() {
		if v := recover(); v != nil {
			r, err = nil, fmt.Errorf("%w: %v", err7zCorrupt, v)
		}
	}()
	return sevenzip.NewReaderWithPassword(bytes.NewReader(data), int64(len(data)), password)
}

func safe7zOpen(f *sevenzip.File) (rc io.ReadCloser, err error) {
	defer func() {
		if v := recover(); v != nil {
			rc, err = nil, fmt.Errorf("%w: %v", err7zCorrupt, v)
		}
	}()
	return f.Open()
}

func safe7zClose(rc io.Closer) {
	defer func() { _ = recover() }()
	_ = rc.Close()
}

type file7z struct{ idx int }

// first7z is the first non-empty file of an encrypted folder.
func first7z(r *sevenzip.Reader, info *info7z) *file7z {
	for i, f := range r.File {
		if !f.FileInfo().IsDir() && f.UncompressedSize > 0 && info.encrypted[f.Stream] {
			return &file7z{i}
		}
	}
	return nil
}

// verify7zMax is the most of a file read to check a password by its CRC.
const verify7zMax = 4 << 20

// verify7z says whether f decrypts and unpacks to its CRC (or, for a file
// larger than verify7zMax, unpacks without an error).
func verify7z(f *sevenzip.File) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	rc, err := f.Open()
	if err != nil {
		return false
	}
	defer rc.Close()
	h := crc32.NewIEEE()
	n, err := io.Copy(h, io.LimitReader(rc, verify7zMax))
	if err != nil {
		return false
	}
	return n < int64(f.UncompressedSize) || h.Sum32() == f.CRC32
}

// sevenZipError reports why a 7z archive or member was not walked.
func (w *walker) sevenZipError(p string, err error) {
	var le *limit7zError
	var re *sevenzip.ReadError
	switch {
	case errors.As(err, &le):
		w.problem(Problem{Path: p, Limit: le.limit, N: le.n, Reason: fmt.Sprintf("%s: the %s; it was not unpacked", p, err.Error()[len("archive: 7z "):])})
	case errors.Is(err, err7zUnsupported):
		w.problem(Problem{Path: p, Limit: ReasonUnsupported, Reason: fmt.Sprintf("%s was not unpacked: %v", p, err)})
	case errors.As(err, &re) && re.Encrypted, errors.Is(err, err7zEncrypted), errors.Is(err, err7zPassword):
		w.problem(Problem{Path: p, Limit: ReasonEncrypt, Format: Format7z, Reason: fmt.Sprintf("%s is password-protected; its content was not scanned", p)})
	default:
		w.problem(Problem{Path: p, Limit: ReasonCorrupt, Reason: fmt.Sprintf("%s is not a readable 7z archive: %v", p, err)})
	}
}

// countReader counts the bytes read through it, and turns a panic of the
// library's decoders into an error.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("%w: %v", err7zCorrupt, v)
		}
	}()
	n, err = c.r.Read(p)
	c.n += int64(n)
	return n, err
}
