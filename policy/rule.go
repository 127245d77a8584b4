package policy

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mailwarden/mailwarden/config"
)

// Action is a rule's terminal action. [ActionNone] means the rule only
// modifies (tags, headers) and evaluation goes on.
type Action int

// The terminal actions. Their order is their precedence when one message's
// recipients end with different outcomes: see [Combine].
const (
	ActionNone Action = iota
	ActionAccept
	ActionQuarantine
	ActionDiscard
	ActionReject
	ActionTempfail
	// ActionGreylist tempfails a recipient until its (network, sender,
	// recipient) triplet has waited out the greylisting delay. The session
	// resolves it at RCPT, through the greylist store, into a tempfail or
	// into letting the recipient past the rule, so it never reaches
	// [Combine].
	ActionGreylist
)

var actionNames = map[Action]string{ActionNone: "", ActionAccept: "accept", ActionQuarantine: "quarantine",
	ActionDiscard: "discard", ActionReject: "reject", ActionTempfail: "tempfail", ActionGreylist: "greylist"}

func (a Action) String() string { return actionNames[a] }

// Reply is an SMTP reply: code, RFC 3463 enhanced status code and text.
type Reply struct {
	Code     int
	Enhanced string
	Text     string
}

func (r Reply) String() string {
	if r.Code == 0 {
		return ""
	}
	if r.Enhanced == "" {
		return fmt.Sprintf("%d %s", r.Code, r.Text)
	}
	return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text)
}

var (
	replyRE    = regexp.MustCompile(`^([245][0-9][0-9])(?:\s+([245]\.[0-9]{1,3}\.[0-9]{1,3}))?(?:\s+(.*))?$`)
	headerName = regexp.MustCompile(`^[!-9;-~]+$`)
)

// ParseReply parses "550 5.7.1 text". The enhanced code's class must agree
// with the reply code (RFC 3463 §2).
func ParseReply(s string) (Reply, error) {
	m := replyRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Reply{}, fmt.Errorf("%q is not an SMTP reply like \"550 5.7.1 Message rejected\"", s)
	}
	code, _ := strconv.Atoi(m[1])
	if m[2] != "" && m[2][0] != m[1][0] {
		return Reply{}, fmt.Errorf("enhanced code %s does not match reply code %d", m[2], code)
	}
	text := m[3]
	if strings.ContainsAny(text, "\r\n") {
		return Reply{}, fmt.Errorf("reply text must be one line")
	}
	return Reply{Code: code, Enhanced: m[2], Text: text}, nil
}

// Default replies, chosen so a rule without reply still answers correctly.
var (
	DefaultReject   = Reply{550, "5.7.1", "Message rejected by policy"}
	DefaultTempfail = Reply{451, "4.7.1", "Try again later"}
	// DefaultGreylist is the greylist action's reply; the session adds
	// when to retry.
	DefaultGreylist = Reply{451, "4.7.1", "Greylisted, please try again later"}
)

// Rule is a compiled rule.
type Rule struct {
	Name       string
	Enabled    bool
	Line       int // line of the [[rule]] header
	Stage      Stage
	Conditions []Condition
	Action     Action
	Reply      Reply
	Area       string // quarantine area
	TagSubject string
	AddHeaders []HeaderField
	// Scored says the rule is a spam test (score = N): it adds Score to
	// the message's spam score when its conditions hold, and does nothing
	// else; [Policy.Evaluate] skips it and [Policy.Scores] runs it.
	Scored bool
	Score  float64
}

// PerRecipient reports whether the rule's outcome can differ between the
// recipients of one message.
func (r *Rule) PerRecipient() bool {
	for _, c := range r.Conditions {
		switch c := c.(type) {
		case addressCond:
			if c.what == "recipient" {
				return true
			}
		case directionCond, rcptCountCond:
			return true
		case *exprCond:
			if c.rcpt {
				return true
			}
		}
	}
	return false
}

