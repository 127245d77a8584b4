package session_test

// Golden pipeline cases: every testdata/pipeline/*.txtar file is one SMTP
// transaction (config, session, message) and the outcome the dry run must
// give for it. See testdata/pipeline/README.md for the format. Run
//
//	go test ./session/ -run Pipeline -update
//
// to rewrite the want sections from what the code does now, then read the
// diff: a golden is only as good as the review of its change.

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/mailwarden/mailwarden/check/dns/dnstest"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/scanner/message"
	"github.com/mailwarden/mailwarden/session"
)

var update = flag.Bool("update", false, "rewrite the want section of testdata/pipeline/*.txtar from what the dry run does")

const pipelineDir = "../testdata/pipeline"

// TestPipeline runs each golden case through the dry run and compares the
// rendered outcome with its want section.
// pipelineNow is the cases' clock: five minutes after the Date most of
// their messages carry (Mon, 23 Nov 2026 10:00:00 +0000), so Date checks
// and time windows give the same answer on any day the tests run.
var pipelineNow = time.Date(2026, 11, 23, 10, 5, 0, 0, time.UTC)

func TestPipeline(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(pipelineDir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("%d pipeline cases in %s, want the whole suite (50 or more)", len(files), pipelineDir)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			a := parseArchive(data)
			c, err := parseCase(file, a)
			if err != nil {
				t.Fatal(err)
			}
			out, err := dryRun(t, c)
			if err != nil {
				t.Fatal(err)
			}
			got := render(c, out)
			if *update {
				if c.want == nil || !bytes.Equal(c.want, got) {
					a.set("want", got)
					if err := os.WriteFile(file, a.format(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			if c.want == nil {
				t.Fatalf("no want section; run with -update to write it:\n%s", got)
			}
			if !bytes.Equal(c.want, got) {
				t.Errorf("outcome differs from the want section (-update rewrites it)\n%s", lineDiff(string(c.want), string(got)))
			}
		})
	}
}

// dryRun is the one place this test uses the session package's API: it
// loads the case's config, runs the dry run, and turns the report into an
// [outcome] the rest of the test renders.
//
// A case with a dns section gets its own fake DNS server on loopback,
// serving those records, and $DNS in its config is that server's address;
// a case without one runs offline, every lookup failing at once, so no
// case ever asks the system's resolver.
func dryRun(t *testing.T, c *pipelineCase) (*outcome, error) {
	src := c.config
	usesDNS := bytes.Contains(src, []byte("$DNS"))
	switch {
	case c.hasDNS && !usesDNS:
		return nil, fmt.Errorf("the case has a dns section, but its config never names $DNS (write [dns] servers = [\"$DNS\"])")
	case !c.hasDNS && usesDNS:
		return nil, fmt.Errorf("the config names $DNS, but the case has no dns section (an empty one serves no records)")
	case c.hasDNS:
		srv := dnstest.New(t)
		srv.Add(c.dns...)
		src = bytes.ReplaceAll(src, []byte("$DNS"), []byte(srv.Addr()))
	}
	src, err := scannerAddrs(t, src, c.scanners)
	if err != nil {
		return nil, err
	}
	if len(c.files) > 0 {
		dir := t.TempDir()
		for name, data := range c.files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				return nil, err
			}
		}
		src = bytes.ReplaceAll(src, []byte("$FILES"), []byte(dir))
	}
	l, err := session.LoadConfig(c.configName, src)
	if err != nil {
		return nil, err
	}
	rt, err := session.NewRuntime(l, bytes.Repeat([]byte{7}, 32), t.TempDir())
	if err != nil {
		return nil, err
	}
	rep := session.DryRun(rt, session.DryRunInput{ClientIP: c.ip, ClientName: c.clientName, Helo: c.helo,
		AuthUser: c.authUser, From: c.from, Rcpts: c.rcpts, Message: c.message, Offline: !c.hasDNS,
		Now: func() time.Time { return pipelineNow }}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	out := &outcome{action: rep.Action, reply: rep.Reply, subject: rep.Subject, tags: rep.TagSubject,
		headers: rep.AddHeaders, findings: rep.Findings, spamRemoved: rep.SpamHeadersRemoved, ownRemoved: rep.OwnHeadersRemoved}
	if n := len(rep.Stages); n > 0 {
		out.stage = rep.Stages[n-1].Stage
	}
	for _, r := range rep.Recipients {
		o := rcptOutcome{addr: r.Address, outcome: r.Outcome, rule: r.Rule, reply: r.Reply, area: r.Area, matches: r.Matches, stage: out.stage}
		for _, s := range rep.Stages {
			if s.Rcpt == r.Address && s.Answer != "continue" {
				o.stage = s.Stage // refused at RCPT by a limit, with no match
			}
		}
		for _, m := range r.Matches {
			if m.Rule == r.Rule {
				o.stage = m.Stage
			}
		}
		out.rcpts = append(out.rcpts, o)
	}
	return out, nil
}

// outcome is what the dry run decided, independent of its report type.
type outcome struct {
	action, reply string
	stage         string // the stage whose answer ended the transaction
	rcpts         []rcptOutcome
	subject       string
	tags          []string
	headers       []policy.HeaderField
	findings      []scanner.Finding
	spamRemoved   int // X-Spam-* fields of the sender's removed
	ownRemoved    int // X-Mailwarden-* fields of the sender's removed
}

type rcptOutcome struct {
	addr, outcome, rule, reply, area string
	stage                            string // where the deciding rule was decided
	matches                          []scanner.Match
}

// render is the outcome as stable text, the form of a want section.
func render(c *pipelineCase, o *outcome) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "action: %s\n", o.action)
	if o.reply != "" {
		fmt.Fprintf(&b, "reply: %q\n", o.reply)
	}
	fmt.Fprintf(&b, "stage: %s\n", o.stage)
	for _, r := range o.rcpts {
		fmt.Fprintf(&b, "rcpt %s: %s stage=%s", r.addr, r.outcome, r.stage)
		if r.rule != "" {
			fmt.Fprintf(&b, " rule=%s", r.rule)
		}
		if r.area != "" {
			fmt.Fprintf(&b, " area=%s", r.area)
		}
		if r.reply != "" {
			fmt.Fprintf(&b, " reply=%q", r.reply)
		}
		b.WriteByte('\n')
		for _, m := range r.matches {
			fmt.Fprintf(&b, "  match %s@%s", m.Rule, m.Stage)
			if m.Action != "" {
				fmt.Fprintf(&b, " %s", m.Action)
			}
			for i, f := range m.Findings {
				sep := ","
				if i == 0 {
					sep = ":"
				}
				fmt.Fprintf(&b, "%s %s", sep, findingText(f))
			}
			b.WriteByte('\n')
		}
	}
	if o.subject != "" {
		fmt.Fprintf(&b, "subject: %q\n", o.subject)
	}
	for _, tag := range o.tags {
		fmt.Fprintf(&b, "tag_subject: %q\n", tag)
	}
	if len(o.tags) > 0 {
		// What a delivered copy's Subject decodes to, tagged as the milter
		// tags it: the last tag innermost.
		raw := rawSubject(c.message)
		for i := len(o.tags) - 1; i >= 0; i-- {
			raw, _ = message.TagSubject(raw, o.tags[i])
		}
		dec, _ := message.DecodeHeader(raw)
		fmt.Fprintf(&b, "tagged_subject: %q\n", dec)
	}
	for _, h := range o.headers {
		fmt.Fprintf(&b, "add_header: %s: %s\n", h.Name, h.Value)
	}
	if o.ownRemoved > 0 {
		fmt.Fprintf(&b, "own_headers_removed: %d\n", o.ownRemoved)
	}
	if o.spamRemoved > 0 {
		fmt.Fprintf(&b, "spam_headers_removed: %d\n", o.spamRemoved)
	}
	for _, f := range o.findings {
		fmt.Fprintf(&b, "finding %s\n", findingText(f))
	}
	return b.Bytes()
}

