// Package greylist keeps the state of the greylist rule action: triplets
// of client network, envelope sender and recipient. The first attempt of a
// triplet is deferred; a retry after the delay (and before the triplet
// expires) passes, and the triplet then passes at once for pass_ttl after
// its last use. Spamware that never retries never gets through; a real
// MTA retries and loses a few minutes once.
//
// Client addresses are aggregated to their /24 and /64 (ipv4_prefix,
// ipv6_prefix), so a big sender retrying from another address of its pool
// is not deferred again. Once a network and sender domain have passed
// auto_allow_after triplets, that pair skips greylisting for pass_ttl
// after its last use: the sender has shown it retries. The null sender
// is the triplet sender "<>".
//
// The defaults follow postgrey's: a 5 minute delay, 35 days for a passed
// triplet, automatic allowing after 5 passes; an unconfirmed triplet is
// kept 24 hours (sqlgrey's max_connect_age; postgrey's retry window is 2
// days), which covers the retry schedule of every common MTA while keeping
// the rows of spamware that never retries for a day only.
//
// A triplet's first sighting is recorded with [store.Entries.AddEntry], so
// of concurrent first attempts (an MTA delivering to several recipients on
// parallel connections, a retry racing the first try) exactly one starts
// the delay, and a confirmation counts once toward the automatic allow.
//
// In a dry run ([check.Env].DryRun) the state is read, never written: the
// result says what the attempt would get.
package greylist

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/store"
)

// Section is the config table, [greylist].
const Section = "greylist"

// The state store namespaces and counter prefix the greylister uses.
const (
	NamespacePending = "greylist.pending" // first sighting of a triplet, for expiry
	NamespacePass    = "greylist.pass"    // a triplet that retried, for pass_ttl
	NamespaceAllow   = "greylist.allow"   // an automatically allowed network and sender domain
	counterPairs     = "greylist.pair"    // triplets passed per network and sender domain
)

// Config is the [greylist] table.
type Config struct {
	// Delay is how long a new triplet is deferred: a retry sooner is
	// deferred again, with the time left.
	Delay config.Duration `toml:"delay"`
	// Expiry is how long a triplet that has not retried is remembered;
	// a retry later than that starts over.
	Expiry config.Duration `toml:"expiry"`
	// PassTTL is how long a triplet that retried passes without delay,
	// counted from its last use.
	PassTTL config.Duration `toml:"pass_ttl"`
	// AutoAllowAfter lets a client network and sender domain skip
	// greylisting once this many of their triplets have passed; 0 never.
	AutoAllowAfter int64 `toml:"auto_allow_after"`
	// IPv4Prefix and IPv6Prefix aggregate client addresses: retries from
	// any address of one network count as one client.
	IPv4Prefix int `toml:"ipv4_prefix"`
	IPv6Prefix int `toml:"ipv6_prefix"`
}

// Defaults are the [greylist] values a config does not set; see the
// package doc for where they come from.
func Defaults() Config {
	return Config{Delay: config.Dur(5 * time.Minute), Expiry: config.Dur(24 * time.Hour),
		PassTTL: config.Dur(35 * 24 * time.Hour), AutoAllowAfter: 5, IPv4Prefix: 24, IPv6Prefix: 64}
}

func init() { config.Register(Section, Defaults, validate) }

