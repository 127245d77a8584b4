// Package clamav scans each message once, at end of message, with ClamAV's
// daemon (clamd, over INSTREAM: see scanner/clamd), and reports a found
// signature as the finding virus, its value the signature's name.
//
// A mass-mailer (a worm that mails itself out under forged senders, so a
// notice to the sender goes to an innocent party) is told apart by a
// second finding, virus.massmailer, with the same value, when the name
// matches one of [Config].MassMailers. A rule on virus sees both kinds.
//
// Nothing is ever a silent pass:
//   - clamd unreachable, slow, or answering an error fails the check, so
//     on_error decides (tempfail by default), and the finding is
//     check.error;
//   - clamd's "INSTREAM size limit exceeded" is such an error: max_size
//     must stay at or under clamd's StreamMaxLength;
//   - a message over max_size is not sent: the finding is scan.exclusion,
//     value "clamav.max_size=N" (the finding check/mime declares, which
//     the default quarantines);
//   - clamd's own limit alerts (Heuristics.Limits.Exceeded.*, with clamd's
//     AlertExceedsMax yes) are scan.exclusion too, value
//     "clamd:Heuristics.Limits.Exceeded.NAME": part of the message was not
//     scanned, which is not a virus.
//
// Files of attached zip and 7z archives that a password from the message
// text opens ([attachment] password_tries; see check/attachment) are sent
// to clamd too, one by one, after a clean scan of the message: clamd cannot
// open an encrypted archive itself. Their findings are where
// "attachment:ARCHIVE/FILE".
//
// The check is always built, so the embedded default's rule on virus
// loads everywhere; with no [clamav] address it reports nothing.
package clamav

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/attachment"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/scanner/clamd"
	"github.com/mailwarden/mailwarden/scanner/message"
)

// The findings.
const (
	// Finding is a signature clamd found; the value is its name.
	Finding = "virus"
	// FindingMassMailer is a found signature named like a mass-mailer,
	// reported with Finding.
	FindingMassMailer = "virus.massmailer"
	// FindingExclusion is the message, or part of it, left unscanned.
	FindingExclusion = message.FindingExclusion
)

// Section is the config table, [clamav].
const Section = "clamav"

// limitPrefix starts the names of clamd's limit alerts (AlertExceedsMax).
const limitPrefix = "Heuristics.Limits.Exceeded"

// Config is the [clamav] section.
type Config struct {
	// Address is clamd's socket, as its LocalSocket or TCPSocket:
	// "unix:/run/clamav/clamd.ctl" (Debian's) or "inet:127.0.0.1:3310".
	// Empty means no virus scan: the check reports nothing.
	Address string `toml:"address"`
	// Timeout bounds one scan, from connecting to clamd to its verdict.
	// It is the check's time budget, under the MTA's content timeout.
	Timeout config.Duration `toml:"timeout"`
	// OnError is what a failed scan (clamd unreachable, slow, or answering
	// an error) means: "tempfail" (default, 451 4.3.0, the client
	// retries) or "skip" (deliver as if clean). Either way the finding is
	// check.error.
	OnError string `toml:"on_error"`
	// MaxSize is the largest message sent to clamd; a bigger one is not
	// scanned and gives scan.exclusion. Keep it at or under clamd's
	// StreamMaxLength (25M by default), or clamd refuses the stream, which
	// is an error.
	MaxSize config.Size `toml:"max_size"`
	// MaxConnections bounds the scans in flight at once (one clamd
	// connection each); keep it under clamd's MaxThreads. A scan waits for
	// a free one within its timeout.
	MaxConnections int `toml:"max_connections"`
	// MassMailers are regular expressions (case-insensitive) on signature
	// names: a name that matches one also gives virus.massmailer. The
	// default matches ClamAV's worm names ("Win.Worm.Mydoom-1",
	// "Email.Worm.Netsky") and the known mass-mailer families.
	MassMailers []string `toml:"mass_mailers"`
	// CacheTTL keeps verdicts by the SHA-256 of the whole message for this
	// long, so the same message sent again (an MTA retrying after a
	// tempfail, a copy sent twice) is not scanned twice; 0 (default)
	// keeps none. Errors are never kept.
	CacheTTL config.Duration `toml:"cache_ttl"`
	// CacheEntries bounds the verdicts kept; the oldest go first.
	CacheEntries int `toml:"cache_entries"`
}

