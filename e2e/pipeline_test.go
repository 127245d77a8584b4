package e2e

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// TestPipelineWire runs the golden pipeline cases tagged "wire"
// (testdata/pipeline, see its README) through real Postfix and real Sendmail
// with the real daemon, and checks what the wire shows of each case's want
// section: each recipient accepted or refused with the reply code and the
// rule in the text (except at connect, where the MTAs put their own text),
// the message accepted or refused with its reply, the delivered copy's
// recipients, added header fields and tagged subject, quarantined
// recipients not delivered but in the quarantine, and the tracking row's
// outcome per recipient. milter/pipeline_test.go checks the same want
// sections against the dry run, so the two paths are held to one answer.
func TestPipelineWire(t *testing.T) {
	cases := wireCases(t)
	if len(cases) < 8 {
		t.Fatalf("%d pipeline cases tagged wire, want the subset (8 or more)", len(cases))
	}
	// Cases with the same config share a daemon.
	var configs []string
	byConfig := map[string][]*wireCase{}
	for _, c := range cases {
		if byConfig[c.config] == nil {
			configs = append(configs, c.config)
		}
		byConfig[c.config] = append(byConfig[c.config], c)
	}
	for _, m := range MTAs {
		t.Run(m.Name, func(t *testing.T) {
			sink := StartSink(t)
			type pending struct {
				c         *wireCase
				delivered int
			}
			var sent []pending
			for _, conf := range configs {
				mw := startMailwarden(t, conf)
				mta := m.Start(t, mw.addr, sink.Addr())
				for _, c := range byConfig[conf] {
					t.Run(c.name, func(t *testing.T) {
						n := c.run(t, mw, mta, sink)
						sent = append(sent, pending{c, n})
					})
				}
			}
			// Quarantined and refused copies must stay undelivered: give
			// the MTAs a moment to deliver what they should not, then count.
			time.Sleep(time.Second)
			for _, p := range sent {
				if got := len(deliveriesByID(sink, p.c.messageID)); got != p.delivered {
					t.Errorf("%s: %d deliveries, want %d", p.c.name, got, p.delivered)
				}
			}
		})
	}
}

// run sends one case and checks the replies, the delivery, the quarantine
// and the tracking row; it returns how many deliveries the case makes.
func (c *wireCase) run(t *testing.T, mw *daemon, mta *MTA, sink *Sink) int {
	t.Logf("%s", c.comment)
	r := SendWith(t, SendOptions{Addr: mta.SMTPAddr, SrcIP: c.ip, Helo: c.helo, From: c.from, To: c.rcpts, Data: c.message})
	if r.Err != nil {
		t.Fatalf("send: %v\n%s", r.Err, r.Transcript)
	}
	w := c.want
	refused := w.action == "reject" || w.action == "tempfail"
	if refused && (w.stage == "connect" || w.stage == "helo" || w.stage == "mail") {
		// Refused for the whole connection or transaction, before RCPT.
		stage, reply := r.Rejected()
		t.Logf("%s refused at %s: %v", mta.Name, stage, reply)
		if stage != StageConnect && stage != StageHelo && stage != StageMail {
			t.Fatalf("refused at %q, want before RCPT (%s): %s", stage, w.stage, r)
		}
		if reply.Class() != replyCode(w.reply)/100 {
			t.Errorf("reply %v, want class of %q", reply, w.reply)
		}
		if w.stage != "connect" {
			c.checkReply(t, "refusal", reply, w.reply, w.rcpts[0].rule)
		}
		return 0
	}
	var deliver []string
	for i, addr := range c.rcpts {
		wr := w.rcpt(addr)
		if wr == nil {
			t.Fatalf("want has no line for rcpt %s", addr)
		}
		if wr.stage == "rcpt" && (wr.outcome == "reject" || wr.outcome == "tempfail") {
			c.checkReply(t, "RCPT "+addr, r.Rcpt[i], wr.reply, wr.rule)
			continue
		}
		if !r.Rcpt[i].OK() {
			t.Errorf("RCPT %s refused: %v", addr, r.Rcpt[i])
		}
		if wr.outcome == "accept" && !refused {
			deliver = append(deliver, addr)
		}
	}
	if r.DataStart.Code == 0 {
		if w.stage != "rcpt" {
			t.Errorf("no DATA, want the transaction to end at %s: %s", w.stage, r)
		}
		return 0
	}
	if refused {
		c.checkReply(t, "end of data", r.Data, w.reply, w.rcpts[0].rule)
	} else if !r.Accepted() {
		t.Fatalf("message refused: %s", r)
	}
	c.checkRow(t, mw)
	if len(deliver) == 0 {
		return 0
	}
	d := waitDeliveredID(t, sink, mta, c.messageID)
	if got := slices.Sorted(slices.Values(d.To)); !slices.Equal(got, slices.Sorted(slices.Values(deliver))) {
		t.Errorf("delivered to %v, want %v", d.To, deliver)
	}
	for _, name := range headerNames(w.addHeaders) {
		want := countFields(c.message, name)
		for _, h := range w.addHeaders {
			if n, _, _ := strings.Cut(h, ":"); strings.EqualFold(n, name) {
				want++
			}
		}
		if got := len(d.HeaderValues(name)); got != want {
			t.Errorf("%d %s fields delivered, want %d (%v)\n%s", got, name, want, d.HeaderValues(name), d.Data)
		}
	}
	for _, h := range w.addHeaders {
		name, val, _ := strings.Cut(h, ":")
		if !slices.Contains(d.HeaderValues(name), strings.TrimSpace(val)) {
			t.Errorf("delivered copy lacks %q; has %q", h, d.HeaderValues(name))
		}
	}
	raw, _ := d.Header("Subject")
	got, _ := message.DecodeHeader(raw)
	if want := w.deliveredSubject(); got != want {
		t.Errorf("delivered Subject %q decodes to %q, want %q", raw, got, want)
	}
	return 1
}

