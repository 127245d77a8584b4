package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestSystemdUnitSecurity rates contrib/mailwarden.service with
// systemd-analyze: 2.0 or better ("OK") is the bar.
func TestSystemdUnitSecurity(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		missing(t, "systemd-analyze is not installed: %v", err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(root, "contrib", "mailwarden.service")
	out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", unit).CombinedOutput()
	level := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+ \S+)`).FindSubmatch(out)
	if level == nil {
		t.Fatalf("systemd-analyze printed no exposure level (%v):\n%s", err, out)
	}
	t.Logf("exposure level: %s", level[1])
	if err != nil {
		t.Fatalf("exposure level %s is above 2.0:\n%s", level[1], out)
	}
}
