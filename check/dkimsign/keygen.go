package dkimsign

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
)

// GenerateKey makes a private key, algo "rsa" (of bits, at least
// [MinRSABits]) or "ed25519", and returns it in PEM (PKCS#8, as `openssl
// genpkey` writes it).
func GenerateKey(algo string, bits int) (crypto.Signer, []byte, error) {
	var key crypto.Signer
	switch algo {
	case "rsa":
		if bits < MinRSABits {
			return nil, nil, fmt.Errorf("%w: RSA key of %d bits; at least %d are needed", ErrKey, bits, MinRSABits)
		}
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, nil, fmt.Errorf("dkimsign: generate: %w", err)
		}
		key = k
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("dkimsign: generate: %w", err)
		}
		key = k
	default:
		return nil, nil, fmt.Errorf("%w: algorithm %q; want rsa or ed25519", ErrKey, algo)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("dkimsign: encode: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicRecord is the DKIM key record of a key (RFC 6376 §3.6.1): for RSA
// p= is the SubjectPublicKeyInfo, for Ed25519 the raw 32-byte key (RFC 8463
// §4.2).
func PublicRecord(key crypto.Signer) (string, error) {
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("dkimsign: public key: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	default:
		return "", fmt.Errorf("%w: %T", ErrKey, pub)
	}
}

// TXTRecord is the zone-file line publishing record for selector and
// domain, the value split into quoted strings of at most 255 bytes, as a
// DNS TXT character-string holds (RFC 1035 §3.3; verifiers join them, RFC
// 6376 §3.6.2.2).
func TXTRecord(domain, selector, record string) string {
	var parts []string
	for len(record) > 255 {
		parts = append(parts, record[:255])
		record = record[255:]
	}
	parts = append(parts, record)
	return fmt.Sprintf("%s._domainkey.%s. IN TXT \"%s\"", selector, strings.TrimSuffix(domain, "."), strings.Join(parts, "\" \""))
}
