package lists

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"
)

// IPEntry is one entry of an [IPList].
type IPEntry struct {
	Range
	Item
}

// IPList is a named IP list: entries in the forms of [ParseRange], looked
// up in O(log n). Sender lists of 100,000 entries are common, and a linear
// scan of them per connection is not an option.
//
// Build one with [ParseIPList] or [NewIPList]; the zero IPList is empty. An
// IPList is immutable and safe for concurrent use.
//
// The entries are merged, once, into disjoint segments of the address
// space, each naming the entry that holds it: of the entries that do, the
// one that stays live longest (no expiry first), then the one that ends
// last, starts first, and was written first. So a lookup is one binary
// search, and when the entry it finds has expired every other entry that
// holds the address has too.
type IPList struct {
	entries []IPEntry // as given
	v4      []uint32  // segment starts, ascending
	v4e     []int32   // the entry of each segment; -1 for none
	v6      []u128
	v6e     []int32
}

// ParseIPList parses texts (config elements, a file's content) into a list,
// as described in the package doc. It returns every problem, each an
// [*Error], and keeps the entries that parse.
func ParseIPList(texts ...string) (IPList, []error) {
	items, errs := split(texts)
	entries := make([]IPEntry, 0, len(items))
	for _, it := range items {
		r, err := ParseRange(it.Text)
		if err != nil {
			errs = append(errs, &Error{Source: it.Source, Line: it.Line, Text: it.Text, Err: err})
			continue
		}
		entries = append(entries, IPEntry{Range: r, Item: it})
	}
	return build(entries), sortErrors(errs)
}

// NewIPList builds a list from entries, such as a store's list items
// parsed with [ParseRange]. It keeps its own copy. A range that did not
// come from ParseRange and is not one (ends of two families, To below From,
// an invalid From) matches nothing; IPv4-mapped ends are unmapped.
func NewIPList(entries []IPEntry) IPList {
	return build(slices.Clone(entries))
}

// u128 is an address as a 128-bit number.
type u128 struct{ hi, lo uint64 }

