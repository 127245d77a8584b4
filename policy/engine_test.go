package policy

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/config"

	"github.com/mailwarden/mailwarden/scanner"
)

// sampleFacts is an inbound message from 192.0.2.10 to two internal
// recipients and one external one, with a GTUBE body.
func sampleFacts() *Facts {
	return &Facts{
		ClientIP:   netip.MustParseAddr("192.0.2.10"),
		ClientName: "mail.sender.example",
		Helo:       "mail.sender.example",
		Sender:     "alice@sender.example",
		Recipients: []string{"bob@example.com", "carol@example.com", "dave@other.example"},
		Headers:    []HeaderField{{"From", "Alice <alice@sender.example>"}, {"Subject", "hello there"}, {"X-Spam-Flag", "YES"}},
		Subject:    "hello there",
		Size:       5000,
		Findings: []scanner.Finding{
			{Name: "content.gtube", Value: "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE", Where: "body", Reason: "GTUBE test string found"},
			{Name: "message.malformed", Value: "bad boundary", Where: "mime", Reason: "the MIME structure is broken"},
		},
	}
}

// summary renders a verdict in one line for comparisons.
func summary(v Verdict) string {
	var matched []string
	for _, m := range v.Matches {
		matched = append(matched, m.Rule)
	}
	s := "none"
	if v.Terminal() {
		s = fmt.Sprintf("%s by %s at %s", v.Action, v.Rule, v.Stage)
	}
	if v.Area != "" {
		s += " area " + v.Area
	}
	if v.Reply.Code != 0 {
		s += fmt.Sprintf(" reply %q", v.Reply)
	}
	if len(v.TagSubject) > 0 {
		s += fmt.Sprintf("; tags %s", strings.Join(v.TagSubject, ","))
	}
	for _, h := range v.AddHeaders {
		s += fmt.Sprintf("; %s: %s", h.Name, h.Value)
	}
	return s + "; matched " + strings.Join(matched, ",")
}

