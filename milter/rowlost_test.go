package milter

import (
	"bytes"
	"context"
	"github.com/mailwarden/mailwarden/session"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	gomilter "github.com/d--j/go-milter"

	"github.com/mailwarden/mailwarden/store"
)

// TestRowLostFailureMode: when neither the journal nor the store can take
// a message's tracking row, on_error decides: tempfail answers 451 so the
// client retries; accept delivers (the lost row is logged and counted).
func TestRowLostFailureMode(t *testing.T) {
	for _, tc := range []struct {
		onError string
		code    uint16 // 0: accepted
	}{{"tempfail", 451}, {"accept", 0}} {
		t.Run(tc.onError, func(t *testing.T) {
			cfg, pol, err := session.LoadConfig("test.toml", []byte("[server]\non_error = \""+tc.onError+"\"\n"+testConfig))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			// A file where the journal directory should be: no journal.
			if err := os.WriteFile(filepath.Join(dir, "journal"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			st, err := store.Open(context.Background(), dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			rt, err := session.NewRuntime(cfg, pol, bytes.Repeat([]byte{7}, 32), dir)
			if err != nil {
				t.Fatal(err)
			}
			srv := NewServer(rt, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
			})
			st.Close() // and the store fails every write
			o := send(t, ln.Addr().String(), txn{from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("clean", "x")})
			if (tc.code == 0 && o.action.Type != gomilter.ActionAccept) || (tc.code != 0 && o.action.SMTPCode != tc.code) {
				t.Fatalf("action %+v, want code %d (0: accept)", o.action, tc.code)
			}
			if got := srv.events.lost.Load(); got != 1 {
				t.Errorf("lost rows counted: %d, want 1", got)
			}
		})
	}
}