// checkReply checks one refusal: the code of the want reply, and the rule
// named in the text.
func (c *wireCase) checkReply(t *testing.T, what string, got Reply, want, rule string) {
	t.Helper()
	if got.Code != replyCode(want) || !strings.Contains(got.Text, "(rule "+rule) {
		t.Errorf("%s: reply %v, want %q", what, got, want)
	}
}

// checkRow compares the daemon's tracking row and quarantine entries of a
// message that reached DATA with the want section.
func (c *wireCase) checkRow(t *testing.T, mw *daemon) {
	var row *logRow
	waitFor(10*time.Second, func() bool {
		for _, line := range strings.Split(strings.TrimSpace(mw.cli(t, "log", "--format", "json", "--limit", "1000")), "\n") {
			var r logRow
			if json.Unmarshal([]byte(line), &r) == nil && r.MessageID == "<"+c.messageID+">" {
				row = &r
				return true
			}
		}
		return false
	})
	if row == nil {
		t.Errorf("no tracking row with Message-ID <%s>", c.messageID)
		return
	}
	w := c.want
	if row.Action != w.action || row.Stage != w.stage {
		t.Errorf("tracking row action %s at %s, want %s at %s", row.Action, row.Stage, w.action, w.stage)
	}
	for _, wr := range w.rcpts {
		i := slices.IndexFunc(row.Recipients, func(x struct{ Address, Action, Rule string }) bool { return x.Address == wr.addr })
		if i < 0 {
			t.Errorf("tracking row lacks recipient %s: %+v", wr.addr, row.Recipients)
			continue
		}
		if got := row.Recipients[i]; got.Action != wr.outcome || got.Rule != wr.rule {
			t.Errorf("tracking row recipient %s: %s (rule %q), want %s (rule %q)", wr.addr, got.Action, got.Rule, wr.outcome, wr.rule)
		}
	}
	// Every quarantined or discarded recipient is in a quarantine entry of
	// its area and rule, and no one else is.
	want := map[string]string{}
	for _, wr := range w.rcpts {
		if (wr.outcome == "quarantine" || wr.outcome == "discard") && w.action != "reject" && w.action != "tempfail" {
			want[wr.addr] = wr.area + "/" + wr.rule
		}
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(mw.cli(t, "quarantine", "list", "--format", "json")), "\n") {
		var q struct {
			Area, Rule string
			MessageID  string `json:"message_id"`
			Recipients []string
		}
		if line == "" || json.Unmarshal([]byte(line), &q) != nil || q.MessageID != "<"+c.messageID+">" {
			continue
		}
		for _, r := range q.Recipients {
			got[r] = q.Area + "/" + q.Rule
		}
	}
	if !mapsEqual(got, want) {
		t.Errorf("quarantined %v, want %v", got, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// deliveriesByID returns the sink's deliveries whose Message-ID is <id>.
func deliveriesByID(s *Sink, id string) []Delivery {
	var out []Delivery
	for _, d := range s.Deliveries() {
		if v, _ := d.Header("Message-ID"); v == "<"+id+">" {
			out = append(out, d)
		}
	}
	return out
}

func waitDeliveredID(t *testing.T, s *Sink, mta *MTA, id string) Delivery {
	t.Helper()
	var got []Delivery
	if !waitFor(30*time.Second, func() bool { got = deliveriesByID(s, id); return len(got) > 0 }) {
		t.Fatalf("%s: no delivery of <%s>\nqueue:\n%s\nlogs:\n%s", mta.Name, id, mta.Queue(), tail(mta.Logs(), 4000))
	}
	return got[0]
}

func replyCode(reply string) int {
	n, _ := strconv.Atoi(strings.SplitN(reply, " ", 2)[0])
	return n
}

func headerNames(fields []string) []string {
	var names []string
	for _, h := range fields {
		n, _, _ := strings.Cut(h, ":")
		if !slices.ContainsFunc(names, func(x string) bool { return strings.EqualFold(x, n) }) {
			names = append(names, n)
		}
	}
	return names
}

// countFields counts the header fields called name in a message file.
func countFields(msg []byte, name string) int {
	n := 0
	for _, line := range strings.Split(strings.ReplaceAll(string(msg), "\r\n", "\n"), "\n") {
		if line == "" {
			break
		}
		if k, _, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			n++
		}
	}
	return n
}

// wireCase is a pipeline case tagged wire, as far as the wire test reads
// it; milter/pipeline_test.go parses the format strictly.
type wireCase struct {
	name, comment, config string
	ip, helo, from        string
	rcpts                 []string
	message               []byte
	messageID             string // without <>
	want                  wantOutcome
}

type wantOutcome struct {
	action, reply, stage string
	rcpts                []wantRcpt
	subject              string
	taggedSubject        *string
	addHeaders           []string
}

type wantRcpt struct{ addr, outcome, stage, rule, area, reply string }

func (w *wantOutcome) rcpt(addr string) *wantRcpt {
	for i := range w.rcpts {
		if w.rcpts[i].addr == addr {
			return &w.rcpts[i]
		}
	}
	return nil
}

// deliveredSubject is what the delivered Subject must decode to.
func (w *wantOutcome) deliveredSubject() string {
	if w.taggedSubject != nil {
		return *w.taggedSubject
	}
	return w.subject
}

// wireCases reads the cases tagged wire from testdata/pipeline.
func wireCases(t *testing.T) []*wireCase {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "testdata", "pipeline", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*wireCase
	ids := map[string]string{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		c := parseWireCase(t, strings.TrimSuffix(filepath.Base(file), ".txtar"), data)
		if c == nil {
			continue
		}
		if prev, dup := ids[c.messageID]; dup {
			t.Fatalf("%s and %s: same Message-ID <%s>; wire cases need their own to find their delivery", prev, c.name, c.messageID)
		}
		ids[c.messageID] = c.name
		out = append(out, c)
	}
	return out
}

// parseWireCase returns the case in data, or nil when it is not tagged wire.
func parseWireCase(t *testing.T, name string, data []byte) *wireCase {
	t.Helper()
	c := &wireCase{name: name, config: string(config.DefaultTOML())}
	wire, auth := false, ""
	var comment, want []byte
	section := ""
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		s := strings.TrimSuffix(string(line), "\n")
		if strings.HasPrefix(s, "-- ") && strings.HasSuffix(s, " --") && len(s) >= len("-- x --") {
			section = strings.TrimSpace(s[3 : len(s)-3])
			if section == "config.toml" {
				c.config = ""
			}
			continue
		}
		switch section {
		case "":
			comment = append(comment, line...)
		case "config.toml":
			c.config += string(line)
		case "message.eml":
			c.message = append(c.message, line...)
		case "want":
			want = append(want, line...)
		case "session":
			key, val, _ := strings.Cut(s, ":")
			val = strings.TrimSpace(val)
			switch strings.TrimSpace(key) {
			case "ip":
				c.ip = val
			case "helo":
				c.helo = val
			case "from":
				c.from = strings.TrimSuffix(strings.TrimPrefix(val, "<"), ">")
			case "rcpt":
				c.rcpts = append(c.rcpts, strings.TrimSuffix(strings.TrimPrefix(val, "<"), ">"))
			case "tags":
				wire = wire || slices.Contains(strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == ' ' }), "wire")
			case "auth_user":
				auth = val
			}
		}
	}
	if !wire {
		return nil
	}
	c.comment = strings.TrimSpace(string(comment))
	if auth != "" {
		t.Fatalf("%s: tagged wire with auth_user, which the wire test cannot send", name)
	}
	if ip, err := netip.ParseAddr(c.ip); err != nil || !ip.IsLoopback() {
		t.Fatalf("%s: tagged wire with ip %q; the wire test sends from loopback addresses only", name, c.ip)
	}
	// The cases are written for a clock five minutes after their Date (see
	// pipelineNow in session/pipeline_test.go); the daemon runs on the
	// wall clock, so the message is dated five minutes ago.
	c.message = bytes.Replace(c.message, []byte("Date: "+pipelineDate+"\n"),
		[]byte("Date: "+time.Now().Add(-5*time.Minute).UTC().Format(time.RFC1123Z)+"\n"), 1)
	c.messageID = messageIDOf(c.message)
	if c.messageID == "" {
		t.Fatalf("%s: tagged wire, but its message has no Message-ID to find its delivery by", name)
	}
	if len(want) == 0 {
		t.Fatalf("%s: no want section (go test ./milter/ -run Pipeline -update writes it)", name)
	}
	c.want = parseWant(t, name, string(want))
	return c
}

