// Package attachment inspects every attachment of a message, and every
// file inside its archives (scanner/archive), at end of message: its
// declared name and type, its extensions (double ones included), its size
// and SHA-256, its true type from the content (gabriel-vasile/mimetype),
// and whether it is an executable, an office document with macros, a PDF
// with JavaScript, encrypted, or an archive. Each is a finding for rules:
//
//	attachment.name             every named attachment or archive member; value: the name
//	attachment.extension        value: the last extension, lower case ("exe")
//	attachment.double_extension an executable extension after another ("invoice.pdf.exe"); value "pdf.exe"
//	attachment.type             value: the true type; the reason gives declared type, size and SHA-256
//	attachment.mismatch         the name or declared type says one type, the content another
//	attachment.executable       PE, ELF, Mach-O, Java class, Windows shortcut by content, scripts by extension
//	attachment.macro            OOXML with vbaProject.bin, or OLE with a VBA storage
//	attachment.pdf_javascript   a PDF with /JavaScript or /JS actions
//	attachment.encrypted        a password-protected zip, 7z or rar member (opened or not), an encrypted 7z file list, encrypted Office or PDF file
//	archive.format              an archive; value: zip, tar, gzip, bzip2, xz, 7z or rar
//	archive.nested              an archive inside an archive (a tar in gzip, bzip2 or xz is one); value: its depth
//	archive.password_opened     an encrypted zip or 7z that a password from the message text opened; value: the archive
//
// An encrypted zip (ZipCrypto or WinZip AES) or 7z is tried with the
// passwords the message's subject and text give ([Passwords]): at most
// password_candidates of them, and password_tries tries for the whole
// message. One that opens the archive has its content scanned like any
// other (names, types, executables, nested archives), keeps
// attachment.encrypted, and gives archive.password_opened instead of
// scan.exclusion. The reason names the candidate by its number; the
// password itself is never reported or logged.
//
// Where is "attachment:NAME", or "attachment:outer.zip/inner.exe" for an
// archive member; a nameless attachment is "attachment:part:N". An archive
// the walk could not finish (a [attachment] limit, corrupt, encrypted
// with no password found, or a format or feature not unpacked) gives
// scan.exclusion, value the limit ("archive.max_ratio=100")
// or the reason ("archive.encrypted"), so it is never passed as scanned.
// scan.exclusion is declared by the mime check; this check reports it too,
// and runs whenever a rule names one of its own findings.
package attachment

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/gabriel-vasile/mimetype"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner/archive"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// The findings this check reports.
const (
	FindingName            = "attachment.name"
	FindingExtension       = "attachment.extension"
	FindingDoubleExtension = "attachment.double_extension"
	FindingType            = "attachment.type"
	FindingMismatch        = "attachment.mismatch"
	FindingExecutable      = "attachment.executable"
	FindingMacro           = "attachment.macro"
	FindingPDFJavaScript   = "attachment.pdf_javascript"
	FindingEncrypted       = "attachment.encrypted"
	FindingArchive         = "archive.format"
	FindingNested          = "archive.nested"
	FindingPasswordOpened  = "archive.password_opened"
)

// Section is the config table, [attachment].
const Section = "attachment"

// Config is the [attachment] table: the limits of the archive walk.
type Config struct {
	// MaxDepth is the deepest archive nesting unpacked; the files of an
	// attached archive are depth 1.
	MaxDepth int `toml:"max_depth"`
	// MaxBytes bounds the unpacked bytes of one message's archives.
	MaxBytes config.Size `toml:"max_bytes"`
	// MaxFiles bounds the files unpacked from one message's archives.
	MaxFiles int `toml:"max_files"`
	// MaxRatio bounds a file's unpacked size over its packed size, from
	// 1 MiB unpacked on: above it the file is a decompression bomb.
	MaxRatio int64 `toml:"max_ratio"`
	// OOXMLMaxFiles and OOXMLMaxRatio are the file count and ratio limits
	// of an OOXML document (docx, xlsx, pptx), a zip of many XML parts
	// that compress well.
	OOXMLMaxFiles int   `toml:"ooxml_max_files"`
	OOXMLMaxRatio int64 `toml:"ooxml_max_ratio"`
	// Timeout is the check's time budget; archives not unpacked by then
	// give scan.exclusion (archive.time).
	Timeout config.Duration `toml:"timeout"`
	// PasswordCandidates bounds the passwords taken from a message's
	// subject and text to open its encrypted zip and 7z archives.
	PasswordCandidates int `toml:"password_candidates"`
	// PasswordTries bounds the passwords tried on one message's encrypted
	// archives, all together; 0 tries none.
	PasswordTries int `toml:"password_tries"`
}