// rule validates and compiles one [[rule]].
func (v *validator) rule(i int, rc *config.RuleConfig) *Rule {
	key := func(k string) string { return fmt.Sprintf("rule[%d].%s", i, k) }
	r := &Rule{Name: rc.Name, Enabled: rc.Enabled == nil || *rc.Enabled, Line: v.Line(fmt.Sprintf("rule[%d]", i))}
	if !ruleNameRE.MatchString(rc.Name) {
		v.Add(key("name"), "letters, digits, dot, dash and underscore, up to 64", "rule name %q is missing or invalid", rc.Name)
	}
	// list parses one address list; each problem names its element, whose
	// line is its own when the array spans lines.
	list := func(items []string, k string) AddressList {
		var l AddressList
		for j, item := range items {
			p, errs := ParseAddressList([]string{item})
			for _, err := range errs {
				v.Add(fmt.Sprintf("%s[%d]", key(k), j), AddressForms, "%v", err)
			}
			l = append(l, p...)
		}
		return l
	}
	addrs := func(what string, in, except []string, inKey, exceptKey string) {
		a, b := list(in, inKey), list(except, exceptKey)
		if len(a) > 0 || len(b) > 0 {
			r.Conditions = append(r.Conditions, addressCond{what: what, in: a, except: b})
		}
	}
	if len(rc.Clients) > 0 || len(rc.ClientsExcept) > 0 {
		in, errs := ParseNetList(rc.Clients)
		for _, err := range errs {
			v.Add(key("clients"), "1.2.3.4, 1.2.3.0/24, 1.2.3.4-223, 2001:db8::/32", "%v", err)
		}
		ex, errs := ParseNetList(rc.ClientsExcept)
		for _, err := range errs {
			v.Add(key("clients_except"), "", "%v", err)
		}
		text := strings.Join(rc.Clients, ", ")
		if text == "" {
			text = "any"
		}
		if len(rc.ClientsExcept) > 0 {
			text += " except " + strings.Join(rc.ClientsExcept, ", ")
		}
		r.Conditions = append(r.Conditions, clientCond{in: in, except: ex, text: text})
	}
	regex := func(k, pattern, what string, stage Stage, get func(*Facts) string) {
		if pattern == "" {
			return
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			v.Add(key(k), "Go RE2 syntax; (?i) for case-insensitive", "bad regular expression: %v", err)
			return
		}
		r.Conditions = append(r.Conditions, regexCond{what: what, stage: stage, re: re, get: get})
	}
	regex("client_name", rc.ClientName, "client_name", StageConnect, func(f *Facts) string { return f.ClientName })
	regex("helo", rc.Helo, "helo", StageHelo, func(f *Facts) string { return f.Helo })
	addrs("sender", rc.Senders, rc.SendersExcept, "senders", "senders_except")
	addrs("recipient", rc.Recipients, rc.RecipientsExcept, "recipients", "recipients_except")
	switch rc.Direction {
	case "", "any":
	case Inbound, Outbound, Internal:
		r.Conditions = append(r.Conditions, directionCond{dir: rc.Direction})
	default:
		v.Add(key("direction"), "inbound, outbound, internal or any", "%q is not a direction", rc.Direction)
	}
	if rc.RecipientCountOver < 0 {
		v.Add(key("recipient_count_over"), "", "must not be negative")
	} else if rc.RecipientCountOver > 0 {
		r.Conditions = append(r.Conditions, rcptCountCond{n: rc.RecipientCountOver})
	}
	for _, name := range slices.Sorted(maps.Keys(rc.Headers)) {
		pattern := rc.Headers[name]
		if !headerName.MatchString(name) {
			v.Add(key("headers."+name), "", "%q is not a header field name", name)
			continue
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			v.Add(key("headers."+name), "Go RE2 syntax", "bad regular expression: %v", err)
			continue
		}
		r.Conditions = append(r.Conditions, headerCond{name: name, re: re})
	}
	regex("subject", rc.Subject, "subject", StageEOH, func(f *Facts) string { return f.Subject })
	v.Size(key("size_over"), rc.SizeOver)
	if rc.SizeOver.N > 0 {
		r.Conditions = append(r.Conditions, sizeCond{n: rc.SizeOver.N})
	}
	if rc.GTUBE {
		v.Add(key("gtube"), `findings = ["content.gtube"]`, "gtube is retired; name the finding instead")
	}
	// names checks a findings or findings_except list and returns the
	// stage at which all its names are known.
	names := func(list []string, k string) Stage {
		st := StageConnect
		for j, n := range list {
			k := fmt.Sprintf("%s[%d]", key(k), j)
			if !findingNameRE.MatchString(n) {
				v.Add(k, `a finding name such as message.malformed, or a family such as "dnsbl.*"`, "%q is not a finding name", n)
				continue
			}
			s, ok := v.findingStage(n)
			if !ok {
				v.Add(k, v.suggestFinding(n), "no check reports the finding %q", n)
			}
			st = max(st, s)
		}
		return st
	}
	if len(rc.Findings) > 0 {
		r.Conditions = append(r.Conditions, findingCond{names: rc.Findings, stage: names(rc.Findings, "findings")})
	}
	if len(rc.FindingsExcept) > 0 {
		r.Conditions = append(r.Conditions, findingCond{names: rc.FindingsExcept, stage: names(rc.FindingsExcept, "findings_except"), except: true})
	}
	if rc.Expr != "" {
		c, line, err := compileExpr(rc.Expr, v.findingStage)
		if err != nil {
			p := config.Problem{File: v.File(), Line: v.Line(key("expr")), Key: key("expr"),
				Msg: "expression: " + err.Error(), Hint: "see the expression variables in the README"}
			if b := v.BodyLine(key("expr")); b > 0 {
				p.Line = b + line - 1 // a multi-line string: count from its first line
			}
			v.Problems = append(v.Problems, p)
		} else {
			r.Conditions = append(r.Conditions, c)
			v.directionWarnings(key("expr"), rc.Expr, c.tree)
			for _, n := range c.findings {
				if _, ok := v.findingStage(n); !ok {
					v.Add(key("expr"), v.suggestFinding(n), "%q: no check reports that finding", n)
				}
			}
		}
	}
	for _, c := range r.Conditions {
		r.Stage = max(r.Stage, c.Stage())
	}

	switch rc.Action {
	case "":
	case "accept":
		r.Action = ActionAccept
	case "reject":
		r.Action, r.Reply = ActionReject, DefaultReject
	case "tempfail":
		r.Action, r.Reply = ActionTempfail, DefaultTempfail
	case "discard":
		r.Action, r.Area = ActionDiscard, "discard"
	case "quarantine":
		r.Action, r.Area = ActionQuarantine, "policy"
	case "greylist":
		// A triplet needs the recipient, and a greylisted client must hear
		// it before DATA, so the rule is decided at RCPT.
		r.Action, r.Reply = ActionGreylist, DefaultGreylist
		if r.Stage > StageRcpt {
			v.Add(key("action"), "greylist on what is known by RCPT: the client, HELO, sender, recipient and their findings",
				"greylist is decided at RCPT, but this rule needs %s", r.Stage)
		}
		r.Stage = StageRcpt
	default:
		v.Add(key("action"), "accept, reject, tempfail, discard, quarantine or greylist (or leave it out to only modify)", "%q is not an action", rc.Action)
	}
	if rc.Reply != "" {
		rep, err := ParseReply(rc.Reply)
		switch {
		case err != nil:
			v.Add(key("reply"), "", "%v", err)
		case r.Action == ActionReject && rep.Code/100 != 5:
			v.Add(key("reply"), "reject takes a 5xx reply; use action tempfail for 4xx", "reply code %d does not fit action reject", rep.Code)
		case (r.Action == ActionTempfail || r.Action == ActionGreylist) && rep.Code/100 != 4:
			v.Add(key("reply"), rc.Action+" takes a 4xx reply", "reply code %d does not fit action %s", rep.Code, rc.Action)
		case r.Action != ActionReject && r.Action != ActionTempfail && r.Action != ActionGreylist:
			v.Add(key("reply"), "only reject, tempfail and greylist send a reply", "reply is set but action is %q", rc.Action)
		default:
			r.Reply = rep
		}
	}
	if rc.Quarantine != "" {
		if r.Action != ActionQuarantine && r.Action != ActionDiscard {
			v.Add(key("quarantine"), "set action = \"quarantine\"", "quarantine area is set but action is %q", rc.Action)
		} else if !ruleNameRE.MatchString(rc.Quarantine) {
			v.Add(key("quarantine"), "letters, digits, dot, dash and underscore", "%q is not an area name", rc.Quarantine)
		}
		r.Area = rc.Quarantine
	}
	if strings.ContainsAny(rc.TagSubject, "\r\n") {
		v.Add(key("tag_subject"), "", "must be one line")
	}
	r.TagSubject = rc.TagSubject
	for j, h := range rc.AddHeaders {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || !headerName.MatchString(name) || strings.ContainsAny(value, "\r\n") {
			v.Add(fmt.Sprintf("%s[%d]", key("add_headers"), j), "\"X-Name: value\" on one line", "%q is not a header field", h)
			continue
		}
		r.AddHeaders = append(r.AddHeaders, HeaderField{Name: name, Value: strings.TrimSpace(value)})
	}
	if rc.Score != nil {
		v.scored(key, r, rc)
		return r
	}
	if rc.Action == "" && r.TagSubject == "" && len(r.AddHeaders) == 0 {
		v.Add(key("action"), "set action, tag_subject or add_headers", "rule %q does nothing", rc.Name)
	}
	return r
}