// DefaultMassMailers are the default [Config].MassMailers.
var DefaultMassMailers = []string{
	`(^|[.-])Worm([.-]|$)`,
	`Mydoom|Netsky|Bagle|Beagle|Sober|Sobig|Klez|Mimail|Zafi|Lovgate|Mytob|Bagz|Nyxem|Warezov|Stration`,
}

// Defaults are the values a config does not set.
func Defaults() Config {
	return Config{
		Timeout:        config.Dur(30 * time.Second),
		OnError:        string(check.OnErrorTempfail),
		MaxSize:        config.Bytes(25 << 20),
		MaxConnections: clamd.DefaultMaxConns,
		MassMailers:    DefaultMassMailers,
		CacheEntries:   10000,
	}
}

// maxStream is clamd's largest StreamMaxLength (4 GB).
const maxStream = 4 << 30

func init() {
	config.Register(Section, Defaults, validate)
	check.Register(build)
}

func validate(r *config.Report, c *Config) {
	if c.Address != "" {
		if _, _, err := clamd.ParseAddress(c.Address); err != nil {
			r.Add("clamav.address", `"unix:/run/clamav/clamd.ctl" or "inet:127.0.0.1:3310"`, "%s", strings.TrimPrefix(err.Error(), "clamd: "))
		}
	}
	r.Duration("clamav.timeout", c.Timeout)
	if c.Timeout.D <= 0 || c.Timeout.D > 5*time.Minute {
		r.Add("clamav.timeout", "30s is the default; Postfix waits 300s (milter_content_timeout) at end of message", "must be between 0 and 5m")
	}
	r.OneOf("clamav.on_error", c.OnError, string(check.OnErrorTempfail), string(check.OnErrorSkip))
	r.Size("clamav.max_size", c.MaxSize)
	if c.MaxSize.N <= 0 || c.MaxSize.N > maxStream {
		r.Add("clamav.max_size", "clamd's StreamMaxLength, 25MiB by default", "must be between 1 byte and 4GiB")
	}
	if c.MaxConnections < 1 {
		r.Add("clamav.max_connections", "under clamd's MaxThreads (Debian: 12)", "must be at least 1")
	}
	for i, p := range c.MassMailers {
		if _, err := regexp.Compile("(?i)" + p); err != nil {
			r.Add(fmt.Sprintf("clamav.mass_mailers[%d]", i), `a regular expression, e.g. "(^|[.-])Worm([.-]|$)"`, "%v", err)
		}
	}
	r.Duration("clamav.cache_ttl", c.CacheTTL)
	if c.CacheTTL.D < 0 {
		r.Add("clamav.cache_ttl", "0 keeps no verdicts", "must not be negative")
	}
	if c.CacheEntries < 1 {
		r.Add("clamav.cache_entries", "", "must be at least 1")
	}
}

func build(cfg *config.Config) []check.Check {
	c := config.Section[Config](cfg, Section)
	ch, err := New(*c)
	if err != nil {
		// reported by the validator; the check stays, reporting nothing,
		// so the rules naming its findings still load
		ch, _ = New(Config{Timeout: c.Timeout, OnError: c.OnError})
	}
	ac := *config.Section[attachment.Config](cfg, attachment.Section)
	ch.opened = &ac
	return []check.Check{ch}
}

// Check is the ClamAV check.
type Check struct {
	client  *clamd.Client // nil: no address, no scan
	network string
	budget  time.Duration
	onError check.OnError
	maxSize int64
	mass    []*regexp.Regexp
	cache   *cache
	// opened, when set, are the [attachment] settings with which the
	// files of encrypted zip and 7z attachments that a password from the
	// message text opens are found and scanned too: clamd cannot open
	// them itself.
	opened *attachment.Config
}