// Defaults are the [attachment] values a config does not set.
func Defaults() Config {
	l := archive.DefaultLimits()
	return Config{MaxDepth: l.MaxDepth, MaxBytes: config.Bytes(l.MaxBytes), MaxFiles: l.MaxFiles,
		MaxRatio: l.MaxRatio, OOXMLMaxFiles: l.OOXMLMaxFiles, OOXMLMaxRatio: l.OOXMLMaxRatio,
		Timeout: config.Dur(10 * time.Second), PasswordCandidates: 10, PasswordTries: 10}
}

func validate(r *config.Report, c *Config) {
	key := func(k string) string { return Section + "." + k }
	for _, v := range []struct {
		name string
		n    int64
	}{{"max_depth", int64(c.MaxDepth)}, {"max_files", int64(c.MaxFiles)}, {"max_ratio", c.MaxRatio},
		{"ooxml_max_files", int64(c.OOXMLMaxFiles)}, {"ooxml_max_ratio", c.OOXMLMaxRatio}} {
		if v.n < 1 {
			r.Add(key(v.name), "", "must be at least 1")
		}
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"password_candidates", c.PasswordCandidates}, {"password_tries", c.PasswordTries}} {
		if v.n < 0 || v.n > 1000 {
			r.Add(key(v.name), "0 turns it off", "must be from 0 to 1000")
		}
	}
	n := len(r.Problems)
	r.Size(key("max_bytes"), c.MaxBytes)
	if len(r.Problems) == n && c.MaxBytes.N < 1 {
		r.Add(key("max_bytes"), "e.g. \"60MB\"", "must be more than 0")
	}
	n = len(r.Problems)
	r.Duration(key("timeout"), c.Timeout)
	if len(r.Problems) == n && c.Timeout.D <= 0 {
		r.Add(key("timeout"), "", "must be longer than 0s")
	}
}

func init() {
	config.Register(Section, Defaults, validate)
	check.Register(func(cfg *config.Config) []check.Check {
		return []check.Check{New(*config.Section[Config](cfg, Section))}
	})
}

// Check is the attachment check.
type Check struct {
	c   Config
	lim archive.Limits
}

// New is the check with validated settings c.
func New(c Config) *Check {
	return &Check{c: c, lim: archive.Limits{MaxDepth: c.MaxDepth, MaxBytes: c.MaxBytes.N, MaxFiles: c.MaxFiles,
		MaxRatio: c.MaxRatio, OOXMLMaxFiles: c.OOXMLMaxFiles, OOXMLMaxRatio: c.OOXMLMaxRatio}}
}

func (*Check) Name() string            { return "attachment" }
func (*Check) Stage() policy.Stage     { return policy.StageEOM }
func (*Check) Scope() check.Scope      { return check.ScopeTransaction }
func (c *Check) Budget() time.Duration { return c.c.Timeout.D }

// OnError is tempfail: a check that failed has not looked at the
// attachments, and an executable must not pass for that.
func (*Check) OnError() check.OnError { return check.OnErrorTempfail }

