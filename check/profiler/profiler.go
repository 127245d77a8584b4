// Package profiler is the self-learning IP profiler: per client address
// (IPv6 by /64) it counts, over a sliding window, the spam and virus
// verdicts of its messages, its invalid recipients (a directory harvest:
// an absolute count, and a ratio of all its recipients once there are
// enough of them), and its bounces (null-sender messages). Past a
// threat's threshold the address is blocked for a set time, and from
// then on every connection from it reports profiler.blocked (value: the
// threat type) at connect; rules decide whether that is a reject or a
// tempfail.
//
// It learns through the [check.Learner] hook: the session tells it each
// recipient's outcome at RCPT and each message's at end of message (never
// in a dry run). A message counts as spam when a rule that matched it
// matched on a spam finding (spam_findings: "spam.*" and the GTUBE test
// string by default), as a virus when on a virus finding; a recipient
// counts as invalid when recipient.unknown was reported for it. Trusted
// networks and authenticated sessions are never profiled; on a connection
// from a known host the profiler judges the message's first untrusted hop
// (see [check.ClientJudge]), and never the relay itself.
//
// Counters are the store's sliding windows, so they decay on their own;
// a block is a store entry with its reason (the type, the counts and the
// window), so it survives a restart. `mailwarden profiler list|show|
// unblock` reads and lifts them; an unblock also forgets the address's
// counts, or its next message would block it again.
package profiler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/store"
)

// Section is the config table, [profiler].
const Section = "profiler"

// Finding is reported at connect for a blocked client; its value is the
// threat type.
const Finding = "profiler.blocked"

// BlockNamespace is the state store namespace of blocks, keyed by network.
const BlockNamespace = "profiler.block"

// The threat types, the values of the finding.
const (
	Spam    = "spam"
	Virus   = "virus"
	Harvest = "harvest"
	Bounce  = "bounce"
)

// Config is the [profiler] table.
type Config struct {
	// Enabled turns the profiler on. It then learns from every message,
	// whether or not a rule names profiler.blocked; only a rule on the
	// finding refuses anything.
	Enabled bool `toml:"enabled"`
	// Window is how far back the counts reach; they decay as it slides.
	Window config.Duration `toml:"window"`
	// Block is how long an address past a threshold stays blocked.
	Block config.Duration `toml:"block"`
	// Spam blocks an address that sends more than this many spam messages
	// in a window; 0 switches the threat off. Virus likewise for virus
	// verdicts, Bounce for null-sender messages.
	Spam  int64 `toml:"spam"`
	Virus int64 `toml:"virus"`
	// HarvestInvalid blocks an address that names more than this many
	// invalid recipients in a window; 0 switches the count off.
	HarvestInvalid int64 `toml:"harvest_invalid"`
	// HarvestRatio blocks an address once at least this share of its
	// recipients in a window were invalid (0.9: nine in ten), counted once
	// it named harvest_min_recipients; 0 switches the ratio off.
	HarvestRatio         float64 `toml:"harvest_ratio"`
	HarvestMinRecipients int64   `toml:"harvest_min_recipients"`
	Bounce               int64   `toml:"bounce"`
	// SpamFindings, VirusFindings and HarvestFindings are the findings that
	// make a message spam or a virus (when a rule that matched it names
	// them) and a recipient invalid: names, or families as "prefix.*".
	SpamFindings    []string `toml:"spam_findings"`
	VirusFindings   []string `toml:"virus_findings"`
	HarvestFindings []string `toml:"harvest_findings"`
	// IPv4Prefix and IPv6Prefix are the networks profiled as one client
	// (default 32, each address, and 64).
	IPv4Prefix int `toml:"ipv4_prefix"`
	IPv6Prefix int `toml:"ipv6_prefix"`
}

