// Package throttle limits how much one client network, sender,
// authenticated user or recipient may send in a window: each [[throttle]]
// table is a check that counts one thing (connections at connect, messages
// at MAIL, recipients at RCPT) for one key, and reports throttle.NAME once
// the count goes over its limit. The key then stays blocked for the
// table's block time: the block is an entry in the state store, so a
// restart does not lift it, and every attempt while it lasts reports the
// finding again without being counted. Rules decide what the finding
// means (the default config tempfails with 451 4.7.1).
//
// Counters are sliding windows in memory (see memory.go): exact to a
// sixteenth of the window, bounded in number, kept across config reloads
// (a counter is named by the throttle's name, what it counts, its key and
// its window). Blocks are entries in the state store.
//
// A throttle whose store fails reports check.error with on_error "skip" by
// default: a throttle is a brake against floods, and failing open keeps
// mail flowing while the state store is down (the failure is logged and
// counted in mailwarden_check_errors_total). An operator who prefers to
// defer mail then sets on_error = "tempfail" on the table.
//
// In a dry run counters are read, not incremented, and nothing is blocked:
// the finding says what the attempt would have counted. `mailwarden check`
// is a process of its own, so it sees the daemon's blocks, not its counts.
package throttle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/store"
)

// Section is the name of the config's array of tables, [[throttle]].
const Section = "throttle"

// FindingPrefix starts every throttle's finding name: throttle.NAME.
const FindingPrefix = "throttle."

// BlockNamespace is the state store namespace of active blocks.
const BlockNamespace = "throttle.block"

// The keys a throttle counts by.
const (
	KeyIP        = "ip"
	KeySender    = "sender"
	KeyAuthUser  = "auth_user"
	KeyRecipient = "recipient"
)

// The things a throttle counts.
const (
	Messages    = "messages"
	Connections = "connections"
	Recipients  = "recipients"
)

// Config is one [[throttle]] table.
type Config struct {
	// Name names the throttle; going over its limit reports the finding
	// throttle.NAME. Lower-case letters, digits, "-" and "_".
	Name string `toml:"name"`
	// Key is what is counted separately: "ip" (the client's network, see
	// ipv4_prefix), "sender" (the envelope sender; the null sender of
	// bounces is not counted by sender),
	// "auth_user" (the SMTP AUTH user; unauthenticated sessions are not
	// counted) or "recipient".
	Key string `toml:"key"`
	// Direction limits the throttle to "inbound" mail (from outside),
	// "outbound" mail (from trusted_networks or an authenticated session,
	// internal mail included), or "any" (the default).
	Direction string `toml:"direction"`
	// Messages is the most messages (transactions, counted at MAIL) a key
	// may send in a window. Set exactly one of messages, connections and
	// recipients.
	Messages int64 `toml:"messages"`
	// Connections is the most connections (counted at connect) from one
	// key in a window; only with key = "ip".
	Connections int64 `toml:"connections"`
	// Recipients is the most recipients (counted at each RCPT) one key may
	// address in a window.
	Recipients int64 `toml:"recipients"`
	// Window is the sliding window the limit holds over, e.g. "1m".
	Window config.Duration `toml:"window"`
	// Block is how long a key that went over the limit stays blocked; by
	// default one window. "0s" blocks nothing: only the attempts over the
	// limit report the finding.
	Block *config.Duration `toml:"block"`
	// IPv4Prefix and IPv6Prefix aggregate the client address for key = "ip"
	// (default 24 and 64): one network counts as one client.
	IPv4Prefix int `toml:"ipv4_prefix"`
	IPv6Prefix int `toml:"ipv6_prefix"`
	// OnError is what a store failure means: "skip" (the default: count
	// nothing, let the mail through) or "tempfail".
	OnError string `toml:"on_error"`
}

