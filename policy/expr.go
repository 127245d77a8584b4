package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/mailwarden/mailwarden/scanner"
)

// exprEnv is what a rule expression (github.com/expr-lang/expr) sees. Each
// variable has the stage at which it is known, in exprStages; an expression
// is decided at the latest stage of the variables it uses.
type exprEnv struct {
	ClientIP   string `expr:"client_ip"`
	ClientName string `expr:"client_name"`
	Helo       string `expr:"helo"`
	AuthUser   string `expr:"auth_user"`
	Sender     string `expr:"sender"`
	Rcpt       string `expr:"rcpt"`
	RcptCount  int    `expr:"rcpt_count"`
	RcptIndex  int    `expr:"rcpt_index"`
	Direction  string `expr:"direction"`
	Subject    string `expr:"subject"`
	Size       int64  `expr:"size"`
	// Header returns the decoded value of the first field with that name, or "".
	Header func(name string) string `expr:"header"`
	// Has reports whether a finding with that name (or in that family,
	// "dnsbl.*") was reported; given values, one whose value is one of
	// them (case-insensitive): has("dkim.aligned", "bank.example").
	Has func(name string, values ...string) bool `expr:"has"`
	// Score is the sum of the scores of the findings with those names or
	// in those families: score("dnsbl.*", "dnswl.*") >= 5.
	Score func(names ...string) float64 `expr:"score"`
	// InNet reports whether the client address is in a network list.
	InNet func(list string) bool `expr:"in_net"`
	// Matches reports whether an address matches an address pattern.
	AddrMatch func(addr, pattern string) bool `expr:"addr_match"`
}

var exprStages = map[string]Stage{
	"client_ip": StageConnect, "client_name": StageConnect, "in_net": StageConnect,
	"helo":      StageHelo,
	"auth_user": StageMail, "sender": StageMail,
	"rcpt": StageRcpt, "rcpt_index": StageRcpt, "direction": StageRcpt,
	"subject": StageEOH, "header": StageEOH, "rcpt_count": StageEOH,
	"size": StageEOM, "has": StageEOM, "score": StageEOM, "addr_match": StageConnect,
}

// exprCond is a compiled expression condition.
type exprCond struct {
	src   string
	prog  *vm.Program
	stage Stage
	nets  map[string]NetList // constant in_net arguments, parsed at load
	rcpt  bool               // uses rcpt, rcpt_index or direction
	tree  ast.Node           // as written, unoptimised, for config check's warnings
	// findings are the constant names given to has(); anyFinding is set
	// when has() takes a computed name, which may be any finding.
	findings   []string
	anyFinding bool
}

// compileExpr compiles src. On error it returns the line and column inside
// src, so the caller can point at the config line.
func compileExpr(src string, findingStage func(string) (Stage, bool)) (*exprCond, int, error) {
	prog, err := expr.Compile(src, expr.Env(exprEnv{}), expr.AsBool())
	if err != nil {
		line := 1
		if fe, ok := err.(*file.Error); ok {
			line = fe.Line
			return nil, line, fmt.Errorf("column %d: %s", fe.Column+1, fe.Message)
		}
		return nil, line, err
	}
	c := &exprCond{src: src, prog: prog, stage: StageConnect, nets: map[string]NetList{}, tree: parseExpr(src)}
	v := &stageVisitor{stage: StageConnect, cond: c}
	node := prog.Node()
	ast.Walk(&node, v)
	if v.err != nil {
		return nil, 1, v.err
	}
	c.stage = v.stage
	c.findings, c.anyFinding = v.findings, v.hasDynamic
	for _, n := range v.findings {
		st, _ := findingStage(n)
		c.stage = max(c.stage, st)
	}
	if v.hasDynamic {
		c.stage = StageEOM
	}
	return c, 0, nil
}

type stageVisitor struct {
	stage      Stage
	findings   []string
	hasDynamic bool
	cond       *exprCond
	err        error // the first bad constant argument
}

