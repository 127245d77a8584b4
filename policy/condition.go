package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mailwarden/mailwarden/scanner"
)

// Condition is one test of a rule. It knows the stage its facts need, and on
// a match it returns the findings that explain it, which go in the tracking
// log and the SMTP reply.
type Condition interface {
	Stage() Stage
	// Match tests the facts for one recipient ("" before RCPT).
	Match(o *Organization, f *Facts, rcpt string) ([]scanner.Finding, bool)
	// String describes the condition for `config check`.
	String() string
}

// clientCond matches the client address against networks.
type clientCond struct {
	in, except NetList
	text       string
}

func (c clientCond) Stage() Stage   { return StageConnect }
func (c clientCond) String() string { return "client " + c.text }
func (c clientCond) Match(_ *Organization, f *Facts, _ string) ([]scanner.Finding, bool) {
	if !f.ClientIP.IsValid() {
		return nil, false
	}
	if c.except.Contains(f.ClientIP) {
		return nil, false
	}
	if c.in.Len() == 0 {
		return nil, true
	}
	e, ok := c.in.Lookup(f.ClientIP)
	if !ok {
		return nil, false
	}
	// Name the entry that matched, not the list: a list may have 100,000.
	ip := f.ClientIP.Unmap().String()
	return []scanner.Finding{{Name: "client.network", Value: ip, Where: "client",
		Reason: fmt.Sprintf("client %s is in %s", ip, e.Text)}}, true
}

// regexCond matches a regular expression on one session string.
type regexCond struct {
	what  string // "client_name", "helo", "subject"
	stage Stage
	re    *regexp.Regexp
	get   func(f *Facts) string
}

func (c regexCond) Stage() Stage   { return c.stage }
func (c regexCond) String() string { return fmt.Sprintf("%s =~ /%s/", c.what, c.re) }
func (c regexCond) Match(_ *Organization, f *Facts, _ string) ([]scanner.Finding, bool) {
	v := c.get(f)
	m := c.re.FindString(v)
	if m == "" && !c.re.MatchString(v) {
		return nil, false
	}
	return []scanner.Finding{{Name: c.what + ".match", Value: m, Where: c.what,
		Reason: fmt.Sprintf("%s %q matches /%s/", c.what, v, c.re)}}, true
}

// addressCond matches the sender or the recipient against patterns.
type addressCond struct {
	what       string // "sender" or "recipient"
	in, except AddressList
}

func (c addressCond) Stage() Stage {
	if c.what == "sender" {
		return StageMail
	}
	return StageRcpt
}

func (c addressCond) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %v", c.what, patterns(c.in))
	if len(c.except) > 0 {
		fmt.Fprintf(&b, " except %v", patterns(c.except))
	}
	return b.String()
}

func (c addressCond) Match(_ *Organization, f *Facts, rcpt string) ([]scanner.Finding, bool) {
	addr := f.Sender
	if c.what == "recipient" {
		addr = rcpt
	}
	if len(c.in) > 0 && !c.in.Match(addr) || c.except.Match(addr) {
		return nil, false
	}
	if len(c.in) == 0 {
		return nil, true
	}
	return []scanner.Finding{{Name: c.what + ".match", Value: addr, Where: "envelope",
		Reason: fmt.Sprintf("%s <%s> matches %v", c.what, addr, patterns(c.in))}}, true
}

func patterns(l AddressList) []string {
	s := make([]string, len(l))
	for i, p := range l {
		s[i] = p.String()
	}
	return s
}

// directionCond matches the recipient's direction.
type directionCond struct{ dir string }

func (c directionCond) Stage() Stage   { return StageRcpt }
func (c directionCond) String() string { return "direction " + c.dir }
func (c directionCond) Match(o *Organization, f *Facts, rcpt string) ([]scanner.Finding, bool) {
	return nil, o.Direction(f, rcpt) == c.dir
}

// rcptCountCond holds for recipients past the n-th.
type rcptCountCond struct{ n int }

func (c rcptCountCond) Stage() Stage   { return StageRcpt }
func (c rcptCountCond) String() string { return fmt.Sprintf("recipient number > %d", c.n) }
func (c rcptCountCond) Match(_ *Organization, f *Facts, rcpt string) ([]scanner.Finding, bool) {
	n := f.rcptOrdinal(rcpt)
	if n <= c.n {
		return nil, false
	}
	return []scanner.Finding{{Name: "envelope.recipient_count", Value: fmt.Sprint(n), Where: "envelope",
		Reason: fmt.Sprintf("recipient %d is over the limit of %d", n, c.n)}}, true
}

// headerCond matches a regular expression on the decoded fields of one name.
type headerCond struct {
	name string
	re   *regexp.Regexp
}

func (c headerCond) Stage() Stage   { return StageEOH }
func (c headerCond) String() string { return fmt.Sprintf("header %s =~ /%s/", c.name, c.re) }
func (c headerCond) Match(_ *Organization, f *Facts, _ string) ([]scanner.Finding, bool) {
	for _, h := range f.Headers {
		if strings.EqualFold(h.Name, c.name) && c.re.MatchString(h.Value) {
			return []scanner.Finding{{Name: "header.match", Value: c.re.FindString(h.Value), Where: "header:" + h.Name,
				Reason: fmt.Sprintf("header %s matches /%s/", h.Name, c.re)}}, true
		}
	}
	return nil, false
}

// sizeCond holds for messages larger than n bytes.
type sizeCond struct{ n int64 }

func (c sizeCond) Stage() Stage   { return StageEOM }
func (c sizeCond) String() string { return fmt.Sprintf("size > %d bytes", c.n) }
func (c sizeCond) Match(_ *Organization, f *Facts, _ string) ([]scanner.Finding, bool) {
	if f.Size <= c.n {
		return nil, false
	}
	return []scanner.Finding{{Name: "message.size", Value: fmt.Sprint(f.Size), Where: "message",
		Reason: fmt.Sprintf("message size %d is over %d bytes", f.Size, c.n)}}, true
}

// findingCond holds when any finding with one of the names was reported.
// It is how rules reach every check, present and future, without the engine
// knowing them.
type findingCond struct {
	names []string
	stage Stage // where the latest of them is known, from the catalog
	// except inverts it (findings_except): it holds when none of the
	// names was reported.
	except bool
}

func (c findingCond) Stage() Stage { return c.stage }
func (c findingCond) String() string {
	if c.except {
		return "no finding " + strings.Join(c.names, " or ")
	}
	return "finding " + strings.Join(c.names, " or ")
}
func (c findingCond) Match(_ *Organization, f *Facts, rcpt string) ([]scanner.Finding, bool) {
	var out []scanner.Finding
	for _, fd := range f.Findings {
		if !fd.For(rcpt) {
			continue // about other recipients
		}
		for _, n := range c.names {
			if FindingNameMatch(n, fd.Name) {
				out = append(out, fd)
				break
			}
		}
	}
	if c.except {
		return nil, len(out) == 0
	}
	return out, len(out) > 0
}

// FindingNameMatch reports whether a finding called name is what a rule
// names with pattern: the same name, or, for a pattern "prefix.*", any name
// under prefix.
func FindingNameMatch(pattern, name string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok && strings.HasSuffix(p, ".") {
		return strings.HasPrefix(name, p)
	}
	return pattern == name
}

// findingNameRE is what a rule may name: dotted words, the last one "*"
// for a family.
var findingNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?$`)
