// Package dkimsign signs outbound mail with DKIM (RFC 6376; Ed25519 keys,
// RFC 8463): the [[dkim_sign]] tables name a domain, a selector and a
// private key file, and [Signer.Sign] computes the DKIM-Signature fields of
// a message as it will leave, after mailwarden's own changes.
//
// It is not a check: it reports no finding rules can use, because it runs
// after the rules have decided. It lives beside the checks, as the
// [greylist] section of the greylist action does, so that the config
// section registers with the others (check/all).
//
// What is signed, and when (the session decides, see session.Session.Sign):
//   - mail from our side: a client in trusted_networks or an authenticated
//     session, the same test as the direction of a rule;
//   - whose header From domain is a configured domain (or, with
//     subdomains = true, a subdomain of it), as OpenDKIM signs: the
//     envelope sender does not choose the key, because DMARC aligns the
//     signature with the header From (RFC 7489 §3.1.1). A message with no
//     From, several From fields or several From addresses is not signed;
//   - once per table that matches: two tables for one domain (RSA and
//     Ed25519) give two signatures.
//
// Signatures are relaxed/relaxed, rsa-sha256 or ed25519-sha256, over the
// header fields RFC 6376 §5.4.1 recommends that are present, each as many
// times as it is present, and From once more (oversigned: a From added in
// transit breaks the signature).
package dkimsign

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailwarden/mailwarden/config"
)

// Section is the config array of tables, [[dkim_sign]].
const Section = "dkim_sign"

// MinRSABits is the smallest RSA key accepted: RFC 8301 §3.2 requires at
// least 1024 bits of verifiers, and 2048 is what every current guide (and
// Gmail) asks of signers.
const MinRSABits = 2048

// ErrKey is the error of a key file that cannot be used.
var ErrKey = errors.New("dkimsign: unusable key")

// KeyConfig is one [[dkim_sign]] table.
type KeyConfig struct {
	// Domain is the signing domain (d=), matched against the header From
	// domain of outbound mail.
	Domain string `toml:"domain"`
	// Selector (s=) names the key: its public half is published as the TXT
	// record SELECTOR._domainkey.DOMAIN.
	Selector string `toml:"selector"`
	// KeyFile is the private key in PEM: RSA (PKCS#1 or PKCS#8) of 2048 bits
	// or more, or Ed25519 in PKCS#8 (`openssl genpkey -algorithm ed25519`).
	// It must not be readable by group or others. A relative path is taken
	// from the config file's directory.
	KeyFile string `toml:"key_file"`
	// Subdomains also signs mail whose From is in a subdomain of Domain,
	// still with d=Domain (DMARC's relaxed alignment accepts it).
	Subdomains bool `toml:"subdomains"`

	key crypto.Signer // loaded by the validator
}

func init() {
	config.Register(Section, func() []KeyConfig { return nil }, validate)
}

func validate(r *config.Report, ks *[]KeyConfig) {
	dir := ""
	if f := r.File(); f != "" && !strings.HasPrefix(f, "(") {
		dir = filepath.Dir(f)
	}
	for i := range *ks {
		k := &(*ks)[i]
		key := fmt.Sprintf("%s[%d]", Section, i)
		k.Domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(k.Domain), "."))
		if !validName(k.Domain, true) {
			r.Add(key+".domain", "a domain such as example.com", "%q is not a domain", k.Domain)
		}
		if !validName(k.Selector, false) {
			r.Add(key+".selector", "letters, digits, '-' and '.', e.g. \"mw2026\"", "%q is not a selector", k.Selector)
		}
		if k.KeyFile == "" {
			r.Add(key+".key_file", "generate one with: mailwarden dkim keygen --domain D --selector S --out FILE", "key_file is missing")
			continue
		}
		path := k.KeyFile
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		s, err := LoadKey(path)
		if err != nil {
			hint := ""
			if errors.Is(err, fs.ErrPermission) || strings.Contains(err.Error(), "readable by") {
				hint = "chmod 600 the key file (and chown it to the daemon's user)"
			}
			r.Add(key+".key_file", hint, "%v", err)
			continue
		}
		k.key = s
	}
}

