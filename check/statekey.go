package check

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
)

// Network aggregates a client address to the network that state is kept
// for: its /v4 for IPv4 (an IPv4-mapped IPv6 address counts as IPv4), its
// /v6 for IPv6, so one sender retrying or spreading from many addresses of
// its network is one key. The zone of a link-local address is dropped. An
// invalid address gives the zero prefix.
func Network(ip netip.Addr, v4, v6 int) netip.Prefix {
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	ip = ip.Unmap().WithZone("")
	bits := v6
	if ip.Is4() {
		bits = v4
	}
	p, err := ip.Prefix(bits)
	if err != nil { // bits out of range: validation rules it out
		return netip.PrefixFrom(ip, ip.BitLen())
	}
	return p
}

// maxReadableKey is the longest state key kept as written; longer ones are
// hashed (see [StateKey]).
const maxReadableKey = 256

// StateKey joins a check's prefix and the parts of a key for the state
// store ("throttle.inbound-ip|192.0.2.0/24"). A hostile client controls
// addresses, so a key longer than a few hundred bytes is replaced by the
// prefix and a SHA-256 of the parts: the store's key bound
// (store.MaxKeyLen) is never reached, and distinct keys stay distinct.
func StateKey(prefix string, parts ...string) string {
	k := prefix + "|" + strings.Join(parts, "|")
	if len(k) <= maxReadableKey {
		return k
	}
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + "|sha256:" + hex.EncodeToString(h.Sum(nil))
}
