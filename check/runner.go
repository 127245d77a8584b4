package check

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailwarden/mailwarden/policy"
)

// Runner runs one configuration's active checks. It is shared by every
// session on that configuration; each session gets a [Run].
type Runner struct {
	active []Activation
	// Observe, when set, is told of every check run (for metrics).
	Observe func(check string, d time.Duration, err error)
}

// Activation is an active check, why it runs, and the stage at which the
// session waits for it.
type Activation struct {
	Check Check
	Await policy.Stage
	Why   string
}

// NewRunner activates the checks of set that the policy can use: those
// with a declared finding some enabled rule names (used maps a name to the
// earliest stage of such a rule; "*" is any name), and those that run
// always. The others never run.
func NewRunner(set *Set, used map[string]policy.Stage) *Runner {
	why := map[string]string{}
	want := map[string]policy.Stage{}
	for n, st := range used {
		want[n], why[n] = st, "rules use "+n
	}
	for {
		r := activate(set, want, why)
		grew := false
		for _, a := range r.active {
			l, ok := a.Check.(LearnsFrom)
			if !ok {
				continue
			}
			for _, n := range l.LearnsFrom() {
				if _, have := want[n]; !have {
					// Awaited at their own stage, so the learner sees them
					// with the outcome of that stage.
					want[n], why[n] = policy.StageConnect, a.Check.Name()+" learns from "+n
					grew = true
				}
			}
		}
		if !grew {
			return r
		}
	}
}

// activate is one pass of [NewRunner] over the names wanted.
func activate(set *Set, want map[string]policy.Stage, reasons map[string]string) *Runner {
	r := &Runner{}
	for _, c := range set.Checks() {
		await, why, ok := policy.StageEOM, "", false
		for _, name := range slices.Sorted(maps.Keys(want)) {
			st := want[name]
			if name == "*" || slices.Contains(set.declarers(name), c) {
				if !ok || st < await {
					await, why = st, reasons[name]
				}
				ok = true
			}
		}
		if a, isAlways := c.(Always); isAlways && !ok {
			ok, why = true, a.Always()
		}
		if !ok {
			continue
		}
		r.active = append(r.active, Activation{Check: c, Await: max(await, stageOf(c)), Why: why})
	}
	return r
}

// Active lists the checks that run, for `config check`.
func (r *Runner) Active() []Activation { return r.active }

// Run is one session's use of a [Runner]: the results by scope, and the
// checks still running.
type Run struct {
	r   *Runner
	env *Env

	mu   sync.Mutex
	conn map[string]*result            // by check name
	tx   map[string]*result            // by check name
	rcpt map[string]map[string]*result // by recipient, then check name
}

// result is one check run. Its context is not a child of a session
// context: a check's own deadline is all it needs, and ResetTx and Close
// stop the runs of their scope through cancel, which keeps context trees
// (and their map of children) off the hot path.
type result struct {
	act      *Activation
	done     chan struct{}
	findings []Finding
	err      error
	cancel   context.CancelFunc
	stopped  atomic.Bool // cancelled by the session, not by its budget
	deadline time.Time   // when its budget ends
	overdue  atomic.Bool // still running past deadline+awaitGrace
}

// awaitGrace is how long past its budget a check that ignores its context
// is waited for; then it counts as failed and the session goes on.
const awaitGrace = 250 * time.Millisecond

// stop ends a run the session no longer needs.
func (res *result) stop() {
	res.stopped.Store(true)
	res.cancel()
}

// NewRun starts a session's run.
func (r *Runner) NewRun(env *Env) *Run {
	u := &Run{r: r, env: env, conn: map[string]*result{}}
	u.ResetTx()
	return u
}

// ResetTx forgets the transaction's and the recipients' results, and stops
// their checks still running; connection results stay.
func (u *Run) ResetTx() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stopTx()
	u.tx, u.rcpt = map[string]*result{}, map[string]map[string]*result{}
}

// stopTx stops the transaction's and the recipients' runs; u.mu is held.
func (u *Run) stopTx() {
	for _, res := range u.tx {
		res.stop()
	}
	for _, m := range u.rcpt {
		for _, res := range m {
			res.stop()
		}
	}
}

// Close stops every check still running.
func (u *Run) Close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stopTx()
	for _, res := range u.conn {
		res.stop()
	}
}

