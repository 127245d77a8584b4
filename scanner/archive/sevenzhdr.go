package archive

// A guard for 7z headers, run before github.com/bodgit/sevenzip sees an
// archive. The library allocates by the counts a header declares (up to
// 2^32 file headers) and by the dictionary and model sizes coders ask
// for, and an allocation the machine cannot give ends the process: no
// recover() catches it. So the header is parsed here first, per
// 7-Zip's DOC/7zFormat.txt, and refused when a count is over
// [max7zEntries], a coder needs more than [Max7zDictionary], a key
// derivation more than 2^[max7zCycles] rounds, a coder is of a method
// whose memory is not bounded here, or the header is not well formed.
// An encoded (compressed, possibly encrypted) header is decoded here too,
// within [max7zHeader] bytes, so that what the library parses has been
// checked. The guard also tells which folders are encrypted.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"

	"github.com/ulikunitz/xz/lzma"
)

// Max7zDictionary caps the dictionary (LZMA, LZMA2) or model memory
// (PPMd) a 7z coder may ask for; 7-Zip's densest preset (-mx9) uses
// 64 MB.
const Max7zDictionary = 64 << 20

const (
	// max7zEntries bounds the files, folders, streams and coders a 7z
	// header may declare. The walk stops at max_files anyway; this keeps
	// the library's tables small.
	max7zEntries = 1 << 16
	// max7zHeader bounds a decoded 7z header.
	max7zHeader = 16 << 20
	// max7zCycles bounds the key derivation of 7z AES: 2^cycles SHA-256
	// rounds per password tried. 7-Zip uses 19.
	max7zCycles = 20
)

var (
	err7zCorrupt     = errors.New("archive: malformed 7z header")
	err7zUnsupported = errors.New("archive: unsupported 7z feature")
	err7zEncrypted   = errors.New("archive: 7z header is encrypted")
	err7zPassword    = errors.New("archive: wrong 7z password")
)

// limit7zError is a 7z header asking for more than a cap.
type limit7zError struct {
	limit string
	n     int64
	what  string
}

func (e *limit7zError) Error() string { return "archive: 7z " + e.what }

// 7z property IDs (7zFormat.txt, "Property IDs").
const (
	sz7End = iota
	sz7Header
	sz7ArchiveProperties
	sz7AdditionalStreamsInfo
	sz7MainStreamsInfo
	sz7FilesInfo
	sz7PackInfo
	sz7UnpackInfo
	sz7SubStreamsInfo
	sz7Size
	sz7CRC
	sz7Folder
	sz7CodersUnpackSize
	sz7NumUnpackStream
	sz7EncodedHeader = 0x17
)

// 7z method IDs the guard knows (7-Zip's DOC/Methods.txt).
const (
	method7zCopy  = "\x00"
	method7zLZMA  = "\x03\x01\x01"
	method7zLZMA2 = "\x21"
	method7zPPMd  = "\x03\x04\x01"
	method7zAES   = "\x06\xf1\x07\x01"
)

// methods7z are the methods whose memory is bounded (by the checks in
// checkCoder, or by the method itself) and that the library decodes.
var methods7z = map[string]bool{
	method7zCopy: true, "\x03": true, method7zLZMA: true, method7zLZMA2: true, method7zPPMd: true, method7zAES: true,
	"\x03\x03\x01\x03": true, "\x03\x03\x01\x1b": true, "\x03\x03\x02\x05": true, "\x03\x03\x05\x01": true,
	"\x03\x03\x08\x05": true, "\x0a": true, "\x04\x01\x08": true, "\x04\x02\x02": true,
}

type coder7z struct {
	method string
	props  []byte
}

type folder7z struct {
	coders    []coder7z
	bound     map[uint64]uint64 // in stream -> out stream
	packed    []uint64          // in streams fed by pack streams
	unpack    []uint64          // sizes of the out streams
	crc       uint32
	hasCRC    bool
	encrypted bool
}