func init() {
	config.Register(Section, func() []Config { return nil }, validate)
	check.Register(build)
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// maxName bounds a throttle's name, which goes into finding names, replies
// and state keys.
const maxName = 64

// validate reports every problem of the [[throttle]] tables on its key,
// and fills in the defaults.
func validate(r *config.Report, ts *[]Config) {
	names := map[string]int{}
	for i := range *ts {
		t := &(*ts)[i]
		key := func(k string) string { return fmt.Sprintf("%s[%d].%s", Section, i, k) }
		table := fmt.Sprintf("%s[%d]", Section, i)
		switch {
		case t.Name == "":
			r.Add(table, `name = "inbound-ip"`, "name is missing")
		case len(t.Name) > maxName || !nameRE.MatchString(t.Name):
			r.Add(key("name"), "lower-case letters, digits, - and _, at most 64", "%q is not a throttle name", t.Name)
		default:
			if j, dup := names[t.Name]; dup {
				r.Add(key("name"), fmt.Sprintf("throttle[%d] has it", j), "throttle %q is defined twice", t.Name)
			}
			names[t.Name] = i
		}
		if t.Key == "" {
			r.Add(table, `key = "ip", "sender", "auth_user" or "recipient"`, "key is missing")
		} else {
			r.OneOf(key("key"), t.Key, KeyIP, KeySender, KeyAuthUser, KeyRecipient)
		}
		if t.Direction == "" {
			t.Direction = "any"
		}
		r.OneOf(key("direction"), t.Direction, policy.Inbound, policy.Outbound, "any")
		if t.OnError == "" {
			t.OnError = string(check.OnErrorSkip)
		}
		r.OneOf(key("on_error"), t.OnError, string(check.OnErrorSkip), string(check.OnErrorTempfail))

		var set []string
		for _, l := range []struct {
			name string
			n    int64
		}{{Messages, t.Messages}, {Connections, t.Connections}, {Recipients, t.Recipients}} {
			switch {
			case l.n < 0:
				r.Add(key(l.name), "", "must be positive")
			case l.n > 0:
				set = append(set, l.name)
				if len(set) == 2 {
					r.Add(key(l.name), "write one throttle per limit", "%s and %s are both set; a throttle counts one thing", set[0], l.name)
				}
			}
		}
		if len(set) == 0 && t.Messages >= 0 && t.Connections >= 0 && t.Recipients >= 0 {
			r.Add(table, "messages = 100, connections = 100 or recipients = 100", "no limit: set one of messages, connections or recipients")
		}
		if t.Connections > 0 && t.Key != "" && t.Key != KeyIP {
			r.Add(key(Connections), `key = "ip"`, "connections are counted at connect, when only the client's address is known, not the %s", t.Key)
		}
		if t.Recipients > 0 && t.Key == KeyRecipient {
			r.Add(key(Recipients), "messages = N: each message to the recipient counts once", "a recipient throttle counts the messages to it")
		}

		n := len(r.Problems)
		r.Duration(key("window"), t.Window)
		if len(r.Problems) == n && t.Window.D <= 0 {
			if r.Line(key("window")) == r.Line(table) {
				r.Add(table, `window = "1m"`, "window is missing")
			} else {
				r.Add(key("window"), "e.g. 1m, 10m or 1h", "must be longer than 0s")
			}
		}
		if t.Block == nil {
			b := t.Window
			t.Block = &b
		} else {
			r.Duration(key("block"), *t.Block)
		}

		if t.IPv4Prefix == 0 {
			t.IPv4Prefix = 24
		} else if t.IPv4Prefix < 1 || t.IPv4Prefix > 32 {
			r.Add(key("ipv4_prefix"), "1 to 32; 24 counts each /24 as one client", "%d is not an IPv4 prefix length", t.IPv4Prefix)
		}
		if t.IPv6Prefix == 0 {
			t.IPv6Prefix = 64
		} else if t.IPv6Prefix < 1 || t.IPv6Prefix > 128 {
			r.Add(key("ipv6_prefix"), "1 to 128; 64 counts each /64 as one client", "%d is not an IPv6 prefix length", t.IPv6Prefix)
		}
	}
}

// build makes a check of each throttle with a valid, unique name, so that
// rules on its finding are checked even when the table has other
// problems (the load then fails on those).
func build(cfg *config.Config) []check.Check {
	var out []check.Check
	seen := map[string]bool{}
	for _, c := range *config.Section[[]Config](cfg, Section) {
		if !nameRE.MatchString(c.Name) || len(c.Name) > maxName || seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		out = append(out, New(c))
	}
	return out
}

// Throttle is the check of one [[throttle]] table.
type Throttle struct {
	name      string
	key       string
	direction string
	unit      string // Messages, Connections or Recipients
	limit     int64
	window    time.Duration
	block     time.Duration
	v4, v6    int
	onError   check.OnError
}

// New makes the check of a validated table (see the package's config
// validation for its defaults).
func New(c Config) *Throttle {
	t := &Throttle{name: c.Name, key: c.Key, direction: c.Direction, window: c.Window.D,
		v4: c.IPv4Prefix, v6: c.IPv6Prefix, onError: check.OnError(c.OnError)}
	switch {
	case c.Connections > 0:
		t.unit, t.limit = Connections, c.Connections
	case c.Recipients > 0:
		t.unit, t.limit = Recipients, c.Recipients
	default:
		t.unit, t.limit = Messages, c.Messages
	}
	t.block = t.window
	if c.Block != nil {
		t.block = c.Block.D
	}
	if t.direction == "" {
		t.direction = "any"
	}
	if t.v4 == 0 {
		t.v4 = 24
	}
	if t.v6 == 0 {
		t.v6 = 64
	}
	if t.onError == "" {
		t.onError = check.OnErrorSkip
	}
	return t
}

// JudgesClient implements [check.ClientJudge] for a throttle by client
// network: on a connection from a known host it counts the message's first
// untrusted hop, not the relay, whose traffic is everyone's.
func (t *Throttle) JudgesClient() bool { return t.key == KeyIP }

// Finding is the name of the throttle's finding.
func (t *Throttle) Finding() string { return FindingPrefix + t.name }

// Name is "throttle:NAME", apart from the finding's name.
func (t *Throttle) Name() string { return "throttle:" + t.name }

// Stage is connect for connections, RCPT for recipients and for messages
// per recipient, MAIL for the other messages.
func (t *Throttle) Stage() policy.Stage {
	switch {
	case t.unit == Connections:
		return policy.StageConnect
	case t.unit == Recipients || t.key == KeyRecipient:
		return policy.StageRcpt
	}
	return policy.StageMail
}

// Scope follows what is counted: once per connection, per message, or per
// recipient.
func (t *Throttle) Scope() check.Scope {
	switch t.Stage() {
	case policy.StageConnect:
		return check.ScopeConnection
	case policy.StageRcpt:
		return check.ScopeRecipient
	}
	return check.ScopeTransaction
}

// Budget bounds the two state calls of one attempt.
func (t *Throttle) Budget() time.Duration { return 2 * time.Second }

func (t *Throttle) OnError() check.OnError { return t.onError }

func (t *Throttle) Findings() []check.Declared {
	who := map[string]string{KeyIP: "from one client network", KeySender: "from one sender",
		KeyAuthUser: "from one authenticated user", KeyRecipient: "to one recipient"}[t.key]
	dir := ""
	if t.direction != "any" {
		dir = ", " + t.direction
	}
	return []check.Declared{{Name: t.Finding(), Doc: fmt.Sprintf("more than %d %s in %s %s%s, or blocked for that",
		t.limit, t.unit, check.FormatDuration(t.window), who, dir)}}
}

// blocks counts blocks started by any throttle, for the metric
// mailwarden_throttle_blocks_total.
var blocks atomic.Int64

// Blocks is how many blocks throttles have started in this process.
func Blocks() int64 { return blocks.Load() }

// blockRecord is what a block entry holds: what the key had done.
type blockRecord struct {
	Count  int64  `json:"count"`
	Limit  int64  `json:"limit"`
	Unit   string `json:"unit"`
	Window string `json:"window"`
}

// keyValue is what the throttle counts this attempt by, or "" when the
// attempt is not the throttle's (another direction, no such key).
func (t *Throttle) keyValue(in *check.Input) string {
	if t.direction != "any" {
		outbound := in.AuthUser != "" || (in.Env != nil && in.Env.Trusted != nil && in.ClientIP.IsValid() && in.Env.Trusted(in.ClientIP))
		if outbound != (t.direction == policy.Outbound) {
			return ""
		}
	}
	switch t.key {
	case KeyIP:
		if p := check.Network(in.ClientIP, t.v4, t.v6); p.IsValid() {
			return p.String()
		}
	case KeySender:
		if in.Sender == "" || in.Sender == "<>" {
			// Every bounce and auto-reply shares the null sender: one
			// counter for all of them would let a burst of them (or a
			// forger) defer everyone's bounces. Throttles by ip cover them.
			return ""
		}
		return strings.ToLower(in.Sender)
	case KeyAuthUser:
		return in.AuthUser
	case KeyRecipient:
		return strings.ToLower(in.Rcpt)
	}
	return ""
}

// Run counts the attempt (unless its key is blocked) and reports the
// finding when the key is blocked or the count is over the limit.
func (t *Throttle) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	v := t.keyValue(in)
	if v == "" {
		return nil, nil
	}
	env := in.Env
	if env == nil || env.State == nil {
		if env != nil && env.DryRun {
			return nil, nil
		}
		return nil, check.ErrNoState
	}
	st, now := env.State, env.Time()
	mem := memoryFor(st)
	bkey := check.StateKey(t.name, v)
	if b, ok := mem.block(bkey, now); ok {
		if b.blocked {
			return t.blocked(v, b.entry), nil
		}
	} else {
		e, err := st.GetEntry(ctx, BlockNamespace, bkey, now)
		switch {
		case err == nil:
			mem.remember(bkey, cachedBlock{entry: e, blocked: true, checked: now})
			return t.blocked(v, e), nil
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("throttle: %s: %w", t.name, err)
		}
		mem.remember(bkey, cachedBlock{checked: now})
	}
	ckey := check.StateKey(FindingPrefix+t.name, t.unit, v)
	var n int64
	if env.DryRun {
		n = mem.add(ckey, t.window, 0, now) + 1 // this attempt, had it been counted
	} else {
		n = mem.add(ckey, t.window, 1, now)
	}
	if n <= t.limit {
		return nil, nil
	}
	rec := blockRecord{Count: n, Limit: t.limit, Unit: t.unit, Window: check.FormatDuration(t.window)}
	if env.DryRun || t.block <= 0 {
		f := t.finding(v, rec)
		if env.DryRun && t.block > 0 {
			f.Reason += fmt.Sprintf("; would block for %s (dry run: not counted, not blocked)", check.FormatDuration(t.block))
		}
		return []check.Finding{f}, nil
	}
	val, _ := json.Marshal(rec)
	e, added, err := st.AddEntry(ctx, BlockNamespace, bkey, val, t.block, now)
	if err != nil {
		return nil, fmt.Errorf("throttle: %s: block: %w", t.name, err)
	}
	mem.remember(bkey, cachedBlock{entry: e, blocked: true, checked: now})
	if added {
		blocks.Add(1)
		if env.Log != nil {
			env.Log.Info("throttle: blocked", "throttle", t.name, "key", v, "count", n, "limit", t.limit,
				"unit", t.unit, "window", t.window, "until", e.Expires)
		}
	}
	return t.blocked(v, e), nil
}

// blocked is the finding for a key under block entry e.
func (t *Throttle) blocked(v string, e store.Entry) []check.Finding {
	var rec blockRecord
	if err := json.Unmarshal(e.Value, &rec); err != nil || rec.Unit == "" {
		rec = blockRecord{Limit: t.limit, Unit: t.unit, Window: check.FormatDuration(t.window)}
	}
	f := t.finding(v, rec)
	f.Reason += "; blocked until " + e.Expires.UTC().Format(time.RFC3339)
	return []check.Finding{f}
}

func (t *Throttle) finding(v string, rec blockRecord) check.Finding {
	where := "envelope"
	if t.key == KeyIP {
		where = "client"
	}
	count := "over the limit"
	if rec.Count > 0 {
		count = fmt.Sprint(rec.Count)
	}
	return check.Finding{Name: t.Finding(), Value: v, Where: where,
		Reason: fmt.Sprintf("%s %s in %s, limit %d", count, rec.Unit, rec.Window, rec.Limit)}
}
