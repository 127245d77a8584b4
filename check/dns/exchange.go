package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// resolve asks the servers in order until one gives an answer (records,
// NXDOMAIN or NODATA) and returns it as a cache entry. A timeout, a
// network error, SERVFAIL, REFUSED or a bad response moves on to the next
// server; the last failure is returned.
func (r *Resolver) resolve(ctx context.Context, k key) (*entry, error) {
	qname := k.name + "."
	m := new(mdns.Msg)
	m.SetQuestion(qname, k.qtype)
	m.SetEdns0(udpSize, false)
	var last error
	for i, srv := range r.servers {
		if i > 0 {
			r.stats.failovers.Add(1)
		}
		m.Id = mdns.Id()
		resp, err := r.exchange(ctx, m, srv)
		if err == nil {
			var e *entry
			if e, err = r.answer(k, resp); err == nil {
				return e, nil
			}
		}
		err = fmt.Errorf("%w: %s %s from %s", err, qname, mdns.TypeToString[k.qtype], srv)
		r.log.Debug("dns: query failed", "server", srv, "name", qname, "type", mdns.TypeToString[k.qtype], "err", err)
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

// exchange sends m to srv over UDP, and again over TCP when the answer
// comes back truncated (RFC 7766 §3). Errors are the package's sentinels.
func (r *Resolver) exchange(ctx context.Context, m *mdns.Msg, srv string) (*mdns.Msg, error) {
	actx, cancel := context.WithTimeout(ctx, r.timeout)
	r.stats.queries.Add(1)
	resp, _, err := r.udp.ExchangeContext(actx, m, srv)
	cancel()
	if resp != nil && resp.Truncated {
		r.stats.tcpFallbacks.Add(1)
		r.stats.queries.Add(1)
		actx, cancel := context.WithTimeout(ctx, r.timeout)
		resp, _, err = r.tcp.ExchangeContext(actx, m, srv)
		cancel()
	}
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
			return nil, ErrTimeout
		case errors.As(err, &ne):
			return nil, fmt.Errorf("%w: %w", ErrNetwork, err)
		default:
			return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
	}
	return resp, nil
}

// answer turns a response into a cache entry, or into a failure for an
// RCODE other than NOERROR and NXDOMAIN or an answer to another question.
func (r *Resolver) answer(k key, resp *mdns.Msg) (*entry, error) {
	if len(resp.Question) != 1 || resp.Question[0].Qtype != k.qtype ||
		canonical(resp.Question[0].Name) != k.name {
		return nil, fmt.Errorf("%w: answer to another question", ErrBadResponse)
	}
	switch resp.Rcode {
	case mdns.RcodeSuccess, mdns.RcodeNameError:
	case mdns.RcodeServerFailure:
		return nil, ErrServFail
	case mdns.RcodeRefused:
		return nil, ErrRefused
	default:
		return nil, fmt.Errorf("%w: rcode %s", ErrBadResponse, mdns.RcodeToString[resp.Rcode])
	}

	e := &entry{key: k}
	// Follow the CNAME chain from the name asked, as far as the answer
	// section goes; its TTLs bound the answer's.
	target, ttl := k.name, uint32(1<<31-1)
	for range maxCNAMEs {
		if k.qtype == mdns.TypeCNAME {
			break
		}
		next := ""
		for _, rr := range resp.Answer {
			if c, ok := rr.(*mdns.CNAME); ok && canonical(c.Hdr.Name) == target {
				next, ttl = canonical(c.Target), min(ttl, c.Hdr.Ttl)
				break
			}
		}
		if next == "" {
			break
		}
		target = next
	}
	if resp.Rcode == mdns.RcodeSuccess {
		for _, rr := range resp.Answer {
			h := rr.Header()
			if h.Rrtype == k.qtype && h.Class == mdns.ClassINET && canonical(h.Name) == target {
				e.records = append(e.records, rr)
				ttl = min(ttl, h.Ttl)
			}
		}
	}

	switch {
	case len(e.records) > 0:
		e.expires = r.now().Add(r.clamp(time.Duration(ttl) * time.Second))
		e.extract()
	default:
		// RFC 2308 §5: a negative answer holds for the SOA's TTL, at most
		// its MINIMUM field. Without an SOA it is kept for MinTTL only.
		neg := time.Duration(0)
		for _, rr := range resp.Ns {
			if soa, ok := rr.(*mdns.SOA); ok {
				neg = time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
				break
			}
		}
		e.expires = r.now().Add(r.clamp(neg))
		kind := ErrNoData
		if resp.Rcode == mdns.RcodeNameError {
			kind = ErrNXDomain
		}
		e.notFound = fmt.Errorf("%w: %s. %s", kind, k.name, mdns.TypeToString[k.qtype])
	}
	e.size = sizeOf(e)
	return e, nil
}

func (r *Resolver) clamp(d time.Duration) time.Duration {
	return min(max(d, r.minTTL), r.maxTTL)
}

// extract fills the typed values of e from its records, once, so that
// cache hits only copy them.
func (e *entry) extract() {
	for _, rr := range e.records {
		switch rr := rr.(type) {
		case *mdns.A:
			if a, ok := netip.AddrFromSlice(rr.A.To4()); ok {
				e.addrs = append(e.addrs, a)
			}
		case *mdns.AAAA:
			if a, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok {
				e.addrs = append(e.addrs, a)
			}
		case *mdns.TXT:
			e.strs = append(e.strs, strings.Join(rr.Txt, ""))
		case *mdns.PTR:
			e.strs = append(e.strs, rr.Ptr)
		case *mdns.MX:
			e.mx = append(e.mx, MX{Host: rr.Mx, Pref: rr.Preference})
		}
	}
	slices.SortStableFunc(e.mx, func(a, b MX) int { return int(a.Pref) - int(b.Pref) })
}
