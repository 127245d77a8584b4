package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/profiler"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/store"
)

// TestProfilerCommands: list, show and unblock on a store where the
// profiler blocked one address and counted another.
func TestProfilerCommands(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, "p.toml", "[server]\ndata_dir = \""+dir+"\"\n\n[profiler]\nenabled = true\nspam = 1\n\n"+
		"[[rule]]\nname = \"p\"\nfindings = [\"profiler.blocked\"]\naction = \"reject\"\n")
	ctx := context.Background()
	st, err := store.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	pc := profiler.Defaults()
	pc.Enabled, pc.Spam = true, 1
	p := profiler.New(pc)
	env := &check.Env{State: st}
	spam := func(ip string) {
		o := &check.Outcome{Stage: policy.StageEOM, ClientIP: netip.MustParseAddr(ip), Sender: "a@x.example",
			Matches: []scanner.Match{{Rule: "gtube", Findings: []scanner.Finding{{Name: "content.gtube"}}}}}
		if err := p.Learn(ctx, env, o); err != nil {
			t.Fatal(err)
		}
	}
	spam("192.0.2.7")
	spam("192.0.2.7")
	spam("2001:db8::1")
	st.Close()

	code, out, errOut := runCmd(t, "profiler", "list", "-c", conf)
	if code != 0 || errOut != "" {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NETWORK       TYPE  SINCE") ||
		!strings.HasPrefix(lines[1], "192.0.2.7/32  spam  ") || !strings.HasSuffix(lines[1], "2 spam messages in 1h, threshold 1") {
		t.Errorf("list:\n%s", out)
	}
	_, out, _ = runCmd(t, "profiler", "list", "-c", conf, "--format", "json")
	var b profiler.Block
	if err := json.Unmarshal([]byte(out), &b); err != nil || b.Network.String() != "192.0.2.7/32" || b.Type != "spam" || b.Count != 2 ||
		b.Until.Sub(b.Since) != time.Hour {
		t.Errorf("list json %q: %+v, %v", out, b, err)
	}

	code, out, _ = runCmd(t, "profiler", "show", "192.0.2.7", "-c", conf)
	for _, want := range []string{"Network:    192.0.2.7/32\n", "Blocked:    spam, since ", "Reason:     2 spam messages in 1h, threshold 1\n",
		"Window:     1h\n", "Spam:       2\n", "Recipients: 0, 0 invalid\n"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = runCmd(t, "profiler", "show", "2001:db8::ffff", "-c", conf)
	if !strings.Contains(out, "Network:    2001:db8::/64\nBlocked:    no\n") || !strings.Contains(out, "Spam:       1\n") {
		t.Errorf("show of an IPv6 address of a counted /64:\n%s", out)
	}

	code, out, errOut = runCmd(t, "profiler", "unblock", "192.0.2.7", "198.51.100.1", "-c", conf)
	if code != 0 || out != "unblocked 192.0.2.7/32\n" || !strings.Contains(errOut, "not blocked: 198.51.100.1/32") {
		t.Errorf("unblock: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if _, out, _ = runCmd(t, "profiler", "list", "-c", conf); strings.TrimSpace(out) != "NETWORK  TYPE  SINCE  UNTIL  REASON" {
		t.Errorf("list after unblock:\n%s", out)
	}
	if _, out, _ = runCmd(t, "profiler", "show", "192.0.2.7", "-c", conf); !strings.Contains(out, "Spam:       0\n") {
		t.Errorf("counts after unblock:\n%s", out)
	}

	for _, args := range [][]string{{"profiler", "show", "-c", conf}, {"profiler", "unblock", "-c", conf}, {"profiler"}} {
		if code, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errOut := runCmd(t, "profiler", "show", "nonsense", "-c", conf); code != 1 || !strings.Contains(errOut, `"nonsense" is not an IP address`) {
		t.Errorf("show nonsense: exit %d, %s", code, errOut)
	}
	if _, _, errOut := runCmd(t, "profiler", "list", "--data", dir); !strings.Contains(errOut, "note: the profiler is not enabled") {
		t.Errorf("no note for a config without the profiler: %q", errOut)
	}
}
