// Package lists parses and looks up the lists operators keep: named IP
// lists ([IPList]) and address and domain lists ([AddrList]), written
// inline in the config, in files, or kept in the store and edited by
// `mailwarden list`. It is a leaf package, so that the config, the rules
// and the checks (list.<name>, sender.approved, sender.blocked)
// share one parser and one lookup. Package policy wraps [IPList] as its
// NetList and uses [Pattern] for the senders and recipients of rules.
//
// # Text form
//
// Entries are separated by commas, semicolons, spaces, tabs or newlines. A
// # at the start of a line or right after a separator starts a comment that
// runs to the end of the line; it is the comment of every entry on that
// line, and a match names it. A comment that begins with "expires DATE"
// (also "expires: DATE", "expires=DATE") gives those entries an expiry,
// and the rest of the comment is their note:
//
//	192.0.2.0/24, 198.51.100.7   # spam run, ticket 42
//	203.0.113.9                  # expires 2026-01-31 compromised host
//	*@*.example.net              # expires 2026-01-31T12:00:00+09:00
//
// DATE is RFC 3339, or a date (UTC midnight, so the entry stops matching
// as that day begins in UTC) or a date and time without a zone (UTC). A
// malformed date is an error, never an entry that silently does not
// expire. A # inside a field (an address local part may hold one) is text;
// a double-quoted part of a field ("john smith"@example.com) keeps its
// separators.
//
// Every problem is reported ([Error]: the text's index, its line and the
// entry), and the entries that parse are kept.
//
// # Expiry
//
// Every entry may carry an expiry ([Item.Expires], zero for never): from
// that instant on it no longer matches, without a reload. Lookups take the
// time as at, zero meaning now, like the store's methods.
//
// # Lookups
//
// [IPList.Lookup] is a binary search over disjoint segments built once
// from the entries (overlapping and adjacent entries are merged into
// segments, each of which names one entry), so a lookup is O(log n)
// whatever the overlaps and expiries. [AddrList.Lookup] is a few map lookups
// per label of the domain.
package lists
