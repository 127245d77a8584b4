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
// # Ambiguous MIME is flagged, and every reading is scanned
//
// When two readers can see different structures in one message, a filter
// that picks one can be walked around (CVE-2024-28054: amavisd-new used the
// first of two boundary parameters, mail clients the last). So:
//   - two boundary parameters with different values (in any RFC 2231
//     form), two different Content-Type or Content-Transfer-Encoding
//     fields, and a multipart with a base64 or quoted-printable encoding
//     (which RFC 2045 section 6.4 forbids, and some readers undo) are a
//     [FindingAmbiguous] finding, and the entity is walked once per
//     reading: the parts, file names and decoded text of every reading go
//     into the [Message], so that the GTUBE search and keyword checks see
//     what any mail client might show. The first reading is the
//     RFC-conforming one; the others are named "~N" in Where ("part:~2.1",
//     "part:1~3"). [Limits].MaxReadings bounds the extra readings of a
//     message, and the part, depth and text limits are shared by all of
//     them; going over it is a [FindingExclusion];
//   - a charset parameter given twice with different values keeps the
//     text in each charset;
//   - a file name parameter given twice, or Content-Disposition and
//     Content-Type naming different files: every name goes into
//     [Message.Attachments], and the repetition is flagged;
//   - a From, To, Subject or other RFC 5322 section 3.6 single field given
//     twice, and a missing closing boundary are flagged (the last part
//     then runs to the end of the body and is still scanned).
//
// # Bare CR line ends
//
// RFC 5322 section 2.3 allows CR only before LF, but some mail ends its
// lines with a bare CR, and a parser that splits on LF alone then sees one
// header line and nothing else. A bare CR is a [FindingMalformed] finding
// with Value "bare-cr" and Where "message". When the header has them (or
// the message has no LF at all), the main reading takes them as line ends,
// as mail clients that accept them do; otherwise the main reading keeps
// them as text. The other reading is walked too, as "~cr", whenever the
// bare CRs sit where they change the structure: in a header field or
// before a boundary delimiter. "\r\r\n", a common mailer bug, is one line
// end and no finding.
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
// Declared charsets are read through the WHATWG encoding standard's labels,
// as mail clients and browsers read them: "iso-8859-1", "latin1" and
// "us-ascii" are windows-1252 (0x80–0x9F are "€", "™", curly quotes, not
// C1 controls), "gb2312" is GBK, "ks_c_5601-1987" is EUC-KR (CP949). Mail
// labels the standard lacks are added: cp932, ms932, x-sjis, cp949,
// chinesebig5, cp936 and others. Labels it maps to its "replacement"
// decoder (iso-2022-kr, hz-gb-2312) count as unknown, so that their text is
// still guessed and scanned instead of turning into one U+FFFD. Shift_JIS,
// CP932 and Windows-31J all decode with the WHATWG Shift_JIS table, which
// includes the NEC and IBM extensions (①, ㈱, 髙). UTF-7 (RFC 2152),
// which x/text lacks, is decoded by [UTF7], hand-written and lenient, in
// encoded words and text bodies alike; it is registered with go-message's
// charset package too.
//
// Text without a usable charset (raw 8-bit header text, a text part
// without a charset parameter, or one in an unknown charset) is decoded by
// a [Decoder]: ASCII and valid UTF-8 as they are (in headers, RFC 6532),
// ISO-2022-JP by its escapes, and anything else by weighing the whole text:
// first against the charsets the message declares elsewhere (charset
// parameters and encoded-word charsets of every part; [ParseBytes] decodes
// the top-level header and undeclared text after the walk, so that the
// whole message's declarations are known), then against Shift_JIS, EUC-JP,
// EUC-KR, GBK and Big5, which win only when the bytes fit them better than
// they fit windows-1252 (a lone "\xa3" before a digit is "£", not half-width
// katakana), and ties go to Japanese. Every guess is a
// [FindingCharsetGuessed] finding naming the charset chosen and how; raw
// 8-bit header text that is not UTF-8 is also a [FindingMalformed]. Code
// that decodes a header before the body is seen (a milter at end of
// headers) gives a [Decoder] the header's fields with [Decoder.Declare].
//
// [EncodeHeader] and [TagSubject] write header values back for milter
// header changes, as RFC 2047 UTF-8 B encoded words folded at 76 columns.
package message