func TestEvaluate(t *testing.T) {
	const modifiers = `
[[rule]]
name = "tag-size-later-stage"
size_over = 100
tag_subject = "[AFTER]"
add_headers = ["X-After: 1"]

[[rule]]
name = "tag-net"
clients = ["192.0.2.0/24"]
tag_subject = "[NET]"

[[rule]]
name = "hdr-helo"
helo = '^mail\.'
add_headers = ["X-Helo: yes"]

[[rule]]
name = "nomatch"
helo = '^nomatch$'
tag_subject = "[NO]"

[[rule]]
name = "stop"
subject = "hello"
action = "quarantine"
tag_subject = "[Q]"
add_headers = ["X-Q: 1"]

[[rule]]
name = "tag-subject-after-in-file"
subject = "hello"
tag_subject = "[LATE]"

[[rule]]
name = "tag-net-again"
clients = ["192.0.2.10"]
tag_subject = "[NET]"
add_headers = ["X-Helo: yes"]
`
	tests := []struct {
		name  string
		rules string
		upTo  Stage
		rcpt  string
		edit  func(*Facts)
		want  string
	}{
		{name: "stage order beats file order", upTo: StageEOM, rcpt: "bob@example.com", rules: `
[[rule]]
name = "eom-first-in-file"
size_over = 100
action = "reject"
[[rule]]
name = "connect-second-in-file"
clients = ["192.0.2.0/24"]
action = "quarantine"
`, want: "quarantine by connect-second-in-file at connect area policy; matched connect-second-in-file"},
		{name: "within a stage, file order", upTo: StageEOM, rcpt: "bob@example.com", rules: `
[[rule]]
name = "first"
client_name = 'sender\.example$'
action = "quarantine"
quarantine = "first"
[[rule]]
name = "second"
clients = ["192.0.2.10"]
action = "reject"
`, want: "quarantine by first at connect area first; matched first"},
		{name: "within a stage, file order, swapped", upTo: StageEOM, rcpt: "bob@example.com", rules: `
[[rule]]
name = "second"
clients = ["192.0.2.10"]
action = "reject"
[[rule]]
name = "first"
client_name = 'sender\.example$'
action = "quarantine"
quarantine = "first"
`, want: `reject by second at connect reply "550 5.7.1 Message rejected by policy (rule second: client.network)"; matched second`},
		{name: "modifiers add up to the first terminal rule and not after", upTo: StageEOM, rcpt: "bob@example.com", rules: modifiers,
			want: "quarantine by stop at eoh area policy; tags [NET],[Q]; X-Helo: yes; X-Helo: yes; X-Q: 1; matched tag-net,tag-net-again,hdr-helo,stop"},
		{name: "rules after upTo are not run", upTo: StageHelo, rcpt: "", rules: modifiers,
			want: "none; tags [NET]; X-Helo: yes; X-Helo: yes; matched tag-net,tag-net-again,hdr-helo"},
		{name: "without a terminal rule every modifier applies", upTo: StageEOM, rcpt: "bob@example.com", rules: modifiers,
			edit: func(f *Facts) { f.Subject = "bye" },
			want: "none; tags [NET],[AFTER]; X-Helo: yes; X-Helo: yes; X-After: 1; matched tag-net,tag-net-again,hdr-helo,tag-size-later-stage"},
		{name: "all conditions must hold", upTo: StageEOM, rcpt: "bob@example.com", rules: `
[[rule]]
name = "net-and-subject"
clients = ["192.0.2.0/24"]
subject = "^nope"
action = "reject"
`, want: "none; matched "},
		{name: "recipient rules wait for a recipient", upTo: StageEOM, rcpt: "", rules: `
[[rule]]
name = "to-example"
recipients = ["*@example.com"]
action = "reject"
[[rule]]
name = "gtube"
findings = ["content.gtube"]
action = "quarantine"
[[rule]]
name = "from-alice"
senders = ["alice@*"]
tag_subject = "[ALICE]"
`, want: "none; tags [ALICE]; matched from-alice"},
		{name: "accept stops evaluation", upTo: StageEOM, rcpt: "bob@example.com", rules: `
[[rule]]
name = "allow-partner"
senders = ["*@sender.example"]
action = "accept"
[[rule]]
name = "gtube"
findings = ["content.gtube"]
action = "quarantine"
`, want: "accept by allow-partner at mail; matched allow-partner"},
		{name: "accept does not apply to other senders", upTo: StageEOM, rcpt: "bob@example.com", rules: `
[[rule]]
name = "allow-partner"
senders = ["*@partner.example"]
action = "accept"
[[rule]]
name = "gtube"
findings = ["content.gtube"]
action = "quarantine"
quarantine = "spam"
`, want: "quarantine by gtube at eom area spam; matched gtube"},
		{name: "null sender", upTo: StageMail, rcpt: "", edit: func(f *Facts) { f.Sender = "" }, rules: `
[[rule]]
name = "any-but-bounces"
senders = ["*@*"]
tag_subject = "[SENDER]"
[[rule]]
name = "bounces"
senders = ["<>"]
action = "discard"
`, want: "discard by bounces at mail area discard; matched bounces"},
		{name: "except wins over in", upTo: StageEOM, rcpt: "bob@example.com", rules: `
[[rule]]
name = "net-but-not-host"
clients = ["192.0.2.0/24"]
clients_except = ["192.0.2.10"]
action = "reject"
`, want: "none; matched "},
		{name: "a unix-socket client matches no network rule", upTo: StageEOM, rcpt: "bob@example.com",
			edit: func(f *Facts) { f.ClientIP = netip.Addr{} }, rules: `
[[rule]]
name = "outside-lan"
clients_except = ["10.0.0.0/8"]
action = "reject"
`, want: "none; matched "},
		{name: "headers match any field of the name, case-insensitively", upTo: StageEOH, rcpt: "bob@example.com", rules: `
[[rule]]
name = "spam-flag"
action = "quarantine"
[rule.headers]
x-spam-flag = '^(?i)yes$'
`, want: "quarantine by spam-flag at eoh area policy; matched spam-flag"},
		{name: "expression on findings", upTo: StageEOM, rcpt: "bob@example.com", rules: `
[[rule]]
name = "big-malformed"
expr = 'size > 1000 && has("message.malformed") && !has("scan.exclusion")'
action = "discard"
quarantine = "malformed"
`, want: "discard by big-malformed at eom area malformed; matched big-malformed"},
		{name: "has() with values holds on a finding with one of them", upTo: StageEOM, rcpt: "bob@example.com", rules: `
[[rule]]
name = "bad-boundary"
expr = 'has("message.malformed", "no boundary", "BAD BOUNDARY")'
action = "reject"
`, want: `reject by bad-boundary at eom reply "550 5.7.1 Message rejected by policy (rule bad-boundary: expr.match)"; matched bad-boundary`},
		{name: "has() with values holds on no other value", upTo: StageEOM, rcpt: "bob@example.com", rules: `
[[rule]]
name = "bad-boundary"
expr = 'has("message.malformed", "no boundary") || has("content.*", "bad boundary")'
action = "reject"
`, want: "none; matched "},
		{name: "expression with a run-time error tempfails", upTo: StageEOM, rcpt: "bob@example.com", rules: `
[[rule]]
name = "bad-at-run-time"
expr = 'int(subject) > 5'
action = "reject"
`, want: `tempfail by bad-at-run-time at eoh reply "451 4.3.0 Temporary local problem, try again later (rule bad-at-run-time: policy.expr_error)"; matched bad-at-run-time`},
		{name: "expression with a run-time error is skipped when failing open", upTo: StageEOM, rcpt: "bob@example.com", rules: `
[server]
on_error = "accept"
[[rule]]
name = "bad-at-run-time"
expr = 'int(subject) > 5'
action = "reject"
`, want: "none; matched "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pol := mustLoad(t, tt.rules)
			f := sampleFacts()
			if tt.edit != nil {
				tt.edit(f)
			}
			v := pol.Evaluate(tt.upTo, f, tt.rcpt)
			if got := summary(v); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestEvaluateMatches(t *testing.T) {
	_, pol := mustLoad(t, `
[[rule]]
name = "tag-gtube"
findings = ["content.gtube"]
tag_subject = "[GTUBE]"
[[rule]]
name = "big-malformed"
expr = 'size > 1000 && has("message.malformed")'
action = "quarantine"
`)
	v := pol.Evaluate(StageEOM, sampleFacts(), "bob@example.com")
	want := []scanner.Match{
		{Rule: "tag-gtube", Stage: "eom", Action: "", Findings: []scanner.Finding{sampleFacts().Findings[0]}},
		{Rule: "big-malformed", Stage: "eom", Action: "quarantine", Findings: []scanner.Finding{
			sampleFacts().Findings[1],
			{Name: "expr.match", Value: `size > 1000 && has("message.malformed")`, Where: "rule", Reason: "expression is true"},
		}},
	}
	if !reflect.DeepEqual(v.Matches, want) {
		t.Errorf("Matches:\n%+v\nwant\n%+v", v.Matches, want)
	}
}

func TestEvaluatePerRecipient(t *testing.T) {
	_, pol := mustLoad(t, `
[[rule]]
name = "example-com"
recipients = ["*@example.com"]
recipients_except = ["postmaster@example.com"]
action = "quarantine"
quarantine = "held"
`)
	f := sampleFacts()
	f.Recipients = []string{"bob@example.com", "postmaster@example.com", "dave@other.example", "BOB@EXAMPLE.COM", "x@sub.example.com"}
	want := map[string]Action{
		"bob@example.com":        ActionQuarantine,
		"postmaster@example.com": ActionNone,
		"dave@other.example":     ActionNone,
		"BOB@EXAMPLE.COM":        ActionQuarantine,
		"x@sub.example.com":      ActionNone,
	}
	for _, r := range f.Recipients {
		for _, s := range []Stage{StageRcpt, StageEOH, StageEOM} {
			if v := pol.Evaluate(s, f, r); v.Action != want[r] {
				t.Errorf("Evaluate(%s, %s) = %s, want %s", s, r, v.Action, want[r])
			}
		}
	}
	if v := pol.Evaluate(StageMail, f, "bob@example.com"); v.Terminal() {
		t.Errorf("a rcpt rule decided at mail: %s", summary(v))
	}
}

func TestDirection(t *testing.T) {
	_, pol := mustLoad(t, `
[organization]
internal_domains = ["example.com", "*.corp.example", "Upper.Example."]
trusted_networks = ["10.0.0.0/8", "2001:db8:1::/48"]

[[rule]]
name = "in"
direction = "inbound"
tag_subject = "inbound"
[[rule]]
name = "out"
direction = "outbound"
tag_subject = "outbound"
[[rule]]
name = "int"
direction = "internal"
tag_subject = "internal"
[[rule]]
name = "expr-out"
expr = 'direction == "outbound"'
add_headers = ["X-Expr: outbound"]
[[rule]]
name = "any"
direction = "any"
add_headers = ["X-Any: 1"]
`)
	tests := []struct {
		client, auth, rcpt, want string
	}{
		{"203.0.113.5", "", "bob@example.com", Inbound},
		{"203.0.113.5", "", "dave@other.example", Inbound},
		{"10.1.2.3", "", "bob@example.com", Internal},
		{"10.1.2.3", "", "bob@EXAMPLE.com.", Internal},
		{"10.1.2.3", "", "x@upper.example", Internal},
		{"10.1.2.3", "", "dave@other.example", Outbound},
		{"10.1.2.3", "", "x@hr.corp.example", Internal},
		{"10.1.2.3", "", "x@corp.example", Outbound}, // *.corp.example is the subdomains only
		{"10.1.2.3", "", "x@notexample.com", Outbound},
		{"10.1.2.3", "", "x@example.com.evil.example", Outbound},
		{"::ffff:10.1.2.3", "", "bob@example.com", Internal},
		{"2001:db8:1:2::5", "", "dave@other.example", Outbound},
		{"2001:db8:2::5", "", "dave@other.example", Inbound},
		{"11.0.0.1", "", "bob@example.com", Inbound},
		{"203.0.113.5", "alice", "dave@other.example", Outbound},
		{"203.0.113.5", "alice", "bob@example.com", Internal},
		{"", "", "bob@example.com", Inbound},
		{"", "alice", "dave@other.example", Outbound},
	}
	for _, tt := range tests {
		t.Run(tt.client+"/"+tt.auth+"/"+tt.rcpt, func(t *testing.T) {
			f := sampleFacts()
			f.ClientIP = netip.Addr{}
			if tt.client != "" {
				f.ClientIP = netip.MustParseAddr(tt.client)
			}
			f.AuthUser = tt.auth
			f.Recipients = []string{tt.rcpt}
			if got := pol.Org.Direction(f, tt.rcpt); got != tt.want {
				t.Errorf("Direction = %q, want %q", got, tt.want)
			}
			v := pol.Evaluate(StageRcpt, f, tt.rcpt)
			if len(v.TagSubject) != 1 || v.TagSubject[0] != tt.want {
				t.Errorf("rules tagged %q, want only %q", v.TagSubject, tt.want)
			}
			// "any" has no condition, so it is decided at connect, before
			// the expression that needs the recipient.
			wantHeaders := []HeaderField{{"X-Any", "1"}}
			if tt.want == Outbound {
				wantHeaders = append(wantHeaders, HeaderField{"X-Expr", "outbound"})
			}
			if !reflect.DeepEqual(v.AddHeaders, wantHeaders) {
				t.Errorf("headers %v, want %v", v.AddHeaders, wantHeaders)
			}
		})
	}

	f := sampleFacts()
	f.ClientIP = netip.MustParseAddr("10.9.9.9")
	for _, tt := range []struct {
		rcpts []string
		want  string
	}{
		{[]string{"bob@example.com", "x@hr.corp.example"}, Internal},
		{[]string{"dave@other.example"}, Outbound},
		{[]string{"bob@example.com", "dave@other.example"}, "mixed"},
		{nil, Outbound},
	} {
		f.Recipients = tt.rcpts
		if got := pol.Org.MessageDirection(f); got != tt.want {
			t.Errorf("MessageDirection(%v) = %q, want %q", tt.rcpts, got, tt.want)
		}
	}
	f.ClientIP = netip.MustParseAddr("198.51.100.1")
	f.Recipients = []string{"bob@example.com", "dave@other.example"}
	if got := pol.Org.MessageDirection(f); got != Inbound {
		t.Errorf("MessageDirection from outside = %q, want inbound", got)
	}
}

func TestRecipientCountOver(t *testing.T) {
	_, pol := mustLoad(t, `
[[rule]]
name = "too-many"
recipient_count_over = 2
action = "tempfail"
reply = "452 4.5.3 Too many recipients"
`)
	f := sampleFacts()
	rcpts := []string{"r1@example.com", "r2@example.com", "r3@example.com", "r4@example.com", "r5@example.com"}
	// At each RCPT the milter knows the recipients so far.
	for i, r := range rcpts {
		f.Recipients = rcpts[:i+1]
		v := pol.Evaluate(StageRcpt, f, r)
		if i < 2 {
			if v.Terminal() {
				t.Errorf("recipient %d: %s, want none", i+1, summary(v))
			}
			continue
		}
		want := "452 4.5.3 Too many recipients (rule too-many: envelope.recipient_count)"
		if v.Action != ActionTempfail || v.Reply.String() != want {
			t.Errorf("recipient %d: %s, want tempfail %q", i+1, summary(v), want)
		}
		if fs := v.Matches[0].Findings; len(fs) != 1 || fs[0].Value != fmt.Sprint(i+1) {
			t.Errorf("recipient %d: findings %+v, want the recipient's number", i+1, fs)
		}
	}
	// At end of message the same recipients get the same answers, by their
	// place in Facts.Recipients, whatever order they are evaluated in.
	f.Recipients = rcpts
	for _, i := range []int{4, 0, 3, 1, 2} {
		v := pol.Evaluate(StageEOM, f, rcpts[i])
		if got, want := v.Terminal(), i >= 2; got != want {
			t.Errorf("end of message, %s: terminal %v, want %v", rcpts[i], got, want)
		}
	}
}

func TestBypass(t *testing.T) {
	_, pol := mustLoad(t, `
[[rule]]
name = "gtube"
findings = ["content.gtube"]
action = "quarantine"
quarantine = "spam"
[[rule]]
name = "big"
size_over = 1000
action = "quarantine"
quarantine = "big"
`)
	f := sampleFacts()
	f.Bypass = map[string][]string{"gtube": {"Bob@Example.COM"}, "nosuchrule": {"carol@example.com"}}
	for rcpt, want := range map[string]string{
		"bob@example.com":    "big",   // released past gtube only
		"carol@example.com":  "gtube", // the bypass is per recipient
		"dave@other.example": "gtube",
	} {
		if v := pol.Evaluate(StageEOM, f, rcpt); v.Rule != want {
			t.Errorf("%s: decided by %q, want %q", rcpt, v.Rule, want)
		}
	}
	f.Bypass["big"] = []string{"bob@example.com"}
	if v := pol.Evaluate(StageEOM, f, "bob@example.com"); v.Terminal() {
		t.Errorf("bob bypasses both rules, got %s", summary(v))
	}
}

func TestReplyText(t *testing.T) {
	_, pol := mustLoad(t, `
[[rule]]
name = "block-net"
clients = ["192.0.2.0/24"]
senders = ["alice@sender.example"]
action = "reject"
reply = "554 5.7.1 Blocked"
[[rule]]
name = "default-reject"
subject = "hello"
action = "reject"
[[rule]]
name = "no-findings"
direction = "inbound"
action = "tempfail"
[[rule]]
name = "no-text"
helo = "sender"
action = "reject"
reply = "550 5.7.1"
[[rule]]
name = "quarantine"
findings = ["content.gtube"]
action = "quarantine"
`)
	tests := []struct {
		rule, want string
	}{
		{"block-net", "554 5.7.1 Blocked (rule block-net: sender.match)"}, // the latest-stage finding
		{"default-reject", "550 5.7.1 Message rejected by policy (rule default-reject: subject.match)"},
		{"no-findings", "451 4.7.1 Try again later (rule no-findings)"},
		{"no-text", "550 5.7.1 (rule no-text: helo.match)"},
		{"quarantine", ""},
	}
	for _, tt := range tests {
		// Evaluate each rule alone, so it is the one that decides.
		one := &Policy{Org: pol.Org, Rules: []*Rule{ruleByName(t, pol, tt.rule)}}
		v := one.Evaluate(StageEOM, sampleFacts(), "bob@example.com")
		if got := v.Reply.String(); got != tt.want {
			t.Errorf("rule %s: reply %q, want %q", tt.rule, got, tt.want)
		}
		// Finding values may hold configured lists; they stay out of replies.
		for _, leak := range []string{"192.0.2", "alice@", "hello"} {
			if strings.Contains(v.Reply.Text, leak) {
				t.Errorf("rule %s: reply %q leaks %q", tt.rule, v.Reply.Text, leak)
			}
		}
	}
	// The compiled rule keeps its reply as configured; the decoration is per verdict.
	if r := ruleByName(t, pol, "block-net"); r.Reply.String() != "554 5.7.1 Blocked" {
		t.Errorf("compiled reply changed to %q", r.Reply)
	}
}

func TestCombine(t *testing.T) {
	gtubeMatch := scanner.Match{Rule: "gtube", Stage: "eom", Action: "quarantine",
		Findings: []scanner.Finding{{Name: "content.gtube", Reason: "GTUBE test string found"}}}
	quarantine := func(area, rule string, m ...scanner.Match) Verdict {
		return Verdict{Action: ActionQuarantine, Rule: rule, Stage: StageEOM, Area: area,
			TagSubject: []string{"[NOT DELIVERED]"}, AddHeaders: []HeaderField{{"X-Held", rule}}, Matches: m}
	}
	discard := func(area, rule string) Verdict {
		return Verdict{Action: ActionDiscard, Rule: rule, Stage: StageEOM, Area: area}
	}
	reject := func(rule string) Verdict {
		return Verdict{Action: ActionReject, Rule: rule, Reply: Reply{550, "5.7.1", "no (rule " + rule + ")"}}
	}
	tempfail := func(rule string) Verdict {
		return Verdict{Action: ActionTempfail, Rule: rule, Reply: Reply{451, "4.7.1", "later (rule " + rule + ")"}}
	}
	deliver := func(tags []string, headers ...HeaderField) Verdict {
		return Verdict{TagSubject: tags, AddHeaders: headers}
	}
	accept := func(rule string, headers ...HeaderField) Verdict {
		return Verdict{Action: ActionAccept, Rule: rule, AddHeaders: headers}
	}
	tests := []struct {
		name     string
		rcpts    []string
		verdicts map[string]Verdict
		want     Decision
	}{
		{"tempfail beats reject and split", []string{"a", "b", "c", "d"},
			map[string]Verdict{"a": quarantine("spam", "gtube"), "b": reject("r1"), "c": tempfail("t1"), "d": deliver(nil)},
			Decision{Action: ActionTempfail, Reply: Reply{451, "4.7.1", "later (rule t1)"}, Rule: "t1"}},
		{"the first tempfail in recipient order", []string{"a", "b", "c"},
			map[string]Verdict{"a": deliver(nil), "b": tempfail("t2"), "c": tempfail("t1")},
			Decision{Action: ActionTempfail, Reply: Reply{451, "4.7.1", "later (rule t2)"}, Rule: "t2"}},
		{"reject beats split", []string{"a", "b", "c"},
			map[string]Verdict{"a": quarantine("spam", "gtube"), "b": deliver([]string{"[X]"}), "c": reject("r1")},
			Decision{Action: ActionReject, Reply: Reply{550, "5.7.1", "no (rule r1)"}, Rule: "r1"}},
		{"split by area and rule", []string{"a", "b", "c", "d", "e", "f", "g"},
			map[string]Verdict{
				"a": quarantine("spam", "gtube", gtubeMatch),
				"b": deliver([]string{"[X]"}, HeaderField{"X-A", "1"}),
				"c": quarantine("spam", "gtube", gtubeMatch),
				"d": quarantine("exclusion", "scan-exclusion"),
				"e": accept("allow", HeaderField{"X-A", "1"}, HeaderField{"X-B", "2"}),
				"f": discard("discard", "drop"),
				"g": quarantine("spam", "keywords"),
			},
			Decision{Action: ActionAccept, Deliver: []string{"b", "e"},
				Quarantine: []QuarantineGroup{
					{Area: "spam", Rule: "gtube", Reason: "rule gtube: content.gtube: GTUBE test string found", Action: ActionQuarantine, Recipients: []string{"a", "c"}},
					{Area: "exclusion", Rule: "scan-exclusion", Reason: "rule scan-exclusion", Action: ActionQuarantine, Recipients: []string{"d"}},
					{Area: "discard", Rule: "drop", Reason: "rule drop", Action: ActionDiscard, Recipients: []string{"f"}},
					{Area: "spam", Rule: "keywords", Reason: "rule keywords", Action: ActionQuarantine, Recipients: []string{"g"}},
				},
				TagSubject: []string{"[X]"},
				AddHeaders: []HeaderField{{"X-A", "1"}, {"X-B", "2"}}}},
		{"quarantine and discard by one rule in one area are two copies", []string{"a", "b"},
			map[string]Verdict{"a": quarantine("x", "r"), "b": discard("x", "r")},
			Decision{Action: ActionDiscard, Rule: "r", Quarantine: []QuarantineGroup{
				{Area: "x", Rule: "r", Reason: "rule r", Action: ActionQuarantine, Recipients: []string{"a"}},
				{Area: "x", Rule: "r", Reason: "rule r", Action: ActionDiscard, Recipients: []string{"b"}},
			}}},
		{"all quarantined is a discard of the original", []string{"a", "b"},
			map[string]Verdict{"a": quarantine("exclusion", "scan-exclusion"), "b": quarantine("spam", "gtube", gtubeMatch)},
			Decision{Action: ActionDiscard, Rule: "scan-exclusion", Quarantine: []QuarantineGroup{
				{Area: "exclusion", Rule: "scan-exclusion", Reason: "rule scan-exclusion", Action: ActionQuarantine, Recipients: []string{"a"}},
				{Area: "spam", Rule: "gtube", Reason: "rule gtube: content.gtube: GTUBE test string found", Action: ActionQuarantine, Recipients: []string{"b"}},
			}}},
		{"recipients without a verdict are delivered", []string{"a", "b"},
			map[string]Verdict{"a": quarantine("spam", "gtube")},
			Decision{Action: ActionAccept, Deliver: []string{"b"}, Quarantine: []QuarantineGroup{
				{Area: "spam", Rule: "gtube", Reason: "rule gtube", Action: ActionQuarantine, Recipients: []string{"a"}},
			}}},
		{"no recipients", nil, nil, Decision{Action: ActionAccept}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Combine(tt.rcpts, tt.verdicts)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Combine:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestEvaluateThenCombine runs the embedded default policy the way the milter
// does at end of message.
func TestEvaluateThenCombine(t *testing.T) {
	_, pol, err := LoadDefault(nil)
	if err != nil {
		t.Fatal(err)
	}
	test := func(edit func(*Facts), want Decision) {
		t.Helper()
		f := sampleFacts()
		edit(f)
		verdicts := map[string]Verdict{}
		for _, r := range f.Recipients {
			verdicts[r] = pol.Evaluate(StageEOM, f, r)
		}
		if got := Combine(f.Recipients, verdicts); !reflect.DeepEqual(got, want) {
			t.Errorf("Combine:\n got %+v\nwant %+v", got, want)
		}
	}
	rcpts := sampleFacts().Recipients
	test(func(f *Facts) {}, Decision{Action: ActionDiscard, Rule: "gtube", Quarantine: []QuarantineGroup{{
		Area: "spam", Rule: "gtube", Action: ActionQuarantine, Recipients: rcpts,
		Reason: "rule gtube: content.gtube: GTUBE test string found"}}})
	test(func(f *Facts) {
		f.Findings = f.Findings[1:] // only message.malformed
		f.Bypass = map[string][]string{"gtube": {"bob@example.com"}}
	}, Decision{Action: ActionAccept, Deliver: rcpts,
		AddHeaders: []HeaderField{{"X-Mailwarden-Warning", "malformed message, scanned leniently"}}})
	test(func(f *Facts) { f.Size = 200e6 }, Decision{Action: ActionReject, Rule: "message-too-big",
		Reply: Reply{552, "5.3.4", "Message too big (rule message-too-big: message.size)"}})
	test(func(f *Facts) { f.Bypass = map[string][]string{"gtube": {"carol@example.com"}} }, Decision{
		Action: ActionAccept, Deliver: []string{"carol@example.com"},
		Quarantine: []QuarantineGroup{{Area: "spam", Rule: "gtube", Action: ActionQuarantine,
			Recipients: []string{"bob@example.com", "dave@other.example"}, Reason: "rule gtube: content.gtube: GTUBE test string found"}},
		AddHeaders: []HeaderField{{"X-Mailwarden-Warning", "malformed message, scanned leniently"}}})
	// Ambiguous MIME (CVE-2024-28054) is never delivered: the scan may not
	// have seen what the recipient's client shows. It goes to the exclusion
	// area ahead of gtube, whose finding came from that doubtful scan.
	ambiguous := scanner.Finding{Name: "mime.ambiguous", Value: "boundary", Where: "mime", Reason: "two boundary parameters"}
	test(func(f *Facts) { f.Findings = []scanner.Finding{ambiguous} }, Decision{Action: ActionDiscard, Rule: "ambiguous-mime",
		Quarantine: []QuarantineGroup{{Area: "exclusion", Rule: "ambiguous-mime", Action: ActionQuarantine, Recipients: rcpts,
			Reason: "rule ambiguous-mime: mime.ambiguous: two boundary parameters"}}})
	test(func(f *Facts) { f.Findings = append(f.Findings, ambiguous) }, Decision{Action: ActionDiscard, Rule: "ambiguous-mime",
		Quarantine: []QuarantineGroup{{Area: "exclusion", Rule: "ambiguous-mime", Action: ActionQuarantine, Recipients: rcpts,
			Reason: "rule ambiguous-mime: mime.ambiguous: two boundary parameters"}}})
}

// BenchmarkEvaluate runs the default rules plus 20 rules with regular
// expressions, patterns, networks and an expression, for 10 recipients at
// end of message: the milter's heaviest call per message.
func BenchmarkEvaluate(b *testing.B) {
	var src strings.Builder
	src.Write(config.DefaultTOML())
	for i := range 20 {
		fmt.Fprintf(&src, "\n[[rule]]\nname = \"bench-%d\"\ntag_subject = \"[%d]\"\n", i, i)
		switch i % 5 {
		case 0:
			fmt.Fprintf(&src, "subject = '(?i)\\b(viagra|casino|lottery|winner)%d\\b'\n", i)
		case 1:
			fmt.Fprintf(&src, "helo = '^(localhost|\\d+\\.\\d+\\.\\d+\\.\\d+)%d$'\nclient_name = '(?i)(dyn|dsl|pool|cable)-?%d'\n", i, i)
		case 2:
			fmt.Fprintf(&src, "senders = [\"*@*.spam%d.example\", \"bulk%d@*\"]\nclients = [\"198.51.100.0/24\", \"203.0.113.%d-200\"]\n", i, i, i)
		case 3:
			fmt.Fprintf(&src, "headers = { X-Mailer = '(?i)mass ?mailer %d', Received = 'from \\[10\\.%d\\.' }\n", i, i)
		case 4:
			fmt.Fprintf(&src, "recipients = [\"*@*.internal%d.example\"]\nexpr = 'size > %d && !has(\"scan.exclusion\")'\n", i, 1000000+i)
		}
	}
	_, pol := mustLoad(b, src.String())
	if len(pol.Rules) != 25 {
		b.Fatalf("%d rules, want 25", len(pol.Rules))
	}
	f := sampleFacts()
	f.Findings = nil // nothing terminal: every rule runs for every recipient
	f.Headers = append(f.Headers, HeaderField{"Received", "from mx.sender.example ([192.0.2.10]) by mx.example.com"},
		HeaderField{"X-Mailer", "Some Client 1.0"})
	f.Recipients = nil
	for i := range 10 {
		f.Recipients = append(f.Recipients, fmt.Sprintf("user%d@example.com", i))
	}
	if v := pol.Evaluate(StageEOM, f, f.Recipients[0]); v.Terminal() || len(v.Matches) != 0 {
		b.Fatalf("the benchmark facts match rules: %s", summary(v))
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range f.Recipients {
			pol.Evaluate(StageEOM, f, r)
		}
	}
}