func (v *stageVisitor) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		if x.Value == "$env" { // reaches any variable by name
			v.hasDynamic = true
		}
		if s, ok := exprStages[x.Value]; ok && x.Value != "has" && x.Value != "score" {
			v.stage = max(v.stage, s)
		}
	case *ast.CallNode:
		id, _ := x.Callee.(*ast.IdentifierNode)
		if id != nil && len(x.Arguments) > 0 && v.err == nil {
			last, _ := x.Arguments[len(x.Arguments)-1].(*ast.StringNode)
			switch {
			case last == nil:
			case id.Value == "in_net":
				l, errs := ParseNetList([]string{last.Value})
				if len(errs) > 0 {
					v.err = fmt.Errorf("in_net(%q): %v", last.Value, errs[0])
				}
				v.cond.nets[last.Value] = l
			case id.Value == "addr_match":
				if _, err := ParseAddressPattern(last.Value); err != nil {
					v.err = fmt.Errorf("addr_match: %v; patterns are %s", err, AddressForms)
				}
			}
		}
		if id != nil && (id.Value == "has" || id.Value == "score") {
			// Constant names are the findings the rule uses, and give its
			// stage; a computed one may be any finding. has() takes one
			// name, then values.
			names := x.Arguments
			if id.Value == "has" && len(names) > 1 {
				names = names[:1]
			}
			for _, a := range names {
				s, ok := a.(*ast.StringNode)
				if !ok {
					v.hasDynamic = true
					continue
				}
				v.findings = append(v.findings, s.Value)
			}
			if id.Value == "has" && len(x.Arguments) == 0 {
				v.hasDynamic = true
			}
		}
	}
}

// FindingExprError is reported when an expression fails at run time. The
// rule can then not be decided, which is an internal error: see
// [Policy.Evaluate].
const FindingExprError = "policy.expr_error"

func (c *exprCond) Stage() Stage   { return c.stage }
func (c *exprCond) String() string { return "expr " + c.src }
func (c *exprCond) Match(o *Organization, f *Facts, rcpt string) ([]scanner.Finding, bool) {
	var used []scanner.Finding
	env := exprEnv{
		ClientName: f.ClientName, Helo: f.Helo, AuthUser: f.AuthUser, Sender: f.Sender,
		Rcpt: rcpt, RcptCount: len(f.Recipients), RcptIndex: f.rcptOrdinal(rcpt), Subject: f.Subject, Size: f.Size,
		Header: func(name string) string {
			for _, h := range f.Headers {
				if strings.EqualFold(h.Name, name) {
					return h.Value
				}
			}
			return ""
		},
		Has: func(name string, values ...string) bool {
			for _, fd := range f.Findings {
				if FindingNameMatch(name, fd.Name) && fd.For(rcpt) &&
					(len(values) == 0 || slices.ContainsFunc(values, func(v string) bool { return strings.EqualFold(v, fd.Value) })) {
					used = append(used, fd)
					return true
				}
			}
			return false
		},
		Score: func(names ...string) float64 {
			sum := 0.0
			for _, fd := range f.Findings {
				if fd.Score == 0 || !fd.For(rcpt) {
					continue
				}
				for _, n := range names {
					if FindingNameMatch(n, fd.Name) {
						sum += fd.Score
						used = append(used, fd)
						break
					}
				}
			}
			return sum
		},
		InNet: func(list string) bool {
			l, ok := c.nets[list]
			if !ok {
				l, _ = ParseNetList([]string{list})
			}
			return f.ClientIP.IsValid() && l.Contains(f.ClientIP)
		},
		AddrMatch: func(addr, pattern string) bool {
			p, err := ParseAddressPattern(pattern)
			return err == nil && p.Match(addr)
		},
	}
	if f.ClientIP.IsValid() {
		env.ClientIP = f.ClientIP.Unmap().String()
	}
	if rcpt != "" {
		env.Direction = o.Direction(f, rcpt)
	}
	out, err := expr.Run(c.prog, env)
	if err != nil {
		return []scanner.Finding{{Name: FindingExprError, Value: err.Error(), Where: "rule",
			Reason: "the rule expression failed at run time"}}, false
	}
	ok, _ := out.(bool)
	if !ok {
		return nil, false
	}
	return append(used, scanner.Finding{Name: "expr.match", Value: c.src, Where: "rule",
		Reason: "expression is true"}), true
}
