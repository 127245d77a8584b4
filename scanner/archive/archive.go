// Package archive walks archives recursively: zip (OOXML documents
// included), tar, gzip, bzip2, xz, rar (its dictionary capped at
// [MaxRarDictionary]) and 7z (github.com/bodgit/sevenzip, behind a
// header guard that caps counts, dictionaries and key derivation; see
// sevenzhdr.go), each member handed to a visitor with
// its path ("outer.zip/inner.tar/evil.exe") and its unpacked bytes.
//
// A password-protected zip (ZipCrypto or WinZip AES, decrypted by hand in
// zipcrypt.go) or 7z is opened with the first of the caller's candidate
// passwords ([Limits.Passwords], found in the message text) that works,
// within [Limits.MaxTries] tries for the whole walk; the Result records
// which candidate opened which archive.
//
// Archives are hostile input. Every read goes through a limit, declared
// sizes are never trusted, and the walk is bounded by [Limits]: nesting
// depth, total unpacked bytes, member count, compression ratio and the
// caller's context. Reaching a limit, a corrupt archive, an encrypted
// member no candidate opens, or a format or feature the walker cannot
// open is not an error: it
// is a [Problem] in the [Result], which the caller reports as
// scan.exclusion, so nothing is ever passed as if it had been scanned.
package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/nwaples/rardecode/v2"
	"github.com/ulikunitz/xz"
)

// Limits bounds one walk. A zero or negative field means its default.
type Limits struct {
	// MaxDepth is the deepest nesting walked: the members of the
	// attachment itself are depth 1. Default 20.
	MaxDepth int
	// MaxBytes bounds the unpacked bytes of the whole walk. Default 60 MB.
	MaxBytes int64
	// MaxFiles bounds the members of the whole walk. Default 353.
	MaxFiles int
	// MaxRatio bounds unpacked/packed size of each member once it has
	// unpacked more than [RatioFloor] bytes. Default 100.
	MaxRatio int64
	// OOXMLMaxFiles and OOXMLMaxRatio are the member count and ratio
	// limits of an OOXML document (docx, xlsx, pptx: a zip with
	// [Content_Types].xml), whose XML parts are many and compress well.
	// Defaults 1000 and 1000.
	OOXMLMaxFiles int
	OOXMLMaxRatio int64
	// Passwords are candidate passwords for encrypted zip and 7z
	// archives, tried in order (one that worked before first). MaxTries
	// bounds the tries of the whole walk; 0 tries none.
	Passwords []string
	MaxTries  int
}

// MaxRarDictionary caps the dictionary a rar member may ask for, which
// the decoder allocates whole (RAR 5 allows 4 GB); WinRAR's default is
// 32 MB.
const MaxRarDictionary = 64 << 20

// RatioFloor is the unpacked size from which the ratio limit applies: a
// small file of zeros may compress a thousandfold and harm no one.
const RatioFloor = 1 << 20

// DefaultLimits returns the default [Limits].
func DefaultLimits() Limits {
	return Limits{MaxDepth: 20, MaxBytes: 60_000_000, MaxFiles: 353, MaxRatio: 100,
		OOXMLMaxFiles: 1000, OOXMLMaxRatio: 1000}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = d.MaxFiles
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.OOXMLMaxFiles <= 0 {
		l.OOXMLMaxFiles = d.OOXMLMaxFiles
	}
	if l.OOXMLMaxRatio <= 0 {
		l.OOXMLMaxRatio = d.OOXMLMaxRatio
	}
	return l
}

// Formats the walker recognises by their magic bytes.
const (
	FormatZip   = "zip"
	FormatOOXML = "ooxml" // a zip with [Content_Types].xml
	FormatTar   = "tar"
	FormatGzip  = "gzip"
	FormatBzip2 = "bzip2"
	FormatXz    = "xz"
	Format7z    = "7z"
	FormatRar   = "rar"
)

// Detect names the archive format of b by its magic bytes, or "".
func Detect(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		return FormatZip
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return FormatGzip
	case len(b) >= 4 && bytes.HasPrefix(b, []byte("BZh")) && b[3] >= '1' && b[3] <= '9':
		return FormatBzip2
	case bytes.HasPrefix(b, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return FormatXz
	case bytes.HasPrefix(b, []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}):
		return Format7z
	case bytes.HasPrefix(b, []byte("Rar!\x1a\x07")):
		return FormatRar
	case len(b) >= 262 && string(b[257:262]) == "ustar":
		return FormatTar
	}
	return ""
}