// validName reports whether s is a DNS name of letters, digits, '-' and
// '_' labels: a domain needs a dot, a selector may be one label.
func validName(s string, needDot bool) bool {
	if s == "" || len(s) > 253 || (needDot && !strings.Contains(s, ".")) {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// LoadKey reads a PEM private key file, refusing one that group or others
// may read (as OpenDKIM does: anyone who reads the key can sign as the
// domain) and RSA keys under [MinRSABits]. Errors name the file and wrap
// [ErrKey].
func LoadKey(path string) (crypto.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is mode %04o, readable by group or others; want 0600 or 0400", ErrKey, path, m)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	s, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseKey reads a PEM private key: RSA in PKCS#1 ("RSA PRIVATE KEY") or
// PKCS#8 ("PRIVATE KEY"), or Ed25519 in PKCS#8.
func ParseKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKey)
	}
	var key any
	var err error
	switch blk.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("%w: PEM block %q; want \"PRIVATE KEY\" (PKCS#8) or \"RSA PRIVATE KEY\"", ErrKey, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if n := k.N.BitLen(); n < MinRSABits {
			return nil, fmt.Errorf("%w: RSA key of %d bits; at least %d are needed", ErrKey, n, MinRSABits)
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("%w: %T keys cannot sign DKIM; use RSA or Ed25519", ErrKey, key)
	}
}

// Algorithm is the a= tag a key signs with.
func Algorithm(s crypto.Signer) string {
	if _, ok := s.Public().(ed25519.PublicKey); ok {
		return "ed25519-sha256"
	}
	return "rsa-sha256"
}

// Key is one loaded [[dkim_sign]] table.
type Key struct {
	Domain, Selector string
	Subdomains       bool
	Signer           crypto.Signer
	Index            int // the table's position, for messages
}

// Signer holds the keys of a configuration.
type Signer struct {
	keys []Key
}

// FromConfig is the signer of cfg's [[dkim_sign]] tables, nil when there
// are none. The keys were loaded and checked when the config was
// validated; a table whose key failed made the config fail.
func FromConfig(cfg *config.Config) *Signer {
	var s Signer
	for i, k := range *config.Section[[]KeyConfig](cfg, Section) {
		if k.key == nil {
			continue
		}
		s.keys = append(s.keys, Key{Domain: k.Domain, Selector: k.Selector, Subdomains: k.Subdomains, Signer: k.key, Index: i})
	}
	if len(s.keys) == 0 {
		return nil
	}
	return &s
}

// New is a signer of keys, for tests and benchmarks.
func New(keys ...Key) *Signer { return &Signer{keys: keys} }

// KeysFor are the keys that sign mail from domain, in config order.
func (s *Signer) KeysFor(domain string) []Key {
	if s == nil {
		return nil
	}
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	var out []Key
	for _, k := range s.keys {
		if domain == k.Domain || (k.Subdomains && strings.HasSuffix(domain, "."+k.Domain)) {
			out = append(out, k)
		}
	}
	return out
}

// Signature is one DKIM-Signature field made by [Sign].
type Signature struct {
	Domain, Selector, Algorithm string
	// Value is the field's value, folded with CRLF, without the name.
	Value string
}

// Field is a header field as the message carries it: Name, and Value as
// the MTA passed it (folded lines kept).
type Field struct{ Name, Value string }

// SignedFields are the header fields RFC 6376 §5.4.1 says SHOULD be signed
// when present, with those that carry the message's content and identity
// (Message-ID and the MIME fields), as OpenDKIM signs by default.
var SignedFields = []string{
	"From", "Reply-To", "Subject", "Date", "To", "Cc",
	"Resent-Date", "Resent-From", "Resent-To", "Resent-Cc",
	"In-Reply-To", "References",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe", "List-Post", "List-Owner", "List-Archive",
	"Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
}

// HeaderKeys is the h= list for header: each of [SignedFields] as many
// times as it is present, and From once more.
func HeaderKeys(header []Field) []string {
	var keys []string
	for _, name := range SignedFields {
		n := 0
		for _, f := range header {
			if strings.EqualFold(f.Name, name) {
				n++
			}
		}
		if name == "From" {
			n++
		}
		for range n {
			keys = append(keys, name)
		}
	}
	return keys
}

// Sign computes one signature per key over the message header (the fields
// as it will leave) and body (as on the wire, CRLF line ends).
func Sign(keys []Key, header []Field, body []byte) ([]Signature, error) {
	var head bytes.Buffer
	for _, f := range header {
		head.WriteString(f.Name)
		head.WriteByte(':')
		writeCRLF(&head, f.Value)
		head.WriteString("\r\n")
	}
	head.WriteString("\r\n")
	hk := HeaderKeys(header)
	var out []Signature
	for _, k := range keys {
		sg, err := dkim.NewSigner(&dkim.SignOptions{Domain: k.Domain, Selector: k.Selector, Signer: k.Signer,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
			HeaderKeys: hk})
		if err != nil {
			return nil, fmt.Errorf("dkimsign: %s[%d] (d=%s s=%s): %w", Section, k.Index, k.Domain, k.Selector, err)
		}
		_, err = sg.Write(head.Bytes())
		if err == nil {
			_, err = sg.Write(body)
		}
		if cerr := sg.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("dkimsign: %s[%d] (d=%s s=%s): %w", Section, k.Index, k.Domain, k.Selector, err)
		}
		field := sg.Signature()
		v, _ := strings.CutPrefix(field, "DKIM-Signature:")
		out = append(out, Signature{Domain: k.Domain, Selector: k.Selector, Algorithm: Algorithm(k.Signer),
			Value: strings.TrimSuffix(v, "\r\n")})
	}
	return out, nil
}

func writeCRLF(b *bytes.Buffer, v string) {
	for i := 0; i < len(v); i++ {
		if v[i] == '\n' && (i == 0 || v[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(v[i])
	}
}
