// Package received reads Received trace fields (RFC 5321 section 4.4,
// RFC 5322 section 3.6.7) and finds the first hop of a relay chain that is
// not a known host.
//
// # Parsing
//
// [Parse] reads one field value leniently: the from clause's claimed name,
// the TCP-info comment after it (the reverse name and the client address the
// receiving MTA recorded), the by, via, with, id and for clauses, and the
// date after the semicolon. It knows the forms real MTAs write, which often
// differ from the RFC 5321 grammar:
//
//	Postfix, Sendmail     from HELO (rev.name [192.0.2.1])   also [IPv6:2001:db8::1], "unknown"
//	Google                from HELO (rev.name. [192.0.2.1])  also [2001:db8::1]
//	Exim                  from rev.name ([192.0.2.1]:port helo=HELO), from [192.0.2.1] (port=N helo=HELO)
//	qmail                 from rev.name (HELO name) (user@192.0.2.1)
//	Exchange, Office 365  from HELO (192.0.2.1), from HELO (2001:db8::1)
//	Courier               from HELO (rev.name [::ffff:192.0.2.1]) ... ; date id X
//
// Work is bounded: a field longer than [MaxFieldLen], with more than
// [MaxTokens] tokens or comments nested deeper than [MaxDepth] is refused
// with [ErrLimit] after one linear scan.
//
// # Why a line is refused rather than guessed
//
// The client controls the HELO name, and some MTAs write it unfiltered; a
// guess about where the MTA's own text starts is where a forgery gets in.
// So the address is taken only from a from-clause comment of TCP-info shape
// (RFC 5321 section 4.4: a name and an address literal, or an address
// alone, with nothing else but Exim's helo=, ident= and port= words), never
// from the from name itself (except Exim's bracketed address, which Exim
// writes only together with its own port=/helo= comment), and a field that
// has two such comments ([ErrAmbiguous]), a repeated clause, an unbalanced
// comment or an unterminated quoted string ([ErrMalformed]) yields no
// address at all. Current Postfix neuters parentheses, quotes, semicolons
// and "@" in the HELO name, Sendmail and Exim refuse such names by
// default, and qmail writes them as "?", so for them the TCP-info comment
// is the MTA's own text. An old Postfix, or a relay that copies a hostile
// HELO verbatim, can at most make a line unreadable, never make it name
// another address; so can a HELO with spaces that spells a clause keyword
// ("a by b", which Postfix accepts), since that is a repeated clause. A
// caller should therefore treat "unknown" as a fact worth a finding, not
// as a pass. RFC 5322 section 3.2.2 makes a quote inside a comment plain
// text, and so does [Parse].
//
// # The first untrusted hop
//
// [FirstUntrusted] walks the chain from the top: the topmost field was
// written by this MTA or by the SMTP client, which is a known host; each
// field written by a known host names the next host down, whose own field
// is the one below. The walk stops at the first recorded address that is
// not a known host. Fields below that hop are never read, so what the
// sender wrote there cannot matter.
package received
