package e2e

import (
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

const (
	postfixBin    = "/usr/sbin/postfix"
	postfixMaster = "/usr/lib/postfix/sbin/master"
)

// StartPostfix starts a private Postfix that listens on a random
// 127.0.0.1 port, relays every message to relayAddr and asks the milter at
// milterAddr ("" for none). t.Cleanup stops it.
func StartPostfix(t testing.TB, milterAddr, relayAddr string) *MTA {
	t.Helper()
	return StartPostfixWith(t, Options{MilterAddr: milterAddr, RelayAddr: relayAddr})
}

// StartPostfixWith is [StartPostfix] with [Options].
func StartPostfixWith(t testing.TB, o Options) *MTA {
	t.Helper()
	requireRoot(t, "Postfix")
	for _, f := range []string{postfixBin, postfixMaster, "/usr/sbin/postconf"} {
		if _, err := os.Stat(f); err != nil {
			missing(t, "Postfix is not installed (%v)", err)
		}
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		m, err := startPostfix(t, o)
		if err == nil {
			return m
		}
		lastErr = err // most likely the free port was taken meanwhile
	}
	t.Fatalf("e2e: postfix: %v", lastErr)
	return nil
}

func startPostfix(t testing.TB, o Options) (*MTA, error) {
	t.Helper()
	_, relayPort := splitHostPort(t, "relay address", o.RelayAddr)
	dir := instanceDir(t)
	port := freePort(t)
	conf := filepath.Join(dir, "etc")
	spool := filepath.Join(dir, "spool")
	data := filepath.Join(dir, "data")
	maillog := filepath.Join(dir, "maillog")
	for _, d := range []string{conf, spool} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("e2e: postfix: %v", err)
		}
	}
	milters := ""
	if strings.HasPrefix(o.MilterAddr, "unix:") {
		milters = o.MilterAddr
	} else if o.MilterAddr != "" {
		host, mport := splitHostPort(t, "milter address", o.MilterAddr)
		milters = fmt.Sprintf("inet:%s:%d", host, mport)
	}
	mainCF := fmt.Sprintf(postfixMainCF, spool, data, relayPort, maillog, dir, milters)
	if len(o.Extra) > 0 {
		mainCF += "\n# Options.Extra\n" + strings.Join(o.Extra, "\n") + "\n"
	}
	masterCF := fmt.Sprintf(postfixMasterCF, port)
	if err := os.WriteFile(filepath.Join(conf, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatalf("e2e: postfix: %v", err)
	}
	if err := os.WriteFile(filepath.Join(conf, "master.cf"), []byte(masterCF), 0o644); err != nil {
		t.Fatalf("e2e: postfix: %v", err)
	}
	// Postfix re-reads a main.cf younger than a couple of seconds, 300 ms
	// at a time, until it is old enough (it might still be being edited):
	// 2 s per start. Backdate the files we just wrote.
	old := time.Now().Add(-time.Hour)
	for _, f := range []string{"main.cf", "master.cf"} {
		if err := os.Chtimes(filepath.Join(conf, f), old, old); err != nil {
			t.Fatalf("e2e: postfix: %v", err)
		}
	}

	m := &MTA{Name: "postfix", SMTPAddr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir}
	m.logs = func() string {
		b, err := os.ReadFile(maillog)
		if err != nil {
			return fmt.Sprintf("(no maillog: %v)", err)
		}
		return string(b)
	}
	m.queue = func() string {
		out, _ := postfixCmd(conf, 10*time.Second, "/usr/sbin/postqueue", "-c", conf, "-p")
		return out
	}
	m.stop = func() { stopPostfix(t, conf, spool) }

	start := time.Now()
	// "postfix start" runs shell scripts (post-install create-missing, the
	// integrity checks) and detaches the master: ~0.2 s, and its master is
	// reaped by init, not us. Once one instance has created its queue
	// layout, later ones copy the layout and run the master as our child
	// in the foreground ("master -d"): ~50 ms, and it stops at once.
	quick := postfixLayout.apply(spool, data)
	exited := make(chan struct{})
	if quick {
		out, err := os.Create(filepath.Join(dir, "master.out"))
		if err != nil {
			t.Fatalf("e2e: postfix: %v", err)
		}
		defer out.Close()
		cmd := exec.Command(postfixMaster, "-c", conf, "-d")
		cmd.Env = append(os.Environ(), "MAIL_CONFIG="+conf)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("e2e: postfix: start %s: %v", postfixMaster, err)
		}
		go func() {
			_ = cmd.Wait()
			close(exited)
		}()
		pid := cmd.Process.Pid
		m.stop = func() {
			_ = syscall.Kill(pid, syscall.SIGTERM) // the master stops its children
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				<-exited
				logf(t, "e2e: postfix master %d did not stop; killed it", pid)
			}
		}
	} else {
		out, err := postfixCmd(conf, 30*time.Second, postfixBin, "-c", conf, "start")
		if err != nil {
			stopPostfix(t, conf, spool)
			return nil, fmt.Errorf("postfix -c %s start: %v\n%s\nmaillog:\n%s", conf, err, out, tail(m.Logs(), 4096))
		}
	}
	dead, ready := waitListening(exited, port, 10*time.Second)
	if dead || !ready {
		logs := m.Logs()
		m.Stop()
		if quick {
			postfixLayout.forget() // next attempt takes the long way
		}
		out, _ := os.ReadFile(filepath.Join(dir, "master.out"))
		return nil, fmt.Errorf("postfix (quick start %v) on %s: master exited %v, listening %v after %v\n%s\nmaillog:\n%s",
			quick, m.SMTPAddr, dead, ready && !dead, time.Since(start), out, tail(logs, 4096))
	}
	if !quick {
		postfixLayout.record(spool, data)
	}
	registerCleanup(t, m)
	t.Logf("e2e: postfix on %s (milter %q, relay %s) started in %v (quick start %v), dir %s",
		m.SMTPAddr, o.MilterAddr, o.RelayAddr, time.Since(start).Round(time.Millisecond), quick, dir)
	return m, nil
}