// Defaults are the [profiler] values a config does not set. The
// thresholds are per hour and conservative, as the commercial profilers'
// defaults are: a legitimate server seldom sends twenty spam messages, ten
// viruses or thirty bounces in an hour, or names more than twenty-five
// invalid recipients (or nine in ten of twenty) of one domain's mail.
func Defaults() Config {
	return Config{
		Window: config.Dur(time.Hour), Block: config.Dur(time.Hour),
		Spam: 20, Virus: 10, HarvestInvalid: 25, HarvestRatio: 0.9, HarvestMinRecipients: 20, Bounce: 30,
		SpamFindings: []string{"spam.*", "content.gtube"}, VirusFindings: []string{"virus", "virus.*"},
		HarvestFindings: []string{"recipient.unknown"},
		IPv4Prefix:      32, IPv6Prefix: 64,
	}
}

func init() {
	config.Register(Section, Defaults, validate)
	check.Register(func(cfg *config.Config) []check.Check { return []check.Check{FromConfig(cfg).Check()} })
}

func validate(r *config.Report, c *Config) {
	key := func(k string) string { return Section + "." + k }
	for _, d := range []struct {
		name string
		v    config.Duration
	}{{"window", c.Window}, {"block", c.Block}} {
		n := len(r.Problems)
		r.Duration(key(d.name), d.v)
		if len(r.Problems) == n && d.v.D <= 0 {
			r.Add(key(d.name), "e.g. 1h", "must be longer than 0s")
		}
	}
	for _, t := range []struct {
		name string
		n    int64
	}{{"spam", c.Spam}, {"virus", c.Virus}, {"harvest_invalid", c.HarvestInvalid}, {"bounce", c.Bounce},
		{"harvest_min_recipients", c.HarvestMinRecipients}} {
		if t.n < 0 {
			r.Add(key(t.name), "0 switches it off", "must not be negative")
		}
	}
	if !(c.HarvestRatio >= 0 && c.HarvestRatio <= 1) {
		r.Add(key("harvest_ratio"), "a share such as 0.9; 0 switches it off", "%v is not between 0 and 1", c.HarvestRatio)
	}
	if c.HarvestRatio > 0 && c.HarvestMinRecipients < 1 {
		r.Add(key("harvest_min_recipients"), "e.g. 20, so that one mistyped address is no harvest", "must be at least 1 with a harvest_ratio")
	}
	for _, l := range []struct {
		name string
		v    []string
	}{{"spam_findings", c.SpamFindings}, {"virus_findings", c.VirusFindings}, {"harvest_findings", c.HarvestFindings}} {
		for i, p := range l.v {
			if base, _ := strings.CutSuffix(p, ".*"); base == "" || strings.ContainsAny(base, " \t*") {
				r.Add(fmt.Sprintf("%s[%d]", key(l.name), i), `a finding name, or a family as "spam.*"`, "%q is not a finding name", p)
			}
		}
	}
	if c.IPv4Prefix < 1 || c.IPv4Prefix > 32 {
		r.Add(key("ipv4_prefix"), "1 to 32; 32 profiles each address", "%d is not an IPv4 prefix length", c.IPv4Prefix)
	}
	if c.IPv6Prefix < 1 || c.IPv6Prefix > 128 {
		r.Add(key("ipv6_prefix"), "1 to 128; 64 profiles each /64", "%d is not an IPv6 prefix length", c.IPv6Prefix)
	}
}

// Profiler is the profiler of one configuration: its check (see
// [Profiler.Check]) and what the CLI needs.
type Profiler struct {
	c Config
}

// FromConfig is the profiler of a loaded configuration.
func FromConfig(cfg *config.Config) *Profiler {
	return New(*config.Section[Config](cfg, Section))
}

// New is a profiler with settings c, validated.
func New(c Config) *Profiler { return &Profiler{c: c} }

// Enabled reports whether the profiler learns and reports.
func (p *Profiler) Enabled() bool { return p.c.Enabled }

// Check is the profiler's check: one that runs always (see [check.Always])
// when the profiler is enabled, so that it learns from every message.
func (p *Profiler) Check() check.Check {
	if p.c.Enabled {
		return alwaysCheck{p}
	}
	return p
}