type streams7z struct {
	packPos   uint64
	packSizes []uint64
	folders   []folder7z
}

// info7z is what the guard learned of an archive.
type info7z struct {
	headerEncrypted bool
	// encrypted lists the encrypted folders by index.
	encrypted map[int]bool
}

type reader7z struct {
	b   []byte
	err error
}

func (r *reader7z) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader7z) byte() byte {
	if len(r.b) == 0 {
		r.fail(err7zCorrupt)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader7z) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.fail(err7zCorrupt)
		r.b = nil
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

// number reads a 7z NUMBER: the leading one bits of the first byte say
// how many little-endian bytes follow, the rest of it is the high part.
func (r *reader7z) number() uint64 {
	first := r.byte()
	var v uint64
	mask := byte(0x80)
	for i := 0; i < 8; i++ {
		if first&mask == 0 {
			return v | uint64(first&(mask-1))<<(8*i)
		}
		v |= uint64(r.byte()) << (8 * i)
		mask >>= 1
	}
	return v
}

// count reads a NUMBER that counts things the library allocates for.
func (r *reader7z) count() uint64 {
	n := r.number()
	if n > max7zEntries {
		r.fail(&limit7zError{limit: LimitFiles, n: max7zEntries, what: fmt.Sprintf("header declares %d entries", n)})
		return 0
	}
	return n
}

// digests reads n optional CRCs.
func (r *reader7z) digests(n uint64) (defined []bool, crcs []uint32) {
	defined = make([]bool, n)
	if all := r.byte(); all != 0 {
		for i := range defined {
			defined[i] = true
		}
	} else {
		bits := r.bytes((n + 7) / 8)
		for i := range defined {
			if r.err == nil && bits[i/8]&(0x80>>(i%8)) != 0 {
				defined[i] = true
			}
		}
	}
	crcs = make([]uint32, n)
	for i, d := range defined {
		if d {
			if b := r.bytes(4); b != nil {
				crcs[i] = binary.LittleEndian.Uint32(b)
			}
		}
	}
	return defined, crcs
}

func (r *reader7z) streams() *streams7z {
	var s streams7z
	for r.err == nil {
		switch id := r.byte(); id {
		case sz7End:
			return &s
		case sz7PackInfo:
			r.packInfo(&s)
		case sz7UnpackInfo:
			r.unpackInfo(&s)
		case sz7SubStreamsInfo:
			r.subStreams(&s)
		default:
			r.fail(err7zCorrupt)
		}
	}
	return nil
}

func (r *reader7z) packInfo(s *streams7z) {
	s.packPos = r.number()
	s.packSizes = make([]uint64, r.count())
	for r.err == nil {
		switch id := r.byte(); id {
		case sz7End:
			return
		case sz7Size:
			for i := range s.packSizes {
				s.packSizes[i] = r.number()
			}
		case sz7CRC:
			r.digests(uint64(len(s.packSizes)))
		default:
			r.fail(err7zCorrupt)
		}
	}
}

func (r *reader7z) unpackInfo(s *streams7z) {
	if r.byte() != sz7Folder {
		r.fail(err7zCorrupt)
		return
	}
	s.folders = make([]folder7z, r.count())
	if r.byte() != 0 {
		r.fail(fmt.Errorf("%w: external folders", err7zUnsupported))
		return
	}
	for i := range s.folders {
		s.folders[i] = r.folder()
	}
	if r.byte() != sz7CodersUnpackSize {
		r.fail(err7zCorrupt)
		return
	}
	for i := range s.folders {
		for j := range s.folders[i].unpack {
			s.folders[i].unpack[j] = r.number()
		}
	}
	for r.err == nil {
		switch id := r.byte(); id {
		case sz7End:
			return
		case sz7CRC:
			d, c := r.digests(uint64(len(s.folders)))
			for i := range s.folders {
				s.folders[i].hasCRC, s.folders[i].crc = d[i], c[i]
			}
		default:
			r.fail(err7zCorrupt)
		}
	}
}

func (r *reader7z) folder() folder7z {
	var f folder7z
	n := r.number()
	if n == 0 || n > 64 {
		r.fail(err7zCorrupt)
		return f
	}
	var ins, outs uint64
	for range n {
		flags := r.byte()
		if flags&0x80 != 0 {
			r.fail(fmt.Errorf("%w: alternative coder methods", err7zUnsupported))
			return f
		}
		c := coder7z{method: string(r.bytes(uint64(flags & 0xf)))}
		nIn, nOut := uint64(1), uint64(1)
		if flags&0x10 != 0 {
			nIn, nOut = r.number(), r.number()
		}
		if flags&0x20 != 0 {
			c.props = r.bytes(r.number())
		}
		ins, outs = ins+nIn, outs+nOut
		if ins > 64 || outs > 64 || r.err != nil {
			r.fail(err7zCorrupt)
			return f
		}
		if err := checkCoder(c); err != nil {
			r.fail(err)
			return f
		}
		f.encrypted = f.encrypted || c.method == method7zAES
		f.coders = append(f.coders, c)
	}
	if outs == 0 || ins < outs-1 {
		r.fail(err7zCorrupt)
		return f
	}
	f.bound = map[uint64]uint64{}
	for range outs - 1 {
		in, out := r.number(), r.number()
		if in >= ins || out >= outs {
			r.fail(err7zCorrupt)
			return f
		}
		f.bound[in] = out
	}
	if np := ins - (outs - 1); np == 1 {
		for i := range ins {
			if _, ok := f.bound[i]; !ok {
				f.packed = append(f.packed, i)
			}
		}
	} else {
		for range np {
			f.packed = append(f.packed, r.number())
		}
	}
	f.unpack = make([]uint64, outs)
	return f
}

func (r *reader7z) subStreams(s *streams7z) {
	num := make([]uint64, len(s.folders))
	for i := range num {
		num[i] = 1
	}
	var total uint64
	for r.err == nil {
		switch id := r.byte(); id {
		case sz7End:
			return
		case sz7NumUnpackStream:
			total = 0
			for i := range num {
				num[i] = r.count()
				total += num[i]
			}
			if total > max7zEntries {
				r.fail(&limit7zError{limit: LimitFiles, n: max7zEntries, what: fmt.Sprintf("header declares %d streams", total)})
			}
		case sz7Size:
			for i := range num {
				for j := uint64(1); j < num[i]; j++ {
					r.number()
				}
			}
		case sz7CRC:
			var n uint64
			for i, f := range s.folders {
				if num[i] != 1 || !f.hasCRC {
					n += num[i]
				}
			}
			r.digests(n)
		default:
			r.fail(err7zCorrupt)
		}
	}
}

// checkCoder refuses a coder whose memory is not bounded here or that
// asks for too much of it.
func checkCoder(c coder7z) error {
	if !methods7z[c.method] {
		return fmt.Errorf("%w: compression method %x", err7zUnsupported, c.method)
	}
	dict := func(n uint64) error {
		if n > Max7zDictionary {
			return &limit7zError{limit: LimitDict, n: Max7zDictionary, what: fmt.Sprintf("coder needs %d bytes of memory", n)}
		}
		return nil
	}
	switch c.method {
	case method7zLZMA, method7zPPMd:
		if len(c.props) != 5 {
			return err7zCorrupt
		}
		return dict(uint64(binary.LittleEndian.Uint32(c.props[1:])))
	case method7zLZMA2:
		if len(c.props) != 1 || c.props[0] > 40 {
			return err7zCorrupt
		}
		return dict(lzma2Dict(c.props[0]))
	case method7zAES:
		if len(c.props) < 1 {
			return err7zCorrupt
		}
		if cy := c.props[0] & 0x3f; cy != 0x3f && cy > max7zCycles {
			return fmt.Errorf("%w: key derivation of 2^%d rounds", err7zUnsupported, cy)
		}
	}
	return nil
}

// lzma2Dict is the dictionary size an LZMA2 property byte gives.
func lzma2Dict(b byte) uint64 {
	if b >= 40 {
		return 0xffffffff
	}
	return uint64(2|b&1) << (b/2 + 11)
}

// check7z checks the archive data (see the file comment) and, when its
// header is encrypted, decrypts it with password: err7zEncrypted without
// one, err7zPassword for a wrong one.
func check7z(data []byte, password string) (*info7z, error) {
	if len(data) < 32 || !bytes.HasPrefix(data, []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}) {
		return nil, err7zCorrupt
	}
	// The start header's CRC must hold here: the library would otherwise
	// look for another signature further on, past what was checked.
	if crc32.ChecksumIEEE(data[12:32]) != binary.LittleEndian.Uint32(data[8:12]) {
		return nil, err7zCorrupt
	}
	off, size := binary.LittleEndian.Uint64(data[12:20]), binary.LittleEndian.Uint64(data[20:28])
	if off > uint64(len(data)) || size > uint64(len(data))-32 || off+32 > uint64(len(data))-size {
		return nil, fmt.Errorf("%w: truncated", err7zCorrupt)
	}
	info := &info7z{encrypted: map[int]bool{}}
	if size == 0 { // an empty archive
		return info, nil
	}
	r := &reader7z{b: data[32+off : 32+off+size]}
	switch r.byte() {
	case sz7Header:
	case sz7EncodedHeader:
		s := r.streams()
		if r.err != nil {
			return nil, r.err
		}
		hdr, enc, err := decodeHeader7z(data, s, password)
		info.headerEncrypted = enc
		if err != nil {
			return info, err
		}
		r = &reader7z{b: hdr}
		if r.byte() != sz7Header {
			return info, err7zCorrupt
		}
	default:
		return nil, err7zCorrupt
	}
	for r.err == nil {
		switch r.byte() {
		case sz7End:
			return info, r.err
		case sz7ArchiveProperties:
			for r.err == nil && r.byte() != 0 {
				r.bytes(r.number())
			}
		case sz7AdditionalStreamsInfo:
			return info, fmt.Errorf("%w: additional streams", err7zUnsupported)
		case sz7MainStreamsInfo:
			s := r.streams()
			if s != nil {
				for i, f := range s.folders {
					if f.encrypted {
						info.encrypted[i] = true
					}
				}
			}
		case sz7FilesInfo:
			r.count()
			for r.err == nil && r.byte() != 0 {
				r.bytes(r.number())
			}
		default:
			r.fail(err7zCorrupt)
		}
	}
	return info, r.err
}