func postfixCmd(conf string, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "MAIL_CONFIG="+conf)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// stopPostfix does what "postfix stop" does, without its shell script:
// SIGTERM to this instance's master (from its own pid file), which stops
// its children; SIGKILL if it lingers.
func stopPostfix(t testing.TB, conf, spool string) {
	pid := postfixMasterPID(spool)
	if pid == 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if waitFor(10*time.Second, func() bool { return !alive(pid) }) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	logf(t, "e2e: postfix master %d did not stop; killed it", pid)
}

// alive reports whether pid runs; a zombie (a master detached by "postfix
// start" and not yet reaped by init) counts as dead.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

func postfixMasterPID(spool string) int {
	b, err := os.ReadFile(filepath.Join(spool, "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

// postfixLayout remembers the queue and data directories that Postfix's
// post-install created for the first instance (names, modes, owners).
var postfixLayout layout

type layout struct {
	mu    sync.Mutex
	dirs  []layoutDir // queue subdirectories
	data  *layoutDir  // the data directory itself
	valid bool
}

type layoutDir struct {
	name     string
	mode     os.FileMode
	uid, gid int
}

func statDir(path string) (layoutDir, bool) {
	fi, err := os.Stat(path)
	if err != nil || !fi.IsDir() {
		return layoutDir{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return layoutDir{}, false
	}
	return layoutDir{name: fi.Name(), mode: fi.Mode().Perm(), uid: int(st.Uid), gid: int(st.Gid)}, true
}

// record stores the layout of a freshly started instance.
func (l *layout) record(spool, data string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.valid {
		return
	}
	entries, err := os.ReadDir(spool)
	if err != nil {
		return
	}
	var dirs []layoutDir
	for _, e := range entries {
		if d, ok := statDir(filepath.Join(spool, e.Name())); ok {
			dirs = append(dirs, d)
		}
	}
	d, ok := statDir(data)
	if !ok || len(dirs) == 0 {
		return
	}
	l.dirs, l.data, l.valid = dirs, &d, true
}

// forget drops the recorded layout.
func (l *layout) forget() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.valid = false
}

// apply creates the recorded layout under spool and data and asks
// postfix-script to skip its checks once (the "quick-start" file). It
// reports false when there is no layout yet or it could not be made.
func (l *layout) apply(spool, data string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.valid {
		return false
	}
	mk := func(path string, d layoutDir) error {
		if err := os.Mkdir(path, d.mode); err != nil {
			return err
		}
		if err := os.Chmod(path, d.mode); err != nil { // umask
			return err
		}
		return os.Chown(path, d.uid, d.gid)
	}
	for _, d := range l.dirs {
		if err := mk(filepath.Join(spool, d.name), d); err != nil {
			return false
		}
	}
	if err := mk(data, *l.data); err != nil {
		return false
	}
	return os.WriteFile(filepath.Join(spool, "quick-start"), nil, 0o644) == nil
}

// logf logs unless the test is over (t.Log panics after the test ends).
func logf(t testing.TB, format string, args ...any) {
	defer func() { _ = recover() }()
	t.Logf(format, args...)
}

// postfixMainCF: queue_directory, data_directory, relay port, maillog_file,
// maillog_file_prefixes, smtpd_milters.
const postfixMainCF = `# Generated by mailwarden e2e: a private relay-only Postfix.
compatibility_level = 3.6
queue_directory = %s
data_directory = %s
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.mailwarden.test
mydomain = mailwarden.test
myorigin = $myhostname
append_dot_mydomain = no
biff = no
readme_directory = no

# No local delivery at all; everything is relayed to the sink.
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery is disabled
alias_maps =
alias_database =
relay_domains =
relayhost = [127.0.0.1]:%d
default_transport = smtp

# Loopback only, no DNS (the test network has none).
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtp_connect_timeout = 5s

# Fast and forgiving for tests.
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_junk_command_limit = 1000
smtpd_client_connection_count_limit = 0
in_flow_delay = 0
message_size_limit = 104857600
mailbox_size_limit = 0
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 60s
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
delay_warning_time = 0

maillog_file = %s
maillog_file_prefixes = %s

# The milter under test.
smtpd_milters = %s
non_smtpd_milters =
milter_protocol = 6
milter_default_action = tempfail
milter_connect_timeout = 10s
milter_command_timeout = 30s
milter_content_timeout = 300s
`

// postfixMasterCF: smtpd port. No chroot anywhere.
const postfixMasterCF = `# Generated by mailwarden e2e.
# service  type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:%d inet n      -       n       -       -       smtpd
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
proxywrite unix  -       -       n       -       1       proxymap
smtp       unix  -       -       n       -       -       smtp
relay      unix  -       -       n       -       -       smtp
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
local      unix  -       n       n       -       -       local
lmtp       unix  -       -       n       -       -       lmtp
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
`
