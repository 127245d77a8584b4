// Package message turns a raw RFC 5322 message into the model that content
// checks work on: decoded headers, the leaf MIME parts with their file names,
// the decoded text of the text parts, and findings for everything anomalous.
//
// [Parse] never fails and never panics. What it cannot understand becomes a
// [FindingMalformed] finding whose Where says where ("header:Subject",
// "body", "part:1.2", "part:1.2/header:Content-Type") and whose Reason says
// what; parsing then goes on with the next part. Content past a [Limits]
// bound is left unscanned and reported as [FindingExclusion] with the limit
// in Value ("mime.max_depth=20"), so that rules can decide what unscanned
// content means (design rule 5: bounded everything, never a silent pass).
//
// # Ambiguous MIME is flagged, not guessed
//
// When two readers can see different structures in one message, a filter
// that picks one can be walked around (CVE-2024-28054: amavisd-new used the
// first of two boundary parameters, mail clients the last). So:
//   - two boundary parameters (in any RFC 2231 form), two different
//     Content-Type or Content-Transfer-Encoding fields: the entity is
//     flagged and kept as one opaque part whose raw bytes go into
//     [Message.Text], so keyword checks still see them;
//   - a file name parameter given twice, or Content-Disposition and
//     Content-Type naming different files: every name goes into
//     [Message.Attachments], and the repetition is flagged;
//   - a multipart with a transfer encoding, a From, To, Subject or other
//     RFC 5322 section 3.6 single field given twice, and a missing closing
//     boundary are flagged (the last part then runs to the end of the body
//     and is still scanned).
//
// # Why the MIME walk is not go-message's
//
// The house guide names github.com/emersion/go-message for MIME. This
// package uses its charset registry (and registers cp932, Windows-31J and
// other Japanese aliases there for every other package), but walks the MIME
// tree itself over the message bytes, because go-message's walk cannot be
// made lenient and bounded from outside:
//   - textproto.ReadHeader rejects a whole part for one malformed line, and
//     part header blocks are unbounded;
//   - mime.ParseMediaType, used for Content-Type, drops the whole header on
//     a duplicate parameter instead of reporting it, and decodes RFC 2231
//     values only in UTF-8 and US-ASCII, while Japanese mail uses
//     ISO-2022-JP and Shift_JIS there;
//   - its header decoding returns the whole header raw when one encoded
//     word has an unknown charset;
//   - the standard base64 and quoted-printable readers stop at the first
//     bad byte, and the rest of the part would go unscanned.
//
// Working on one byte slice also means part bodies are never copied: only
// the text kept for content checks is, up to Limits.MaxDecodedBytes.
// [ParseBytes] avoids even the copy [Parse] makes of its reader.
//
// # Charsets
//
// Headers are decoded by [DecodeHeader]: RFC 2047 encoded words one charset
// run at a time, raw UTF-8 (RFC 6532, not a finding), raw ISO-2022-JP
// escapes, and raw Shift_JIS or EUC-JP, which are guessed and reported as
// "8-bit bytes in header that are not UTF-8". Text parts are transcoded from
// their charset parameter; without one, ASCII and UTF-8 pass, ISO-2022-JP is
// recognised by its escapes, and other 8-bit text is guessed the same way.
// Shift_JIS, CP932 and Windows-31J all decode with the WHATWG Shift_JIS
// table, which includes the NEC and IBM extensions (①, ㈱, 髙).
//
// [EncodeHeader] and [TagSubject] write header values back for milter
// header changes, as RFC 2047 UTF-8 B encoded words folded at 76 columns.
package message
