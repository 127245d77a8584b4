package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sendmailRoot is where install-deps.sh unpacked the Sendmail packages.
func sendmailRoot() (string, error) {
	if d := os.Getenv(EnvSendmailRoot); d != "" {
		return d, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "var", "e2e", "sendmail"), nil
}

// sendmailLibPath is LD_LIBRARY_PATH for the unpacked libraries.
func sendmailLibPath(root string) string {
	var dirs []string
	for _, pat := range []string{"lib/*-linux-gnu", "usr/lib/*-linux-gnu", "lib", "usr/lib"} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		for _, d := range m {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				dirs = append(dirs, d)
			}
		}
	}
	return strings.Join(dirs, ":")
}

// canUnshare reports whether "unshare -m" works here (root with
// CAP_SYS_ADMIN): then Sendmail runs with private /etc/hosts and
// /etc/nsswitch.conf ("hosts: files"), so its reverse lookups of loopback
// clients never reach a DNS server.
var canUnshare = sync.OnceValue(func() bool {
	if os.Getenv(EnvNoUnshare) != "" {
		return false
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "unshare", "-m", "--propagation", "private",
		"sh", "-c", "mount --bind /etc/hosts /etc/hosts").Run() == nil
})

// StartSendmail starts a private Sendmail daemon that listens on a random
// 127.0.0.1 port, relays every message to relayAddr (SMART_HOST) and asks
// the milter at milterAddr ("" for none). t.Cleanup stops it.
func StartSendmail(t testing.TB, milterAddr, relayAddr string) *MTA {
	t.Helper()
	return StartSendmailWith(t, Options{MilterAddr: milterAddr, RelayAddr: relayAddr})
}