func validate(r *config.Report, c *Config) {
	key := func(k string) string { return Section + "." + k }
	ok := true
	for _, d := range []struct {
		name string
		v    config.Duration
	}{{"delay", c.Delay}, {"expiry", c.Expiry}, {"pass_ttl", c.PassTTL}} {
		n := len(r.Problems)
		r.Duration(key(d.name), d.v)
		if len(r.Problems) > n {
			ok = false
		} else if d.v.D <= 0 {
			r.Add(key(d.name), "", "must be longer than 0s")
			ok = false
		}
	}
	if ok && c.Expiry.D <= c.Delay.D {
		r.Add(key("expiry"), "a day or so: MTAs retry for days", "%s is not longer than the delay (%s): no retry could pass",
			check.FormatDuration(c.Expiry.D), check.FormatDuration(c.Delay.D))
	}
	if c.AutoAllowAfter < 0 {
		r.Add(key("auto_allow_after"), "0 never allows automatically", "must not be negative")
	}
	if c.IPv4Prefix < 1 || c.IPv4Prefix > 32 {
		r.Add(key("ipv4_prefix"), "1 to 32; 24 treats each /24 as one client", "%d is not an IPv4 prefix length", c.IPv4Prefix)
	}
	if c.IPv6Prefix < 1 || c.IPv6Prefix > 128 {
		r.Add(key("ipv6_prefix"), "1 to 128; 64 treats each /64 as one client", "%d is not an IPv6 prefix length", c.IPv6Prefix)
	}
}

// Greylister decides greylisting attempts over the state store of the
// [check.Env] it is given. It holds only settings, so one serves every
// session of a configuration.
type Greylister struct {
	c Config
}

// FromConfig is the greylister of a loaded configuration's [greylist]
// section (its defaults when the file has none).
func FromConfig(cfg *config.Config) *Greylister { return New(*config.Section[Config](cfg, Section)) }

// New is a greylister with validated settings c.
func New(c Config) *Greylister { return &Greylister{c: c} }

// Why an attempt passed or was deferred.
const (
	WhyNew         = "new triplet"
	WhyEarly       = "retried before the delay"
	WhyRetried     = "retried after the delay"
	WhyKnown       = "triplet passed before"
	WhyAutoAllowed = "network and sender domain allowed automatically"
	WhyNoAddress   = "no client address"
)

// Result is the answer for one attempt.
type Result struct {
	// Pass is true when the attempt may go on; otherwise the client is to
	// retry in Wait.
	Pass bool
	Wait time.Duration
	// Why says which case it was, one of the Why constants.
	Why string
	// Network is the client's aggregated network.
	Network netip.Prefix
}

// Greylist implements the session's greylister: pass, or the wait left.
func (g *Greylister) Greylist(ctx context.Context, env *check.Env, ip netip.Addr, sender, rcpt string) (bool, time.Duration, error) {
	r, err := g.Check(ctx, env, ip, sender, rcpt)
	return r.Pass, r.Wait, err
}

