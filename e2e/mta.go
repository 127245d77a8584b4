package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// MTA is a private, running Postfix or Sendmail instance.
type MTA struct {
	Name     string // "postfix" or "sendmail"
	SMTPAddr string // where it listens for SMTP, "127.0.0.1:port"
	Dir      string // its instance directory (config, queue, logs)

	logs  func() string
	queue func() string
	stop  func()
}

// Options configures [StartPostfixWith] and [StartSendmailWith].
type Options struct {
	// MilterAddr is the milter, "127.0.0.1:port" or "unix:/path"; "" runs
	// without a milter.
	MilterAddr string
	// RelayAddr is where all mail goes, normally [Sink.Addr]. Required.
	RelayAddr string
	// Extra is appended to the generated configuration: main.cf lines for
	// Postfix (later lines win), .mc lines for Sendmail (placed before the
	// MAILER lines).
	Extra []string
}

// MTAStarter is the signature of [StartPostfix] and [StartSendmail], handy
// for tables that run one test against each MTA.
type MTAStarter func(t testing.TB, milterAddr, relayAddr string) *MTA

// MTAs lists every supported MTA for table tests.
var MTAs = []struct {
	Name  string
	Start MTAStarter
}{
	{"postfix", StartPostfix},
	{"sendmail", StartSendmail},
}

// Logs returns what the MTA logged, for failure messages: Postfix's
// maillog; Sendmail's SMTP traffic trace (-X) and debug output.
func (m *MTA) Logs() string {
	if m.logs == nil {
		return ""
	}
	return m.logs()
}

// Queue lists the mail waiting in the MTA's queue (mailq).
func (m *MTA) Queue() string {
	if m.queue == nil {
		return ""
	}
	return m.queue()
}

// Stop stops the MTA now; t.Cleanup does it too. It is safe to call twice.
func (m *MTA) Stop() {
	if m.stop != nil {
		m.stop()
		m.stop = nil
	}
}

// Host is the IP part of SMTPAddr.
func (m *MTA) Host() string {
	h, _, _ := net.SplitHostPort(m.SMTPAddr)
	return h
}

func (m *MTA) String() string { return fmt.Sprintf("%s@%s", m.Name, m.SMTPAddr) }

// registerCleanup stops m at the end of the test and, when the test failed,
// logs the tail of m's logs and its queue.
func registerCleanup(t testing.TB, m *MTA) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("e2e: %s logs (%s):\n%s", m.Name, m.Dir, tail(m.Logs(), 16<<10))
			if q := strings.TrimSpace(m.Queue()); q != "" {
				t.Logf("e2e: %s queue:\n%s", m.Name, q)
			}
		}
		m.Stop()
	})
}