// findingText is NAME="VALUE" @WHERE, and the recipients it is limited to.
func findingText(f scanner.Finding) string {
	s := fmt.Sprintf("%s=%q", f.Name, f.Value)
	if f.Where != "" {
		s += " @" + f.Where
	}
	if len(f.Recipients) > 0 {
		s += " for=" + strings.Join(f.Recipients, ",")
	}
	return s
}

// rawSubject is the first Subject field's value as the MTA passes it to the
// milter, unfolded lines kept, without the leading and trailing space.
func rawSubject(msg []byte) string {
	lines := strings.Split(strings.ReplaceAll(string(msg), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines) && lines[i] != ""; i++ {
		name, v, ok := strings.Cut(lines[i], ":")
		if !ok || !strings.EqualFold(name, "Subject") {
			continue
		}
		for i+1 < len(lines) && lines[i+1] != "" && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			v += "\r\n" + lines[i]
		}
		return strings.TrimSpace(v)
	}
	return ""
}

// lineDiff shows the lines of want missing from got (-) and those of got
// not in want (+), in order; enough to read a golden's change.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case i < len(w) && j < len(g) && w[i] == g[j]:
			b.WriteString("  " + w[i] + "\n")
			i, j = i+1, j+1
		case i < len(w) && !slices.Contains(g[j:], w[i]):
			b.WriteString("- " + w[i] + "\n")
			i++
		case j < len(g):
			b.WriteString("+ " + g[j] + "\n")
			j++
		default:
			b.WriteString("- " + w[i] + "\n")
			i++
		}
	}
	return b.String()
}

