package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runDaemon starts `mailwarden serve` on a given config, data directory
// and address, so a test can kill it and start it again on the same ones.
// Cleanup stops it with SIGTERM unless it has exited already.
func runDaemon(t *testing.T, bin, conf, data, addr string) *daemon {
	t.Helper()
	d := &daemon{bin: bin, conf: conf, data: data, addr: addr, log: &syncBuffer{}}
	d.cmd = exec.Command(bin, "serve", "-c", conf, "--data", data, "--listen", "inet:"+addr)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.exited = make(chan struct{})
	go func() { d.waitErr = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		select {
		case <-d.exited:
			return
		default:
		}
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(45 * time.Second):
			_ = d.cmd.Process.Kill()
			t.Errorf("mailwarden did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("mailwarden log:\n%s", tail(d.log.String(), 60))
		}
	})
	if !waitFor(10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("mailwarden did not listen on %s:\n%s", addr, d.log.String())
	}
	return d
}

// TestTrackingSurvivesKill9 is the hardening issue's lost tracking rows:
// messages accepted through real Postfix, the daemon killed with SIGKILL
// right after the last 250, and started again on the same data directory.
// Every accepted message has its tracking row, exactly once.
func TestTrackingSurvivesKill9(t *testing.T) {
	bin, err := mailwardenBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf, data := filepath.Join(dir, "mailwarden.toml"), filepath.Join(dir, "data")
	if err := os.WriteFile(conf, []byte(e2eConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	mw := runDaemon(t, bin, conf, data, addr)
	sink := StartSink(t)
	mta := StartPostfix(t, addr, sink.Addr())

	want := map[string]bool{}
	for round := range 3 {
		const n = 8
		for i := range n {
			id := fmt.Sprintf("kill9-%d-%d", round, i)
			r := Send(t, mta.SMTPAddr, "127.0.0.1", "alice@example.net", []string{"bob@example.com"}, msg(id, "clean "+id, "x"))
			if !r.Accepted() {
				t.Fatalf("%s: %s\n%s", id, r, mw.log.String())
			}
			want[id] = true
		}
		// The last 250 has been read: kill at once.
		if err := mw.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-mw.exited
		mw = runDaemon(t, bin, conf, data, addr)
		got := map[string]int{}
		for _, line := range strings.Split(strings.TrimSpace(mw.cli(t, "log", "--format", "json", "--limit", "10000")), "\n") {
			var r logRow
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if id, ok := strings.CutSuffix(strings.Trim(r.MessageID, "<>"), "@example.net"); ok && r.Stage == "eom" {
				got[id]++
			}
		}
		for id := range want {
			if got[id] != 1 {
				t.Errorf("round %d: %s has %d tracking rows after kill -9 and restart, want 1", round, id, got[id])
			}
		}
		if t.Failed() {
			t.Logf("restarted daemon:\n%s", tail(mw.log.String(), 20))
			return
		}
	}
}