type alwaysCheck struct{ *Profiler }

func (alwaysCheck) Always() string { return "profiler.enabled: it learns from every message" }

func (p *Profiler) Name() string           { return "profiler" }
func (p *Profiler) Stage() policy.Stage    { return policy.StageConnect }
func (p *Profiler) Scope() check.Scope     { return check.ScopeConnection }
func (p *Profiler) Budget() time.Duration  { return 2 * time.Second }
func (p *Profiler) OnError() check.OnError { return check.OnErrorSkip }

// Findings declares profiler.blocked.
func (p *Profiler) Findings() []check.Declared {
	return []check.Declared{{Name: Finding, Doc: "the client is blocked by the IP profiler (value: spam, virus, harvest or bounce)"}}
}

// JudgesClient implements [check.ClientJudge]: on a connection from a
// known host the profiler looks up the message's first untrusted hop, not
// the relay.
func (p *Profiler) JudgesClient() bool { return true }

// LearnsFrom: the checks whose findings the profiler counts run while it
// does, whether or not a rule names them.
func (p *Profiler) LearnsFrom() []string {
	if !p.c.Enabled {
		return nil
	}
	return slices.Concat(p.c.SpamFindings, p.c.VirusFindings, p.c.HarvestFindings)
}

// network is the profiled network of a client, or the zero prefix for one
// that is not profiled: no address, a trusted network, a known host (a
// relay: the mail it passes on is not its own), an authenticated session.
func (p *Profiler) network(env *check.Env, ip netip.Addr, authUser string) netip.Prefix {
	if !p.c.Enabled || !ip.IsValid() || authUser != "" {
		return netip.Prefix{}
	}
	if env != nil && (env.Trusted != nil && env.Trusted(ip) || env.KnownHost != nil && env.KnownHost(ip)) {
		return netip.Prefix{}
	}
	return check.Network(ip, p.c.IPv4Prefix, p.c.IPv6Prefix)
}

// Run reports profiler.blocked for a client whose network is blocked.
func (p *Profiler) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	net := p.network(in.Env, in.ClientIP, "")
	if !net.IsValid() {
		return nil, nil
	}
	if in.Env == nil || in.Env.State == nil {
		if in.Env != nil && in.Env.DryRun {
			return nil, nil
		}
		return nil, check.ErrNoState
	}
	b, err := getBlock(ctx, in.Env.State, net, in.Env.Time())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("profiler: %w", err)
	}
	return []check.Finding{{Name: Finding, Value: b.Type, Where: "client",
		Reason: fmt.Sprintf("%s: %s; blocked until %s", net, b.Reason, b.Until.UTC().Format(time.RFC3339))}}, nil
}

// Block is one blocked network and why.
type Block struct {
	Network netip.Prefix `json:"network"`
	// Type is the threat: spam, virus, harvest or bounce.
	Type string `json:"type"`
	// Count is the threat's count in the window when the block began;
	// Total, for a harvest, the recipients named then.
	Count  int64  `json:"count"`
	Total  int64  `json:"total,omitempty"`
	Window string `json:"window"`
	// Reason says it in a sentence.
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
}

// record is what a block entry holds; the network is its key and the
// times are the entry's.
type record struct {
	Type   string `json:"type"`
	Count  int64  `json:"count"`
	Total  int64  `json:"total,omitempty"`
	Window string `json:"window"`
	Reason string `json:"reason"`
}

func decodeBlock(net netip.Prefix, e store.Entry) Block {
	var r record
	if err := json.Unmarshal(e.Value, &r); err != nil || r.Type == "" {
		r = record{Type: "unknown", Reason: "unreadable block record"}
	}
	return Block{Network: net, Type: r.Type, Count: r.Count, Total: r.Total, Window: r.Window, Reason: r.Reason,
		Since: e.Stored, Until: e.Expires}
}