func (*Check) Findings() []check.Declared {
	return []check.Declared{
		{Name: FindingName, Doc: "an attachment or archive member with a name; the value is the decoded name"},
		{Name: FindingExtension, Doc: "an attachment's file name extension, lower case (\"exe\")"},
		{Name: FindingDoubleExtension, Doc: "an executable extension after another one, as in invoice.pdf.exe; the value is both (\"pdf.exe\")"},
		{Name: FindingType, Doc: "an attachment's true type, from its content; the reason gives declared type, size and SHA-256"},
		{Name: FindingMismatch, Doc: "the name or declared type says one type and the content another (a .pdf that is an executable)"},
		{Name: FindingExecutable, Doc: "an executable: PE, ELF, Mach-O, Java class or Windows shortcut by content, or a script by extension (js, vbs, ps1, bat, hta, ...); the value says which"},
		{Name: FindingMacro, Doc: "an office document with VBA macros (OOXML with vbaProject.bin, OLE with a VBA storage)"},
		{Name: FindingPDFJavaScript, Doc: "a PDF with JavaScript (/JavaScript or /JS)"},
		{Name: FindingEncrypted, Doc: "an encrypted file: a password-protected zip, 7z or rar member (also when a password from the message opened it), a 7z whose file list is encrypted, an encrypted Office document or PDF"},
		{Name: FindingArchive, Doc: "an archive (attached or inside one); the value is its format"},
		{Name: FindingNested, Doc: "an archive inside an archive; the value is its depth"},
		{Name: FindingPasswordOpened, Doc: "an encrypted zip or 7z that a password found in the message text opened, and whose content was scanned; the value is the archive"},
	}
}

func (c *Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if in.Message == nil {
		return nil, nil
	}
	var r report
	r.seen = map[key]bool{}
	r.triesLeft = c.c.PasswordTries
	r.msg = in.Message
	for i := range in.Message.Parts {
		p := &in.Message.Parts[i]
		if !isAttachment(p) {
			continue
		}
		name := p.Filename
		if name == "" {
			name = p.Where
		}
		c.inspect(ctx, &r, name, p)
		if ctx.Err() != nil {
			return r.out, fmt.Errorf("attachment: %w", ctx.Err())
		}
	}
	// A part can carry more names than its Filename (a Content-Type name
	// other than the Content-Disposition filename, a repeated parameter),
	// and a mail client may show any of them: each is judged by name.
	seen := map[string]bool{}
	for i := range in.Message.Parts {
		seen[in.Message.Parts[i].Filename] = true
	}
	for _, n := range in.Message.Attachments {
		if seen[n] {
			continue
		}
		seen[n] = true
		where := "attachment:" + n
		r.add(FindingName, n, where, "another name the attachment is given")
		if x := ext(&r, where, n); executableExt[x] {
			r.add(FindingExecutable, "extension:"+x, where, "an executable (extension:"+x+")")
		}
	}
	return r.out, nil
}

// isAttachment says which parts are looked at: those with a name or an
// attachment disposition, and every part that is not text (a nameless
// inline application/octet-stream is a file all the same).
func isAttachment(p *message.Part) bool {
	if p.Filename != "" || p.Disposition == "attachment" {
		return true
	}
	return p.ContentType != "text/plain" && p.ContentType != "text/html"
}

type report struct {
	out  []check.Finding
	seen map[key]bool // a file seen under several MIME readings is reported once

	msg       *message.Message
	passwords []string // nil until an archive needs them
	triesLeft int
}

// candidates are the message's candidate passwords, found once.
func (r *report) candidates(max int) []string {
	if r.passwords == nil {
		texts := []string{r.msg.Subject}
		for _, s := range r.msg.TextSpans() {
			texts = append(texts, s.Text)
		}
		r.passwords = Passwords(texts, max)
		if r.passwords == nil {
			r.passwords = []string{}
		}
	}
	return r.passwords
}

type key struct{ name, value, where string }

func (r *report) add(name, value, where, reason string) {
	k := key{name, value, where}
	if r.seen[k] {
		return
	}
	r.seen[k] = true
	r.out = append(r.out, check.Finding{Name: name, Value: value, Where: where, Reason: reason})
}

