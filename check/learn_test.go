package check

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/policy"
)

// learner is a fake check that records what it is told.
type learner struct {
	*fake
	told  []string
	panic bool
}

func (l *learner) Learn(_ context.Context, env *Env, o *Outcome) error {
	if l.panic {
		panic("learning went wrong")
	}
	l.told = append(l.told, o.Stage.String()+":"+o.Rcpt+":"+o.Action)
	return nil
}

// TestLearn: active learners are told of every outcome, inactive ones and
// checks that do not learn are not, nothing is told in a dry run, and a
// learner's panic is logged, not passed on.
func TestLearn(t *testing.T) {
	active := &learner{fake: newFake("active", policy.StageConnect, ScopeConnection)}
	idle := &learner{fake: newFake("idle", policy.StageConnect, ScopeConnection)}
	broken := &learner{fake: newFake("broken", policy.StageConnect, ScopeConnection), panic: true}
	plain := newFake("plain", policy.StageConnect, ScopeConnection)
	set := mustSet(t, active, idle, broken, plain)
	r := NewRunner(set, map[string]policy.Stage{"active.hit": policy.StageConnect, "broken.hit": policy.StageConnect, "plain.hit": policy.StageConnect})

	var logs bytes.Buffer
	u := r.NewRun(&Env{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	u.Learn(&Outcome{Stage: policy.StageRcpt, Rcpt: "a@example.com", Action: "reject", Refused: true})
	u.Learn(&Outcome{Stage: policy.StageEOM, Action: "accept"})
	u.Close()
	if got := strings.Join(active.told, " "); got != "rcpt:a@example.com:reject eom::accept" {
		t.Errorf("active learner told %q", got)
	}
	if len(idle.told) != 0 {
		t.Errorf("a check that does not run was told %v", idle.told)
	}
	if n := strings.Count(logs.String(), "check could not learn"); n != 2 || !strings.Contains(logs.String(), "broken panicked while learning") {
		t.Errorf("log of the panicking learner:\n%s", logs.String())
	}

	active.told = nil
	dry := r.NewRun(&Env{DryRun: true})
	dry.Learn(&Outcome{Stage: policy.StageEOM, Action: "accept"})
	dry.Close()
	if len(active.told) != 0 {
		t.Errorf("told %v in a dry run", active.told)
	}
	var none *Run
	none.Learn(&Outcome{}) // a session without checks
}
