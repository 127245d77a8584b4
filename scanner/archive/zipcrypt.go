package archive

// Decryption of password-protected zip members, written by hand: the Go
// standard library reads encrypted zips but cannot decrypt them, and no
// well-kept Go library does. Two schemes are supported:
//
//   - Traditional PKWARE encryption ("ZipCrypto"), PKWARE APPNOTE.TXT
//     section 6.1: three 32-bit keys updated by CRC-32, a 12-byte
//     encryption header whose last byte checks the password.
//   - WinZip AES (AE-1 and AE-2, AES-128/192/256), as WinZip documents it
//     ("AES Encryption Information: Encryption Specification AE-1 and
//     AE-2") and APPNOTE.TXT section 7.2.3 names it: compression method
//     99, extra field 0x9901, PBKDF2-HMAC-SHA1 (RFC 8018 section 5.2) with
//     1000 iterations, a 2-byte password verifier, AES in CTR mode with a
//     little-endian counter from 1, and the first 10 bytes of an
//     HMAC-SHA1 (RFC 2104) of the encrypted data.
//
// Only the decrypted and decompressed data of a member whose password
// checks out (and, where the format has one, whose CRC-32 or HMAC matches)
// is ever handed to the walk.

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

var (
	// errZipPassword is a password that does not open a member.
	errZipPassword = errors.New("archive: wrong password")
	// errZipMethod is an encrypted member compressed by a method other
	// than store or deflate, or encrypted by a scheme not supported
	// (strong encryption, APPNOTE section 7).
	errZipMethod = errors.New("archive: unsupported zip encryption or compression method")
)

// zipAESMethod is the compression method of a WinZip AES member.
const zipAESMethod = 99

// zipDecrypt decrypts and decompresses the encrypted member f with
// password, reading at most maxOut bytes of its content. It returns
// errZipPassword when the password is wrong.
func zipDecrypt(f *zip.File, password string, maxOut int64) ([]byte, error) {
	if f.Flags&0x40 != 0 { // strong encryption, APPNOTE section 7
		return nil, errZipMethod
	}
	rr, err := f.OpenRaw()
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(rr)
	if err != nil {
		return nil, err
	}
	method := f.Method
	var plain []byte
	checkCRC := true
	if method == zipAESMethod {
		var ae aesExtra
		if ae, err = parseAESExtra(f.Extra); err != nil {
			return nil, err
		}
		if plain, err = winzipAESDecrypt(raw, password, ae.strength); err != nil {
			return nil, err
		}
		method = ae.method
		checkCRC = ae.version == 1 // AE-2 stores no CRC
	} else {
		check := byte(f.CRC32 >> 24)
		if f.Flags&0x8 != 0 { // data descriptor: the check byte is the time's (APPNOTE 6.1.6)
			check = byte(f.ModifiedTime >> 8)
		}
		if plain, err = zipCryptoDecrypt(raw, password, check); err != nil {
			return nil, err
		}
	}
	var r io.Reader
	switch method {
	case zip.Store:
		r = bytes.NewReader(plain)
	case zip.Deflate:
		fr := flate.NewReader(bytes.NewReader(plain))
		defer fr.Close()
		r = fr
	default:
		return nil, errZipMethod
	}
	out, err := io.ReadAll(io.LimitReader(r, maxOut+1))
	if err != nil {
		// A wrong password that passes the one-byte check of ZipCrypto
		// (1 in 256) mostly gives a deflate error.
		return nil, fmt.Errorf("%w: %w", errZipPassword, err)
	}
	if checkCRC && int64(len(out)) <= maxOut && crc32.ChecksumIEEE(out) != f.CRC32 {
		return nil, errZipPassword
	}
	return out, nil
}

// zipCryptoKeys are the three keys of traditional PKWARE encryption
// (APPNOTE section 6.1.5).
type zipCryptoKeys [3]uint32