// pipelineDate is the Date the pipeline cases' messages carry.
const pipelineDate = "Mon, 23 Nov 2026 10:00:00 +0000"

func messageIDOf(msg []byte) string {
	for _, line := range strings.Split(strings.ReplaceAll(string(msg), "\r\n", "\n"), "\n") {
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Message-ID") {
			return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "<"), ">")
		}
	}
	return ""
}

// parseWant reads the lines of a want section the wire can show.
func parseWant(t *testing.T, name, text string) wantOutcome {
	t.Helper()
	var w wantOutcome
	unquote := func(s string) string {
		u, err := strconv.Unquote(s)
		if err != nil {
			t.Fatalf("%s: want: %s is not a quoted string: %v", name, s, err)
		}
		return u
	}
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "action: "):
			w.action = strings.TrimPrefix(line, "action: ")
		case strings.HasPrefix(line, "reply: "):
			w.reply = unquote(strings.TrimPrefix(line, "reply: "))
		case strings.HasPrefix(line, "stage: "):
			w.stage = strings.TrimPrefix(line, "stage: ")
		case strings.HasPrefix(line, "subject: "):
			w.subject = unquote(strings.TrimPrefix(line, "subject: "))
		case strings.HasPrefix(line, "tagged_subject: "):
			s := unquote(strings.TrimPrefix(line, "tagged_subject: "))
			w.taggedSubject = &s
		case strings.HasPrefix(line, "add_header: "):
			w.addHeaders = append(w.addHeaders, strings.TrimPrefix(line, "add_header: "))
		case strings.HasPrefix(line, "rcpt "):
			addr, rest, ok := strings.Cut(strings.TrimPrefix(line, "rcpt "), ": ")
			if !ok {
				t.Fatalf("%s: want: bad line %q", name, line)
			}
			r := wantRcpt{addr: addr}
			r.outcome, rest, _ = strings.Cut(rest, " ")
			for rest != "" {
				var kv string
				if strings.HasPrefix(rest, "reply=") {
					kv, rest = rest, "" // the quoted reply is last
				} else {
					kv, rest, _ = strings.Cut(rest, " ")
				}
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "stage":
					r.stage = v
				case "rule":
					r.rule = v
				case "area":
					r.area = v
				case "reply":
					r.reply = unquote(v)
				}
			}
			w.rcpts = append(w.rcpts, r)
		}
	}
	if w.action == "" || w.stage == "" || len(w.rcpts) == 0 {
		t.Fatalf("%s: want section lacks action, stage or rcpt lines:\n%s", name, text)
	}
	return w
}