// decodeHeader7z decodes an encoded header: one folder of a chain of
// single-stream coders, each copy, LZMA, LZMA2 or AES. It reports
// whether the header is encrypted.
func decodeHeader7z(data []byte, s *streams7z, password string) ([]byte, bool, error) {
	if s == nil || len(s.folders) != 1 || len(s.packSizes) != 1 {
		return nil, false, fmt.Errorf("%w: encoded header of %d folders", err7zUnsupported, len(s.folders))
	}
	f := s.folders[0]
	enc := f.encrypted
	if len(f.coders) > 3 || len(f.packed) != 1 || len(f.unpack) != len(f.coders) {
		return nil, enc, fmt.Errorf("%w: encoded header coders", err7zUnsupported)
	}
	start := 32 + s.packPos
	if s.packPos > uint64(len(data)) || s.packSizes[0] > uint64(len(data))-start {
		return nil, enc, fmt.Errorf("%w: truncated", err7zCorrupt)
	}
	if enc && password == "" {
		return nil, enc, err7zEncrypted
	}
	// Follow the chain from the coder the pack stream feeds; with single-
	// stream coders, coder i has in and out stream i.
	buf := data[start : start+s.packSizes[0]]
	i := f.packed[0]
	var size uint64
	for range f.coders {
		if i >= uint64(len(f.coders)) {
			return nil, enc, err7zCorrupt
		}
		size = f.unpack[i]
		if size > max7zHeader {
			return nil, enc, &limit7zError{limit: LimitBytes, n: max7zHeader, what: fmt.Sprintf("header of %d bytes", size)}
		}
		var err error
		if buf, err = decode7z(f.coders[i], buf, size, password); err != nil {
			return nil, enc, err
		}
		next := uint64(len(f.coders))
		for in, out := range f.bound {
			if out == i {
				next = in
			}
		}
		if next == uint64(len(f.coders)) {
			break
		}
		i = next
	}
	if f.hasCRC && crc32.ChecksumIEEE(buf) != f.crc {
		if enc {
			return nil, enc, err7zPassword
		}
		return nil, enc, fmt.Errorf("%w: header checksum", err7zCorrupt)
	}
	return buf, enc, nil
}

