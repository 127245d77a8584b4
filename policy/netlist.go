package policy

import (
	"net/netip"
	"time"

	"github.com/mailwarden/mailwarden/policy/lists"
)

// NetList is a list of networks in any form [lists.ParseRange] takes,
// looked up in O(log n): trusted_networks, a rule's clients, in_net. It is
// a [lists.IPList] whose lookups are at the time of the call.
type NetList struct{ lists.IPList }

// ParseNetList parses list elements, each of which may hold several
// entries separated by commas, semicolons or white space, and # comments.
// It returns every problem, and keeps the entries that parse.
func ParseNetList(items []string) (NetList, []error) {
	l, errs := lists.ParseIPList(items...)
	return NetList{l}, errs
}

// Contains reports whether an entry holds ip.
func (l NetList) Contains(ip netip.Addr) bool { return l.IPList.Contains(ip, time.Time{}) }

// Lookup returns the entry that holds ip, as [lists.IPList.Lookup] picks it.
func (l NetList) Lookup(ip netip.Addr) (lists.IPEntry, bool) { return l.IPList.Lookup(ip, time.Time{}) }