// Start runs, in the background, the connection- and transaction-scoped
// checks whose stage is stage and that have not run in their scope yet.
// On a connection from a known host (Env.KnownHost), the checks that
// judge the client ([ClientJudge]) do not start: the client is a relay
// whose reputation says nothing of the sender; see [Run.StartOrigin].
func (u *Run) Start(stage policy.Stage, in *Input) {
	in.Env = u.env // before any check of this stage reads in
	knownHost := u.env != nil && u.env.KnownHost != nil && in.ClientIP.IsValid() && u.env.KnownHost(in.ClientIP)
	for i := range u.r.active {
		a := &u.r.active[i]
		c := a.Check
		if c.Scope() == ScopeRecipient {
			continue
		}
		if l, ok := c.(Late); ok && l.LateStage() == stage {
			late := *a
			late.Await = max(a.Await, stage)
			late.Check = lateCheck{c, l}
			u.startIn(u.tx, &late, in)
		}
		if c.Stage() != stage || judgesClient(c) && knownHost {
			continue
		}
		if c.Scope() == ScopeConnection {
			u.startIn(u.conn, a, in)
		} else {
			u.startIn(u.tx, a, in)
		}
	}
}

// startIn launches a's check into m unless it has run there already.
func (u *Run) startIn(m map[string]*result, a *Activation, in *Input) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if m[a.Check.Name()] == nil {
		m[a.Check.Name()] = u.launch(a, in)
	}
}

// StartOrigin runs, on a connection from a known host, the checks that
// judge the client ([ClientJudge]) on origin, the first untrusted hop of
// this message's Received chain, as of end of headers. Each message of the
// connection has its own origin, so they run once per transaction, and
// rules on their findings are decided at end of headers.
func (u *Run) StartOrigin(origin netip.Addr, in *Input) {
	oin := *in
	oin.ClientIP, oin.Env = origin, u.env
	for i := range u.r.active {
		a := &u.r.active[i]
		c := a.Check
		if !judgesClient(c) || c.Scope() == ScopeRecipient || c.Stage() > policy.StageEOH {
			continue
		}
		late := *a
		late.Await = max(a.Await, policy.StageEOH)
		u.mu.Lock()
		if u.tx[c.Name()] == nil {
			u.tx[c.Name()] = u.launch(&late, &oin)
		}
		u.mu.Unlock()
	}
}

// StartRcpt runs, in the background, the recipient-scoped checks for rcpt
// whose stage is at or before stage (RCPT for the recipient's own checks,
// end of message for those that need the content).
func (u *Run) StartRcpt(stage policy.Stage, rcpt string, in *Input) {
	knownHost := u.env != nil && u.env.KnownHost != nil && in.ClientIP.IsValid() && u.env.KnownHost(in.ClientIP)
	for i := range u.r.active {
		a := &u.r.active[i]
		c := a.Check
		if c.Scope() != ScopeRecipient || max(c.Stage(), policy.StageRcpt) > stage {
			continue
		}
		if knownHost && judgesClient(c) {
			continue // a relay's recipients say nothing of its senders
		}
		u.mu.Lock()
		m := u.rcpt[rcpt]
		if m == nil {
			m = map[string]*result{}
			u.rcpt[rcpt] = m
		}
		if m[c.Name()] == nil {
			rin := *in
			rin.Rcpt, rin.Env = rcpt, u.env
			m[c.Name()] = u.launch(a, &rin)
		}
		u.mu.Unlock()
	}
}

func (u *Run) launch(a *Activation, in *Input) *result {
	c := a.Check
	ctx, cancel := context.WithTimeout(context.Background(), c.Budget())
	res := &result{act: a, done: make(chan struct{}), cancel: cancel, deadline: time.Now().Add(c.Budget())}
	go func() {
		defer close(res.done)
		defer cancel()
		start := time.Now()
		res.findings, res.err = safeRun(ctx, c, in)
		if res.err == nil && ctx.Err() != nil && !res.stopped.Load() {
			res.err = fmt.Errorf("check: %s: time budget %v spent: %w", c.Name(), c.Budget(), ctx.Err())
		}
		d := time.Since(start)
		if u.r.Observe != nil {
			u.r.Observe(c.Name(), d, res.err)
		}
		if u.env != nil && u.env.Log != nil {
			u.env.Log.Debug("check", "check", c.Name(), "duration", d, "findings", len(res.findings), "err", res.err)
		}
	}()
	return res
}