// Check decides one attempt of the triplet (ip's network, sender, rcpt);
// sender "" is the null sender. Outside a dry run it records the attempt;
// in one it only reads (and without a state store answers as for a new
// triplet).
func (g *Greylister) Check(ctx context.Context, env *check.Env, ip netip.Addr, sender, rcpt string) (Result, error) {
	net := check.Network(ip, g.c.IPv4Prefix, g.c.IPv6Prefix)
	if !net.IsValid() {
		return Result{Pass: true, Why: WhyNoAddress}, nil
	}
	res := Result{Network: net}
	dry := env != nil && env.DryRun
	if env == nil || env.State == nil {
		if dry {
			res.Wait, res.Why = g.c.Delay.D, WhyNew
			return res, nil
		}
		return res, check.ErrNoState
	}
	st, now := env.State, env.Time()
	sender, rcpt = normal(sender), strings.ToLower(rcpt)
	pair := check.StateKey(net.String(), domain(sender))
	triplet := check.StateKey(net.String(), sender, rcpt)

	if g.c.AutoAllowAfter > 0 {
		found, err := g.touch(ctx, st, NamespaceAllow, pair, now, dry)
		if err != nil {
			return res, err
		}
		if found {
			res.Pass, res.Why = true, WhyAutoAllowed
			return res, nil
		}
	}
	found, err := g.touch(ctx, st, NamespacePass, triplet, now, dry)
	if err != nil {
		return res, err
	}
	if found {
		res.Pass, res.Why = true, WhyKnown
		return res, nil
	}

	var first store.Entry
	if dry {
		first, err = st.GetEntry(ctx, NamespacePending, triplet, now)
		if errors.Is(err, store.ErrNotFound) {
			res.Wait, res.Why = g.c.Delay.D, WhyNew
			return res, nil
		}
	} else {
		var added bool
		first, added, err = st.AddEntry(ctx, NamespacePending, triplet, nil, g.c.Expiry.D, now)
		if err == nil && added {
			// A concurrent retry may have confirmed the triplet between the
			// pass lookup above and this add: it writes the pass entry
			// before it deletes the pending one, so a pending entry added
			// here after that delete finds the pass entry now.
			if _, err := st.GetEntry(ctx, NamespacePass, triplet, now); err == nil {
				if err := st.DeleteEntry(ctx, NamespacePending, triplet); err != nil {
					return res, fmt.Errorf("greylist: %w", err)
				}
				res.Pass, res.Why = true, WhyKnown
				return res, nil
			} else if !errors.Is(err, store.ErrNotFound) {
				return res, fmt.Errorf("greylist: %w", err)
			}
			res.Wait, res.Why = g.c.Delay.D, WhyNew
			return res, nil
		}
	}
	if err != nil {
		return res, fmt.Errorf("greylist: %w", err)
	}
	if waited := now.Sub(first.Stored); waited < g.c.Delay.D {
		res.Wait, res.Why = g.c.Delay.D-waited, WhyEarly
		return res, nil
	}
	res.Pass, res.Why = true, WhyRetried
	if dry {
		return res, nil
	}
	_, confirmed, err := st.AddEntry(ctx, NamespacePass, triplet, nil, g.c.PassTTL.D, now)
	if err != nil {
		return res, fmt.Errorf("greylist: %w", err)
	}
	if !confirmed { // a concurrent retry confirmed it
		return res, nil
	}
	if err := st.DeleteEntry(ctx, NamespacePending, triplet); err != nil {
		return res, fmt.Errorf("greylist: %w", err)
	}
	if g.c.AutoAllowAfter > 0 {
		n, err := st.Incr(ctx, check.StateKey(counterPairs, pair), g.c.PassTTL.D, 1, now)
		if err != nil {
			return res, fmt.Errorf("greylist: %w", err)
		}
		if n >= g.c.AutoAllowAfter {
			if err := st.SetEntry(ctx, NamespaceAllow, pair, nil, g.c.PassTTL.D, now); err != nil {
				return res, fmt.Errorf("greylist: %w", err)
			}
			if env.Log != nil {
				env.Log.Info("greylist: allowed automatically", "network", net.String(), "sender_domain", domain(sender), "passes", n)
			}
		}
	}
	return res, nil
}

// touch reports whether (ns, key) is live, and outside a dry run extends
// it to pass_ttl from now when it was last extended a while ago (so that a
// busy triplet costs one write an hour, not one per message).
func (g *Greylister) touch(ctx context.Context, st store.Entries, ns, key string, now time.Time, dry bool) (bool, error) {
	e, err := st.GetEntry(ctx, ns, key, now)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("greylist: %w", err)
	}
	if !dry && now.Sub(e.Stored) >= min(time.Hour, g.c.PassTTL.D/4) {
		if err := st.SetEntry(ctx, ns, key, e.Value, g.c.PassTTL.D, now); err != nil {
			return true, fmt.Errorf("greylist: %w", err)
		}
	}
	return true, nil
}

// normal is the triplet's form of a sender: lower-case, "<>" for the null
// sender.
func normal(sender string) string {
	sender = strings.Trim(sender, "<>")
	if sender == "" {
		return "<>"
	}
	return strings.ToLower(sender)
}

// domain is the sender domain of the automatic allow: the part after the
// last "@", or the whole sender ("<>") without one. By domain, not
// address, so that mailing lists with per-message bounce addresses (VERP)
// qualify.
func domain(sender string) string {
	if i := strings.LastIndexByte(sender, '@'); i >= 0 {
		return sender[i+1:]
	}
	return sender
}