// pipelineCase is one parsed case file.
type pipelineCase struct {
	configName string
	config     []byte // the embedded default when the case has none
	ip         netip.Addr
	clientName string
	helo       string
	authUser   string
	from       string
	rcpts      []string
	tags       []string
	message    []byte
	// dns are the records of the case's fake DNS server (see [dryRun]);
	// hasDNS says the case has a dns section, even an empty one.
	dns    []string
	hasDNS bool
	// scanners are fake scanner answers (see [scannerAddrs]).
	scanners []string
	// files are written to a temporary directory, which $FILES in the
	// config names: tables and lists the config reads.
	files map[string][]byte
	want  []byte // nil when the case has no want section yet
}

// parseCase reads a case from its archive. Unknown sections and session
// keys are errors, so a typo cannot make a case test less than it says.
func parseCase(file string, a *archive) (*pipelineCase, error) {
	c := &pipelineCase{configName: "(embedded default)", config: config.DefaultTOML(), clientName: "unknown"}
	if len(bytes.TrimSpace(a.comment)) == 0 {
		return nil, fmt.Errorf("%s: no comment: say what the case shows in a sentence before the first section", file)
	}
	seen := map[string]bool{}
	for _, f := range a.files {
		if seen[f.name] {
			return nil, fmt.Errorf("%s: section %s given twice", file, f.name)
		}
		seen[f.name] = true
		var err error
		switch f.name {
		case "config.toml":
			c.configName, c.config = file+"#config.toml", f.data
		case "session":
			err = c.parseSession(f.data)
		case "message.eml":
			c.message = f.data
		case "dns":
			c.hasDNS = true
			c.dns, err = parseLines(f.data, checkDNSLine)
		case "scanners":
			c.scanners, err = parseLines(f.data, checkScannerLine)
		case "want":
			c.want = f.data
		default:
			name, ok := strings.CutPrefix(f.name, "files/")
			if !ok || name == "" || strings.ContainsAny(name, "/\\") {
				err = fmt.Errorf("unknown section (want config.toml, session, message.eml, dns, scanners, files/NAME, want)")
				break
			}
			if c.files == nil {
				c.files = map[string][]byte{}
			}
			c.files[name] = f.data
		}
		if err != nil {
			return nil, fmt.Errorf("%s: section %s: %w", file, f.name, err)
		}
	}
	if !seen["session"] {
		return nil, fmt.Errorf("%s: no session section", file)
	}
	if len(c.rcpts) == 0 {
		return nil, fmt.Errorf("%s: the session has no rcpt", file)
	}
	return c, nil
}

func (c *pipelineCase) parseSession(data []byte) error {
	lines, err := parseLines(data, nil)
	if err != nil {
		return err
	}
	one := map[string]bool{}
	for _, line := range lines {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("%q is not key: value", line)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if key != "rcpt" && key != "tags" {
			if one[key] {
				return fmt.Errorf("%s given twice", key)
			}
			one[key] = true
		}
		switch key {
		case "ip":
			if c.ip, err = netip.ParseAddr(val); err != nil {
				return fmt.Errorf("ip: %w", err)
			}
		case "client_name":
			c.clientName = val
		case "helo":
			c.helo = val
		case "auth_user":
			c.authUser = val
		case "from":
			c.from = strings.TrimSuffix(strings.TrimPrefix(val, "<"), ">")
		case "rcpt":
			c.rcpts = append(c.rcpts, strings.TrimSuffix(strings.TrimPrefix(val, "<"), ">"))
		case "tags":
			c.tags = append(c.tags, strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == ' ' })...)
		default:
			return fmt.Errorf("unknown key %q (want ip, client_name, helo, auth_user, from, rcpt, tags)", key)
		}
	}
	return nil
}

