package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Reply is one SMTP reply. Code is 0 when the command was never sent (an
// earlier stage ended the transaction) or no reply came.
type Reply struct {
	Code int
	// Text is the reply text without the code, lines joined by "\n";
	// it starts with the enhanced status code when the server sent one.
	Text string
}

// String formats the reply like the server sent it ("550 5.7.1 no").
func (r Reply) String() string {
	if r.Code == 0 {
		return "(none)"
	}
	return fmt.Sprintf("%03d %s", r.Code, r.Text)
}

// Class is the reply's first digit: 2 ok, 3 go on, 4 temporary, 5 permanent;
// 0 when there was no reply.
func (r Reply) Class() int { return r.Code / 100 }

// OK reports a 2xx (or, for the DATA command, 3xx) reply.
func (r Reply) OK() bool { return r.Class() == 2 || r.Class() == 3 }

// SendResult records the server's reply at each stage of one SMTP session.
type SendResult struct {
	Banner    Reply   // greeting at connect
	Helo      Reply   // EHLO, or HELO when EHLO was refused with 5xx
	Mail      Reply   // MAIL FROM
	Rcpt      []Reply // one per recipient, in the order given
	DataStart Reply   // reply to DATA (354 to go on)
	Data      Reply   // final reply after the message's end dot
	Quit      Reply
	// Err is a transport error (connection refused, closed, timeout); the
	// replies recorded before it stay valid.
	Err error
	// Transcript is the whole dialogue, "C: " and "S: " prefixed lines,
	// without the message content.
	Transcript string
}

// Accepted reports whether the message was accepted at end of data.
func (r *SendResult) Accepted() bool { return r.Data.Class() == 2 }

// Stage names used by [SendResult.Rejected].
const (
	StageConnect = "connect"
	StageHelo    = "helo"
	StageMail    = "mail"
	StageRcpt    = "rcpt"
	StageData    = "data"
	StageEOM     = "eom"
)

// Rejected returns the first stage whose reply was 4xx or 5xx and that
// reply; for StageRcpt only when every recipient was refused. It returns
// "" when nothing was refused.
func (r *SendResult) Rejected() (stage string, reply Reply) {
	bad := func(x Reply) bool { return x.Class() == 4 || x.Class() == 5 }
	switch {
	case bad(r.Banner):
		return StageConnect, r.Banner
	case bad(r.Helo):
		return StageHelo, r.Helo
	case bad(r.Mail):
		return StageMail, r.Mail
	}
	if len(r.Rcpt) > 0 {
		all := true
		for _, x := range r.Rcpt {
			all = all && bad(x)
		}
		if all {
			return StageRcpt, r.Rcpt[0]
		}
	}
	switch {
	case bad(r.DataStart):
		return StageData, r.DataStart
	case bad(r.Data):
		return StageEOM, r.Data
	}
	return "", Reply{}
}

// String summarises the session for test failure messages.
func (r *SendResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "banner=%q helo=%q mail=%q", r.Banner, r.Helo, r.Mail)
	for i, x := range r.Rcpt {
		fmt.Fprintf(&b, " rcpt[%d]=%q", i, x)
	}
	fmt.Fprintf(&b, " data=%q eom=%q", r.DataStart, r.Data)
	if r.Err != nil {
		fmt.Fprintf(&b, " err=%v", r.Err)
	}
	return b.String()
}

// SendOptions configures [SendWith]. Addr, From and To are required.
type SendOptions struct {
	Addr    string   // server, "127.0.0.1:port"
	SrcIP   string   // loopback source address; "" for the system's choice
	Helo    string   // EHLO name; default "client.mailwarden.test"
	From    string   // envelope sender without <>; "" sends MAIL FROM:<>
	To      []string // envelope recipients without <>
	Data    []byte   // message; bare LF line ends are sent as CRLF
	Timeout time.Duration
	// MailParams is appended to MAIL FROM (e.g. "BODY=8BITMIME").
	MailParams string
}

// Send delivers one message over SMTP to mtaAddr from the loopback address
// srcIP and records every reply. It never aborts on a refused recipient:
// it goes on to DATA when at least one RCPT was accepted. It fails the test
// only on bad arguments; SMTP refusals and transport errors are in the result.
func Send(t testing.TB, mtaAddr, srcIP, from string, to []string, data []byte) *SendResult {
	t.Helper()
	return SendWith(t, SendOptions{Addr: mtaAddr, SrcIP: srcIP, From: from, To: to, Data: data})
}