// New is the check c describes; c must be valid, with its defaults.
func New(c Config) (*Check, error) {
	ch := &Check{budget: c.Timeout.D, onError: check.OnError(c.OnError), maxSize: c.MaxSize.N}
	if ch.budget <= 0 {
		ch.budget = Defaults().Timeout.D
	}
	if ch.onError != check.OnErrorSkip {
		ch.onError = check.OnErrorTempfail
	}
	for _, p := range c.MassMailers {
		re, err := regexp.Compile("(?i)" + p)
		if err != nil {
			return nil, fmt.Errorf("clamav: mass_mailers: %w", err)
		}
		ch.mass = append(ch.mass, re)
	}
	if c.Address != "" {
		cl, err := clamd.New(c.Address, clamd.Options{MaxConns: c.MaxConnections})
		if err != nil {
			return nil, fmt.Errorf("clamav: %w", err)
		}
		ch.client = cl
		ch.network, _ = cl.Address()
	}
	if c.CacheTTL.D > 0 && c.CacheEntries > 0 {
		ch.cache = newCache(c.CacheTTL.D, c.CacheEntries)
	}
	return ch, nil
}

func (*Check) Name() string             { return "clamav" }
func (*Check) Stage() policy.Stage      { return policy.StageEOM }
func (*Check) Scope() check.Scope       { return check.ScopeTransaction }
func (c *Check) Budget() time.Duration  { return c.budget }
func (c *Check) OnError() check.OnError { return c.onError }

func (*Check) Findings() []check.Declared {
	return []check.Declared{
		{Name: Finding, Doc: "clamd found a signature in the message; the value is its name (nothing without [clamav] address)"},
		{Name: FindingMassMailer, Doc: "the signature found is a mass-mailer's, whose sender is likely forged ([clamav] mass_mailers)"},
	}
}

// ErrOffline is the failure of a scan over TCP in an offline dry run.
var ErrOffline = errors.New("clamav: offline")

func (c *Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if c.client == nil || in.Raw == nil {
		return nil, nil
	}
	if int64(len(in.Raw)) > c.maxSize {
		return []check.Finding{{Name: FindingExclusion, Value: "clamav.max_size=" + strconv.FormatInt(c.maxSize, 10), Where: "message",
			Reason: fmt.Sprintf("the message (%d bytes) is over [clamav] max_size and was not scanned for viruses", len(in.Raw))}}, nil
	}
	// A unix socket is local; only TCP may leave the host.
	if in.Env != nil && in.Env.Offline && c.network != "unix" {
		return nil, ErrOffline
	}
	start := time.Now()
	var key [sha256.Size]byte
	res, cached := clamd.Result{}, false
	if c.cache != nil {
		key = sha256.Sum256(in.Raw)
		res, cached = c.cache.get(key, time.Now())
	}
	if !cached {
		var err error
		res, err = c.client.ScanBytes(ctx, in.Raw)
		if err != nil {
			return nil, fmt.Errorf("clamav: %w", err)
		}
		if c.cache != nil {
			c.cache.put(key, res, time.Now())
		}
	}
	if in.Env != nil && in.Env.Log != nil {
		in.Env.Log.Debug("clamav scan", "size", len(in.Raw), "duration", time.Since(start), "infected", res.Infected,
			"signature", res.Signature, "cached", cached)
	}
	out := c.findings(res, "message", "")
	if res.Infected || c.opened == nil || in.Message == nil {
		return out, nil
	}
	err := attachment.OpenedMembers(ctx, *c.opened, in.Message, func(path string, data []byte) error {
		r, err := c.client.ScanBytes(ctx, data)
		if err != nil {
			return err
		}
		out = append(out, c.findings(r, "attachment:"+path, path+" (opened with a password from the message text)")...)
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("clamav: an archive opened with a password: %w", err)
	}
	return out, nil
}

// findings are what a verdict means: on the message (where "message"), or
// on a file found in it (where "attachment:PATH", what naming the file).
func (c *Check) findings(res clamd.Result, where, what string) []check.Finding {
	if !res.Infected {
		return nil
	}
	sig := res.Signature
	in, of := "", "the message"
	if what != "" {
		in, of = " in "+what, what
	}
	if strings.HasPrefix(sig, limitPrefix) {
		return []check.Finding{{Name: FindingExclusion, Value: "clamd:" + sig, Where: where,
			Reason: "clamd did not scan all of " + of + ": " + sig}}
	}
	out := []check.Finding{{Name: Finding, Value: sig, Where: where, Reason: "clamd found " + sig + in}}
	for _, re := range c.mass {
		if re.MatchString(sig) {
			out = append(out, check.Finding{Name: FindingMassMailer, Value: sig, Where: where,
				Reason: "clamd found " + sig + in + ", a mass-mailer: the sender is likely forged"})
			break
		}
	}
	return out
}
