package release

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/policy/release"
)

func headerBytes(hs []check.RawHeader) []byte {
	var b bytes.Buffer
	for _, h := range hs {
		b.WriteString(h.Name + ":" + h.Value + "\r\n")
	}
	return b.Bytes()
}

// TestRun covers what the check decides on its own; the milter's
// TestReleaseHeader runs the forged, replayed and misused cases through
// the whole session.
func TestRun(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	after := []check.RawHeader{{Name: "Subject", Value: " held"}}
	body := []byte("body\r\n")
	digest := release.Digest(append(append(headerBytes(after), "\r\n"...), body...))
	sign := func(rcpts ...string) string {
		return release.Sign(key, release.Token{ID: "q1", Rule: "gtube", Sender: "a@example.net", Nonce: "n1",
			Recipients: rcpts, Expires: time.Now().Add(time.Hour)}, digest)
	}
	input := func(hdr string, env *check.Env) *check.Input {
		hs := append([]check.RawHeader{{Name: "Received", Value: " from mta"}, {Name: release.Header, Value: " " + hdr}}, after...)
		return &check.Input{ClientIP: netip.MustParseAddr("127.0.0.1"), Sender: "a@example.net",
			Recipients: []string{"bob@example.com", "eve@example.com"}, Headers: hs, Body: body, HeaderBytes: headerBytes, Env: env}
	}
	claimAll := func(_ context.Context, _ string, rcpts []string) ([]string, error) { return rcpts, nil }
	for _, tc := range []struct {
		name    string
		hdr     string
		env     *check.Env
		want    string // findings, name=value@recipients
		wantErr bool
	}{
		{"verified for the released recipient only", sign("bob@example.com"), &check.Env{ReleaseKey: key, ClaimRelease: claimAll},
			"release.verified=gtube@bob@example.com", false},
		{"a dry run verifies without claiming", sign("bob@example.com"), &check.Env{ReleaseKey: key, DryRun: true},
			"release.verified=gtube@bob@example.com", false},
		{"a claim the store cannot record is an error", sign("bob@example.com"), &check.Env{ReleaseKey: key,
			ClaimRelease: func(context.Context, string, []string) ([]string, error) { return nil, errors.New("locked") }}, "", true},
		{"no store to claim in", sign("bob@example.com"), &check.Env{ReleaseKey: key}, "release.invalid=no store to claim the release in@", false},
		{"other key", sign("bob@example.com"), &check.Env{ReleaseKey: bytes.Repeat([]byte{8}, 32), ClaimRelease: claimAll},
			"release.invalid=release: bad signature@", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := Check{}.Run(context.Background(), input(tc.hdr, tc.env))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.Name+"="+f.Value+"@"+strings.Join(f.Recipients, ","))
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("findings %q, want %q", got, tc.want)
			}
		})
	}
}