// SendWith is [Send] with more knobs.
func SendWith(t testing.TB, o SendOptions) *SendResult {
	t.Helper()
	if o.Addr == "" || len(o.To) == 0 {
		t.Fatalf("e2e: Send: need an address and at least one recipient")
	}
	if o.Helo == "" {
		o.Helo = "client.mailwarden.test"
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	if o.SrcIP != "" {
		ip := net.ParseIP(o.SrcIP)
		if ip == nil || !ip.IsLoopback() {
			t.Fatalf("e2e: Send: source %q is not a loopback IP", o.SrcIP)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	res := &SendResult{}
	conn, err := d.Dial("tcp", o.Addr)
	if err != nil {
		res.Err = err
		return res
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(o.Timeout))
	c := &smtpConn{r: bufio.NewReader(conn), w: conn}
	res.Err = c.session(res, o)
	res.Transcript = c.log.String()
	return res
}

type smtpConn struct {
	r   *bufio.Reader
	w   io.Writer
	log strings.Builder
}

func (c *smtpConn) session(res *SendResult, o SendOptions) error {
	var err error
	if res.Banner, err = c.reply(); err != nil || !res.Banner.OK() {
		return c.quit(res, err)
	}
	if res.Helo, err = c.cmd("EHLO " + o.Helo); err != nil {
		return err
	}
	if res.Helo.Class() == 5 {
		if res.Helo, err = c.cmd("HELO " + o.Helo); err != nil {
			return err
		}
	}
	if !res.Helo.OK() {
		return c.quit(res, nil)
	}
	mail := "MAIL FROM:<" + o.From + ">"
	if o.MailParams != "" {
		mail += " " + o.MailParams
	}
	if res.Mail, err = c.cmd(mail); err != nil || !res.Mail.OK() {
		return c.quit(res, err)
	}
	accepted := 0
	res.Rcpt = make([]Reply, len(o.To))
	for i, rcpt := range o.To {
		if res.Rcpt[i], err = c.cmd("RCPT TO:<" + rcpt + ">"); err != nil {
			return err
		}
		if res.Rcpt[i].Class() == 2 {
			accepted++
		}
		if res.Rcpt[i].Code == 421 {
			return c.quit(res, nil)
		}
	}
	if accepted == 0 {
		return c.quit(res, nil)
	}
	if res.DataStart, err = c.cmd("DATA"); err != nil || res.DataStart.Class() != 3 {
		return c.quit(res, err)
	}
	if _, err = c.w.Write(dotStuff(o.Data)); err != nil {
		return err
	}
	c.log.WriteString("C: <message>\r\nC: .\r\n")
	if res.Data, err = c.reply(); err != nil {
		return err
	}
	return c.quit(res, nil)
}

// quit ends the session politely unless the server already hung up.
func (c *smtpConn) quit(res *SendResult, err error) error {
	if err != nil {
		return err
	}
	res.Quit, _ = c.cmd("QUIT")
	return nil
}

func (c *smtpConn) cmd(line string) (Reply, error) {
	c.log.WriteString("C: " + line + "\r\n")
	if _, err := io.WriteString(c.w, line+"\r\n"); err != nil {
		return Reply{}, err
	}
	return c.reply()
}

// reply reads one (possibly multi-line) reply.
func (c *smtpConn) reply() (Reply, error) {
	var r Reply
	var text []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			if line != "" {
				c.log.WriteString("S: " + line + "\r\n")
			}
			return r, fmt.Errorf("e2e: read reply: %w", err)
		}
		c.log.WriteString("S: " + line)
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 3 {
			return r, fmt.Errorf("e2e: short reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return r, fmt.Errorf("e2e: bad reply line %q", line)
		}
		r.Code = code
		if len(line) > 4 {
			text = append(text, line[4:])
		} else {
			text = append(text, "")
		}
		if len(line) == 3 || line[3] != '-' {
			r.Text = strings.Join(text, "\n")
			return r, nil
		}
	}
}

// NormalizeCRLF turns bare LF and bare CR line ends into CRLF, as [Send]
// does before sending. Compare a delivered body with NormalizeCRLF(sent).
func NormalizeCRLF(data []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(data) + len(data)/32)
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\r':
			b.WriteString("\r\n")
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
		case '\n':
			b.WriteString("\r\n")
		default:
			b.WriteByte(c)
		}
	}
	return b.Bytes()
}

// dotStuff returns data as a DATA payload: CRLF line ends, leading dots
// doubled (RFC 5321 section 4.5.2), a final CRLF, and the ending ".\r\n".
func dotStuff(data []byte) []byte {
	data = NormalizeCRLF(data)
	var b bytes.Buffer
	b.Grow(len(data) + 64)
	start := true
	for _, c := range data {
		if start && c == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(c)
		start = c == '\n'
	}
	if len(data) > 0 && !start {
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n")
	return b.Bytes()
}

// SendSession delivers msgs one after another over a single SMTP session
// (MAIL, RCPT, DATA repeated, then QUIT), as a busy relay does, and returns
// the DATA reply of each. It stops at the first transport error.
func SendSession(t testing.TB, mtaAddr, from string, to []string, msgs [][]byte) ([]Reply, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", mtaAddr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Minute))
	c := &smtpConn{r: bufio.NewReader(conn), w: conn}
	if r, err := c.reply(); err != nil || !r.OK() {
		return nil, fmt.Errorf("e2e: banner %v: %w", r, err)
	}
	if r, err := c.cmd("EHLO client.mailwarden.test"); err != nil || !r.OK() {
		return nil, fmt.Errorf("e2e: EHLO %v: %w", r, err)
	}
	var replies []Reply
	for _, m := range msgs {
		r, err := c.cmd("MAIL FROM:<" + from + ">")
		if err == nil && r.OK() {
			for _, rcpt := range to {
				if r, err = c.cmd("RCPT TO:<" + rcpt + ">"); err != nil {
					break
				}
			}
		}
		if err == nil && r.OK() {
			if r, err = c.cmd("DATA"); err == nil && r.Class() == 3 {
				if _, err = c.w.Write(dotStuff(m)); err == nil {
					r, err = c.reply()
				}
			}
		}
		if err != nil {
			return replies, err
		}
		replies = append(replies, r)
		if !r.OK() {
			if _, err := c.cmd("RSET"); err != nil {
				return replies, err
			}
		}
	}
	_, _ = c.cmd("QUIT")
	return replies, nil
}