// inspect reports on one attachment and walks it when it is an archive.
func (c *Check) inspect(ctx context.Context, r *report, name string, p *message.Part) {
	data := p.Body()
	where := "attachment:" + name
	named := p.Filename != ""
	file(r, where, name, named, p.ContentType, data)
	lim := c.lim
	if archive.Detect(data) != "" && r.triesLeft > 0 && c.c.PasswordCandidates > 0 {
		lim.Passwords, lim.MaxTries = r.candidates(c.c.PasswordCandidates), r.triesLeft
	}
	res := archive.Walk(ctx, name, data, lim, func(e *archive.Entry) {
		ew := "attachment:" + e.Path
		if e.Container == archive.FormatOOXML {
			part(r, ew, e)
			return
		}
		if e.Password > 0 {
			r.add(FindingEncrypted, e.Container, ew, fmt.Sprintf("the file is password-protected in its %s archive; password candidate %d from the message text opened it", e.Container, e.Password))
		}
		if e.Encrypted && e.Password == 0 {
			r.add(FindingName, e.Name, ew, "a file in an archive")
			if x := ext(r, ew, path.Base(e.Name)); executableExt[x] {
				r.add(FindingExecutable, "extension:"+x, ew, "an executable (extension:"+x+")")
			}
			r.add(FindingEncrypted, e.Container, ew, "the file is password-protected in its "+e.Container+" archive; its content was not scanned")
			return
		}
		file(r, ew, path.Base(e.Name), true, "", e.Data)
		// A tar in a compressor (.tgz) is one archive, not a nesting.
		stream := e.Container == archive.FormatGzip || e.Container == archive.FormatBzip2 || e.Container == archive.FormatXz
		if f := archive.Kind(e.Data); f != "" && f != archive.FormatOOXML && !(stream && f == archive.FormatTar) {
			r.add(FindingNested, strconv.Itoa(e.Depth), ew, fmt.Sprintf("a %s archive inside an archive, at depth %d", f, e.Depth))
		}
	})
	r.triesLeft -= res.Tries
	for _, o := range res.Opened {
		r.add(FindingPasswordOpened, o.Path, "attachment:"+o.Path,
			fmt.Sprintf("the encrypted archive was opened with password candidate %d of %d found in the message text, and its content scanned", o.Candidate, len(lim.Passwords)))
	}
	for _, pr := range res.Problems {
		w := where
		if pr.Path != "" {
			w = "attachment:" + pr.Path
		}
		if pr.Limit == archive.ReasonEncrypt && pr.Format != "" {
			r.add(FindingEncrypted, pr.Format, w, "the "+pr.Format+" archive is password-protected, its file list too; its content was not scanned")
		}
		r.add(message.FindingExclusion, pr.Value(), w, pr.Reason)
	}
}

// part looks at one part of an OOXML document: only its macros, its
// executables and its embedded OLE objects count, not its XML.
func part(r *report, where string, e *archive.Entry) {
	if strings.EqualFold(path.Base(e.Name), "vbaProject.bin") {
		r.add(FindingMacro, "ooxml", where, "the document carries a VBA project (vbaProject.bin)")
	}
	if kind := execByContent(e.Data); kind != "" {
		r.add(FindingExecutable, kind, where, "an executable ("+kind+") embedded in an office document")
	}
	if isOLE(e.Data) && oleHas(e.Data, "VBA", 1) && !strings.EqualFold(path.Base(e.Name), "vbaProject.bin") {
		r.add(FindingMacro, "ole", where, "an embedded OLE object with a VBA storage")
	}
}

