package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/mailwarden/mailwarden/check/dkimsign"
)

func init() {
	register(&command{
		name:    "dkim keygen",
		summary: "make a DKIM signing key and print its DNS TXT record",
		usage:   "--domain DOMAIN --selector SELECTOR [--algo rsa|ed25519] [--bits 2048] [--out FILE]",
		help: `
Writes a new private key (PEM, PKCS#8) to --out, mode 0600, refusing to
overwrite a file, and prints the TXT record to publish, value split into
strings of at most 255 bytes. Point a [[dkim_sign]] table at the key:

  [[dkim_sign]]
  domain = "DOMAIN"
  selector = "SELECTOR"
  key_file = "FILE"

Publish the record before mailwarden signs with the key. Many receivers do
not verify Ed25519 yet (RFC 8463): sign with an RSA key too, two tables for
one domain.`,
		flags: func(fset *flag.FlagSet) func(context.Context, []string, *stdio) error {
			domain := fset.String("domain", "", "signing `domain` (d=)")
			selector := fset.String("selector", "", "`selector` (s=): the record is SELECTOR._domainkey.DOMAIN")
			algo := fset.String("algo", "rsa", "key `algorithm`: rsa or ed25519")
			bits := fset.Int("bits", 2048, "RSA key size in `bits` (2048 or more)")
			out := fset.String("out", "", "key `file` to write (default SELECTOR.DOMAIN.pem)")
			return func(_ context.Context, args []string, s *stdio) error {
				if len(args) > 0 {
					return usageErrorf("unexpected argument %q", args[0])
				}
				d := strings.ToLower(strings.TrimSuffix(*domain, "."))
				if d == "" || *selector == "" {
					return usageErrorf("--domain and --selector are required")
				}
				if *algo != "rsa" && *algo != "ed25519" {
					return usageErrorf("--algo %q: want rsa or ed25519", *algo)
				}
				if *algo == "rsa" && *bits < dkimsign.MinRSABits {
					return usageErrorf("--bits %d: RSA keys need at least %d bits", *bits, dkimsign.MinRSABits)
				}
				path := *out
				if path == "" {
					path = *selector + "." + d + ".pem"
				}
				key, pemData, err := dkimsign.GenerateKey(*algo, *bits)
				if err != nil {
					return err
				}
				rec, err := dkimsign.PublicRecord(key)
				if err != nil {
					return err
				}
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("%s exists; not overwriting a key (choose a new selector to rotate)", path)
				}
				if err != nil {
					return err
				}
				if _, err = f.Write(pemData); err == nil {
					err = f.Sync()
				}
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					_ = os.Remove(path)
					return fmt.Errorf("write %s: %w", path, err)
				}
				fmt.Fprintf(s.err, "wrote %s key to %s (mode 0600); publish this record:\n", *algo, path)
				fmt.Fprintln(s.out, dkimsign.TXTRecord(d, *selector, rec))
				return nil
			}
		},
	})
}
