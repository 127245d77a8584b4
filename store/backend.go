package store

import (
	"context"
	"errors"
	"time"
)

// ErrInvalid reports an argument a backend refuses: a window or TTL that is
// not positive, a negative increment, an empty list name, a limit that is
// not positive, or a key, value or note over its bound ([MaxKeyLen],
// [MaxValueLen]).
var ErrInvalid = errors.New("store: invalid argument")

// The interfaces below split the store by consumer; each caller takes the
// one it uses. [*Store] (SQLite) implements them all, and every backend must
// pass the conformance suite in store/storetest.

// EventLog is the message-tracking log: the milter appends rows, the `log`
// command and the consoles read them.
type EventLog interface {
	// AddEvents appends events in one transaction and sets each ID; on
	// error none is stored. A row whose Key is stored already is not
	// stored again and gets the stored row's ID.
	AddEvents(ctx context.Context, events []*Event) error
	// Events returns the events matching q, newest first (the later added
	// first among equal times), each with its recipients in order.
	Events(ctx context.Context, q EventQuery) ([]Event, error)
}

// Quarantine holds quarantined copies until they are released, deleted or
// pruned.
type Quarantine interface {
	// AddQuarantine stores q and returns only once it is durable: the
	// milter answers the MTA after it. It sets q.ID, q.Digest, and zero
	// q.Time and q.Size.
	AddQuarantine(ctx context.Context, q *QuarantineEntry) (string, error)
	// ListQuarantine returns matching entries newest first, without Raw.
	ListQuarantine(ctx context.Context, q QuarantineQuery) ([]QuarantineEntry, error)
	// GetQuarantine returns one entry with Raw; [ErrNotFound] when there is
	// none, [ErrCorrupt] (with the entry) when Raw fails its digest.
	GetQuarantine(ctx context.Context, id string) (*QuarantineEntry, error)
	// DeleteQuarantine removes an entry; [ErrNotFound] when there is none.
	DeleteQuarantine(ctx context.Context, id string) error
	// MarkReleased records releases of an entry to recipients (all of them
	// when rcpts is empty); [ErrNotFound], changing nothing, when the entry
	// or a recipient is not there.
	MarkReleased(ctx context.Context, id string, rcpts []string, at time.Time) error
	// ResolveQuarantineID maps a unique ID prefix of at least [MinIDPrefix]
	// hex digits to the ID; [ErrNotFound] or [ErrAmbiguous] otherwise.
	ResolveQuarantineID(ctx context.Context, prefix string) (string, error)
}

// ReleaseClaims makes a release token usable once per recipient.
type ReleaseClaims interface {
	// ClaimRelease records the use of nonce for rcpts and returns those
	// claimed now, spelled as given; a recipient claimed before under the
	// same nonce (case-insensitively) is left out.
	ClaimRelease(ctx context.Context, nonce string, rcpts []string, at time.Time) ([]string, error)
}

// Pruner deletes what is past its retention.
type Pruner interface {
	// Prune deletes events (and release claims) older than eventsBefore
	// and quarantine entries older than quarantineBefore; a zero time
	// leaves that kind alone.
	Prune(ctx context.Context, eventsBefore, quarantineBefore time.Time) (events, quarantined int64, err error)
}

// State is what checks keep between messages: [Counters], [Entries] and
// [Lists]. Unlike the log and the quarantine it can be recomputed, so a
// backend may trade durability for latency on counters and entries (the
// SQLite one does, see the package doc), but never on lists, which an
// operator edits by hand.
//
// Methods that depend on time take it as at, zero meaning now, so that
// hosts sharing one backend and tests agree on windows and expiry.
type State interface {
	Counters
	Entries
	Lists
	// PruneState deletes the entries and list items expired at at and the
	// counter buckets that no window reaching at still covers, and returns
	// how many rows it deleted. Reads already ignore them; pruning bounds
	// the space.
	PruneState(ctx context.Context, at time.Time) (int64, error)
}

// Counters count events per key over a sliding window, for throttling
// (connections per client IP, recipients per sender per hour) and the IP
// profiler.
//
// A counter is named by its key and its window together: the same key with
// two windows is two counters. Keys are opaque strings of at most
// [MaxKeyLen] bytes; give each check a prefix ("throttle.ip:192.0.2.1") and
// hash a key that could be longer.
//
// The window slides in steps of a sixteenth: a counter keeps the window
// divided into 16 buckets of ceil(window/16), and Count at t is the sum of
// t's bucket and the 16 before it. So the count at t includes every
// increment in (t-window, t], and may include ones up to window/16 (plus
// rounding) older: a limit is sometimes reached up to a sixteenth of the
// window early, never late. A counter holds at most 17 buckets.
type Counters interface {
	// Incr adds n (0 or more) to key's counter at at and returns the
	// count over the window ending at at, this increment included.
	Incr(ctx context.Context, key string, window time.Duration, n int64, at time.Time) (int64, error)
	// Count returns key's count over the window ending at at; 0 for a key
	// never incremented.
	Count(ctx context.Context, key string, window time.Duration, at time.Time) (int64, error)
	// ResetCounter forgets key's counts in every window, so that its next
	// Incr starts from zero (an operator lifting a profiler block); resetting
	// a key never counted is no error.
	ResetCounter(ctx context.Context, key string) error
}