// Problem limits and reasons: the Limit of a [Problem].
const (
	LimitDepth        = "archive.max_depth"
	LimitBytes        = "archive.max_bytes"
	LimitFiles        = "archive.max_files"
	LimitRatio        = "archive.max_ratio"
	LimitTime         = "archive.time"
	LimitDict         = "archive.max_dictionary"
	ReasonCorrupt     = "archive.corrupt"
	ReasonEncrypt     = "archive.encrypted"
	ReasonUnsupported = "archive.unsupported"
)

// Problem is content the walk left unscanned.
type Problem struct {
	// Path is the archive or member concerned, e.g. "a.zip/b.zip".
	Path string
	// Limit names the limit or reason (one of the Limit and Reason
	// constants); N is the limit's value, 0 for a reason or the time
	// budget.
	Limit string
	N     int64
	// Reason is a sentence for the administrator.
	Reason string
	// Format is the format of the archive an [ReasonEncrypt] problem is
	// in, when its Path is the archive itself (a 7z whose file list is
	// encrypted), else "".
	Format string
}

// Value is the problem as a scan.exclusion value: "archive.max_depth=20",
// or the bare reason ("archive.encrypted").
func (p Problem) Value() string {
	if p.N == 0 {
		return p.Limit
	}
	return fmt.Sprintf("%s=%d", p.Limit, p.N)
}

// Entry is one archive member handed to the visitor.
type Entry struct {
	// Path is the member's path from the attachment: "outer.zip/inner.exe".
	Path string
	// Name is the member's name inside its archive, as stored.
	Name string
	// Depth is 1 for a member of the attachment, 2 for a member of a
	// member, and so on.
	Depth int
	// Container is the format of the archive holding the member.
	Container string
	// Encrypted is set for a password-protected member. Data is then
	// empty unless a candidate password opened it: Password is that
	// candidate's number (1 for the first of [Limits.Passwords]).
	Encrypted bool
	Password  int
	// Data is the unpacked content, possibly cut short at a limit (see
	// the Result's problems). It is only valid during the visit.
	Data []byte
}

// Result is what a walk found besides its entries.
type Result struct {
	// Format is the attachment's archive format, "" when it is none.
	Format string
	// Files is the number of members visited; MaxDepth the deepest.
	Files    int
	MaxDepth int
	// Problems lists what was left unscanned, in the order found.
	Problems []Problem
	// Opened lists the encrypted archives a candidate password opened;
	// Tries counts the passwords tried.
	Opened []Opened
	Tries  int
}

// Opened is an encrypted archive that a candidate password opened.
type Opened struct {
	// Path is the archive ("a.zip", "a.zip/b.7z").
	Path string
	// Candidate is the number of the password that opened it, 1 for the
	// first of [Limits.Passwords]. The password itself is never kept.
	Candidate int
}

type walker struct {
	ctx   context.Context
	lim   Limits
	visit func(*Entry)
	res   *Result
	bytes int64
	seen  map[string]bool // limits already reported
	good  []int           // candidates that opened an archive, first first
}

// tryPasswords tries the candidate passwords with open, those that worked
// before first, within the walk's tries, and returns the number of the one
// that opened (1-based), or 0.
func (w *walker) tryPasswords(open func(password string) bool) int {
	order := append([]int(nil), w.good...)
	for i := range w.lim.Passwords {
		if !slices.Contains(w.good, i) {
			order = append(order, i)
		}
	}
	for _, i := range order {
		if w.res.Tries >= w.lim.MaxTries || w.ctx.Err() != nil {
			return 0
		}
		w.res.Tries++
		if open(w.lim.Passwords[i]) {
			if !slices.Contains(w.good, i) {
				w.good = append(w.good, i)
			}
			return i + 1
		}
	}
	return 0
}

// triedNote says, for a problem's reason, how many passwords were tried.
func (w *walker) triedNote() string {
	switch {
	case len(w.lim.Passwords) == 0 || w.lim.MaxTries == 0:
		return ""
	case w.res.Tries >= w.lim.MaxTries:
		return fmt.Sprintf(" (none of the passwords tried opened it, and the %d tries are spent)", w.lim.MaxTries)
	}
	return fmt.Sprintf(" (none of the %d passwords found in the message opened it)", len(w.lim.Passwords))
}

