// Package release lets quarantined mail back through the filter safely.
//
// A released message is re-injected into the MTA with a header carrying an
// HMAC-SHA256 token. The token binds the quarantine entry, the rule that
// quarantined it, the envelope sender, the recipients released, a random
// nonce and an expiry, and the MAC also covers the SHA-256 digest of the
// original message bytes, which are not in the header: the milter recomputes
// it from what follows the header. So a forged header, or one copied onto
// another message, another sender or other recipients, or used after expiry,
// bypasses nothing; the milter also records each nonce's use, so a replay of
// the released copy bypasses nothing either.
package release

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Header is the field name of the release token.
const Header = "X-Mailwarden-Release"

// Token is what a release header vouches for.
type Token struct {
	ID         string    // quarantine entry
	Rule       string    // the rule the release lets the message past
	Sender     string    // the envelope sender it must come with
	Nonce      string    // unique per release, so each is honoured once
	Recipients []string  // the released recipients
	Expires    time.Time // after this the header is worthless
}

// NewNonce returns a random nonce for a [Token].
func NewNonce() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return b64.EncodeToString(b)
}

// Errors from [Verify].
var (
	ErrMalformed = errors.New("release: malformed header")
	ErrBadMAC    = errors.New("release: bad signature")
	ErrExpired   = errors.New("release: token expired")
	ErrNoKey     = errors.New("release: key shorter than 32 bytes")
)

// MinKeyLen is the shortest key accepted: an empty or short key would make
// release headers forgeable.
const MinKeyLen = 32

var b64 = base64.RawURLEncoding

// Sign returns the header value for t over a message with the given digest
// (hex SHA-256 of the original bytes).
func Sign(key []byte, t Token, digest string) string {
	if len(key) < MinKeyLen {
		panic(ErrNoKey) // a programming error: keys come from LoadOrCreateKey or validated config
	}
	rcpts := canonRcpts(t.Recipients)
	exp := strconv.FormatInt(t.Expires.Unix(), 10)
	sender := b64.EncodeToString([]byte(t.Sender))
	mac := computeMAC(key, t.ID, t.Rule, t.Sender, t.Nonce, exp, digest, rcpts)
	return fmt.Sprintf("v1; id=%s; rule=%s; from=%s; nonce=%s; exp=%s; rcpt=%s; mac=%s",
		t.ID, t.Rule, sender, t.Nonce, exp, b64.EncodeToString([]byte(strings.Join(rcpts, "\n"))), b64.EncodeToString(mac))
}

// Verify checks a header value against the digest of the message that
// follows the header and the current time, and returns the token.
func Verify(key []byte, value, digest string, now time.Time) (Token, error) {
	if len(key) < MinKeyLen {
		return Token{}, ErrNoKey
	}
	fields := map[string]string{}
	parts := strings.Split(strings.Join(strings.Fields(value), ""), ";")
	if len(parts) == 0 || parts[0] != "v1" {
		return Token{}, ErrMalformed
	}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return Token{}, ErrMalformed
		}
		fields[k] = v
	}
	rc, err := b64.DecodeString(fields["rcpt"])
	if err != nil {
		return Token{}, ErrMalformed
	}
	sender, err := b64.DecodeString(fields["from"])
	if err != nil || fields["nonce"] == "" {
		return Token{}, ErrMalformed
	}
	mac, err := b64.DecodeString(fields["mac"])
	if err != nil || fields["id"] == "" || fields["exp"] == "" {
		return Token{}, ErrMalformed
	}
	exp, err := strconv.ParseInt(fields["exp"], 10, 64)
	if err != nil {
		return Token{}, ErrMalformed
	}
	rcpts := strings.Split(string(rc), "\n")
	want := computeMAC(key, fields["id"], fields["rule"], string(sender), fields["nonce"], fields["exp"], digest, rcpts)
	if !hmac.Equal(mac, want) {
		return Token{}, ErrBadMAC
	}
	t := Token{ID: fields["id"], Rule: fields["rule"], Sender: string(sender), Nonce: fields["nonce"],
		Recipients: rcpts, Expires: time.Unix(exp, 0)}
	if now.After(t.Expires) {
		return t, ErrExpired
	}
	return t, nil
}

