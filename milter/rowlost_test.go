package milter

import (
	"os"
	"path/filepath"
	"testing"

	gomilter "github.com/d--j/go-milter"
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
			dir := t.TempDir()
			// A file where the journal directory should be: no journal.
			if err := os.WriteFile(filepath.Join(dir, "journal"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			ts := startServerIn(t, "[server]\non_error = \""+tc.onError+"\"\n"+testConfig, dir, nil)
			srv, st := ts.srv, ts.store
			st.Close() // and the store fails every write
			o := send(t, ts.addr, txn{from: "a@example.net", rcpts: []string{"bob@example.com"}, msg: mkmsg("clean", "x")})
			if (tc.code == 0 && o.action.Type != gomilter.ActionAccept) || (tc.code != 0 && o.action.SMTPCode != tc.code) {
				t.Fatalf("action %+v, want code %d (0: accept)", o.action, tc.code)
			}
			if got := srv.events.lost.Load(); got != 1 {
				t.Errorf("lost rows counted: %d, want 1", got)
			}
		})
	}
}