// opened records that candidate opened the archive at p.
func (w *walker) opened(p string, candidate int) {
	for _, o := range w.res.Opened {
		if o.Path == p {
			return
		}
	}
	w.res.Opened = append(w.res.Opened, Opened{Path: p, Candidate: candidate})
}

// encryptedMember visits a member no password opened, with its problem.
func (w *walker) encryptedMember(mp, name, container string, depth int, files *int) bool {
	if w.stopped() {
		return false
	}
	*files++
	if *files > w.lim.MaxFiles || w.res.Files >= w.lim.MaxFiles {
		w.problem(Problem{Path: mp, Limit: LimitFiles, N: int64(w.lim.MaxFiles),
			Reason: fmt.Sprintf("more than %d files in archives; the rest were not scanned", w.lim.MaxFiles)})
		return false
	}
	w.res.Files++
	w.res.MaxDepth = max(w.res.MaxDepth, depth+1)
	w.visit(&Entry{Path: mp, Name: name, Depth: depth + 1, Container: container, Encrypted: true})
	w.problem(Problem{Path: mp, Limit: ReasonEncrypt, Reason: fmt.Sprintf("%s is password-protected; its content was not scanned%s", mp, w.triedNote())})
	return true
}

// Walk walks data, the content of the attachment name, if it is an
// archive; visit sees every member, nested archives and their members
// included, depth first. A data that is no archive gives a zero Result.
func Walk(ctx context.Context, name string, data []byte, lim Limits, visit func(*Entry)) Result {
	var res Result
	res.Format = Detect(data)
	if res.Format == "" {
		return res
	}
	w := &walker{ctx: ctx, lim: lim.withDefaults(), visit: visit, res: &res, seen: map[string]bool{}}
	w.walk(name, data, res.Format, 0)
	return res
}

func (w *walker) problem(p Problem) {
	key := p.Limit // a limit is reported once, a reason once per path
	switch p.Limit {
	case ReasonCorrupt, ReasonEncrypt, ReasonUnsupported:
		key += "\x00" + p.Path
	}
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	w.res.Problems = append(w.res.Problems, p)
}

// stopped reports whether the walk must end: the context is done or the
// byte or file budget is spent.
func (w *walker) stopped() bool {
	if w.ctx.Err() != nil {
		w.problem(Problem{Limit: LimitTime, Reason: "the time budget for unpacking archives ran out; the rest was not scanned"})
		return true
	}
	return w.seen[LimitBytes] || w.seen[LimitFiles]
}

// walk opens data, an archive of format f at p, whose members are at
// depth+1.
func (w *walker) walk(p string, data []byte, f string, depth int) {
	if w.stopped() {
		return
	}
	if depth+1 > w.lim.MaxDepth {
		w.problem(Problem{Path: p, Limit: LimitDepth, N: int64(w.lim.MaxDepth),
			Reason: fmt.Sprintf("archives nested deeper than %d; the inner ones were not scanned", w.lim.MaxDepth)})
		return
	}
	switch f {
	case FormatZip:
		w.zip(p, data, depth)
	case FormatTar:
		w.tar(p, data, depth)
	case FormatGzip, FormatBzip2, FormatXz:
		w.stream(p, data, f, depth)
	case FormatRar:
		w.rar(p, data, depth)
	case Format7z:
		w.sevenZip(p, data, depth)
	default:
		w.problem(Problem{Path: p, Limit: ReasonUnsupported,
			Reason: fmt.Sprintf("%s archives are not unpacked; the content was not scanned", f)})
	}
}