// safeRun runs a check, turning a panic into an error: a check's bug costs
// its findings, never the session.
func safeRun(ctx context.Context, c Check, in *Input) (fs []Finding, err error) {
	defer func() {
		if p := recover(); p != nil {
			fs, err = nil, fmt.Errorf("check: %s panicked: %v\n%s", c.Name(), p, debug.Stack())
		}
	}()
	return c.Run(ctx, in)
}

// Failure is a failed check whose failure mode is tempfail.
type Failure struct {
	Check string
	Err   error
}

// Await waits for every started check that rules at stage or before need,
// and for rcpt's own checks (rcpt "" for none). It returns the first failure
// whose mode is tempfail, or nil.
func (u *Run) Await(stage policy.Stage, rcpt string) *Failure {
	u.mu.Lock()
	var wait []*result
	for _, m := range []map[string]*result{u.conn, u.tx, u.rcpt[rcpt]} {
		for _, name := range sortedKeys(m) {
			if res := m[name]; res.act.Await <= stage {
				wait = append(wait, res)
			}
		}
	}
	u.mu.Unlock()
	var fail *Failure
	for _, res := range wait {
		failed, err := res.wait()
		if failed && res.act.Check.OnError() != OnErrorSkip && fail == nil {
			fail = &Failure{Check: res.act.Check.Name(), Err: err}
		}
	}
	return fail
}

// wait waits for the run to end, or for its budget and awaitGrace, and
// reports whether it failed: with an error, or by still running then.
func (res *result) wait() (bool, error) {
	select {
	case <-res.done:
		return res.err != nil, res.err
	default:
	}
	t := time.NewTimer(time.Until(res.deadline) + awaitGrace)
	defer t.Stop()
	select {
	case <-res.done:
		return res.err != nil, res.err
	case <-t.C:
		res.overdue.Store(true)
		return true, errOverdue(res.act.Check)
	}
}

func errOverdue(c Check) error {
	return fmt.Errorf("check: %s: still running %v past its time budget %v", c.Name(), awaitGrace, c.Budget())
}

// Findings are the findings of the finished checks that rcpt's rules see:
// the connection's, the transaction's and rcpt's own, with a check.error
// for each failed check. Checks still running contribute nothing yet.
func (u *Run) Findings(rcpt string) []Finding {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []Finding
	for _, m := range []map[string]*result{u.conn, u.tx, u.rcpt[rcpt]} {
		for _, name := range sortedKeys(m) {
			res := m[name]
			select {
			case <-res.done:
			default:
				if res.overdue.Load() {
					out = append(out, Finding{Name: FindingError, Value: name, Where: "check:" + name,
						Reason: firstLine(errOverdue(res.act.Check).Error())})
				}
				continue
			}
			out = append(out, res.findings...)
			if res.err != nil {
				out = append(out, Finding{Name: FindingError, Value: name, Where: "check:" + name,
					Reason: firstLine(res.err.Error())})
			}
		}
	}
	return out
}

// All are the findings of every finished check: the connection's, the
// transaction's, and each recipient's limited to that recipient (see
// Finding.For), so one list serves every recipient's rules.
func (u *Run) All() []Finding {
	out := u.Findings("")
	u.mu.Lock()
	rcpts := make([]string, 0, len(u.rcpt))
	for r := range u.rcpt {
		rcpts = append(rcpts, r)
	}
	u.mu.Unlock()
	slices.Sort(rcpts)
	for _, r := range rcpts {
		u.mu.Lock()
		m := u.rcpt[r]
		names := sortedKeys(m)
		u.mu.Unlock()
		for _, name := range names {
			res := m[name]
			select {
			case <-res.done:
			default:
				if res.overdue.Load() {
					out = append(out, Finding{Name: FindingError, Value: name, Where: "check:" + name,
						Reason: firstLine(errOverdue(res.act.Check).Error())})
				}
				continue
			}
			for _, f := range res.findings {
				f.Recipients = []string{r}
				out = append(out, f)
			}
			if res.err != nil {
				out = append(out, Finding{Name: FindingError, Value: name, Where: "check:" + name,
					Reason: firstLine(res.err.Error()), Recipients: []string{r}})
			}
		}
	}
	return out
}

func sortedKeys(m map[string]*result) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// lateCheck runs a [Late] check's RunLate as a check of its own, named
// after it with "/late", so the runner keeps both results.
type lateCheck struct {
	Check
	l Late
}

func (c lateCheck) Name() string { return c.Check.Name() + "/late" }
func (c lateCheck) Run(ctx context.Context, in *Input) ([]Finding, error) {
	return c.l.RunLate(ctx, in)
}