func (a u128) cmp(b u128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

// next returns a+1, and false when a is the last address.
func (a u128) next(last u128) (u128, bool) {
	if a == last {
		return a, false
	}
	a.lo++
	if a.lo == 0 {
		a.hi++
	}
	return a, true
}

func toU128(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// span is an entry's range as numbers, for the sweep.
type span struct {
	from, to u128
	e        int32
}

// build sorts entries into segments; it owns entries.
func build(entries []IPEntry) IPList {
	l := IPList{entries: entries}
	n4 := 0
	for i := range entries {
		if entries[i].From.Unmap().Is4() {
			n4++
		}
	}
	s4, s6 := make([]span, 0, n4), make([]span, 0, len(entries)-n4)
	for i := range entries {
		e := &entries[i]
		if e.From.Unmap().Is4() && e.To.Unmap().Is4() {
			e.From, e.To = e.From.Unmap(), e.To.Unmap()
		}
		sp := span{toU128(e.From), toU128(e.To), int32(i)}
		switch {
		case !e.From.IsValid() || e.From.BitLen() != e.To.BitLen() || sp.to.cmp(sp.from) < 0:
		case e.From.Is4():
			s4 = append(s4, sp)
		default:
			s6 = append(s6, sp)
		}
	}
	var starts []u128
	starts, l.v4e = l.segments(s4, u128{lo: 1<<32 - 1})
	l.v4 = make([]uint32, len(starts))
	for i, s := range starts {
		l.v4[i] = uint32(s.lo)
	}
	l.v6, l.v6e = l.segments(s6, u128{^uint64(0), ^uint64(0)})
	return l
}

// better reports whether entry a names a segment in preference to b: it
// stays live longer, or ends later, or starts earlier, or was written
// first.
func (l *IPList) better(a, b int32) bool {
	ea, eb := &l.entries[a], &l.entries[b]
	switch {
	case !ea.Expires.Equal(eb.Expires):
		return outlives(ea.Expires, eb.Expires)
	case ea.To != eb.To:
		return eb.To.Less(ea.To)
	case ea.From != eb.From:
		return ea.From.Less(eb.From)
	}
	return a < b
}

// segments sweeps the spans of one family (last is its last address) and
// returns the starts of the segments and the entry of each. Consecutive
// segments that name the same entry are one.
func (l *IPList) segments(spans []span, last u128) ([]u128, []int32) {
	if len(spans) == 0 {
		return nil, nil
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from.cmp(b.from) })
	points := make([]u128, 0, 2*len(spans))
	for _, s := range spans {
		points = append(points, s.from)
		if n, ok := s.to.next(last); ok {
			points = append(points, n)
		}
	}
	slices.SortFunc(points, u128.cmp)
	points = slices.Compact(points)

	// A heap of the spans begun, best on top; those that have ended leave
	// it when they reach the top.
	h := spanHeap{l: l}
	starts, reps := make([]u128, 0, len(points)), make([]int32, 0, len(points))
	j := 0
	for _, p := range points {
		for ; j < len(spans) && spans[j].from == p; j++ {
			h.push(spans[j])
		}
		for len(h.s) > 0 && h.s[0].to.cmp(p) < 0 {
			h.pop()
		}
		rep := int32(-1)
		if len(h.s) > 0 {
			rep = h.s[0].e
		}
		if n := len(reps); n == 0 && rep < 0 || n > 0 && reps[n-1] == rep {
			continue
		}
		starts = append(starts, p)
		reps = append(reps, rep)
	}
	return slices.Clip(starts), slices.Clip(reps)
}

// spanHeap is a binary heap of spans by [IPList.better].
type spanHeap struct {
	l *IPList
	s []span
}

func (h *spanHeap) less(i, j int) bool { return h.l.better(h.s[i].e, h.s[j].e) }

func (h *spanHeap) push(s span) {
	h.s = append(h.s, s)
	for i := len(h.s) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.s[i], h.s[p] = h.s[p], h.s[i]
		i = p
	}
}

func (h *spanHeap) pop() {
	n := len(h.s) - 1
	h.s[0] = h.s[n]
	h.s = h.s[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h.less(c+1, c) {
			c++
		}
		if !h.less(c, i) {
			break
		}
		h.s[i], h.s[c] = h.s[c], h.s[i]
		i = c
	}
}

// Len returns the number of entries.
func (l IPList) Len() int { return len(l.entries) }

// Entries returns a copy of the entries, in the order given.
func (l IPList) Entries() []IPEntry { return slices.Clone(l.entries) }

// Contains reports whether a live entry holds ip at at (zero: now).
func (l IPList) Contains(ip netip.Addr, at time.Time) bool {
	_, ok := l.Lookup(ip, at)
	return ok
}

// Lookup returns an entry live at at (zero: now) that holds ip: of those
// that do, the one that stays live longest, then ends last, then starts
// first, then was written first. An IPv4-mapped ip is looked up as IPv4,
// as [Range.Contains] does; the invalid address (a unix-socket client) is
// in no list.
func (l IPList) Lookup(ip netip.Addr, at time.Time) (IPEntry, bool) {
	ip = ip.Unmap()
	var e int32 = -1
	switch {
	case ip.Is4():
		b := ip.As4()
		x := binary.BigEndian.Uint32(b[:])
		// The last segment starting at or below x.
		lo, hi := 0, len(l.v4)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if l.v4[m] <= x {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo > 0 {
			e = l.v4e[lo-1]
		}
	case ip.Is6():
		x := toU128(ip)
		lo, hi := 0, len(l.v6)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if l.v6[m].cmp(x) <= 0 {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo > 0 {
			e = l.v6e[lo-1]
		}
	}
	if e < 0 {
		return IPEntry{}, false
	}
	ent := &l.entries[e]
	if !ent.Expires.IsZero() {
		if at.IsZero() {
			at = time.Now()
		}
		if !ent.Live(at) {
			return IPEntry{}, false
		}
	}
	return *ent, true
}