// member reads one member through the limits and visits it, then walks
// it when it is an archive itself. packed is its packed size, the bytes
// its decompressor can read (0 when not known: a tar member is stored).
// password is the number of the candidate that decrypted it, or 0.
func (w *walker) member(p, name, container string, r io.Reader, packed int64, depth int, maxFiles int, maxRatio int64, files *int, password int) bool {
	if w.stopped() {
		return false
	}
	*files++
	// An OOXML document's parts count against its own limit only.
	if *files > maxFiles || (container != FormatOOXML && w.res.Files >= w.lim.MaxFiles) {
		n := w.lim.MaxFiles
		if *files > maxFiles {
			n = maxFiles
		}
		w.problem(Problem{Path: p, Limit: LimitFiles, N: int64(n),
			Reason: fmt.Sprintf("more than %d files in archives; the rest were not scanned", n)})
		return false
	}
	w.res.Files++
	w.res.MaxDepth = max(w.res.MaxDepth, depth+1)
	left := w.lim.MaxBytes - w.bytes
	readCap := left + 1
	ratioCap := int64(-1)
	if packed > 0 {
		ratioCap = max(packed*maxRatio, RatioFloor) + 1
		readCap = min(readCap, ratioCap)
	}
	data, err := io.ReadAll(io.LimitReader(ctxReader{w.ctx, r}, readCap))
	w.bytes += int64(len(data))
	e := &Entry{Path: p, Name: name, Depth: depth + 1, Container: container, Encrypted: password > 0, Password: password}
	switch {
	case int64(len(data)) == ratioCap && ratioCap <= left+1:
		data = data[:len(data)-1]
		w.problem(Problem{Path: p, Limit: LimitRatio, N: maxRatio,
			Reason: fmt.Sprintf("%s unpacks to more than %d times its packed size (a decompression bomb?); the rest was not scanned", p, maxRatio)})
	case int64(len(data)) > left:
		data = data[:left]
		w.bytes = w.lim.MaxBytes
		w.problem(Problem{Path: p, Limit: LimitBytes, N: w.lim.MaxBytes,
			Reason: fmt.Sprintf("archives unpack to more than %d bytes; the rest was not scanned", w.lim.MaxBytes)})
	case err != nil && w.ctx.Err() != nil:
		w.stopped()
	case err != nil:
		w.problem(Problem{Path: p, Limit: ReasonCorrupt, Reason: fmt.Sprintf("%s could not be unpacked: %v", p, err)})
	}
	e.Data = data
	w.visit(e)
	if f := Detect(data); f != "" {
		w.walk(p, data, f, depth+1)
	}
	return true
}

func (w *walker) zip(p string, data []byte, depth int) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		w.problem(Problem{Path: p, Limit: ReasonCorrupt, Reason: fmt.Sprintf("%s is not a readable zip archive: %v", p, err)})
		return
	}
	container, maxFiles, maxRatio := FormatZip, w.lim.MaxFiles, w.lim.MaxRatio
	if isOOXML(zr) {
		container, maxFiles, maxRatio = FormatOOXML, w.lim.OOXMLMaxFiles, w.lim.OOXMLMaxRatio
	}
	if depth == 0 && container == FormatOOXML {
		w.res.Format = FormatOOXML
	}
	files := 0
	password := 0 // the candidate that opened this archive's members
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue // a directory
		}
		mp := p + "/" + f.Name
		if f.Flags&1 != 0 {
			if w.stopped() {
				return
			}
			packed := packedSize(f.CompressedSize64, data)
			maxOut := min(w.lim.MaxBytes-w.bytes, max(packed*maxRatio, RatioFloor))
			var plain []byte
			open := func(pw string) bool {
				out, err := zipDecrypt(f, pw, maxOut)
				plain = out
				return err == nil
			}
			n := 0
			if password > 0 && open(w.lim.Passwords[password-1]) {
				n = password
			} else {
				n = w.tryPasswords(open)
			}
			if n == 0 {
				if !w.encryptedMember(mp, f.Name, container, depth, &files) {
					return
				}
				continue
			}
			password = n
			w.opened(p, n)
			if !w.member(mp, f.Name, container, bytes.NewReader(plain), packed, depth, maxFiles, maxRatio, &files, n) {
				return
			}
			continue
		}
		rc, err := f.Open()
		if err != nil {
			w.problem(Problem{Path: mp, Limit: ReasonCorrupt, Reason: fmt.Sprintf("%s could not be unpacked: %v", mp, err)})
			continue
		}
		ok := w.member(mp, f.Name, container, rc, packedSize(f.CompressedSize64, data), depth, maxFiles, maxRatio, &files, 0)
		rc.Close()
		if !ok {
			return
		}
	}
}

func (w *walker) tar(p string, data []byte, depth int) {
	tr := tar.NewReader(bytes.NewReader(data))
	files := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			w.problem(Problem{Path: p, Limit: ReasonCorrupt, Reason: fmt.Sprintf("%s is not a readable tar archive: %v", p, err)})
			return
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		// A tar member is stored, not compressed: its packed size is its
		// length in data, which bounds what the reader gives.
		if !w.member(p+"/"+h.Name, h.Name, FormatTar, tr, 0, depth, w.lim.MaxFiles, w.lim.MaxRatio, &files, 0) {
			return
		}
	}
}