// scored checks a rule with score = N. Its score counts once per message
// at end of message, so it takes no action (the spam and spam.probable
// findings its score leads to are what rules act on), it cannot depend on
// the recipient, and it cannot name the findings its own score makes.
func (v *validator) scored(key func(string) string, r *Rule, rc *config.RuleConfig) {
	r.Scored, r.Score = true, *rc.Score
	if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) {
		v.Add(key("score"), "a number such as 1.5 or -2", "score is not a number")
	}
	if rc.Action != "" || rc.Reply != "" || rc.Quarantine != "" || rc.TagSubject != "" || len(rc.AddHeaders) > 0 {
		v.Add(key("score"), `a scored rule only adds to the spam score; act on the findings "spam" and "spam.probable" in another rule`,
			"rule %q has a score and an action", rc.Name)
	}
	if r.PerRecipient() {
		v.Add(key("score"), "the spam score is one per message: leave out direction, recipients and recipient_count_over",
			"scored rule %q depends on the recipient", rc.Name)
	}
	for _, n := range append(slices.Clone(rc.Findings), rc.FindingsExcept...) {
		if FindingNameMatch(n, FindingSpam) || FindingNameMatch(n, FindingSpamProbable) || n == "spam.*" {
			v.Add(key("findings"), "a spam test cannot depend on the spam verdict", "scored rule %q names %s", rc.Name, n)
		}
	}
	for _, c := range r.Conditions {
		if e, ok := c.(*exprCond); ok && (e.anyFinding || slices.ContainsFunc(e.findings, func(n string) bool {
			return n == FindingSpam || n == FindingSpamProbable || n == "spam.*"
		})) {
			v.Add(key("expr"), "a spam test cannot depend on the spam verdict", "scored rule %q may name the spam findings", rc.Name)
		}
	}
}

// The findings of the spam score ([spam]), named here because a scored
// rule must not depend on them; check/spam declares and reports them.
const (
	FindingSpam         = "spam"
	FindingSpamProbable = "spam.probable"
)