// StartSendmailWith is [StartSendmail] with [Options].
func StartSendmailWith(t testing.TB, o Options) *MTA {
	t.Helper()
	requireRoot(t, "Sendmail")
	root, err := sendmailRoot()
	if err != nil {
		t.Fatalf("e2e: sendmail: %v", err)
	}
	bin := filepath.Join(root, "usr/libexec/sendmail/sendmail")
	cfDir := filepath.Join(root, "usr/share/sendmail/cf")
	if _, err := os.Stat(bin); err != nil {
		missing(t, "Sendmail is not unpacked (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(cfDir, "m4/cf.m4")); err != nil {
		missing(t, "sendmail-cf is not unpacked (%v)", err)
	}
	if _, err := exec.LookPath("m4"); err != nil {
		missing(t, "m4 is not installed (%v)", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		m, err := startSendmail(t, o, root, bin, cfDir)
		if err == nil {
			return m
		}
		lastErr = err
	}
	t.Fatalf("e2e: sendmail: %v", lastErr)
	return nil
}

func startSendmail(t testing.TB, o Options, root, bin, cfDir string) (*MTA, error) {
	t.Helper()
	_, relayPort := splitHostPort(t, "relay address", o.RelayAddr)
	dir := instanceDir(t)
	port := freePort(t)
	path := func(name string) string { return filepath.Join(dir, name) }
	fatal := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("e2e: sendmail: %v", err)
		}
	}
	fatal(os.Mkdir(path("queue"), 0o700))

	// A setgid binary runs in secure-execution mode and the loader then
	// ignores LD_LIBRARY_PATH; use a plain copy if install-deps.sh left the
	// bit on.
	if fi, err := os.Stat(bin); err == nil && fi.Mode()&(os.ModeSetgid|os.ModeSetuid) != 0 {
		b, err := os.ReadFile(bin)
		fatal(err)
		bin = path("sendmail")
		fatal(os.WriteFile(bin, b, 0o755))
	}

	host, err := os.Hostname()
	fatal(err)
	hosts, err := os.ReadFile("/etc/hosts")
	fatal(err)
	// Private name service for the unshared run: an FQDN for this host
	// first, then the system's hosts; no DNS.
	fatal(os.WriteFile(path("hosts"), append([]byte(fmt.Sprintf(
		"127.0.0.1 localhost\n127.0.1.1 %s.mailwarden.test %s\n", host, host)), hosts...), 0o644))
	fatal(os.WriteFile(path("nsswitch.conf"), []byte(
		"passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\nservices: files\nprotocols: files\n"), 0o644))
	fatal(os.WriteFile(path("service.switch"), []byte("hosts\tfiles\naliases\tfiles\n"), 0o644))
	fatal(os.WriteFile(path("aliases"), nil, 0o644))
	fatal(os.WriteFile(path("helpfile"), nil, 0o644))

	var milter string
	if path, ok := strings.CutPrefix(o.MilterAddr, "unix:"); ok {
		milter = fmt.Sprintf("INPUT_MAIL_FILTER(`mailwarden', `S=unix:%s, F=T, T=C:10s;S:30s;R:30s;E:5m')dnl\n", path)
	} else if o.MilterAddr != "" {
		mhost, mport := splitHostPort(t, "milter address", o.MilterAddr)
		milter = fmt.Sprintf("INPUT_MAIL_FILTER(`mailwarden', `S=inet:%d@%s, F=T, T=C:10s;S:30s;R:30s;E:5m')dnl\n", mport, mhost)
	}
	extra := ""
	if len(o.Extra) > 0 {
		extra = "dnl Options.Extra\n" + strings.Join(o.Extra, "\n") + "\n"
	}
	mc := strings.NewReplacer(
		"@DIR@", dir,
		"@PORT@", strconv.Itoa(port),
		"@RELAYPORT@", strconv.Itoa(relayPort),
		"@MILTER@", milter,
		"@EXTRA@", extra,
	).Replace(sendmailMC)
	fatal(os.WriteFile(path("sendmail.mc"), []byte(mc), 0o644))
	cf, err := runOut(exec.Command("m4", "-D_CF_DIR_="+cfDir+"/", filepath.Join(cfDir, "m4/cf.m4"), path("sendmail.mc")))
	if err != nil {
		t.Fatalf("e2e: sendmail: m4 %s: %v\n%s", path("sendmail.mc"), err, cf)
	}
	fatal(os.WriteFile(path("sendmail.cf"), []byte(cf), 0o644))

	out, err := os.Create(path("sendmail.out"))
	fatal(err)
	defer out.Close()
	args := []string{bin, "-bD", "-C", path("sendmail.cf"), "-X", path("trace")}
	var cmd *exec.Cmd
	if canUnshare() {
		script := `mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/nsswitch.conf && shift 2 && exec "$@"`
		cmd = exec.Command("unshare", append([]string{"-m", "--propagation", "private",
			"sh", "-c", script, "sh", path("hosts"), path("nsswitch.conf")}, args...)...)
	} else {
		cmd = exec.Command(args[0], args[1:]...)
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+sendmailLibPath(root))
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group: the daemon's delivery children die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	m := &MTA{Name: "sendmail", SMTPAddr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir}
	m.logs = func() string {
		var b strings.Builder
		for _, f := range []string{"sendmail.out", "trace"} {
			data, err := os.ReadFile(path(f))
			if err == nil && len(data) > 0 {
				fmt.Fprintf(&b, "==> %s <==\n%s\n", f, data)
			}
		}
		return b.String()
	}
	m.queue = func() string {
		entries, _ := os.ReadDir(path("queue"))
		var b strings.Builder
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "qf") {
				data, _ := os.ReadFile(filepath.Join(path("queue"), e.Name()))
				fmt.Fprintf(&b, "==> %s <==\n%s\n", e.Name(), data)
			}
		}
		return b.String()
	}

	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("e2e: sendmail: start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	pgid := cmd.Process.Pid
	m.stop = func() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
		// Delivery children may outlive the daemon briefly.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	dead, ready := waitListening(exited, port, 30*time.Second)
	if dead || !ready {
		logs := m.Logs()
		m.Stop()
		why := "exited"
		if !dead {
			why = "does not listen after " + time.Since(start).String()
		}
		return nil, fmt.Errorf("sendmail on %s %s\n%s", m.SMTPAddr, why, tail(logs, 4096))
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Logf("e2e: sendmail took %v to start: is the host name fully qualified (/etc/hosts)?", d)
	}
	registerCleanup(t, m)
	t.Logf("e2e: sendmail on %s (milter %q, relay %s, unshare %v) started in %v, dir %s",
		m.SMTPAddr, o.MilterAddr, o.RelayAddr, canUnshare(), time.Since(start).Round(time.Millisecond), dir)
	return m, nil
}