// parseLines returns the lines of a section that are neither blank nor
// # comments, each checked by check.
func parseLines(data []byte, check func(string) error) ([]string, error) {
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if check != nil {
			if err := check(line); err != nil {
				return nil, err
			}
		}
		out = append(out, line)
	}
	return out, nil
}

// checkDNSLine accepts a record in zone-file form without TTL and class:
// NAME TYPE VALUE…, e.g. "2.0.0.127.zen.example. A 127.0.0.2" or
// `example.net. TXT "v=spf1 -all"`. Names are absolute; the TTL is 3600.
func checkDNSLine(line string) error {
	f := strings.Fields(line)
	if len(f) < 3 || !slices.Contains([]string{"A", "AAAA", "TXT", "MX", "PTR", "CNAME", "NS"}, f[1]) {
		return fmt.Errorf("%q: want NAME TYPE VALUE with TYPE one of A, AAAA, TXT, MX, PTR, CNAME, NS", line)
	}
	if !strings.HasSuffix(f[0], ".") {
		return fmt.Errorf("%q: the name is not absolute (end it with a dot)", line)
	}
	if _, err := mdns.NewRR(line); err != nil {
		return fmt.Errorf("%q: %w", line, err)
	}
	return nil
}

// checkScannerLine accepts "SCANNER: ANSWER", e.g. "clamav: stream: Eicar-Signature FOUND".
func checkScannerLine(line string) error {
	name, answer, ok := strings.Cut(line, ":")
	if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(strings.TrimSpace(name), " \t") || strings.TrimSpace(answer) == "" {
		return fmt.Errorf("%q: want SCANNER: ANSWER", line)
	}
	return nil
}

// archive is a txtar archive (the format of golang.org/x/tools/txtar): a
// comment, then files each introduced by a "-- NAME --" line. It is small
// enough to keep here rather than add a module for it.
type archive struct {
	comment []byte
	files   []archiveFile
}

type archiveFile struct {
	name string
	data []byte
}

func parseArchive(data []byte) *archive {
	a := &archive{}
	var cur *archiveFile
	for len(data) > 0 {
		line := data
		rest := []byte(nil)
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, rest = data[:i+1], data[i+1:]
		}
		if name, ok := markerName(line); ok {
			a.files = append(a.files, archiveFile{name: name})
			cur = &a.files[len(a.files)-1]
		} else if cur == nil {
			a.comment = append(a.comment, line...)
		} else {
			cur.data = append(cur.data, line...)
		}
		data = rest
	}
	return a
}

func markerName(line []byte) (string, bool) {
	s := strings.TrimSuffix(string(line), "\n")
	if !strings.HasPrefix(s, "-- ") || !strings.HasSuffix(s, " --") || len(s) < len("-- x --") {
		return "", false
	}
	name := strings.TrimSpace(s[3 : len(s)-3])
	return name, name != ""
}

// format is the archive as text; format(parseArchive(b)) == b for every b
// whose comment and files end with a newline.
func (a *archive) format() []byte {
	var b bytes.Buffer
	b.Write(withNewline(a.comment))
	for _, f := range a.files {
		fmt.Fprintf(&b, "-- %s --\n", f.name)
		b.Write(withNewline(f.data))
	}
	return b.Bytes()
}

func withNewline(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return append(slices.Clip(b), '\n')
	}
	return b
}

// set replaces a file's data, or appends the file.
func (a *archive) set(name string, data []byte) {
	for i := range a.files {
		if a.files[i].name == name {
			a.files[i].data = data
			return
		}
	}
	a.files = append(a.files, archiveFile{name: name, data: data})
}

