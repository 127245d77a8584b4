package dns

import "errors"

// Not-found results. They are answers, not failures: a DNSBL reads either
// as "not listed". Both wrap [ErrNotFound], so errors.Is(err, ErrNotFound)
// tells them from a failed lookup.
var (
	// ErrNotFound is wrapped by [ErrNXDomain] and [ErrNoData].
	ErrNotFound = errors.New("dns: not found")
	// ErrNXDomain: the name does not exist (RCODE 3, RFC 1035 §4.1.1).
	ErrNXDomain = wrapNotFound("dns: no such domain (NXDOMAIN)")
	// ErrNoData: the name exists but has no record of the type asked
	// (RFC 2308 §2.2).
	ErrNoData = wrapNotFound("dns: no records of this type (NODATA)")
)

// Failures: the lookup gave no answer to go by. None of them wraps
// [ErrNotFound].
var (
	// ErrTimeout: no server answered within the timeout, or the caller's
	// context deadline passed first.
	ErrTimeout = errors.New("dns: timeout")
	// ErrServFail: the server answered SERVFAIL (RCODE 2).
	ErrServFail = errors.New("dns: server failure (SERVFAIL)")
	// ErrRefused: the server answered REFUSED (RCODE 5).
	ErrRefused = errors.New("dns: query refused (REFUSED)")
	// ErrNetwork: the server could not be reached (connection refused,
	// network unreachable).
	ErrNetwork = errors.New("dns: network error")
	// ErrBadResponse: an answer that does not parse or does not match the
	// question, or another RCODE (FORMERR, NOTIMP, ...).
	ErrBadResponse = errors.New("dns: bad response")
	// ErrBadName: the name asked is not a valid domain name.
	ErrBadName = errors.New("dns: invalid domain name")
	// ErrOffline: the resolver is in offline mode (mailwarden check
	// --offline) and answers nothing.
	ErrOffline = errors.New("dns: offline")
)

type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }
func (e *notFound) Unwrap() error { return ErrNotFound }

func wrapNotFound(msg string) error { return &notFound{msg} }