// stream unpacks a single-stream compressor; its one member is named by
// the gzip header, or by p without its compression extension.
func (w *walker) stream(p string, data []byte, f string, depth int) {
	var r io.Reader
	var err error
	name := streamName(path.Base(p))
	switch f {
	case FormatGzip:
		var zr *gzip.Reader
		zr, err = gzip.NewReader(bytes.NewReader(data))
		if err == nil {
			if zr.Name != "" {
				name = path.Base(zr.Name)
			}
			r = zr
		}
	case FormatBzip2:
		r = bzip2.NewReader(bytes.NewReader(data))
	case FormatXz:
		r, err = xz.NewReader(bytes.NewReader(data))
	}
	if err != nil {
		w.problem(Problem{Path: p, Limit: ReasonCorrupt, Reason: fmt.Sprintf("%s could not be unpacked: %v", p, err)})
		return
	}
	files := 0
	w.member(p+"/"+name, name, f, r, int64(len(data)), depth, w.lim.MaxFiles, w.lim.MaxRatio, &files, 0)
}

func (w *walker) rar(p string, data []byte, depth int) {
	rr, err := rardecode.NewReader(bytes.NewReader(data), rardecode.MaxDictionarySize(MaxRarDictionary))
	if err != nil {
		w.rarError(p, err)
		return
	}
	files := 0
	for {
		h, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			w.rarError(p, err)
			return
		}
		if h.IsDir {
			continue
		}
		mp := p + "/" + h.Name
		if h.Encrypted {
			if !w.encryptedMember(mp, h.Name, FormatRar, depth, &files) {
				return
			}
			continue
		}
		if !w.member(mp, h.Name, FormatRar, rr, packedSize(uint64(max(h.PackedSize, 0)), data), depth, w.lim.MaxFiles, w.lim.MaxRatio, &files, 0) {
			return
		}
	}
}

// rarError reports why a rar archive could not be walked (further).
func (w *walker) rarError(p string, err error) {
	switch {
	case errors.Is(err, rardecode.ErrArchiveEncrypted), errors.Is(err, rardecode.ErrArchivedFileEncrypted):
		w.problem(Problem{Path: p, Limit: ReasonEncrypt, Reason: fmt.Sprintf("%s is password-protected; its content was not scanned", p)})
	case errors.Is(err, rardecode.ErrDictionaryTooLarge):
		w.problem(Problem{Path: p, Limit: LimitDict, N: MaxRarDictionary,
			Reason: fmt.Sprintf("%s needs a dictionary larger than %d bytes; it was not unpacked", p, MaxRarDictionary)})
	default:
		w.problem(Problem{Path: p, Limit: ReasonCorrupt, Reason: fmt.Sprintf("%s is not a readable rar archive: %v", p, err)})
	}
}

// packedSize is a member's declared packed size for the ratio limit,
// at least 1 and at most the archive's size: a header claiming more does
// not buy the member a larger allowance.
func packedSize(declared uint64, archive []byte) int64 {
	return int64(max(min(declared, uint64(len(archive))), 1))
}

// streamName is the name of the file a compressed file name holds:
// "a.txt" for "a.txt.gz", "a.tar" for "a.tgz".
func streamName(n string) string {
	l := strings.ToLower(n)
	for _, s := range []struct{ ext, repl string }{{".tgz", ".tar"}, {".tbz2", ".tar"}, {".tbz", ".tar"}, {".txz", ".tar"},
		{".gz", ""}, {".bz2", ""}, {".xz", ""}} {
		if strings.HasSuffix(l, s.ext) && len(n) > len(s.ext) {
			return n[:len(n)-len(s.ext)] + s.repl
		}
	}
	return n
}

// ctxReader ends a read when the context is done, so a slow decompressor
// keeps to the time budget.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	return c.r.Read(p)
}

// Kind is [Detect], telling an OOXML document from another zip as the
// walk does: by a [Content_Types].xml member.
func Kind(b []byte) string {
	f := Detect(b)
	if f != FormatZip {
		return f
	}
	if zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err == nil && isOOXML(zr) {
		return FormatOOXML
	}
	return f
}

func isOOXML(zr *zip.Reader) bool {
	for _, f := range zr.File {
		if f.Name == "[Content_Types].xml" {
			return true
		}
	}
	return false
}