func getBlock(ctx context.Context, st store.Entries, net netip.Prefix, at time.Time) (Block, error) {
	e, err := st.GetEntry(ctx, BlockNamespace, net.String(), at)
	if err != nil {
		return Block{}, err
	}
	return decodeBlock(net, e), nil
}

// counter names a count of net over the window: spam, virus, bounce,
// rcpt (all recipients) and invalid (the invalid ones).
func counter(kind string, net netip.Prefix) string {
	return check.StateKey("profiler."+kind, net.String())
}

var counterKinds = []string{Spam, Virus, Bounce, "rcpt", "invalid"}

// Learn counts what o says of its client and blocks the client's network
// past a threshold; see the package doc.
func (p *Profiler) Learn(ctx context.Context, env *check.Env, o *check.Outcome) error {
	client := o.ClientIP
	if o.Origin.IsValid() {
		client = o.Origin
	}
	net := p.network(env, client, o.AuthUser)
	if !net.IsValid() {
		return nil
	}
	if env.State == nil {
		return check.ErrNoState
	}
	st, now, w := env.State, env.Time(), p.c.Window.D
	incr := func(kind string) (int64, error) { return st.Incr(ctx, counter(kind, net), w, 1, now) }
	switch o.Stage {
	case policy.StageRcpt:
		if p.c.HarvestInvalid == 0 && p.c.HarvestRatio == 0 {
			return nil
		}
		total, err := incr("rcpt")
		if err != nil {
			return fmt.Errorf("profiler: %w", err)
		}
		if !anyFinding(o.Findings, p.c.HarvestFindings) {
			return nil
		}
		invalid, err := incr("invalid")
		if err != nil {
			return fmt.Errorf("profiler: %w", err)
		}
		win := check.FormatDuration(w)
		if p.c.HarvestInvalid > 0 && invalid > p.c.HarvestInvalid {
			return p.block(ctx, env, net, record{Type: Harvest, Count: invalid, Total: total, Window: win,
				Reason: fmt.Sprintf("%d invalid recipients of %d in %s, threshold %d", invalid, total, win, p.c.HarvestInvalid)})
		}
		if p.c.HarvestRatio > 0 && total >= p.c.HarvestMinRecipients && float64(invalid) >= p.c.HarvestRatio*float64(total) {
			return p.block(ctx, env, net, record{Type: Harvest, Count: invalid, Total: total, Window: win,
				Reason: fmt.Sprintf("%d invalid recipients of %d in %s (%.0f%%), threshold %.0f%% of at least %d",
					invalid, total, win, 100*float64(invalid)/float64(total), 100*p.c.HarvestRatio, p.c.HarvestMinRecipients)})
		}
	case policy.StageEOM:
		for _, t := range []struct {
			kind, what string
			hit        bool
			threshold  int64
		}{
			{Virus, "virus messages", matched(o, p.c.VirusFindings), p.c.Virus},
			{Spam, "spam messages", matched(o, p.c.SpamFindings), p.c.Spam},
			{Bounce, "bounces (null-sender messages)", o.Sender == "", p.c.Bounce},
		} {
			if !t.hit || t.threshold == 0 {
				continue
			}
			n, err := incr(t.kind)
			if err != nil {
				return fmt.Errorf("profiler: %w", err)
			}
			if n > t.threshold {
				win := check.FormatDuration(w)
				if err := p.block(ctx, env, net, record{Type: t.kind, Count: n, Window: win,
					Reason: fmt.Sprintf("%d %s in %s, threshold %d", n, t.what, win, t.threshold)}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// blocks counts the blocks the profiler started in this process, for the
// metric mailwarden_profiler_blocks_total.
var blocks atomic.Int64

// Blocks is how many blocks the profiler has started in this process.
func Blocks() int64 { return blocks.Load() }

// block blocks net for the block time, unless it is blocked already (the
// first reason stays until the block ends).
func (p *Profiler) block(ctx context.Context, env *check.Env, net netip.Prefix, r record) error {
	val, _ := json.Marshal(r)
	e, added, err := env.State.AddEntry(ctx, BlockNamespace, net.String(), val, p.c.Block.D, env.Time())
	if err != nil {
		return fmt.Errorf("profiler: block %s: %w", net, err)
	}
	if added {
		blocks.Add(1)
		if env.Log != nil {
			env.Log.Info("profiler: blocked", "network", net.String(), "type", r.Type, "reason", r.Reason, "until", e.Expires)
		}
	}
	return nil
}

// matched reports whether a rule that matched o matched on one of the
// findings.
func matched(o *check.Outcome, patterns []string) bool {
	for _, m := range o.Matches {
		if anyFinding(m.Findings, patterns) {
			return true
		}
	}
	return false
}

func anyFinding(fs []check.Finding, patterns []string) bool {
	for _, f := range fs {
		for _, p := range patterns {
			if base, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(f.Name, base) || f.Name == p {
				return true
			}
		}
	}
	return false
}

// Status is what the profiler knows of one network: its block, if any,
// and its counts in the window now.
type Status struct {
	Network netip.Prefix `json:"network"`
	Blocked *Block       `json:"blocked,omitempty"`
	Window  string       `json:"window"`
	// Counts are by kind: spam, virus, bounce, rcpt (recipients) and
	// invalid (invalid recipients).
	Counts map[string]int64 `json:"counts"`
}

// Network is the network the profiler keeps ip's counts and block under.
func (p *Profiler) Network(ip netip.Addr) netip.Prefix {
	return check.Network(ip, p.c.IPv4Prefix, p.c.IPv6Prefix)
}

// Show is the status of ip's network at at.
func (p *Profiler) Show(ctx context.Context, st store.State, ip netip.Addr, at time.Time) (Status, error) {
	net := p.Network(ip)
	s := Status{Network: net, Window: check.FormatDuration(p.c.Window.D), Counts: map[string]int64{}}
	b, err := getBlock(ctx, st, net, at)
	switch {
	case err == nil:
		s.Blocked = &b
	case !errors.Is(err, store.ErrNotFound):
		return s, fmt.Errorf("profiler: %w", err)
	}
	for _, k := range counterKinds {
		n, err := st.Count(ctx, counter(k, net), p.c.Window.D, at)
		if err != nil {
			return s, fmt.Errorf("profiler: %w", err)
		}
		s.Counts[k] = n
	}
	return s, nil
}

// List returns the blocks live at at, by network key, after the key after
// ("" for the first page), at most limit of them.
func List(ctx context.Context, st store.Entries, after string, limit int, at time.Time) ([]Block, error) {
	es, err := st.ListEntries(ctx, BlockNamespace, after, limit, at)
	if err != nil {
		return nil, fmt.Errorf("profiler: %w", err)
	}
	out := make([]Block, 0, len(es))
	for _, e := range es {
		net, err := netip.ParsePrefix(e.Key)
		if err != nil {
			continue // not a key of ours
		}
		out = append(out, decodeBlock(net, e.Entry))
	}
	return out, nil
}

// Unblock lifts the block of ip's network and forgets its counts, so that
// its next message does not block it again at once. It reports whether
// there was a block.
func (p *Profiler) Unblock(ctx context.Context, st store.State, ip netip.Addr, at time.Time) (netip.Prefix, bool, error) {
	net := p.Network(ip)
	_, err := st.GetEntry(ctx, BlockNamespace, net.String(), at)
	was := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return net, false, fmt.Errorf("profiler: %w", err)
	}
	if err := st.DeleteEntry(ctx, BlockNamespace, net.String()); err != nil {
		return net, false, fmt.Errorf("profiler: %w", err)
	}
	for _, k := range counterKinds {
		if err := st.ResetCounter(ctx, counter(k, net)); err != nil {
			return net, was, fmt.Errorf("profiler: %w", err)
		}
	}
	return net, was, nil
}
