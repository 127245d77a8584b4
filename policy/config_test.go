package policy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/config"
)

// loadErr loads src and returns its problems; it fails the test when src
// loads without error.
func loadErr(t *testing.T, src string) []config.Problem {
	t.Helper()
	_, _, err := Load("c.toml", []byte(src))
	if err == nil {
		t.Fatalf("Load succeeded, want an error, for:\n%s", src)
	}
	if !errors.Is(err, config.ErrConfig) {
		t.Errorf("errors.Is(%v, config.ErrConfig) = false", err)
	}
	var ce *config.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %T is not a *ConfigError", err)
	}
	if len(ce.Problems) == 0 {
		t.Fatal("config.ConfigError without problems")
	}
	return ce.Problems
}

// mustLoad loads src, failing the test on any problem.
func mustLoad(t testing.TB, src string) (*config.Config, *Policy) {
	t.Helper()
	cfg, pol, err := Load("c.toml", []byte(src))
	if err != nil {
		t.Fatalf("Load: %v\nsource:\n%s", err, src)
	}
	return cfg, pol
}

func ruleByName(t testing.TB, p *Policy, name string) *Rule {
	t.Helper()
	for _, r := range p.Rules {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no enabled rule %q", name)
	return nil
}

func TestLoadDefault(t *testing.T) {
	cfg, pol, err := LoadDefault(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != "(embedded default)" || cfg.Server.Listen != "inet:127.0.0.1:8899" || cfg.Server.OnError != "tempfail" {
		t.Errorf("File %q, Listen %q, OnError %q", cfg.File, cfg.Server.Listen, cfg.Server.OnError)
	}
	type want struct {
		stage  Stage
		action Action
		reply  string
		area   string
	}
	wants := map[string]want{
		"blocked-client":      {StageEOM, ActionReject, "554 5.7.1 Client address blocked", ""},
		"blocked-sender":      {StageEOM, ActionReject, "550 5.7.1 Sender address blocked", ""},
		"too-many-recipients": {StageRcpt, ActionTempfail, "452 4.5.3 Too many recipients", ""},
		// Without a catalog a finding is known at end of message; the
		// recipient check reports it at RCPT (see session's tests).
		"unknown-recipient":  {StageEOM, ActionReject, "550 5.1.1 Recipient address rejected: user unknown", ""},
		"throttle-inbound":   {StageEOM, ActionTempfail, "451 4.7.1 Too much mail from your network or address, try again in 5 minutes", ""},
		"throttle-outbound":  {StageEOM, ActionTempfail, "451 4.7.1 Sending limit reached, try again in 15 minutes", ""},
		"message-too-big":    {StageEOM, ActionReject, "552 5.3.4 Message too big", ""},
		"dmarc-reject":       {StageEOM, ActionReject, "550 5.7.1 Rejected by the sender domain's DMARC policy", ""},
		"dmarc-quarantine":   {StageEOM, ActionQuarantine, "", "spam"},
		"virus":              {StageEOM, ActionQuarantine, "", "virus"},
		"scan-exclusion":     {StageEOM, ActionQuarantine, "", "exclusion"},
		"ambiguous-mime":     {StageEOM, ActionQuarantine, "", "exclusion"},
		"executable-inbound": {StageEOM, ActionQuarantine, "", "attachments"},
		"gtube":              {StageEOM, ActionQuarantine, "", "spam"},
		"url-listed":         {StageEOM, ActionQuarantine, "", "spam"},
		"malformed-mime":     {StageEOM, ActionNone, "", ""},
		// The spam score's two levels (check/spam).
		"spam":          {StageEOM, ActionQuarantine, "", "spam"},
		"spam-probable": {StageEOM, ActionNone, "", ""},
		// Graymail is tagged and delivered (check/graymail).
		"graymail-newsletter":   {StageEOM, ActionNone, "", ""},
		"graymail-marketing":    {StageEOM, ActionNone, "", ""},
		"graymail-social":       {StageEOM, ActionNone, "", ""},
		"graymail-notification": {StageEOM, ActionNone, "", ""},
	}
	var names []string
	for _, r := range pol.Rules {
		names = append(names, r.Name)
		w, ok := wants[r.Name]
		if !ok {
			t.Errorf("unexpected default rule %q", r.Name)
			continue
		}
		if r.Stage != w.stage || r.Action != w.action || r.Reply.String() != w.reply || r.Area != w.area {
			t.Errorf("rule %s: stage %v, action %q, reply %q, area %q; want %v, %q, %q, %q",
				r.Name, r.Stage, r.Action, r.Reply, r.Area, w.stage, w.action, w.reply, w.area)
		}
	}
	if want := "blocked-client blocked-sender throttle-inbound throttle-outbound too-many-recipients unknown-recipient message-too-big dmarc-reject dmarc-quarantine virus scan-exclusion ambiguous-mime executable-inbound gtube url-listed malformed-mime" +
		" spam spam-probable graymail-newsletter graymail-marketing graymail-social graymail-notification"; strings.Join(names, " ") != want {
		t.Errorf("rules %q, want file order %q", names, want)
	}
	if r := ruleByName(t, pol, "message-too-big"); len(r.Conditions) != 1 || r.Conditions[0].String() != "size > 150000000 bytes" {
		t.Errorf("message-too-big conditions %v", r.Conditions)
	}
	if r := ruleByName(t, pol, "malformed-mime"); len(r.AddHeaders) != 1 || r.AddHeaders[0] != (HeaderField{"X-Mailwarden-Warning", "malformed message, scanned leniently"}) {
		t.Errorf("malformed-mime headers %v", r.AddHeaders)
	}
	for _, class := range []string{"newsletter", "marketing", "social", "notification"} {
		r := ruleByName(t, pol, "graymail-"+class)
		if len(r.AddHeaders) != 1 || r.AddHeaders[0] != (HeaderField{"X-Mailwarden-Graymail", class}) || len(r.Conditions) != 1 ||
			r.Conditions[0].String() != "finding graymail."+class {
			t.Errorf("graymail-%s: conditions %v, headers %v", class, r.Conditions, r.AddHeaders)
		}
	}
	checkGolden(t, filepath.Join("..", "testdata", "policy", "default-rules.golden"), describePolicy(pol))
}

// describePolicy renders a compiled policy the way `config check` would
// show it, for golden files.
func describePolicy(p *Policy) string {
	var b strings.Builder
	for _, r := range append(append([]*Rule(nil), p.Rules...), p.Disabled...) {
		fmt.Fprintf(&b, "rule %s (line %d, enabled %v)\n  decided %s\n", r.Name, r.Line, r.Enabled, r.Stage.Describe())
		for _, c := range r.Conditions {
			fmt.Fprintf(&b, "  when %s [%s]\n", c, c.Stage())
		}
		if r.Action != ActionNone {
			fmt.Fprintf(&b, "  action %s", r.Action)
			if r.Reply.Code != 0 {
				fmt.Fprintf(&b, " %q", r.Reply)
			}
			if r.Area != "" {
				fmt.Fprintf(&b, " area %s", r.Area)
			}
			b.WriteString("\n")
		}
		if r.TagSubject != "" {
			fmt.Fprintf(&b, "  tag subject %q\n", r.TagSubject)
		}
		for _, h := range r.AddHeaders {
			fmt.Fprintf(&b, "  add header %s: %s\n", h.Name, h.Value)
		}
	}
	return b.String()
}

// TestNoRules checks that a config without an enabled rule is refused unless
// it says so: without rules no mail is checked, not even GTUBE or a message
// that could not be scanned, and a SIGHUP to such a file would drop the
// baseline of a running daemon.
func TestNoRules(t *testing.T) {
	const msg = "no enabled [[rule]], so no mail is checked: GTUBE, unscannable, ambiguous and oversized messages are delivered" +
		" (hint: add rules (contrib/mailwarden.toml has the baseline), or set allow_no_rules = true in [policy] to mean it)"
	tests := []struct{ name, src, want string }{
		{"empty file", "", "c.toml: rule: " + msg},
		{"comments only", "# nothing here\n\n", "c.toml:1: rule: " + msg},
		{"settings only", "[server]\nlisten = \"inet:127.0.0.1:8899\"\n\n[organization]\ninternal_domains = [\"example.com\"]\n\n",
			"c.toml:5: rule: " + msg},
		{"every rule disabled", "[[rule]]\nname = \"a\"\nenabled = false\naction = \"reject\"\n\n[[rule]]\nname = \"b\"\nenabled = false\naction = \"reject\"\n",
			"c.toml:3: rule[0].enabled: every rule is disabled, so no mail is checked: GTUBE, unscannable, ambiguous and oversized messages are delivered" +
				" (hint: add rules (contrib/mailwarden.toml has the baseline), or set allow_no_rules = true in [policy] to mean it)"},
		{"said no", "[policy]\nallow_no_rules = false\n", "c.toml:2: policy.allow_no_rules: " + msg},
		{"other problems too", "[server]\nmax_sessions = 0\n",
			"c.toml:2: server.max_sessions: must be at least 1\nc.toml:2: rule: " + msg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, loadErr(t, tt.src), strings.Split(tt.want, "\n"))
		})
	}

	_, pol := mustLoad(t, "[policy]\nallow_no_rules = true\n")
	if len(pol.Rules) != 0 {
		t.Errorf("%d rules", len(pol.Rules))
	}
	_, pol = mustLoad(t, "[policy]\nallow_no_rules = true\n[[rule]]\nname = \"a\"\nenabled = false\naction = \"reject\"\n")
	if len(pol.Rules) != 0 || len(pol.Disabled) != 1 {
		t.Errorf("%d rules, %d disabled", len(pol.Rules), len(pol.Disabled))
	}
}