func (k *zipCryptoKeys) update(b byte) {
	k[0] = crc32.IEEETable[byte(k[0])^b] ^ (k[0] >> 8)
	k[1] = (k[1]+(k[0]&0xff))*134775813 + 1
	k[2] = crc32.IEEETable[byte(k[2])^byte(k[1]>>24)] ^ (k[2] >> 8)
}

func (k *zipCryptoKeys) decryptByte() byte {
	t := uint16(k[2] | 2)
	return byte((uint32(t) * uint32(t^1)) >> 8)
}

// zipCryptoDecrypt undoes ZipCrypto on raw (12-byte header, then data)
// and checks the header's last byte against check (APPNOTE 6.1.6).
func zipCryptoDecrypt(raw []byte, password string, check byte) ([]byte, error) {
	if len(raw) < 12 {
		return nil, errZipPassword
	}
	k := zipCryptoKeys{0x12345678, 0x23456789, 0x34567890}
	for i := 0; i < len(password); i++ {
		k.update(password[i])
	}
	out := make([]byte, 12, len(raw))
	for i, c := range raw[:12] {
		out[i] = c ^ k.decryptByte()
		k.update(out[i])
	}
	if out[11] != check { // 255 wrong passwords in 256 end here
		return nil, errZipPassword
	}
	for _, c := range raw[12:] {
		p := c ^ k.decryptByte()
		k.update(p)
		out = append(out, p)
	}
	return out[12:], nil
}

// aesExtra is the WinZip AES extra field 0x9901.
type aesExtra struct {
	version  uint16 // 1 for AE-1, 2 for AE-2
	strength byte   // 1, 2, 3: AES-128, -192, -256
	method   uint16 // the actual compression method
}

func parseAESExtra(extra []byte) (aesExtra, error) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if n > len(extra) {
			break
		}
		if id == 0x9901 && n >= 7 && string(extra[2:4]) == "AE" {
			ae := aesExtra{version: binary.LittleEndian.Uint16(extra), strength: extra[4], method: binary.LittleEndian.Uint16(extra[5:])}
			if ae.strength < 1 || ae.strength > 3 || ae.version < 1 || ae.version > 2 {
				return ae, errZipMethod
			}
			return ae, nil
		}
		extra = extra[n:]
	}
	return aesExtra{}, errZipMethod
}

// winzipAESDecrypt undoes WinZip AES on raw: salt, 2-byte verifier, the
// encrypted data, 10-byte authentication code.
func winzipAESDecrypt(raw []byte, password string, strength byte) ([]byte, error) {
	keyLen := 8 + 8*int(strength) // 16, 24, 32
	saltLen := keyLen / 2
	if len(raw) < saltLen+2+10 {
		return nil, errZipPassword
	}
	salt, verifier := raw[:saltLen], raw[saltLen:saltLen+2]
	data, mac := raw[saltLen+2:len(raw)-10], raw[len(raw)-10:]
	dk, err := pbkdf2.Key(sha1.New, password, salt, 1000, 2*keyLen+2)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(dk[2*keyLen:], verifier) != 1 {
		return nil, errZipPassword
	}
	h := hmac.New(sha1.New, dk[keyLen:2*keyLen])
	h.Write(data)
	if !hmac.Equal(h.Sum(nil)[:10], mac) {
		return nil, errZipPassword
	}
	block, err := aes.NewCipher(dk[:keyLen])
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(data))
	var ctr, ks [aes.BlockSize]byte
	for off := 0; off < len(data); off += aes.BlockSize {
		// The counter is little-endian and starts at 1.
		for i := range ctr {
			ctr[i]++
			if ctr[i] != 0 {
				break
			}
		}
		block.Encrypt(ks[:], ctr[:])
		end := min(off+aes.BlockSize, len(data))
		subtle.XORBytes(out[off:end], data[off:end], ks[:end-off])
	}
	return out, nil
}