// file reports on one file: an attachment, or a member of an archive.
func file(r *report, where, name string, named bool, declared string, data []byte) {
	if named {
		r.add(FindingName, name, where, "")
	}
	e := ext(r, where, name)
	sum := sha256.Sum256(data)
	t := mimetype.Detect(data)
	desc := fmt.Sprintf("size %d, SHA-256 %s", len(data), hex.EncodeToString(sum[:]))
	if declared != "" {
		desc = "declared " + declared + ", " + desc
	}
	r.add(FindingType, t.String(), where, desc)

	kind := execByContent(data)
	if kind == "" && executableExt[e] {
		kind = "extension:" + e
	}
	if kind != "" {
		r.add(FindingExecutable, kind, where, "an executable ("+kind+")")
	}
	if m := mismatch(e, declared, kind, t); m != "" {
		r.add(FindingMismatch, m, where, "the name or declared type does not match the content ("+t.String()+")")
	}
	if f := archive.Kind(data); f != "" && f != archive.FormatOOXML {
		r.add(FindingArchive, f, where, "an archive")
	}
	switch {
	case isOLE(data):
		if oleHas(data, "VBA", 1) || oleHas(data, "_VBA_PROJECT", 2) {
			r.add(FindingMacro, "ole", where, "an OLE document with a VBA storage")
		}
		if oleHas(data, "EncryptedPackage", 2) {
			r.add(FindingEncrypted, "office", where, "an encrypted Office document; its content was not scanned")
		}
	case bytes.HasPrefix(data, []byte("%PDF-")):
		if pdfJS(data) {
			r.add(FindingPDFJavaScript, "", where, "the PDF has JavaScript actions")
		}
		if bytes.Contains(data, []byte("/Encrypt")) {
			r.add(FindingEncrypted, "pdf", where, "an encrypted PDF; its content was not scanned")
		}
	}
}

// ext reports the extensions of name and returns the last, lower case.
func ext(r *report, where, name string) string {
	base := strings.TrimRight(path.Base(strings.ReplaceAll(name, "\\", "/")), ". ")
	parts := strings.Split(strings.ToLower(base), ".")
	if len(parts) < 2 || parts[len(parts)-1] == "" {
		return ""
	}
	last := strings.TrimSpace(parts[len(parts)-1])
	r.add(FindingExtension, last, where, "")
	if len(parts) >= 3 && executableExt[last] {
		prev := strings.TrimSpace(parts[len(parts)-2])
		if prev != "" && !executableExt[prev] {
			r.add(FindingDoubleExtension, prev+"."+last, where, "an executable extension hidden behind ."+prev)
		}
	}
	return last
}

// executableExt are extensions Windows (or a desktop) runs when the file
// is opened: programs, scripts, shortcuts and installers.
var executableExt = map[string]bool{}

func init() {
	for _, e := range strings.Fields(`exe dll com scr pif cpl sys drv ocx msi msp mst msc
		bat cmd js jse vbs vbe vb wsf wsh wsc ps1 ps1xml ps2 psc1 psm1 hta lnk url scf inf reg
		jar class appx appxbundle msix msixbundle application gadget appref-ms settingcontent-ms
		sh app command`) {
		executableExt[e] = true
	}
}

// execByContent names an executable format by its magic bytes, or "".
func execByContent(b []byte) string {
	switch {
	case len(b) >= 64 && b[0] == 'M' && b[1] == 'Z':
		off := int64(binary.LittleEndian.Uint32(b[60:64]))
		if off >= 64 && off+4 <= int64(len(b)) && string(b[off:off+4]) == "PE\x00\x00" {
			return "pe"
		}
		return "mz"
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return "elf"
	case len(b) >= 4 && (bytes.HasPrefix(b, []byte{0xfe, 0xed, 0xfa, 0xce}) || bytes.HasPrefix(b, []byte{0xfe, 0xed, 0xfa, 0xcf}) ||
		bytes.HasPrefix(b, []byte{0xce, 0xfa, 0xed, 0xfe}) || bytes.HasPrefix(b, []byte{0xcf, 0xfa, 0xed, 0xfe})):
		return "mach-o"
	case len(b) >= 8 && bytes.HasPrefix(b, []byte{0xca, 0xfe, 0xba, 0xbe}):
		// A universal Mach-O binary counts its architectures where a Java
		// class file has its version (45 and up).
		if binary.BigEndian.Uint32(b[4:8]) < 45 {
			return "mach-o"
		}
		return "java-class"
	case bytes.HasPrefix(b, []byte{0x4c, 0, 0, 0, 0x01, 0x14, 0x02, 0}):
		return "lnk"
	}
	return ""
}

