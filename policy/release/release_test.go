package release

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	other := bytes.Repeat([]byte{2}, 32)
	now := time.Unix(1_800_000_000, 0)
	digest := Digest([]byte("message"))
	tok := Token{ID: "q1", Rule: "gtube", Sender: "a@example.net", Nonce: NewNonce(), Recipients: []string{"Bob@Example.com", "ann@example.com"}, Expires: now.Add(time.Hour)}
	h := Sign(key, tok, digest)
	tests := []struct {
		name   string
		key    []byte
		value  string
		digest string
		now    time.Time
		want   error
	}{
		{"valid", key, h, digest, now, nil},
		{"wrong key", other, h, digest, now, ErrBadMAC},
		{"short key", []byte{}, h, digest, now, ErrNoKey},
		{"other message", key, h, Digest([]byte("other")), now, ErrBadMAC},
		{"expired", key, h, digest, now.Add(2 * time.Hour), ErrExpired},
		{"recipient added", key, strings.Replace(h, "rcpt=", "rcpt=ZXZlQGV4YW1wbGUuY29tCg", 1), digest, now, ErrBadMAC},
		{"sender changed", key, strings.Replace(h, "from=", "from=ZXZl", 1), digest, now, ErrBadMAC},
		{"nonce changed", key, strings.Replace(h, "nonce=", "nonce=x", 1), digest, now, ErrBadMAC},
		{"rule changed", key, strings.Replace(h, "rule=gtube", "rule=virus", 1), digest, now, ErrBadMAC},
		{"expiry extended", key, strings.Replace(h, "exp=", "exp=9", 1), digest, now, ErrBadMAC},
		{"garbage", key, "v1; nonsense", digest, now, ErrMalformed},
		{"version", key, "v2" + h[2:], digest, now, ErrMalformed},
		{"folded by an MTA", key, strings.ReplaceAll(h, "; ", ";\r\n\t"), digest, now, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Verify(tc.key, tc.value, tc.digest, tc.now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil && (got.ID != "q1" || got.Rule != "gtube" || got.Sender != "a@example.net" || got.Nonce != tok.Nonce || strings.Join(got.Recipients, ",") != "ann@example.com,bob@example.com") {
				t.Errorf("token %+v", got)
			}
		})
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir)
	if err != nil || len(k1) != 32 {
		t.Fatalf("key %x, %v", k1, err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	k2, err := LoadOrCreateKey(dir)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load %x, %v; want %x", k2, err, k1)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("abcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(dir); err == nil {
		t.Fatal("a short key file was accepted")
	}
}
