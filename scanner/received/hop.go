package received

import (
	"errors"
	"fmt"
	"net/netip"
)

// MaxHops is how many Received fields [FirstUntrusted] reads at most; a
// chain of known hosts longer than that is [ErrTooManyHops].
const MaxHops = 32

// Errors of [FirstUntrusted] besides those of [Parse]: each means the first
// untrusted hop is unknown, and the caller decides what that means (use the
// SMTP client's address, or skip the checks that need it).
var (
	// ErrNoClient: the SMTP client has no address (a pipe, a unix socket).
	ErrNoClient = errors.New("received: no client address")
	// ErrNoIP: a field written by a known host records no client address
	// ("by host (Postfix, from userid 0)", "from user by host with local").
	ErrNoIP = errors.New("received: no client address recorded")
	// ErrChainEnd: every recorded hop is a known host and the fields end.
	ErrChainEnd = errors.New("received: chain ends at a known host")
	// ErrTooManyHops: more than [MaxHops] known hosts in a row.
	ErrTooManyHops = errors.New("received: too many known hops")
)

// Hop is the answer of [FirstUntrusted].
type Hop struct {
	// IP is the first address that is not a known host; invalid when Err
	// is set.
	IP netip.Addr
	// HELO and ReverseName are what the known host recorded with IP (see
	// [Field]); empty when IP is the SMTP client's, which the caller knows.
	HELO        string
	ReverseName string
	// Index is the Received field that recorded IP, counted from the top
	// (0) as the fields were given; -1 when IP is the SMTP client itself.
	// When Err is set, it is the last field read (-1: none).
	Index int
	// Reason says how the answer was reached, for the tracking log.
	Reason string
	// Err is nil when IP is the answer; else it wraps [ErrNoClient],
	// [ErrNoIP], [ErrChainEnd], [ErrTooManyHops] or an error of [Parse].
	Err error
}

// FirstUntrusted finds the first hop of the relay chain that is not a
// known host. fields are the Received field values in header order
// (topmost, added last, first); client is the SMTP client's address; known
// says whether an address is a known host.
//
// When client is not a known host it is the answer. Otherwise the topmost
// field was written by this MTA or by the client, and each field written
// by a known host records the host that wrote the field below it, so the
// walk goes down while the recorded address is a known host and answers
// with the first one that is not. Only addresses that a known host
// recorded are used; a field below the answer is never read. A private or
// loopback address continues the walk only if known says so. The walk
// stops, with Err set, at a field that cannot be read or records no
// address, after [MaxHops] fields, or when the fields run out.
func FirstUntrusted(fields []string, client netip.Addr, known func(netip.Addr) bool) Hop {
	client = client.WithZone("").Unmap()
	if !client.IsValid() {
		return Hop{Index: -1, Err: ErrNoClient, Reason: "the SMTP client has no address"}
	}
	if known == nil || !known(client) {
		return Hop{IP: client, Index: -1, Reason: "SMTP client " + client.String() + " is not a known host"}
	}
	writer := client // who wrote fields[i]: for i == 0, this MTA or the client
	for i, v := range fields {
		if i == MaxHops {
			return Hop{Index: i - 1, Err: ErrTooManyHops,
				Reason: fmt.Sprintf("more than %d known hops; the Received fields below are not read", MaxHops)}
		}
		f, err := parse(v, false) // the walk needs no dates
		if err != nil {
			return Hop{Index: i, Err: err, Reason: where(i, f.By, writer) + " cannot be read: " + err.Error()}
		}
		if !f.IP.IsValid() {
			return Hop{Index: i, Err: ErrNoIP, Reason: where(i, f.By, writer) + " records no client address"}
		}
		if !known(f.IP) {
			kind := ""
			switch {
			case f.IP.IsLoopback():
				kind = " (a loopback address)"
			case f.IP.IsPrivate(), f.IP.IsLinkLocalUnicast():
				kind = " (a private address)"
			}
			return Hop{IP: f.IP, HELO: f.HELO, ReverseName: f.ReverseName, Index: i,
				Reason: fmt.Sprintf("%s records %s%s, which is not a known host", where(i, f.By, writer), f.IP, kind)}
		}
		writer = f.IP
	}
	if len(fields) == 0 {
		return Hop{Index: -1, Err: ErrChainEnd, Reason: "no Received fields below the known SMTP client " + client.String()}
	}
	return Hop{Index: len(fields) - 1, Err: ErrChainEnd,
		Reason: fmt.Sprintf("all %d Received fields record known hosts, the last %s", len(fields), writer)}
}

// where names field i, written by writer, for a Reason.
func where(i int, by string, writer netip.Addr) string {
	w := fmt.Sprintf("Received[%d]", i)
	if by != "" {
		w += " by " + by
	}
	if i == 0 {
		return w + " (written here or by the SMTP client " + writer.String() + ")"
	}
	return w + " (written by known host " + writer.String() + ")"
}