// TestPipelineFormat checks the case parser on what the golden files rely
// on: the archive round trip, and the errors for malformed cases.
func TestPipelineFormat(t *testing.T) {
	src := "A case.\n-- session --\nip: 192.0.2.1\nrcpt: <a@example.com>\nrcpt: b@example.com\nfrom: <>\ntags: wire, slow\n" +
		"-- message.eml --\nSubject: x\n\nbody\n-- dns --\n# reserved\n1.2.0.192.zen.example. A 127.0.0.2\n" +
		"-- scanners --\nclamav: stream: Eicar FOUND\n-- want --\naction: accept\n"
	a := parseArchive([]byte(src))
	if got := string(a.format()); got != src {
		t.Fatalf("round trip:\n%s\nwant\n%s", got, src)
	}
	c, err := parseCase("x.txtar", a)
	if err != nil {
		t.Fatal(err)
	}
	if c.ip.String() != "192.0.2.1" || strings.Join(c.rcpts, " ") != "a@example.com b@example.com" || c.from != "" ||
		strings.Join(c.tags, " ") != "wire slow" || string(c.message) != "Subject: x\n\nbody\n" ||
		len(c.dns) != 1 || !c.hasDNS || len(c.scanners) != 1 || string(c.want) != "action: accept\n" || c.clientName != "unknown" {
		t.Errorf("parsed %+v", c)
	}
	a.set("want", []byte("action: reject\n"))
	if got := string(a.format()); !strings.HasSuffix(got, "-- want --\naction: reject\n") || strings.Count(got, "-- want --") != 1 {
		t.Errorf("set want:\n%s", got)
	}
	for _, bad := range []struct{ name, src, err string }{
		{"no comment", "-- session --\nrcpt: a@example.com\n", "no comment"},
		{"no session", "c\n-- message.eml --\n\n", "no session"},
		{"no rcpt", "c\n-- session --\nip: 192.0.2.1\n", "no rcpt"},
		{"unknown section", "c\n-- sesion --\n", "unknown section"},
		{"unknown key", "c\n-- session --\nrcpt: a@b.example\nhelo_name: x\n", "unknown key"},
		{"twice", "c\n-- session --\nrcpt: a@b.example\nip: 192.0.2.1\nip: 192.0.2.2\n", "given twice"},
		{"bad ip", "c\n-- session --\nrcpt: a@b.example\nip: 192.0.2.300\n", "ip:"},
		{"not key value", "c\n-- session --\nrcpt a@b.example\n", "not key: value"},
		{"bad dns", "c\n-- session --\nrcpt: a@b.example\n-- dns --\nexample. A\n", "NAME TYPE VALUE"},
		{"relative dns name", "c\n-- session --\nrcpt: a@b.example\n-- dns --\nexample A 127.0.0.2\n", "not absolute"},
		{"bad dns value", "c\n-- session --\nrcpt: a@b.example\n-- dns --\nexample. A 127.0.0.300\n", "example. A 127.0.0.300"},
		{"bad scanner", "c\n-- session --\nrcpt: a@b.example\n-- scanners --\nclam av FOUND\n", "SCANNER: ANSWER"},
		{"section twice", "c\n-- session --\nrcpt: a@b.example\n-- session --\n", "given twice"},
	} {
		_, err := parseCase("x.txtar", parseArchive([]byte(bad.src)))
		if err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("%s: err %v, want one saying %q", bad.name, err, bad.err)
		}
	}
}

// TestPipelineDNSSection checks the fake DNS plumbing: records without
// $DNS in the config, or $DNS without records, are errors (the case would
// test less than it says), and a dns section, even an empty one, is served.
func TestPipelineDNSSection(t *testing.T) {
	const cfg = "[dns]\nservers = [\"$DNS\"]\n[[dnsbl]]\nname = \"bl\"\nzone = \"bl.example.\"\n" +
		"[[rule]]\nname = \"listed\"\nfindings = [\"dnsbl.bl\"]\naction = \"reject\"\n"
	run := func(config, dns string) (*outcome, error) {
		t.Helper()
		src := "c\n-- config.toml --\n" + config + "-- session --\nip: 192.0.2.1\nrcpt: a@example.com\n" + dns
		c, err := parseCase("x.txtar", parseArchive([]byte(src)))
		if err != nil {
			t.Fatal(err)
		}
		return dryRun(t, c)
	}
	if _, err := run(strings.Replace(cfg, `"$DNS"`, `"127.0.0.1:1"`, 1), "-- dns --\n1.2.0.192.bl.example. A 127.0.0.2\n"); err == nil || !strings.Contains(err.Error(), "never names $DNS") {
		t.Errorf("records without $DNS: err %v", err)
	}
	if _, err := run(cfg, ""); err == nil || !strings.Contains(err.Error(), "no dns section") {
		t.Errorf("$DNS without records: err %v", err)
	}
	if o, err := run(cfg, "-- dns --\n1.2.0.192.bl.example. A 127.0.0.2\n"); err != nil || o.action != "reject" || o.stage != "connect" {
		t.Errorf("listed: %+v, %v; want a reject at connect", o, err)
	}
	if o, err := run(cfg, "-- dns --\n# nothing listed\n"); err != nil || o.action != "accept" || slices.ContainsFunc(o.findings, func(f scanner.Finding) bool { return strings.HasPrefix(f.Name, "dnsbl.") }) {
		t.Errorf("empty dns section: %+v, %v; want an accept without a dnsbl finding", o, err)
	}
}