func canonRcpts(rcpts []string) []string {
	out := make([]string, len(rcpts))
	for i, r := range rcpts {
		out[i] = strings.ToLower(r)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func computeMAC(key []byte, id, rule, sender, nonce, exp, digest string, rcpts []string) []byte {
	m := hmac.New(sha256.New, key)
	for _, s := range []string{"mailwarden-release-v1", id, rule, strings.ToLower(sender), nonce, exp, strings.ToLower(digest)} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	m.Write([]byte(strings.Join(canonRcpts(rcpts), "\n")))
	return m.Sum(nil)
}

// Digest is the hex SHA-256 of a message, as the quarantine stores it.
func Digest(raw []byte) string {
	s := sha256.Sum256(raw)
	return hex.EncodeToString(s[:])
}

// KeyFile is the name of the generated key in the data directory.
const KeyFile = "release.key"

// LoadOrCreateKey returns the key in dir/release.key, creating a random
// 32-byte key (mode 0600) the first time.
func LoadOrCreateKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("release: %s is not a hex key of at least 32 bytes", path)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("release: read key: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // another process won the race
		return LoadOrCreateKey(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("release: create key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("release: write key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("release: write key: %w", err)
	}
	return k, f.Close()
}

// Message is a message to re-inject, made by [NewMessage].
type Message struct {
	From       string // envelope sender, "" for the null sender
	Recipients []string
	// Data is what follows DATA: the trace field, the release header, then
	// the quarantined bytes without their old release headers.
	Data []byte
}

// NewMessage makes the message that releases raw, a quarantined copy, to
// tok's recipients from tok's sender. Release headers already in raw (a
// released copy that was quarantined again) are removed first, and the
// token is signed over what remains: the milter honours exactly one release
// header and checks the digest of everything after it, so an old header
// left in place would make it honour none. A non-nil trace goes first as a
// Received: field, where the milter allows trace fields before the release
// header, so that the released copy names the hop it originally came by.
func NewMessage(key []byte, tok Token, raw []byte, trace *Trace) Message {
	raw, _ = StripHeaders(raw)
	header := Sign(key, tok, Digest(raw))
	var data []byte
	if trace != nil {
		data = append(data, "Received: "+trace.Received()+"\r\n"...)
	}
	data = append(data, Header+": "+header+"\r\n"...)
	data = append(data, raw...)
	return Message{From: tok.Sender, Recipients: slices.Clone(tok.Recipients), Data: data}
}

// Injector re-injects released mail by SMTP.
type Injector struct {
	Addr    string // host:port of the MTA
	Helo    string
	Timeout time.Duration
}

// Result is what the MTA accepted of a re-injected message.
type Result struct {
	// Accepted are the recipients the MTA took the message for.
	Accepted []string
	// Refused are the recipients it refused at RCPT, with its reply.
	Refused []Refusal
	// Reply is its answer to the end of DATA, e.g. "2.0.0 Ok: queued as
	// 4XYZ": the queue ID to follow the released copy by.
	Reply string
}

// Refusal is one recipient the MTA would not take.
type Refusal struct {
	Recipient string
	Reply     string // the MTA's reply, e.g. "550 5.1.1 User unknown"
	Err       error
}

// ErrAllRefused reports that the MTA refused every recipient, so nothing
// was sent.
var ErrAllRefused = errors.New("release: the MTA refused every recipient")

// Send re-injects m. It delivers to the recipients the MTA accepts and
// reports the others in [Result.Refused]; it returns an error when the
// message went to nobody: no connection, a refused sender or DATA, or every
// recipient refused ([ErrAllRefused], joined with each refusal).
func (in Injector) Send(ctx context.Context, m Message) (*Result, error) {
	return sendSMTP(ctx, in, m.From, m.Recipients, m.Data)
}