// decode7z runs one coder of an encoded header over in, giving size bytes.
func decode7z(c coder7z, in []byte, size uint64, password string) ([]byte, error) {
	var r io.Reader
	switch c.method {
	case method7zCopy:
		r = bytes.NewReader(in)
	case method7zLZMA:
		hdr := binary.LittleEndian.AppendUint64(append([]byte(nil), c.props...), size)
		lr, err := lzma.ReaderConfig{DictCap: Max7zDictionary}.NewReader(io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(in)))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", err7zCorrupt, err)
		}
		r = lr
	case method7zLZMA2:
		lr, err := lzma.Reader2Config{DictCap: int(max(lzma2Dict(c.props[0]), lzma.MinDictCap))}.NewReader2(bytes.NewReader(in))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", err7zCorrupt, err)
		}
		r = lr
	case method7zAES:
		out, err := aes7zDecrypt(c.props, in, password)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(out)
	default:
		return nil, fmt.Errorf("%w: header method %x", err7zUnsupported, c.method)
	}
	out := make([]byte, size)
	if _, err := io.ReadFull(r, out); err != nil {
		if password != "" {
			return nil, err7zPassword // garbage from a wrong key mostly ends so
		}
		return nil, fmt.Errorf("%w: %w", err7zCorrupt, err)
	}
	return out, nil
}

