package check

import (
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/policy"
)

// TestSharedFinding: a name every declarer marks Shared may be declared by
// several checks; it is known from the earliest of their stages, and a
// rule on it runs every one of them, each awaited at its own stage. A name
// declared twice without Shared on both is still an error.
func TestSharedFinding(t *testing.T) {
	shared := func(name string, stage policy.Stage, scope Scope) *fake {
		f := newFake(name, stage, scope)
		f.decl = []Declared{{Name: "obj", Shared: true}}
		return f
	}
	conn := shared("obj-client", policy.StageConnect, ScopeConnection)
	rc := shared("obj-rcpt", policy.StageRcpt, ScopeRecipient)
	eom := shared("obj-content", policy.StageEOM, ScopeTransaction)
	other := newFake("other", policy.StageMail, ScopeTransaction)
	set := mustSet(t, eom, rc, conn, other)
	if st, ok := set.FindingStage("obj"); !ok || st != policy.StageConnect {
		t.Errorf("FindingStage(obj) = %v, %v; want connect", st, ok)
	}
	r := NewRunner(set, map[string]policy.Stage{"obj": policy.StageConnect})
	var active []string
	for _, a := range r.Active() {
		active = append(active, a.Check.Name()+"@"+a.Await.String())
	}
	if got, want := strings.Join(active, " "), "obj-content@eom obj-rcpt@rcpt obj-client@connect"; got != want {
		t.Errorf("active %q, want %q", got, want)
	}
	u := r.NewRun(&Env{})
	defer u.Close()
	u.Start(policy.StageConnect, &Input{})
	u.Await(policy.StageConnect, "")
	if got := names(u.Findings("")); got != "obj=" {
		t.Errorf("findings at connect %q", got)
	}
	u.StartRcpt(policy.StageRcpt, "a@x", &Input{})
	u.Await(policy.StageRcpt, "a@x")
	u.Start(policy.StageEOM, &Input{})
	u.Await(policy.StageEOM, "a@x")
	if got := names(u.Findings("a@x")); got != "obj= obj= obj=a@x" {
		t.Errorf("findings at end of message %q", got)
	}
	if other.calls.Load() != 0 {
		t.Error("a check no rule uses ran")
	}

	for _, tc := range []struct {
		name string
		a, b bool // Shared on the first and the second declaration
	}{{"neither", false, false}, {"first only", true, false}, {"second only", false, true}} {
		a, b := newFake("a", policy.StageConnect, ScopeConnection), newFake("b", policy.StageMail, ScopeTransaction)
		a.decl, b.decl = []Declared{{Name: "obj", Shared: tc.a}}, []Declared{{Name: "obj", Shared: tc.b}}
		if _, err := NewSet(a, b); err == nil || !strings.Contains(err.Error(), "finding obj declared by a and b") {
			t.Errorf("%s shared: error %v", tc.name, err)
		}
	}
}
