package spf

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/mailwarden/mailwarden/check/dns"
)

// resolver adapts the shared [dns.Resolver] to the interface of
// blitiri.com.ar/go/spf, so every SPF lookup uses [dns]'s servers,
// timeouts and cache. The library tells answers from failures by
// *net.DNSError: not found (NXDOMAIN, NODATA) must be IsNotFound, which
// gives "none" for a missing record and counts as a void lookup (RFC 7208
// §4.6.4); any failure must be temporary, which gives "temperror" (§4.4,
// §5), never "permerror". One resolver serves one evaluation.
type resolver struct {
	r *dns.Resolver
	// offline is set when a lookup failed because the resolver is offline
	// (a dry run): the result then says nothing about the sender.
	offline atomic.Bool
	// lookups counts the queries asked, for the log line.
	lookups atomic.Int32
}

func (a *resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	a.lookups.Add(1)
	txt, _, err := a.r.LookupTXT(ctx, name)
	return txt, a.dnsError(name, err)
}

func (a *resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	a.lookups.Add(1)
	mx, _, err := a.r.LookupMX(ctx, name)
	if err != nil {
		return nil, a.dnsError(name, err)
	}
	out := make([]*net.MX, 0, len(mx))
	for _, m := range mx {
		out = append(out, &net.MX{Host: m.Host, Pref: m.Pref})
	}
	return out, nil
}

func (a *resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	a.lookups.Add(1)
	ips, _, err := a.r.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, a.dnsError(host, err)
	}
	out := make([]net.IPAddr, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.IPAddr{IP: net.IP(ip.Unmap().AsSlice())})
	}
	return out, nil
}

func (a *resolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	a.lookups.Add(1)
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "not an IP address", Name: addr, IsNotFound: true}
	}
	names, _, err := a.r.LookupPTR(ctx, ip)
	return names, a.dnsError(addr, err)
}

// dnsError maps the shared resolver's errors to the library's: not found
// and an invalid name (a malformed domain is "none", RFC 7208 §4.3; a
// mechanism on one does not match) are IsNotFound, a timeout IsTimeout,
// every other failure IsTemporary.
func (a *resolver) dnsError(name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dns.ErrNotFound), errors.Is(err, dns.ErrBadName):
		return &net.DNSError{Err: err.Error(), Name: name, IsNotFound: true}
	case errors.Is(err, dns.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return &net.DNSError{Err: err.Error(), Name: name, IsTimeout: true}
	case errors.Is(err, dns.ErrOffline):
		a.offline.Store(true)
	}
	return &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true}
}
