package message

import (
	"bytes"
	"encoding/base64"
	"sync"
)

// The transfer decoders here are lenient on purpose: the standard library's
// base64 and quoted-printable readers stop at the first bad byte, and
// everything after it would go unscanned while a mail client may still show
// it. These decoders report the first problem and carry on, the way mail
// clients do. Well-formed base64 still goes through encoding/base64.

// emitFunc receives decoded bytes; it must not keep p.
type emitFunc func(p []byte)

const (
	b64Invalid = 0xFF
	b64Space   = 0xFE
	b64Pad     = 0xFD
)

var b64Table = func() (t [256]byte) {
	for i := range t {
		t[i] = b64Invalid
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	for _, c := range []byte(" \t\r\n\f\v") {
		t[c] = b64Space
	}
	t['='] = b64Pad
	return t
}()

// b64Chunk is how much encoded input the fast path hands to encoding/base64
// at a time; its output fits scratchSize.
const (
	b64Chunk    = 16 << 10
	scratchSize = 16 << 10
)

var scratchPool = sync.Pool{New: func() any { b := make([]byte, scratchSize); return &b }}

// decodeBase64 decodes src, calling emit (if not nil) with the decoded bytes.
// It returns the decoded size and the first problem found, or "".
// Whitespace anywhere is skipped; invalid characters are reported and
// skipped; data after padding is reported and decoded too (mail clients
// decode concatenated base64); a missing padding is accepted.
func decodeBase64(src []byte, emit emitFunc) (size int64, problem string) {
	if emit == nil {
		if n, ok := countBase64(src); ok {
			return n, ""
		}
	}
	sp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(sp)
	scratch := *sp

	// Fast path: whole lines through encoding/base64, which skips CR and LF
	// itself, in chunks that end at a line end. Any error sends the rest,
	// from the start of that chunk, to the careful decoder.
	for len(src) > 0 {
		n := len(src)
		if n > b64Chunk {
			n = bytes.LastIndexByte(src[:b64Chunk], '\n') + 1
			if n <= 0 {
				break
			}
		}
		m, err := base64.StdEncoding.Decode(scratch, src[:n])
		if err != nil {
			break
		}
		if emit != nil && m > 0 {
			emit(scratch[:m])
		}
		size += int64(m)
		src = src[n:]
	}
	if len(src) == 0 {
		return size, ""
	}

	w := chunkWriter{buf: scratch[:0], emit: emit, size: size}
	var quad [4]byte
	nq := 0
	padded := false
	note := func(p string) {
		if problem == "" {
			problem = p
		}
	}
	// partial writes the bytes of a group of nq < 4 sextets cut short by
	// padding or the end of the data.
	partial := func(nq int) {
		switch nq {
		case 1:
			note("bad base64: truncated group")
		case 2:
			w.writeByte(quad[0]<<2 | quad[1]>>4)
		case 3:
			w.writeByte(quad[0]<<2 | quad[1]>>4)
			w.writeByte(quad[1]<<4 | quad[2]>>2)
		}
	}
	for _, c := range src {
		v := b64Table[c]
		switch v {
		case b64Space:
			continue
		case b64Invalid:
			note("bad base64: invalid character")
			continue
		case b64Pad:
			partial(nq)
			if nq > 0 {
				padded = true
			}
			nq = 0
			continue
		}
		if padded {
			note("bad base64: data after padding")
			padded = false
		}
		quad[nq] = v
		nq++
		if nq == 4 {
			w.writeByte(quad[0]<<2 | quad[1]>>4)
			w.writeByte(quad[1]<<4 | quad[2]>>2)
			w.writeByte(quad[2]<<6 | quad[3])
			nq = 0
		}
	}
	partial(nq)
	w.flush()
	return w.size, problem
}

// countBase64 returns the decoded size of well-formed base64 (lines of the
// alphabet, padding only at the very end, CRLF or LF line ends) without
// decoding it, which is about twice as fast. ok is false for anything else,
// which then goes through decodeBase64's full path to find the problem.
func countBase64(src []byte) (size int64, ok bool) {
	var n int64
	padded := false
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			continue
		}
		if padded {
			return 0, false // data after padding
		}
		if line[len(line)-1] == '=' {
			padded = true
			line = line[:len(line)-1]
			if len(line) > 0 && line[len(line)-1] == '=' {
				line = line[:len(line)-1]
			}
		}
		var acc byte
		j := 0
		for ; j+8 <= len(line); j += 8 {
			acc |= b64Table[line[j]] | b64Table[line[j+1]] | b64Table[line[j+2]] | b64Table[line[j+3]] |
				b64Table[line[j+4]] | b64Table[line[j+5]] | b64Table[line[j+6]] | b64Table[line[j+7]]
		}
		for ; j < len(line); j++ {
			acc |= b64Table[line[j]]
		}
		if acc >= 64 { // whitespace, padding or an invalid byte
			return 0, false
		}
		n += int64(len(line))
	}
	switch n % 4 {
	case 1:
		return 0, false // truncated group
	case 2:
		return n/4*3 + 1, true
	case 3:
		return n/4*3 + 2, true
	}
	return n / 4 * 3, true
}

