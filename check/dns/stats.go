package dns

import (
	"errors"
	"sync/atomic"
)

// Stats are the resolver's counters since [New], for metrics. Lookups are
// counted per record type asked: LookupIP with "ip" is two.
type Stats struct {
	Lookups   uint64 // lookups asked
	CacheHits uint64 // answered from the cache
	Coalesced uint64 // joined an identical query already in flight
	NXDomain  uint64 // answered "no such name"
	NoData    uint64 // answered "no records of this type"

	// Failed lookups, by the kind of their final error.
	Timeouts      uint64
	ServFails     uint64
	Refused       uint64
	NetworkErrors uint64
	BadResponses  uint64
	BadNames      uint64
	Offline       uint64

	Queries      uint64 // queries sent to servers, UDP and TCP
	TCPFallbacks uint64 // truncated UDP answers asked again over TCP
	Failovers    uint64 // queries passed on to the next server

	CacheEntries int    // answers in the cache now
	CacheBytes   int    // their estimated size
	Evictions    uint64 // live answers dropped to stay within the bounds
}

type counters struct {
	lookups, hits, coalesced, nxdomain, nodata                             atomic.Uint64
	timeouts, servfails, refused, network, badResponses, badNames, offline atomic.Uint64
	queries, tcpFallbacks, failovers                                       atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (r *Resolver) Stats() Stats {
	c := &r.stats
	s := Stats{
		Lookups: c.lookups.Load(), CacheHits: c.hits.Load(), Coalesced: c.coalesced.Load(),
		NXDomain: c.nxdomain.Load(), NoData: c.nodata.Load(),
		Timeouts: c.timeouts.Load(), ServFails: c.servfails.Load(), Refused: c.refused.Load(),
		NetworkErrors: c.network.Load(), BadResponses: c.badResponses.Load(),
		BadNames: c.badNames.Load(), Offline: c.offline.Load(),
		Queries: c.queries.Load(), TCPFallbacks: c.tcpFallbacks.Load(), Failovers: c.failovers.Load(),
	}
	r.mu.Lock()
	s.CacheEntries, s.CacheBytes, s.Evictions = len(r.cache.m), r.cache.bytes, r.cache.evictions
	r.mu.Unlock()
	return s
}

func (r *Resolver) countNotFound(err error) {
	switch {
	case err == nil:
	case errors.Is(err, ErrNXDomain):
		r.stats.nxdomain.Add(1)
	default:
		r.stats.nodata.Add(1)
	}
}

func (r *Resolver) countFailure(err error) {
	c := &r.stats
	switch {
	case errors.Is(err, ErrTimeout):
		c.timeouts.Add(1)
	case errors.Is(err, ErrServFail):
		c.servfails.Add(1)
	case errors.Is(err, ErrRefused):
		c.refused.Add(1)
	case errors.Is(err, ErrNetwork):
		c.network.Add(1)
	default:
		c.badResponses.Add(1)
	}
}