func TestUnknownKeys(t *testing.T) {
	src := `[server]
listen = "inet:127.0.0.1:8899"
listn = "x"
[[rule]]
name = "a"
action = "reject"
nmae = "b"
[[rule]]
name = "b"
action = "reject"
nmae = "c"
[frobnicate]
x = 1
`
	want := []string{
		"c.toml:3: server.listn: unknown key (hint: did you mean server.listen?)",
		"c.toml:7: rule[0].nmae: unknown key (hint: did you mean rule.name?)",
		"c.toml:11: rule[1].nmae: unknown key (hint: did you mean rule.name?)",
		"c.toml:12: frobnicate: unknown key",
		"c.toml:13: frobnicate.x: unknown key",
	}
	checkProblems(t, loadErr(t, src), want)
}

func checkProblems(t *testing.T, got []config.Problem, want []string) {
	t.Helper()
	var gs []string
	for _, p := range got {
		gs = append(gs, p.String())
	}
	if strings.Join(gs, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(gs, "\n"), strings.Join(want, "\n"))
	}
}

func TestEveryProblemAtOnce(t *testing.T) {
	src := `[server]
max_sessions = 0
on_error = "explode"
[[rule]]
name = "bad name!"
subject = "(["
action = "bounce"
`
	ps := loadErr(t, src)
	want := []struct {
		line int
		key  string
		msg  string
	}{
		{2, "server.max_sessions", "must be at least 1"},
		{3, "server.on_error", `"explode" is not allowed`},
		{5, "rule[0].name", `rule name "bad name!" is missing or invalid`},
		{6, "rule[0].subject", "bad regular expression"},
		{7, "rule[0].action", `"bounce" is not an action`},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), &config.ConfigError{Problems: ps})
	}
	for i, w := range want {
		p := ps[i]
		if p.File != "c.toml" || p.Line != w.line || p.Key != w.key || !strings.HasPrefix(p.Msg, w.msg) {
			t.Errorf("problem %d = %+v, want line %d key %s msg %q", i, p, w.line, w.key, w.msg)
		}
	}
}

