package message

import (
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// UTF7 is the UTF-7 charset of RFC 2152, which golang.org/x/text lacks:
// ASCII written as itself, anything else as modified base64 of its UTF-16
// between "+" and an optional "-". Mail still carries it from old Outlook
// versions, and spam uses it to hide words from filters that do not decode
// it. The decoder is lenient and needs constant memory: a byte that cannot be
// in UTF-7 (8-bit), an unpaired surrogate and bits left over at the end of
// a base64 run become U+FFFD, and a "+" that starts no base64 run is kept
// as it is. The encoder writes every non-ASCII rune, and "+", in base64;
// it is there for tests and round trips.
var UTF7 encoding.Encoding = utf7Encoding{}

type utf7Encoding struct{}

func (utf7Encoding) NewDecoder() *encoding.Decoder {
	return &encoding.Decoder{Transformer: &utf7Decoder{}}
}

func (utf7Encoding) NewEncoder() *encoding.Encoder {
	return &encoding.Encoder{Transformer: &utf7Encoder{}}
}

func (utf7Encoding) String() string { return "UTF-7" }

// utf7Base64 is the base64 alphabet (RFC 2152 Set B); utf7Index maps a byte
// to its value, or -1.
const utf7Base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

var utf7Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(utf7Base64); i++ {
		t[utf7Base64[i]] = int8(i)
	}
	return t
}()

// utf7Decoder is the decoding state; it is carried between Transform
// calls, so a base64 run may be split anywhere.
type utf7Decoder struct {
	inB64   bool
	started bool   // inB64: no base64 byte read since the "+" yet
	bits    uint32 // pending bits, the low nbits of them
	nbits   uint
	high    rune // a high surrogate waiting for its low half, or 0
}

func (d *utf7Decoder) Reset() { *d = utf7Decoder{} }

// Transform implements [transform.Transformer].
func (d *utf7Decoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	// emit writes r, or reports that dst is full.
	emit := func(r rune) bool {
		if nDst+utf8.RuneLen(r) > len(dst) {
			return false
		}
		nDst += utf8.EncodeRune(dst[nDst:], r)
		return true
	}
	for nSrc < len(src) {
		c := src[nSrc]
		if !d.inB64 {
			switch {
			case c >= 0x80:
				if !emit(utf8.RuneError) {
					return nDst, nSrc, transform.ErrShortDst
				}
			case c == '+':
				d.inB64, d.started = true, true
			default:
				if nDst >= len(dst) {
					return nDst, nSrc, transform.ErrShortDst
				}
				dst[nDst] = c
				nDst++
			}
			nSrc++
			continue
		}
		if v := utf7Index[c]; v >= 0 {
			// Up to one UTF-16 unit comes out of a base64 byte: room for
			// U+FFFD for a stray high surrogate and a 4-byte rune.
			if nDst+7 > len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			d.started = false
			d.bits = d.bits<<6 | uint32(v)
			d.nbits += 6
			nSrc++
			if d.nbits >= 16 {
				d.nbits -= 16
				u := rune(d.bits >> d.nbits & 0xffff)
				d.bits &= 1<<d.nbits - 1
				d.unit(u, emit)
			}
			continue
		}
		// The run ends here.
		if nDst+7 > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		if d.started && c == '-' {
			emit('+') // "+-" is "+"
			nSrc++
		} else if d.started {
			emit('+') // "+" that starts no run: kept as written
		} else {
			d.endRun(emit)
			if c == '-' {
				nSrc++ // absorbed
			}
		}
		d.inB64, d.started = false, false
	}
	if atEOF && d.inB64 {
		if nDst+7 > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		if d.started {
			emit('+')
		} else {
			d.endRun(emit)
		}
		d.inB64, d.started = false, false
	}
	return nDst, nSrc, nil
}

// unit takes one UTF-16 code unit of a base64 run.
func (d *utf7Decoder) unit(u rune, emit func(rune) bool) {
	switch {
	case utf16.IsSurrogate(u) && u < 0xdc00: // high
		if d.high != 0 {
			emit(utf8.RuneError)
		}
		d.high = u
	case utf16.IsSurrogate(u): // low
		if d.high == 0 {
			emit(utf8.RuneError)
			return
		}
		emit(utf16.DecodeRune(d.high, u))
		d.high = 0
	default:
		if d.high != 0 {
			emit(utf8.RuneError)
			d.high = 0
		}
		emit(u)
	}
}

// endRun ends a base64 run: a waiting high surrogate, 6 or more bits left,
// or non-zero padding bits are ill-formed (RFC 2152: "at most 5 bits ...
// must be zero").
func (d *utf7Decoder) endRun(emit func(rune) bool) {
	if d.high != 0 || d.nbits >= 6 || d.bits != 0 {
		emit(utf8.RuneError)
	}
	d.high, d.bits, d.nbits = 0, 0, 0
}

// utf7Encoder writes UTF-7, base64 runs always closed with "-".
type utf7Encoder struct {
	inB64 bool
	bits  uint32
	nbits uint
}

func (e *utf7Encoder) Reset() { *e = utf7Encoder{} }

// utf7Direct reports whether c is written as itself: RFC 2152 Set D and
// the whitespace of rule 3.
func utf7Direct(c rune) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '\'', '(', ')', ',', '-', '.', '/', ':', '?', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// Transform implements [transform.Transformer].
func (e *utf7Encoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		r, size := utf8.DecodeRune(src[nSrc:])
		if r == utf8.RuneError && size == 1 && !atEOF && !utf8.FullRune(src[nSrc:]) {
			return nDst, nSrc, transform.ErrShortSrc
		}
		// Worst case: close a run (3 bytes), "+", two units of base64 (6).
		if nDst+10 > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		if utf7Direct(r) {
			if e.inB64 {
				nDst += e.close(dst[nDst:])
			}
			dst[nDst] = byte(r)
			nDst++
			nSrc += size
			continue
		}
		if r == '+' && !e.inB64 {
			nDst += copy(dst[nDst:], "+-")
			nSrc += size
			continue
		}
		if !e.inB64 {
			dst[nDst] = '+'
			nDst++
			e.inB64 = true
		}
		var units []uint16
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			units = []uint16{uint16(r1), uint16(r2)}
		} else {
			units = []uint16{uint16(r)}
		}
		for _, u := range units {
			e.bits = e.bits<<16 | uint32(u)
			e.nbits += 16
			for e.nbits >= 6 {
				e.nbits -= 6
				dst[nDst] = utf7Base64[e.bits>>e.nbits&0x3f]
				nDst++
			}
			e.bits &= 1<<e.nbits - 1
		}
		nSrc += size
	}
	if atEOF && e.inB64 {
		if nDst+3 > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += e.close(dst[nDst:])
	}
	return nDst, nSrc, nil
}

// close writes the pending bits and "-"; dst has room for 2 bytes.
func (e *utf7Encoder) close(dst []byte) int {
	n := 0
	if e.nbits > 0 {
		dst[n] = utf7Base64[e.bits<<(6-e.nbits)&0x3f]
		n++
	}
	dst[n] = '-'
	n++
	e.inB64, e.bits, e.nbits = false, 0, 0
	return n
}