// Entry is a value kept with a time to live, for greylisting triplets,
// throttle blocks ("blocked until") and profiler records.
type Entry struct {
	Value   []byte
	Stored  time.Time // the at of the write that stored Value; in UTC
	Expires time.Time // Stored + ttl; the entry is gone at and after Expires
}

// Entries are values that expire, in namespaces: (ns, key) names one entry.
// Namespaces and keys are at most [MaxKeyLen] bytes, values at most
// [MaxValueLen]; a ttl must be positive, so every entry goes away.
type Entries interface {
	// SetEntry stores value under (ns, key) from at until at+ttl,
	// replacing any entry there.
	SetEntry(ctx context.Context, ns, key string, value []byte, ttl time.Duration, at time.Time) error
	// AddEntry stores value like SetEntry unless a live (unexpired at at)
	// entry is there. It returns the entry now stored and whether it was
	// this call that stored it; of concurrent AddEntry calls for one
	// absent entry exactly one stores it.
	AddEntry(ctx context.Context, ns, key string, value []byte, ttl time.Duration, at time.Time) (e Entry, added bool, err error)
	// GetEntry returns the entry live at at, or an error wrapping
	// [ErrNotFound].
	GetEntry(ctx context.Context, ns, key string, at time.Time) (Entry, error)
	// DeleteEntry removes (ns, key); deleting an absent entry is no error.
	DeleteEntry(ctx context.Context, ns, key string) error
	// ListEntries returns the entries of ns live at at whose keys sort
	// after after (byte by byte; "" for the first page), ordered by key, at
	// most limit of them (a positive number), for the commands that list
	// blocks.
	ListEntries(ctx context.Context, ns, after string, limit int, at time.Time) ([]KeyedEntry, error)
}

// KeyedEntry is an entry with its key, as [Entries.ListEntries] returns it.
type KeyedEntry struct {
	Key string
	Entry
}

// ListItem is one value of a named list, with the operator's note.
type ListItem struct {
	// Value is compared byte for byte; callers normalise it (lower-cased
	// addresses, masked networks).
	Value string
	Note  string
	// Added is when the value entered the list; [Lists.ListPut] sets a
	// zero Added to now, and keeps the first Added of a value put again
	// (unless the value had expired by the new Added: then it is new).
	Added time.Time
	// Expires is when the value leaves the list; zero means never. Reads
	// at or after it no longer return the item, and [State.PruneState]
	// deletes it.
	Expires time.Time
}

// ListInfo describes one named list.
type ListInfo struct {
	Name    string
	Version int64
	Items   int // live at the at of the read
}

// Lists are named lists of values (IP networks, addresses) that the CLI
// edits and the daemon reloads when their version moves. Every call that
// changes a list raises its version by exactly one; a call that changes
// nothing (a value put again with the same note and expiry, the removal of
// an absent value) leaves it. A version never goes down, an emptied list
// included; a list never written has version 0 and no items.
//
// An item's expiry does not move the version, neither when it passes nor
// when [State.PruneState] deletes the item: a daemon holds the expiry with
// the item and stops matching it by itself. The removal of an expired
// item not yet pruned does move it.
type Lists interface {
	// ListPut adds items to list name, or updates the notes and expiries
	// of values already there, and returns the list's version after the
	// call.
	ListPut(ctx context.Context, name string, items ...ListItem) (version int64, err error)
	// ListRemove removes values from list name and returns the version
	// after the call.
	ListRemove(ctx context.Context, name string, values ...string) (version int64, err error)
	// ListItems returns the list's items live at at (zero: now), ordered
	// by value, and its version, read together.
	ListItems(ctx context.Context, name string, at time.Time) (items []ListItem, version int64, err error)
	// ListVersion returns the list's version, the cheap check a daemon
	// polls before reloading.
	ListVersion(ctx context.Context, name string) (int64, error)
	// Lists describes every list ever written, ordered by name, with the
	// number of items live at at (zero: now).
	Lists(ctx context.Context, at time.Time) ([]ListInfo, error)
}

// Correspondents answers from the tracking log whether a sender has
// written to a recipient before, for the first-time-sender check.
type Correspondents interface {
	// Corresponded reports whether a message from the envelope sender was
	// delivered to rcpt before (compared case-insensitively): logged by
	// AddEvents at end of message with the action accept or split and
	// the recipient's own outcome accept, and not yet pruned. The null
	// sender never corresponded.
	Corresponded(ctx context.Context, sender, rcpt string) (bool, error)
}

// Backend is everything the daemon needs of a store.
type Backend interface {
	EventLog
	Correspondents
	Quarantine
	ReleaseClaims
	Pruner
	State
	Bayes
}

const (
	// MaxKeyLen bounds state keys, entry namespaces, list names, list
	// values and notes, in bytes.
	MaxKeyLen = 1024
	// MaxValueLen bounds an entry's value, in bytes.
	MaxValueLen = 64 << 10
)

var _ Backend = (*Store)(nil)