func TestValidationProblems(t *testing.T) {
	rule := "[[rule]]\nname = \"r\"\n" // lines 1 and 2
	tests := []struct {
		name, src, want string
	}{
		{"listen", "[server]\nlisten = \"tcp6:x\"\n",
			`c.toml:2: server.listen: "tcp6:x": unknown socket type "tcp6" (use inet or unix) (hint: inet:127.0.0.1:8899 or unix:/run/mailwarden/milter.sock)`},
		{"socket mode", "[server]\nsocket_mode = \"0999\"\n",
			`c.toml:2: server.socket_mode: "0999" is not an octal file mode (hint: an octal mode such as "0660")`},
		{"empty data dir", "[server]\ndata_dir = \"\"\n", `c.toml:2: server.data_dir: must not be empty`},
		{"log level", "[server]\nlog_level = \"verbose\"\n",
			`c.toml:2: server.log_level: "verbose" is not allowed (hint: one of debug, info, warn, error)`},
		{"read timeout", "[server]\nread_timeout = \"10 minutes\"\n",
			`c.toml:2: server.read_timeout: "10 minutes" is not a duration (use e.g. 30s, 5m, 2h or 90d)`},
		{"internal domain", "[organization]\ninternal_domains = [\"example.com\", \"a@b.example\", \"ex*.com\"]\n",
			"c.toml:2: organization.internal_domains[1]: \"a@b.example\" is not a domain (hint: a domain such as example.com or *.example.com)\n" +
				"c.toml:2: organization.internal_domains[2]: \"ex*.com\" is not a domain (hint: a domain such as example.com or *.example.com)"},
		{"trusted networks", "[organization]\ntrusted_networks = [\n  \"10.0.0.0/8\",\n  \"10.0.0.0/33\",\n]\n",
			`c.toml:2: organization.trusted_networks: "10.0.0.0/33" is not a valid CIDR network`},
		{"mime depth", "[limits]\nmime_depth = -1\n", "c.toml:2: limits.mime_depth: must be at least 1"},
		{"prune interval", "[store]\nprune_interval = \"30s\"\n", "c.toml:2: store.prune_interval: must be at least 1m"},
		{"release smtp", "[release]\nsmtp = \"localhost\"\n",
			`c.toml:2: release.smtp: "localhost" has no port (hint: host:port, e.g. 127.0.0.1:25)`},
		{"release key", "[release]\nkey = \"abcd\"\n",
			"c.toml:2: release.key: must be at least 32 bytes of hex (hint: generate one with: head -c 32 /dev/urandom | xxd -p -c 64)"},
		{"release key not hex", "[release]\nkey = \"" + strings.Repeat("zz", 32) + "\"\n",
			"c.toml:2: release.key: must be at least 32 bytes of hex (hint: generate one with: head -c 32 /dev/urandom | xxd -p -c 64)"},
		{"missing name", "[[rule]]\naction = \"reject\"\n",
			`c.toml:1: rule[0].name: rule name "" is missing or invalid (hint: letters, digits, dot, dash and underscore, up to 64)`},
		{"long name", "[[rule]]\nname = \"" + strings.Repeat("a", 65) + "\"\naction = \"reject\"\n",
			`c.toml:2: rule[0].name: rule name "` + strings.Repeat("a", 65) + `" is missing or invalid (hint: letters, digits, dot, dash and underscore, up to 64)`},
		{"does nothing", rule + "subject = \"x\"\n",
			`c.toml:1: rule[0].action: rule "r" does nothing (hint: set action, tag_subject or add_headers)`},
		{"direction", rule + "direction = \"sideways\"\naction = \"reject\"\n",
			`c.toml:3: rule[0].direction: "sideways" is not a direction (hint: inbound, outbound, internal or any)`},
		{"bad senders", rule + "senders = [\"ok@x.example, bad\"]\nsenders_except = [\"a*b@x\"]\naction = \"reject\"\n",
			"c.toml:3: rule[0].senders[0]: address pattern \"bad\" has no @ (hint: " + AddressForms + ")\n" +
				"c.toml:4: rule[0].senders_except[0]: address pattern \"a*b@x\": * is allowed only as the whole local part (hint: " + AddressForms + ")"},
		{"bad clients", rule + "clients = [\"1.2.3.4-300\"]\nclients_except = [\"x\"]\naction = \"reject\"\n",
			"c.toml:3: rule[0].clients: \"1.2.3.4-300\": range end \"300\" must be a number from 0 to 255 (hint: 1.2.3.4, 1.2.3.0/24, 1.2.3.4-223, 2001:db8::/32)\n" +
				"c.toml:4: rule[0].clients_except: \"x\" is not an IP address, CIDR network or range"},
		{"negative count", rule + "recipient_count_over = -1\naction = \"reject\"\n",
			"c.toml:3: rule[0].recipient_count_over: must not be negative"},
		{"bad helo regex", rule + "helo = \"a(\"\naction = \"reject\"\n",
			"c.toml:3: rule[0].helo: bad regular expression: error parsing regexp: missing closing ): `a(` (hint: Go RE2 syntax; (?i) for case-insensitive)"},
		{"bad header name", rule + "action = \"reject\"\n[rule.headers]\n\"X:Y\" = \"z\"\n",
			`c.toml:5: rule[0].headers.X:Y: "X:Y" is not a header field name`},
		{"bad finding", rule + "findings = [\"ok\", \"two words\"]\naction = \"reject\"\n",
			`c.toml:3: rule[0].findings[1]: "two words" is not a finding name (hint: a finding name such as message.malformed, or a family such as "dnsbl.*")`},
		{"reject with 4xx", rule + "action = \"reject\"\nreply = \"451 4.7.1 later\"\n",
			"c.toml:4: rule[0].reply: reply code 451 does not fit action reject (hint: reject takes a 5xx reply; use action tempfail for 4xx)"},
		{"tempfail with 5xx", rule + "action = \"tempfail\"\nreply = \"550 5.7.1 no\"\n",
			"c.toml:4: rule[0].reply: reply code 550 does not fit action tempfail (hint: tempfail takes a 4xx reply)"},
		{"reply without reject", rule + "action = \"quarantine\"\nreply = \"550 5.7.1 no\"\n",
			`c.toml:4: rule[0].reply: reply is set but action is "quarantine" (hint: only reject, tempfail and greylist send a reply)`},
		{"reply mismatch", rule + "action = \"reject\"\nreply = \"550 4.7.1 no\"\n",
			"c.toml:4: rule[0].reply: enhanced code 4.7.1 does not match reply code 550"},
		{"quarantine without action", rule + "action = \"reject\"\nquarantine = \"spam\"\n",
			`c.toml:4: rule[0].quarantine: quarantine area is set but action is "reject" (hint: set action = "quarantine")`},
		{"bad area", rule + "action = \"quarantine\"\nquarantine = \"../etc\"\n",
			`c.toml:4: rule[0].quarantine: "../etc" is not an area name (hint: letters, digits, dot, dash and underscore)`},
		{"tag subject newline", rule + "tag_subject = \"[A]\\r\\nBcc: x\"\n",
			"c.toml:3: rule[0].tag_subject: must be one line"},
		{"bad add header", rule + "add_headers = [\"X-Ok: 1\", \"no colon\", \"X-Two: a\\nb\", \"Bad Name: x\"]\n",
			"c.toml:3: rule[0].add_headers[1]: \"no colon\" is not a header field (hint: \"X-Name: value\" on one line)\n" +
				"c.toml:3: rule[0].add_headers[2]: \"X-Two: a\\nb\" is not a header field (hint: \"X-Name: value\" on one line)\n" +
				"c.toml:3: rule[0].add_headers[3]: \"Bad Name: x\" is not a header field (hint: \"X-Name: value\" on one line)"},
		{"duplicate name", rule + "action = \"reject\"\n[[rule]]\nname = \"r\"\naction = \"reject\"\n[[rule]]\nname = \"r\"\naction = \"reject\"\n",
			"c.toml:5: rule[1].name: duplicate rule name \"r\" (hint: rule[0] has the same name)\n" +
				"c.toml:8: rule[2].name: duplicate rule name \"r\" (hint: rule[1] has the same name)"},
		{"disabled rules are validated", rule + "enabled = false\naction = \"bounce\"\n",
			`c.toml:4: rule[0].action: "bounce" is not an action (hint: accept, reject, tempfail, discard, quarantine or greylist (or leave it out to only modify))`},
		{"toml syntax", "[server]\nlisten = \n",
			`c.toml:2: server.listen: expected value but found '\n' instead`},
		{"size_over", rule + "size_over = \"big\"\naction = \"reject\"\n",
			`c.toml:3: rule[0].size_over: "big" is not a size (use e.g. 150MB, 64KiB or 1048576)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load("c.toml", []byte(tt.src+allowNoRules))
			if err == nil {
				t.Fatalf("no error, want:\n%s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

// allowNoRules, appended to a test config, lets it load without enabled
// rules, so the test sees only the problems it is about.
const allowNoRules = "\n[policy]\nallow_no_rules = true\n"

// TestProblemLines checks lines reported from places the key-line index must
// work hard for: multi-line strings and arrays before the key, and decode
// errors.
func TestProblemLines(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		key       string
		bug       string
	}{
		{name: "after a multi-line array",
			src:  "[[rule]]\nname = \"r\"\nsenders = [\n  \"a@x.example\",\n  \"[b]@x.example\",\n]\naction = \"bounce\"\n",
			line: 7, key: "rule[0].action"},
		{name: "after a multi-line string",
			src:  "[[rule]]\nname = \"r\"\nexpr = '''\nsize > 1 &&\n[rule]\n'''\naction = \"bounce\"\n",
			line: 7, key: "rule[0].action"},
		{name: "second rule",
			src:  "[[rule]]\nname = \"r\"\naction = \"reject\"\n\n# comment = 1\n[[rule]]\nname = \"s\"\naction = \"bounce\" # trailing [comment\n",
			line: 8, key: "rule[1].action"},
		{name: "quoted keys",
			src:  "[[rule]]\n\"name\" = \"r\"\n'action' = \"bounce\"\n",
			line: 3, key: "rule[0].action"},
		{name: "dotted keys",
			src:  "server.on_error = \"explode\"\n",
			line: 1, key: "server.on_error"},
		{name: "header table",
			src:  "[[rule]]\nname = \"r\"\naction = \"reject\"\n[rule.headers]\nX-Ok = \"a\"\n\"X-Bad\" = \"(\"\n",
			line: 6, key: "rule[0].headers.X-Bad"},
		{name: "unknown quoted key",
			src:  "[[rule]]\nname = \"r\"\naction = \"reject\"\n\"sub ject\" = \"x\"\n",
			line: 4, key: `rule[0]."sub ject"`},
		{name: "type mismatch",
			src:  "[server]\nlisten = \"inet:127.0.0.1:8899\"\nmax_sessions = \"many\"\n",
			line: 3, key: "server.max_sessions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := loadErr(t, tt.src+allowNoRules)
			p := ps[len(ps)-1]
			if p.Line != tt.line || p.Key != tt.key {
				if tt.bug != "" {
					t.Skip("BUG: " + tt.bug)
				}
				t.Errorf("last problem %q: line %d, key %q; want line %d, key %q", p, p.Line, p.Key, tt.line, tt.key)
			} else if tt.bug != "" {
				t.Errorf("row marked as a bug now passes; remove its bug text: %s", tt.bug)
			}
		})
	}
}

// TestProblemsAreDeterministic loads configs whose problems come from maps
// (an inline table, the headers table) many times: the same file must give
// the same report, and the same compiled rule, every time.
func TestProblemsAreDeterministic(t *testing.T) {
	for _, src := range []string{
		"limits = { mime_depth = 0, mime_parts = 0, max_recipients = 0 }\n",
		"[[rule]]\nname = \"r\"\naction = \"reject\"\nheaders = { \"X-A\" = \"(\", \"X-B\" = \"[\", \"X-C\" = \"a{2\", \"X-D\" = \"*\" }\n",
	} {
		first := fmt.Sprint(loadErr(t, src))
		for range 50 {
			if got := fmt.Sprint(loadErr(t, src)); got != first {
				t.Fatalf("problems come out in map order, so one file gives different reports:\n%s\nthen\n%s", first, got)
			}
		}
	}
	src := "[[rule]]\nname = \"r\"\naction = \"reject\"\nheaders = { \"X-A\" = \"a\", \"X-B\" = \"b\", \"X-C\" = \"c\", \"X-D\" = \"d\" }\n"
	_, pol := mustLoad(t, src)
	first := fmt.Sprint(pol.Rules[0].Conditions)
	for range 50 {
		_, pol := mustLoad(t, src)
		if got := fmt.Sprint(pol.Rules[0].Conditions); got != first {
			t.Fatalf("header conditions are compiled in map order, so findings and `config check` output vary:\n%s\nthen\n%s", first, got)
		}
	}
}

func TestExprErrorLine(t *testing.T) {
	// A one-line expression: the problem is on the expr key's line.
	ps := loadErr(t, "[[rule]]\nname = \"r\"\naction = \"reject\"\nexpr = \"size > \"\n")
	if len(ps) != 1 || ps[0].Line != 4 || ps[0].Key != "rule[0].expr" || !strings.HasPrefix(ps[0].Msg, "expression: ") {
		t.Errorf("problems %v, want one at line 4 on rule[0].expr", ps)
	}
	ps = loadErr(t, "[[rule]]\nname = \"r\"\naction = \"reject\"\nexpr = 'subject == \"x\" && nosuchvar'\n")
	if len(ps) != 1 || ps[0].Line != 4 || !strings.Contains(ps[0].Msg, "unknown name nosuchvar") {
		t.Errorf("problems %v, want one at line 4 naming nosuchvar", ps)
	}

	// Multi-line strings: the problem is on the line that holds the error.
	tests := []struct {
		name, src string
		line      int
		col       string
	}{
		// TOML drops the newline right after the opening delimiter, so the
		// expression's first line is the line after the key.
		{"error on line 2 of the expression", "[[rule]]\nname = \"r\"\naction = \"reject\"\nexpr = \"\"\"\nsize > 1 &&\n  nosuchvar\n\"\"\"\n", 6, "column 3"},
		{"error on line 1 of the expression", "[[rule]]\nname = \"r\"\naction = \"reject\"\nexpr = '''\n) && size > 1\n'''\n", 5, "column 1"},
		{"expression starting on the key line", "[[rule]]\nname = \"r\"\naction = \"reject\"\nexpr = '''size > 1 &&\n  nosuchvar'''\n", 5, "column 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := loadErr(t, tt.src)
			if len(ps) != 1 {
				t.Fatalf("problems %v, want one", ps)
			}
			if ps[0].Line != tt.line || !strings.Contains(ps[0].Msg, tt.col+":") {
				t.Errorf("got %q; want line %d and %s (1-based, as editors and expr itself count)", ps[0], tt.line, tt.col)
			}
		})
	}
}

// testCatalog declares findings as checks would: a key ending in "." is a
// family, any other an exact name.
type testCatalog map[string]Stage

func (c testCatalog) FindingStage(name string) (Stage, bool) {
	for p, s := range c {
		if p == name || (strings.HasSuffix(p, ".") && strings.HasPrefix(name, p)) {
			return s, true
		}
	}
	return 0, false
}

func (c testCatalog) FindingNames() []string {
	var out []string
	for p := range c {
		if strings.HasSuffix(p, ".") {
			p += "*"
		}
		out = append(out, p)
	}
	return out
}

var stageCatalog = testCatalog{"mwtest.connect.": StageConnect, "mwtest.helo.": StageHelo,
	"message.": StageEOM, "scan.": StageEOM, "content.": StageEOM, "x": StageEOM}

var _ Catalog = testCatalog{}

func TestRuleStage(t *testing.T) {
	tests := []struct {
		conds string
		want  Stage
	}{
		{``, StageConnect},
		{`clients = ["192.0.2.0/24"]`, StageConnect},
		{`clients_except = ["192.0.2.0/24"]`, StageConnect},
		{`client_name = '\.example\.com$'`, StageConnect},
		{`helo = "^localhost$"`, StageHelo},
		{`senders = ["*@x.example"]`, StageMail},
		{`senders_except = ["<>"]`, StageMail},
		{`recipients = ["*@x.example"]`, StageRcpt},
		{`recipients_except = ["a@x.example"]`, StageRcpt},
		{`direction = "inbound"`, StageRcpt},
		{`direction = "any"`, StageConnect},
		{`recipient_count_over = 5`, StageRcpt},
		{`headers = { "X-Spam" = "yes" }`, StageEOH},
		{`subject = "(?i)viagra"`, StageEOH},
		{`size_over = "1MB"`, StageEOM},
		{`findings = ["content.gtube"]`, StageEOM},
		{`findings = ["mwtest.connect.listed"]`, StageConnect},
		{`findings = ["mwtest.helo.bad", "mwtest.connect.listed"]`, StageHelo},
		{`findings = ["mwtest.connect.listed", "message.malformed"]`, StageEOM},
		{`findings = ["scan.exclusion"]`, StageEOM},
		{`expr = 'client_ip == "192.0.2.1"'`, StageConnect},
		{`expr = 'in_net("10.0.0.0/8")'`, StageConnect},
		{`expr = 'sender == ""'`, StageMail},
		{`expr = 'auth_user != ""'`, StageMail},
		{`expr = 'addr_match(sender, "*@x.example")'`, StageMail},
		{`expr = 'rcpt_count > 10'`, StageEOH},
		{`expr = 'rcpt_index > 10'`, StageRcpt},
		{`expr = 'direction == "outbound"'`, StageRcpt},
		{`expr = 'has("x")'`, StageEOM},
		{`expr = 'has("mwtest.connect.listed")'`, StageConnect},
		{`expr = 'has("mwtest.connect." + helo)'`, StageEOM},                            // a computed name may be anything
		{`expr = 'has("mwtest.connect.listed", "x", "mwtest.helo.bad")'`, StageConnect}, // values are not names
		{`expr = 'has("mwtest.connect.listed", helo)'`, StageHelo},
		{`expr = 'helo == "a" && subject == "b"'`, StageEOH},
		{`expr = 'header("X-Spam") == "yes"'`, StageEOH},
		{`expr = 'size > 1000 || client_ip == ""'`, StageEOM},
		{"clients = [\"192.0.2.0/24\"]\nsubject = \"x\"", StageEOH},
		{"helo = \"x\"\nsenders = [\"*@x.example\"]", StageMail},
	}
	for _, tt := range tests {
		t.Run(tt.conds, func(t *testing.T) {
			_, pol, err := LoadWith("c.toml", []byte("[[rule]]\nname = \"r\"\naction = \"reject\"\n"+tt.conds+"\n"), stageCatalog)
			if err != nil {
				t.Fatal(err)
			}
			if got := pol.Rules[0].Stage; got != tt.want {
				t.Errorf("stage %v, want %v", got, tt.want)
			}
		})
	}

	// Disabled rules are compiled too, so `config check` can show them.
	_, pol := mustLoad(t, "[policy]\nallow_no_rules = true\n[[rule]]\nname = \"off\"\nenabled = false\nsubject = \"x\"\naction = \"reject\"\n")
	if len(pol.Rules) != 0 || len(pol.Disabled) != 1 || pol.Disabled[0].Stage != StageEOH || pol.Disabled[0].Enabled {
		t.Errorf("Rules %v, Disabled %v", pol.Rules, pol.Disabled)
	}
}

// TestUnknownFindings: a rule naming a finding no check declares is
// refused at its line, with the closest declared name as the hint.
func TestUnknownFindings(t *testing.T) {
	for _, tc := range []struct{ conds, want string }{
		{`findings = ["content.gtueb"]`, `c.toml:4: rule[0].findings[0]: no check reports the finding "content.gtueb"`},
		{`findings = ["nosuch"]`, `no check reports the finding "nosuch"`},
		{`expr = 'has("mwtest.conect.x")'`, `"mwtest.conect.x": no check reports that finding (hint: did you mean mwtest.connect.*?)`},
		{`gtube = true`, `gtube is retired`},
	} {
		_, _, err := LoadWith("c.toml", []byte("[[rule]]\nname = \"r\"\naction = \"reject\"\n"+tc.conds+"\n"), testCatalog{"content.gtube": StageEOM, "mwtest.connect.": StageConnect})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.conds, err, tc.want)
		}
	}
	_, _, err := LoadWith("c.toml", []byte("[[rule]]\nname = \"r\"\naction = \"reject\"\nfindings = [\"content.gtueb\"]\n"), testCatalog{"content.gtube": StageEOM})
	if err == nil || !strings.Contains(err.Error(), "did you mean content.gtube?") {
		t.Errorf("no did-you-mean: %v", err)
	}
}

// TestExprEnvStage: $env reaches every variable by name, so an expression
// using it must not be decided before the variable is known.
func TestExprEnvStage(t *testing.T) {
	for src, atLeast := range map[string]Stage{
		`$env.sender == ""`:            StageMail,
		`$env["subject"] contains "x"`: StageEOH,
		`get($env, "size") > 4`:        StageEOM,
	} {
		c, _, err := compileExpr(src, func(string) (Stage, bool) { return StageEOM, true })
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if c.Stage() < atLeast {
			t.Errorf("%s is decided %s, before %s is known", src, c.Stage(), atLeast)
		}
	}
}

// TestUsedFindings: the findings the enabled rules can use, with the
// earliest stage of a rule using each, so unused checks need not run.
func TestUsedFindings(t *testing.T) {
	_, pol, err := LoadWith("c.toml", []byte(`
[[rule]]
name = "a"
findings = ["mwtest.connect.x"]
action = "reject"

[[rule]]
name = "b"
findings = ["mwtest.connect.x", "content.gtube"]
subject = "x"
action = "reject"

[[rule]]
name = "c"
expr = 'has("message.malformed") || has("mwtest.helo." + helo)'
action = "reject"

[[rule]]
name = "off"
enabled = false
findings = ["scan.exclusion"]
action = "reject"
`), stageCatalog)
	if err != nil {
		t.Fatal(err)
	}
	got := pol.UsedFindings()
	want := map[string]Stage{"mwtest.connect.x": StageConnect, "content.gtube": StageEOM, "message.malformed": StageEOM, "*": StageEOM}
	if len(got) != len(want) {
		t.Errorf("used %v, want %v", got, want)
	}
	for n, s := range want {
		if got[n] != s {
			t.Errorf("used[%s] = %v, want %v (all: %v)", n, got[n], s, got)
		}
	}
}

func TestStageString(t *testing.T) {
	for s, want := range map[Stage]string{StageConnect: "connect", StageHelo: "helo", StageMail: "mail",
		StageRcpt: "rcpt", StageEOH: "eoh", StageEOM: "eom", Stage(9): "stage(9)", Stage(-1): "stage(-1)"} {
		if s.String() != want {
			t.Errorf("Stage(%d).String() = %q, want %q", int(s), s.String(), want)
		}
	}
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		in   string
		want Reply
	}{
		{"550 5.7.1 Message rejected", Reply{550, "5.7.1", "Message rejected"}},
		{"451 4.7.1 Try again later", Reply{451, "4.7.1", "Try again later"}},
		{"452 4.5.3 Too many recipients", Reply{452, "4.5.3", "Too many recipients"}},
		{"550 Message rejected", Reply{550, "", "Message rejected"}},
		{"550 5.7.1", Reply{550, "5.7.1", ""}},
		{"550", Reply{550, "", ""}},
		{"  554   5.7.10   spaced out  ", Reply{554, "5.7.10", "spaced out"}},
		{"250 2.0.0 OK", Reply{250, "2.0.0", "OK"}},
		{"550 5.7.1text", Reply{550, "", "5.7.1text"}},
	}
	for _, tt := range tests {
		got, err := ParseReply(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseReply(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	bad := []struct{ in, errHas string }{
		{"550 4.7.1 mismatch", "does not match reply code 550"},
		{"451 5.7.1 mismatch", "does not match reply code 451"},
		{"250 5.0.0 mismatch", "does not match"},
		{"550 5.7.1 line one\nline two", "not an SMTP reply"},
		{"550 5.7.1 line one\r\nline two", "not an SMTP reply"},
		{"550 5.7.1 one\rtwo", "one line"},
		{"550-5.7.1 continued", "not an SMTP reply"},
		{"", "not an SMTP reply"},
		{"rejected", "not an SMTP reply"},
		{"55 x", "not an SMTP reply"},
		{"650 x", "not an SMTP reply"},
		{"5500 x", "not an SMTP reply"},
		{"5x0 x", "not an SMTP reply"},
	}
	for _, tt := range bad {
		_, err := ParseReply(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("ParseReply(%q) error %v, want one containing %q", tt.in, err, tt.errHas)
		}
	}
	for r, want := range map[Reply]string{
		{550, "5.7.1", "No"}: "550 5.7.1 No",
		{550, "", "No"}:      "550 No",
		{}:                   "",
	} {
		if r.String() != want {
			t.Errorf("%#v.String() = %q, want %q", r, r.String(), want)
		}
	}
}

// TestIndexKeysArrayElements checks the element lines of arrays that span
// lines: commas and brackets inside strings, nested values and comments do
// not shift the count.
// TestKnownKeys checks that every decodable key is known, so the unknown-key
// hints can suggest each of them.
// TestEveryKeyDocumented enforces the house rule that every config key has a
// doc comment.
// FuzzLoadConfig checks that Load never panics, that every failure is a
// *config.ConfigError with lines inside the file, and that a policy that loads can
// be evaluated on any stage without panicking.
func FuzzLoadConfig(f *testing.F) {
	f.Add(config.DefaultTOML())
	seeds, _ := filepath.Glob(filepath.Join("..", "testdata", "badconfig", "*", "config.toml"))
	seeds = append(seeds, filepath.Join("..", "contrib", "mailwarden.toml"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("[[rule]]\nname = \"r\"\nexpr = '''\nhas(\"x\") &&\n  size > 1\n'''\naction = \"reject\"\n"))
	f.Add([]byte("limits = { mime_depth = 0 }\n[[rule]]\nname='a'\nheaders={X=\"(\"}\ntag_subject='x'\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, pol, err := Load("f.toml", src)
		lines := bytes.Count(src, []byte("\n")) + 1
		if err != nil {
			var ce *config.ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, config.ErrConfig) || len(ce.Problems) == 0 {
				t.Fatalf("error %T %v is not a config.ConfigError with problems", err, err)
			}
			for _, p := range ce.Problems {
				if p.Line < 0 || p.Line > lines || p.File != "f.toml" {
					t.Fatalf("problem %q outside the %d-line file", p, lines)
				}
			}
			return
		}
		if cfg == nil || pol == nil || pol.Org == nil {
			t.Fatal("nil config or policy without an error")
		}
		for _, w := range pol.Warnings {
			if !w.Warning || w.Line < 0 || w.Line > lines || w.File != "f.toml" {
				t.Fatalf("warning %q outside the %d-line file, or not marked as one", w, lines)
			}
		}
		for _, r := range append(append([]*Rule(nil), pol.Rules...), pol.Disabled...) {
			if r.Stage < StageConnect || r.Stage > StageEOM {
				t.Fatalf("rule %s: stage %v", r.Name, r.Stage)
			}
			if !ruleNameRE.MatchString(r.Name) {
				t.Fatalf("rule name %q loaded", r.Name)
			}
		}
		facts := sampleFacts()
		for s := StageConnect; s <= StageEOM; s++ {
			pol.Evaluate(s, facts, "")
			for _, r := range facts.Recipients {
				pol.Evaluate(s, facts, r)
			}
		}
	})
}

// FuzzIndexKeys checks that the key-line scan never panics and only reports
// lines that exist, each key's occurrences in file order.
