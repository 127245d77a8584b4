// Package knownhost handles [known_hosts]: trusted relays in front of
// this host (a cloud prefilter, an internal hub), given by network. Their
// own address says nothing of the sender, so the checks that judge the
// client (check.ClientJudge: DNSBL, IP lists, the profiler, IP throttles)
// skip a known host at connect. With mode = "received" (the default) they
// judge each message's first untrusted hop instead, read from its
// Received chain at end of headers (scanner/received, which never trusts
// an address the sender could have written); with mode = "skip" they do
// not run at all on a known host's connections. Greylisting never applies
// to a known host.
//
// Findings: client.known_host at connect; at end of headers,
// client.origin (the hop judged) or client.origin_unknown (the chain could
// not be read: the value says why, and a rule may refuse such mail).
package knownhost

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/policy/lists"
	"github.com/mailwarden/mailwarden/scanner/received"
)

// The findings.
const (
	Finding       = "client.known_host"
	Origin        = "client.origin"
	OriginUnknown = "client.origin_unknown"
)

// Config is the [known_hosts] section.
type Config struct {
	// Networks are the known hosts, in the IP list syntax (addresses,
	// CIDR, ranges, "#" comments). A content filter that hands mail back
	// over loopback is a hop too: add 127.0.0.0/8 to walk past it.
	Networks []string `toml:"networks"`
	// Mode is "received" (default): the checks that judge the client
	// judge each message's first untrusted hop, at end of headers; or
	// "skip": they do not run on a known host's connections.
	Mode string `toml:"mode"`
}

func init() {
	config.Register("known_hosts", func() Config { return Config{Mode: "received"} }, func(r *config.Report, c *Config) {
		for i, n := range c.Networks {
			if _, errs := lists.ParseIPList(n); len(errs) > 0 {
				for _, err := range errs {
					r.Add(fmt.Sprintf("known_hosts.networks[%d]", i), lists.RangeForms, "%v", err)
				}
			}
		}
		r.OneOf("known_hosts.mode", c.Mode, "received", "skip")
	})
	check.Register(func(cfg *config.Config) []check.Check { return []check.Check{&Check{Hosts: FromConfig(cfg)}} })
}

// Hosts is a configuration's known hosts.
type Hosts struct {
	nets lists.IPList
	// Received says to judge the first untrusted hop (mode "received").
	Received bool
}

// FromConfig returns the known hosts of cfg, or nil when it has none.
func FromConfig(cfg *config.Config) *Hosts {
	c := config.Section[Config](cfg, "known_hosts")
	l, _ := lists.ParseIPList(strings.Join(c.Networks, "\n"))
	if l.Len() == 0 {
		return nil
	}
	return &Hosts{nets: l, Received: c.Mode != "skip"}
}

// Contains reports whether ip is a known host; a nil Hosts has none.
func (h *Hosts) Contains(ip netip.Addr) bool {
	return h != nil && ip.IsValid() && h.nets.Contains(ip.Unmap(), time.Time{})
}

// Origin walks the Received fields (header order) of a message a known
// host relayed from client, to the first hop that is not a known host.
func (h *Hosts) Origin(headers []check.RawHeader, client netip.Addr) received.Hop {
	var fields []string
	for _, f := range headers {
		if strings.EqualFold(f.Name, "Received") {
			fields = append(fields, f.Value)
		}
	}
	return received.FirstUntrusted(fields, client, h.Contains)
}

// Check reports client.known_host, and at end of headers the origin.
type Check struct{ Hosts *Hosts }

func (*Check) Name() string            { return "known-hosts" }
func (*Check) Stage() policy.Stage     { return policy.StageConnect }
func (*Check) Scope() check.Scope      { return check.ScopeConnection }
func (*Check) Budget() time.Duration   { return time.Second }
func (*Check) OnError() check.OnError  { return check.OnErrorSkip }
func (*Check) LateStage() policy.Stage { return policy.StageEOH }

func (*Check) Findings() []check.Declared {
	return []check.Declared{
		{Name: Finding, Doc: "the client is a known host ([known_hosts])"},
		{Name: Origin, Doc: "the first untrusted hop of a known host's message, which the client checks judge"},
		{Name: OriginUnknown, Doc: "a known host's message whose Received chain does not show its first untrusted hop"},
	}
}

func (c *Check) Run(_ context.Context, in *check.Input) ([]check.Finding, error) {
	if !c.Hosts.Contains(in.ClientIP) {
		return nil, nil
	}
	return []check.Finding{{Name: Finding, Value: in.ClientIP.String(), Where: "client",
		Reason: "the client is in [known_hosts] networks"}}, nil
}

func (c *Check) RunLate(_ context.Context, in *check.Input) ([]check.Finding, error) {
	if !c.Hosts.Contains(in.ClientIP) || !c.Hosts.Received {
		return nil, nil
	}
	hop := c.Hosts.Origin(in.Headers, in.ClientIP)
	if hop.Err != nil {
		return []check.Finding{{Name: OriginUnknown, Value: hop.Reason, Where: "header:Received", Reason: hop.Reason}}, nil
	}
	return []check.Finding{{Name: Origin, Value: hop.IP.String(), Where: fmt.Sprintf("header:Received[%d]", hop.Index), Reason: hop.Reason}}, nil
}