func runOut(cmd *exec.Cmd) (string, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return errb.String(), err
	}
	return out.String(), nil
}

// sendmailMC is the .mc for one private daemon. @DIR@ is the instance
// directory, @PORT@ its SMTP port, @RELAYPORT@ the sink's port.
const sendmailMC = "divert(-1)\n" +
	"dnl Generated by mailwarden e2e: a private relay-only Sendmail.\n" +
	"divert(0)dnl\n" +
	"VERSIONID(`mailwarden e2e')dnl\n" +
	"OSTYPE(`linux')dnl\n" +
	"define(`confDOMAIN_NAME', `sendmail.mailwarden.test')dnl\n" +
	"define(`QUEUE_DIR', `@DIR@/queue')dnl\n" +
	"define(`STATUS_FILE', `@DIR@/statistics')dnl\n" +
	"define(`confPID_FILE', `@DIR@/sendmail.pid')dnl\n" +
	"define(`ALIAS_FILE', `@DIR@/aliases')dnl\n" +
	"define(`HELP_FILE', `@DIR@/helpfile')dnl\n" +
	"define(`confSERVICE_SWITCH_FILE', `@DIR@/service.switch')dnl\n" +
	"define(`confHOSTS_FILE', `@DIR@/hosts')dnl\n" +
	"define(`confDONT_PROBE_INTERFACES', `True')dnl\n" +
	"define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl\n" +
	"define(`confTO_IDENT', `0')dnl\n" +
	"define(`confTO_CONNECT', `10s')dnl\n" +
	"define(`confDELIVERY_MODE', `background')dnl\n" +
	"define(`confQUEUE_LA', `1000')dnl\n" +
	"define(`confREFUSE_LA', `1000')dnl\n" +
	"define(`confDELAY_LA', `0')dnl\n" +
	"define(`confMAX_DAEMON_CHILDREN', `0')dnl\n" +
	"define(`confCONNECTION_RATE_THROTTLE', `0')dnl\n" +
	"define(`confMAX_MESSAGE_SIZE', `104857600')dnl\n" +
	"define(`confPRIVACY_FLAGS', `authwarnings')dnl\n" +
	"define(`confLOG_LEVEL', `14')dnl\n" +
	"define(`confMILTER_LOG_LEVEL', `14')dnl\n" +
	"define(`confCLIENT_OPTIONS', `Family=inet, Addr=127.0.0.1')dnl\n" +
	"define(`SMART_HOST', `relay:[127.0.0.1]')dnl\n" +
	"define(`RELAY_MAILER_ARGS', `TCP $h @RELAYPORT@')dnl\n" +
	"define(`ESMTP_MAILER_ARGS', `TCP $h @RELAYPORT@')dnl\n" +
	"define(`SMTP_MAILER_ARGS', `TCP $h @RELAYPORT@')dnl\n" +
	"FEATURE(`no_default_msa')dnl\n" +
	"FEATURE(`nocanonify')dnl\n" +
	"FEATURE(`accept_unresolvable_domains')dnl\n" +
	"FEATURE(`accept_unqualified_senders')dnl\n" +
	"dnl Relaying: every 127.x client may relay to any domain (class R).\n" +
	"RELAY_DOMAIN(`127')dnl\n" +
	"DAEMON_OPTIONS(`Family=inet, Name=MTA, Addr=127.0.0.1, Port=@PORT@')dnl\n" +
	"@MILTER@" +
	"@EXTRA@" +
	"MAILER(`smtp')dnl\n"
