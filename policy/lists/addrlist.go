package lists

import (
	"slices"
	"strings"
	"time"
)

// AddrEntry is one entry of an [AddrList].
type AddrEntry struct {
	Pattern
	Item
}

// AddrList is an address and domain list: entries in the forms of
// [ParsePattern] (user@example.com, *@example.com, *@*.example.com, and
// user@*, user@*.example.com, *@*, *, <>), matched against an envelope
// sender, a header From or a recipient. A lookup costs a few map lookups
// per label of the address's domain, whatever the list's size.
//
// *@*.example.com matches every subdomain of example.com but not
// example.com itself, as in [Pattern]: list *@example.com too for both.
// Domains and local parts are compared case-insensitively.
//
// Build one with [ParseAddrList] or [NewAddrList]; the zero AddrList is
// empty. An AddrList is immutable and safe for concurrent use.
type AddrList struct {
	entries []AddrEntry // as given
	// Each map names, per key, the entry of that key that stays live
	// longest (then the first written): entries of one key match the same
	// addresses, so when it has expired they all have.
	exact     map[addrKey]int32 // user@example.com
	domain    map[string]int32  // *@example.com
	sub       map[string]int32  // *@*.example.com, by example.com
	localSub  map[addrKey]int32 // user@*.example.com, by user and example.com
	local     map[string]int32  // user@*
	anyAddr   []int32           // *@*, best first
	all, null []int32           // * and <>, best first
}

type addrKey struct{ local, domain string }

// ParseAddrList parses texts (config elements, a file's content) into a
// list, as described in the package doc. It returns every problem, each an
// [*Error], and keeps the entries that parse.
func ParseAddrList(texts ...string) (AddrList, []error) {
	items, errs := split(texts)
	entries := make([]AddrEntry, 0, len(items))
	for _, it := range items {
		p, err := ParsePattern(it.Text)
		if err != nil {
			errs = append(errs, &Error{Source: it.Source, Line: it.Line, Text: it.Text, Err: err})
			continue
		}
		entries = append(entries, AddrEntry{Pattern: p, Item: it})
	}
	return buildAddr(entries), sortErrors(errs)
}

// NewAddrList builds a list from entries, such as a store's list items
// parsed with [ParsePattern]. It keeps its own copy; an entry whose
// Pattern is the zero Pattern matches nothing.
func NewAddrList(entries []AddrEntry) AddrList {
	return buildAddr(slices.Clone(entries))
}

func buildAddr(entries []AddrEntry) AddrList {
	l := AddrList{entries: entries}
	put := func(m map[string]int32, k string, i int32) {
		if j, ok := m[k]; !ok || outlives(entries[i].Expires, entries[j].Expires) {
			m[k] = i
		}
	}
	putKey := func(m map[addrKey]int32, k addrKey, i int32) {
		if j, ok := m[k]; !ok || outlives(entries[i].Expires, entries[j].Expires) {
			m[k] = i
		}
	}
	l.exact, l.domain, l.sub = map[addrKey]int32{}, map[string]int32{}, map[string]int32{}
	l.localSub, l.local = map[addrKey]int32{}, map[string]int32{}
	for i := range entries {
		p, n := &entries[i].Pattern, int32(i)
		sub, isSub := strings.CutPrefix(p.domain, ".")
		switch {
		case p.any:
			l.all = append(l.all, n)
		case p.null:
			l.null = append(l.null, n)
		case p.raw == "" && p.local == "" && p.domain == "":
			// the zero Pattern
		case p.local == "" && p.domain == "":
			l.anyAddr = append(l.anyAddr, n)
		case p.local == "" && isSub:
			put(l.sub, sub, n)
		case p.local == "":
			put(l.domain, p.domain, n)
		case p.domain == "":
			put(l.local, p.local, n)
		case isSub:
			putKey(l.localSub, addrKey{p.local, sub}, n)
		default:
			putKey(l.exact, addrKey{p.local, p.domain}, n)
		}
	}
	for _, s := range []*[]int32{&l.anyAddr, &l.all, &l.null} {
		slices.SortStableFunc(*s, func(a, b int32) int {
			switch ea, eb := entries[a].Expires, entries[b].Expires; {
			case outlives(ea, eb):
				return -1
			case outlives(eb, ea):
				return 1
			}
			return 0
		})
		*s = (*s)[:min(len(*s), 1)] // the best one decides for all
	}
	return l
}

// Len returns the number of entries.
func (l AddrList) Len() int { return len(l.entries) }

// Entries returns a copy of the entries, in the order given.
func (l AddrList) Entries() []AddrEntry { return slices.Clone(l.entries) }

// Contains reports whether a live entry matches addr at at (zero: now).
func (l AddrList) Contains(addr string, at time.Time) bool {
	_, ok := l.Lookup(addr, at)
	return ok
}

// Lookup returns an entry live at at (zero: now) that matches addr, a bare
// address (angle brackets are ignored) or "" for the null sender. Of the
// entries that match it names the most specific: the exact address, then
// *@domain, then user@*.domain and *@*.domain from the closest parent
// domain out, then user@*, *@* and *.
func (l AddrList) Lookup(addr string, at time.Time) (AddrEntry, bool) {
	if len(l.entries) == 0 {
		return AddrEntry{}, false
	}
	live := func(i int32, ok bool) bool {
		if !ok {
			return false
		}
		e := &l.entries[i]
		if e.Expires.IsZero() {
			return true
		}
		if at.IsZero() {
			at = time.Now()
		}
		return e.Live(at)
	}
	first := func(s []int32) (int32, bool) {
		if len(s) == 0 {
			return 0, false
		}
		return s[0], true
	}
	found := func(i int32) (AddrEntry, bool) { return l.entries[i], true }
	if addr == "" || addr == "<>" {
		for _, s := range [][]int32{l.null, l.all} {
			if i, ok := first(s); live(i, ok) {
				return found(i)
			}
		}
		return AddrEntry{}, false
	}
	local, domain := SplitAddress(addr)
	local = strings.ToLower(local)
	if i, ok := l.exact[addrKey{local, domain}]; live(i, ok) {
		return found(i)
	}
	if i, ok := l.domain[domain]; live(i, ok) {
		return found(i)
	}
	for d := domain; ; {
		dot := strings.IndexByte(d, '.')
		if dot < 0 {
			break
		}
		d = d[dot+1:]
		if i, ok := l.localSub[addrKey{local, d}]; live(i, ok) {
			return found(i)
		}
		if i, ok := l.sub[d]; live(i, ok) {
			return found(i)
		}
	}
	if i, ok := l.local[local]; live(i, ok) {
		return found(i)
	}
	for _, s := range [][]int32{l.anyAddr, l.all} {
		if i, ok := first(s); live(i, ok) {
			return found(i)
		}
	}
	return AddrEntry{}, false
}
