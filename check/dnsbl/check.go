package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/dns"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
)

// ZoneConfig is one [[dnsbl]] table.
type ZoneConfig struct {
	// Name names the finding: dnsbl.NAME, or dnswl.NAME for an allow list.
	Name string `toml:"name"`
	// Zone is the list's DNS zone, e.g. "zen.spamhaus.org".
	Zone string `toml:"zone"`
	// Codes maps return codes to their meanings: "127.0.0.2" = "spam
	// source"; also ranges "127.0.0.4-7", prefixes "127.0.0.8/29" and
	// bitmasks "&4".
	Codes map[string]string `toml:"codes"`
	// CodesOnly counts only the answers Codes names as a listing.
	CodesOnly bool `toml:"codes_only"`
	// Weight is the listing's score (the finding's score; rules add them
	// with score("dnsbl.*", "dnswl.*")): 1 by default, as in Postfix's
	// postscreen_dnsbl_sites, and -1 for an allow list.
	Weight *int `toml:"weight"`
	// Allow makes it an allow list (DNSWL): the finding is dnswl.NAME.
	Allow bool `toml:"allow"`
	// Timeout bounds the zone's lookup (default 1.5s, and never more than
	// [dns] connect_budget).
	Timeout config.Duration `toml:"timeout"`
	// TXT also fetches the TXT record of a listing, for the reason.
	TXT bool `toml:"txt"`
	// OnError is what a failed lookup (timeout, SERVFAIL, an error code
	// such as 127.255.255.254 for a blocked resolver) means: "skip"
	// (default: go on without the list, as Postfix's postscreen does) or
	// "tempfail". Either way it is logged, counted and the finding
	// check.error.
	OnError string `toml:"on_error"`
}

func init() {
	config.Register("dnsbl", func() []ZoneConfig { return nil }, validate)
	check.Register(build)
}

func (z ZoneConfig) lib() Config {
	w := 1
	if z.Allow {
		w = -1
	}
	if z.Weight != nil {
		w = *z.Weight
	}
	return Config{Name: z.Name, Zone: z.Zone, Codes: z.Codes, CodesOnly: z.CodesOnly, Weight: w,
		Allow: z.Allow, Timeout: z.Timeout.D, TXT: z.TXT}
}

func validate(r *config.Report, zs *[]ZoneConfig) {
	names := map[string]int{}
	for i, z := range *zs {
		key := fmt.Sprintf("dnsbl[%d]", i)
		if _, err := New(z.lib()); err != nil {
			for _, e := range strings.Split(err.Error(), "\n") {
				r.Add(key, "", "%s", strings.TrimPrefix(e, "dnsbl: "))
			}
		}
		if first, dup := names[findingName(z)]; dup {
			r.Add(key+".name", fmt.Sprintf("dnsbl[%d] has the same name", first), "duplicate list %q", z.Name)
		}
		names[findingName(z)] = i
		r.Duration(key+".timeout", z.Timeout)
		if z.OnError != "" {
			r.OneOf(key+".on_error", z.OnError, "skip", "tempfail")
		}
	}
}

func findingName(z ZoneConfig) string {
	if z.Allow {
		return "dnswl." + z.Name
	}
	return "dnsbl." + z.Name
}

func build(cfg *config.Config) []check.Check {
	budget := dns.ConnectBudget(cfg)
	var out []check.Check
	seen := map[string]bool{}
	for _, zc := range *config.Section[[]ZoneConfig](cfg, "dnsbl") {
		z, err := New(zc.lib())
		if err != nil || seen[findingName(zc)] {
			continue // reported by the validator
		}
		seen[findingName(zc)] = true
		t := zc.Timeout.D
		if t <= 0 {
			t = DefaultTimeout
		}
		onErr := check.OnErrorSkip
		if zc.OnError == "tempfail" {
			onErr = check.OnErrorTempfail
		}
		out = append(out, &Check{zone: z, finding: findingName(zc), budget: min(t, budget), onError: onErr})
	}
	return out
}

// Check asks one zone about the client. Zones are one check each, so the
// runner asks them in parallel, each with its budget and failure mode.
type Check struct {
	zone    *Zone
	finding string
	budget  time.Duration
	onError check.OnError
}

func (c *Check) Name() string           { return c.finding }
func (*Check) Stage() policy.Stage      { return policy.StageConnect }
func (*Check) Scope() check.Scope       { return check.ScopeConnection }
func (c *Check) Budget() time.Duration  { return c.budget }
func (c *Check) OnError() check.OnError { return c.onError }
func (*Check) JudgesClient() bool       { return true }
func (c *Check) Findings() []check.Declared {
	what := "the client is listed in " + c.zone.Config().Zone
	return []check.Declared{{Name: c.finding, Doc: what}}
}

// ErrNoResolver is the failure of a lookup without the shared resolver.
var ErrNoResolver = errors.New("dnsbl: no resolver")

func (c *Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if !in.ClientIP.IsValid() {
		return nil, nil
	}
	if in.Env == nil || in.Env.DNS == nil {
		return nil, ErrNoResolver
	}
	r := c.zone.Lookup(ctx, in.Env.DNS, in.ClientIP)
	switch r.Status {
	case Listed:
		return []check.Finding{{Name: c.finding, Value: r.Reason, Where: "client", Score: float64(c.zone.Config().Weight),
			Reason: fmt.Sprintf("%s is listed in %s: %s", in.ClientIP, c.zone.Config().Zone, r.Reason)}}, nil
	case Failed:
		return nil, r.Err
	}
	return nil, nil
}