// expectedType is the type an extension promises, for the mismatch test.
var expectedType = map[string]string{
	"pdf": "application/pdf", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
	"txt": "text/plain", "csv": "text/plain", "doc": "application/x-ole-storage", "xls": "application/x-ole-storage",
	"ppt": "application/x-ole-storage", "docx": "application/zip", "xlsx": "application/zip", "pptx": "application/zip",
	"zip": "application/zip", "rtf": "text/rtf", "gz": "application/gzip", "tar": "application/x-tar",
}

// mismatch says how the name or declared type and the content disagree,
// or "". Only types the content can tell count: an unknown content type
// (application/octet-stream) never mismatches.
func mismatch(e, declared, exec string, t *mimetype.MIME) string {
	if exec != "" && !strings.HasPrefix(exec, "extension:") && e != "" && !executableExt[e] {
		if t.Is("application/octet-stream") {
			return "." + e + " is " + exec
		}
		return "." + e + " is " + t.String()
	}
	if t.Is("application/octet-stream") {
		return ""
	}
	if want, ok := expectedType[e]; ok && !isA(t, want) {
		return "." + e + " is " + t.String()
	}
	if d, ok := declaredFamily(declared); ok && !isA(t, d) {
		return declared + " is " + t.String()
	}
	return ""
}

// declaredFamily maps a declared Content-Type the content can confirm to
// the type to test, for the mismatch test.
func declaredFamily(d string) (string, bool) {
	switch d {
	case "application/pdf", "image/jpeg", "image/png", "image/gif", "application/zip":
		return d, true
	case "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint":
		return "application/x-ole-storage", true
	}
	return "", false
}

// isA says whether t is want or one of its kinds (a docx is a zip).
func isA(t *mimetype.MIME, want string) bool {
	for m := t; m != nil; m = m.Parent() {
		if m.Is(want) {
			return true
		}
	}
	return false
}

// oleMagic starts an OLE compound file (doc, xls, ppt, msg, msi).
var oleMagic = []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}

func isOLE(b []byte) bool { return bytes.HasPrefix(b, oleMagic) }

// oleHas says whether an OLE compound file has a directory entry named
// name of the object type typ (1 storage, 2 stream). Directory entries
// are 128 bytes, aligned to 128 after the 512-byte header in files of 512
// and 4096-byte sectors alike, so every aligned slot is looked at: the
// FAT chains need not be followed to find a name.
func oleHas(b []byte, name string, typ byte) bool {
	want := utf16.Encode([]rune(name))
	nameLen := uint16(2 * (len(want) + 1))
	for off := 512; off+128 <= len(b); off += 128 {
		e := b[off : off+128]
		if binary.LittleEndian.Uint16(e[64:66]) != nameLen || e[66] != typ {
			continue
		}
		ok := true
		for i, u := range want {
			c := binary.LittleEndian.Uint16(e[2*i:])
			if c != u && !(u < 128 && c < 128 && strings.EqualFold(string(rune(c)), string(rune(u)))) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// pdfJS says whether a PDF names a JavaScript action. The names may be
// written with #xx escapes, which are undone first.
func pdfJS(b []byte) bool {
	if bytes.Contains(b, []byte("/JavaScript")) || bytes.Contains(b, []byte("/JS")) {
		return true
	}
	if !bytes.Contains(b, []byte("#")) {
		return false
	}
	var u []byte
	for i := 0; i < len(b); i++ {
		if b[i] == '#' && i+2 < len(b) {
			if v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8); err == nil {
				u = append(u, byte(v))
				i += 2
				continue
			}
		}
		u = append(u, b[i])
	}
	return bytes.Contains(u, []byte("/JavaScript")) || bytes.Contains(u, []byte("/JS"))
}