// decodeQP decodes quoted-printable (RFC 2045 section 6.7), calling emit (if
// not nil) with the decoded bytes. Line ends are kept as they are; trailing
// whitespace is dropped; "=" at the end of a line joins it to the next. A "="
// not followed by two hex digits is kept and reported.
func decodeQP(src []byte, emit emitFunc) (size int64, problem string) {
	sp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(sp)
	w := chunkWriter{buf: (*sp)[:0], emit: emit}
	for len(src) > 0 {
		var line, eol []byte
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
			eol = lf
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line, eol = line[:len(line)-1], crlf
			}
		} else {
			line, src = src, nil
		}
		line = bytes.TrimRight(line, " \t")
		soft := false
		if len(line) > 0 && line[len(line)-1] == '=' {
			soft = true
			line = line[:len(line)-1]
		}
		if cap(w.buf)-len(w.buf) < len(line)+2 {
			w.flush()
		}
		if len(line)+2 <= cap(w.buf) {
			// Common case: the decoded line fits the buffer.
			buf := w.buf
			for i := 0; i < len(line); i++ {
				c := line[i]
				if c == '=' {
					if i+2 < len(line) {
						if v := hexPair(line[i+1], line[i+2]); v >= 0 {
							buf = append(buf, byte(v))
							i += 2
							continue
						}
					}
					if problem == "" {
						problem = "bad quoted-printable escape"
					}
				}
				buf = append(buf, c)
			}
			w.buf = buf
		} else {
			for len(line) > 0 {
				i := bytes.IndexByte(line, '=')
				if i < 0 {
					w.write(line)
					break
				}
				w.write(line[:i])
				if i+2 < len(line) {
					if v := hexPair(line[i+1], line[i+2]); v >= 0 {
						w.writeByte(byte(v))
						line = line[i+3:]
						continue
					}
				}
				if problem == "" {
					problem = "bad quoted-printable escape"
				}
				w.writeByte('=')
				line = line[i+1:]
			}
		}
		if !soft && eol != nil {
			w.write(eol)
		}
	}
	w.flush()
	return w.size, problem
}

// hexVal maps hex digits to their value and everything else to 0xFF.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
		t[c-'a'+'A'] = byte(c - 'a' + 10)
	}
	return t
}()

// hexPair returns the byte that two hex digits spell, or -1.
func hexPair(a, b byte) int {
	x, y := hexVal[a], hexVal[b]
	if x > 15 || y > 15 {
		return -1
	}
	return int(x)<<4 | int(y)
}

var (
	crlf = []byte("\r\n")
	lf   = []byte("\n")
)

// chunkWriter collects output in a fixed buffer and hands it to emit each
// time the buffer fills, counting what went through.
type chunkWriter struct {
	buf  []byte
	emit emitFunc
	size int64
}

func (w *chunkWriter) write(p []byte) {
	for len(p) > 0 {
		if len(w.buf) == cap(w.buf) {
			w.flush()
		}
		n := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+n]
		p = p[n:]
	}
}

func (w *chunkWriter) writeByte(c byte) {
	if len(w.buf) == cap(w.buf) {
		w.flush()
	}
	w.buf = append(w.buf, c)
}

func (w *chunkWriter) flush() {
	if w.emit != nil && len(w.buf) > 0 {
		w.emit(w.buf)
	}
	w.size += int64(len(w.buf))
	w.buf = w.buf[:0]
}