// aes7zDecrypt undoes 7-Zip's AES-256-CBC with a key of 2^cycles rounds
// of SHA-256 over the salt, the UTF-16LE password and a round counter
// (7-Zip's CPP/7zip/Crypto/7zAes.cpp).
func aes7zDecrypt(props, in []byte, password string) ([]byte, error) {
	if len(props) < 2 || props[0]&0xc0 == 0 {
		return nil, err7zCorrupt
	}
	saltLen := int(props[0]>>7&1 + props[1]>>4)
	ivLen := int(props[0]>>6&1 + props[1]&0x0f)
	if len(props) != 2+saltLen+ivLen || len(in)%aes.BlockSize != 0 {
		return nil, err7zCorrupt
	}
	salt := props[2 : 2+saltLen]
	var iv [aes.BlockSize]byte
	copy(iv[:], props[2+saltLen:])
	pw := utf16.Encode([]rune(password))
	b := append([]byte(nil), salt...)
	for _, u := range pw {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	key := make([]byte, sha256.Size)
	if cycles := props[0] & 0x3f; cycles == 0x3f {
		copy(key, b)
	} else {
		h := sha256.New()
		var ctr [8]byte
		for i := uint64(0); i < 1<<cycles; i++ {
			h.Write(b)
			binary.LittleEndian.PutUint64(ctr[:], i)
			h.Write(ctr[:])
		}
		key = h.Sum(nil)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(in))
	cipher.NewCBCDecrypter(block, iv[:]).CryptBlocks(out, in)
	return out, nil
}
