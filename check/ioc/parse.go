package ioc

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"

	"github.com/mailwarden/mailwarden/scanner/urls"
)

// Kind is what an entry of a list is.
type Kind uint8

// The kinds of entries.
const (
	KindNone Kind = iota
	KindDomain
	KindURL
	KindIP // an address or a CIDR network
	KindEmail
	KindSHA256
)

func (k Kind) String() string {
	return [...]string{"none", "domain", "url", "ip", "email", "sha256"}[k]
}

// Entry is one recognised entry: its kind and its key, the normalised
// form it is matched by.
type Entry struct {
	Kind Kind
	// Key is the lower-case domain (IDN in punycode, no final dot), the
	// URL as host and path without scheme, port or fragment
	// ("evil.example/login"), the lower-case address, or the hash in
	// lower-case hex; for KindIP, Net.String().
	Key string
	Net netip.Prefix // KindIP
	Sum [32]byte     // KindSHA256
}

// ErrUnrecognised is what a line that holds no entry wraps.
var ErrUnrecognised = errors.New("ioc: not a domain, URL, IP address or network, email address or SHA-256 value")

// maxLine bounds a line; a longer one is unrecognised.
const maxLine = 16 << 10

var lookupProfile = idna.New(idna.MapForLookup(), idna.Transitional(false))

// refang undoes the usual defanging of threat reports: evil[.]example,
// hxxps://, user[@]example.
func refang(s string) string {
	if strings.ContainsAny(s, "[({") {
		s = strings.NewReplacer("[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "(dot)", ".",
			"[@]", "@", "[at]", "@", "(at)", "@", "[:]", ":", "[://]", "://", "[/]", "/").Replace(s)
	}
	if len(s) > 4 && strings.EqualFold(s[:4], "hxxp") {
		s = "htt" + s[3:]
	} else if len(s) > 6 && strings.EqualFold(s[:6], "fxp://") {
		s = "ftp://" + s[6:]
	}
	return s
}

// Normalise is the entry v stands for, its kind detected, or hinted by a
// CSV type column (KindNone: detect).
func Normalise(v string, hint Kind) (Entry, error) {
	v = refang(strings.TrimSpace(v))
	if v == "" {
		return Entry{}, fmt.Errorf("%w: empty", ErrUnrecognised)
	}
	try := func(k Kind) (Entry, bool) {
		switch k {
		case KindSHA256:
			s := v
			if len(s) > 7 && strings.EqualFold(s[:7], "sha256:") {
				s = s[7:]
			}
			if len(s) != 64 {
				return Entry{}, false
			}
			var e Entry
			if _, err := hex.Decode(e.Sum[:], []byte(s)); err != nil {
				return Entry{}, false
			}
			e.Kind, e.Key = KindSHA256, hex.EncodeToString(e.Sum[:])
			return e, true
		case KindIP:
			if strings.Trim(v, "0123456789abcdefABCDEF.:/[]") != "" {
				return Entry{}, false // not worth netip's error
			}
			if p, err := netip.ParsePrefix(v); err == nil {
				if p.Addr().Zone() != "" {
					return Entry{}, false
				}
				if p.Addr().Is4In6() && p.Bits() >= 96 {
					p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
				}
				p = p.Masked()
				return Entry{Kind: KindIP, Key: p.String(), Net: p}, true
			}
			s := strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
			if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
				a = a.Unmap()
				p := netip.PrefixFrom(a, a.BitLen())
				return Entry{Kind: KindIP, Key: p.String(), Net: p}, true
			}
		case KindEmail:
			s := v
			if len(s) > 7 && strings.EqualFold(s[:7], "mailto:") {
				s = s[7:]
			}
			s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
			if k, ok := emailKey(s); ok {
				return Entry{Kind: KindEmail, Key: k}, true
			}
		case KindURL:
			s := v
			if !strings.Contains(s, "://") {
				s = "http://" + s
			}
			u, ok := urls.Parse(s, maxLine)
			if !ok || u.Host == "" || !u.IP.IsValid() && !validDomain(u.Host) {
				return Entry{}, false
			}
			return Entry{Kind: KindURL, Key: URLKey(u)}, true
		case KindDomain:
			if d, ok := DomainKey(v); ok {
				return Entry{Kind: KindDomain, Key: d}, true
			}
		}
		return Entry{}, false
	}
	if hint != KindNone {
		if e, ok := try(hint); ok {
			return e, nil
		}
		return Entry{}, fmt.Errorf("%w: %q is not a valid %s", ErrUnrecognised, cut(v), hint)
	}
	order := []Kind{KindSHA256, KindIP}
	switch {
	case strings.Contains(v, "://"):
		order = append(order, KindURL)
	case strings.ContainsRune(v, '@') && !strings.ContainsAny(v, "/?"), len(v) > 7 && strings.EqualFold(v[:7], "mailto:"):
		order = append(order, KindEmail)
	case strings.ContainsAny(v, "/?"):
		order = append(order, KindURL)
	default:
		order = append(order, KindDomain)
	}
	for _, k := range order {
		if e, ok := try(k); ok {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("%w: %q", ErrUnrecognised, cut(v))
}

// DomainKey is the normal form of a domain name: lower case, IDN in
// punycode (RFC 5891), without a final dot or a leading "*." or "."; it
// reports false for anything that is not a name of two labels or more.
func DomainKey(s string) (string, bool) {
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "*."), ".")
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		s = strings.ToLower(s)
	} else {
		a, err := lookupProfile.ToASCII(s)
		if err != nil {
			return "", false
		}
		s = a
	}
	if !validDomain(s) {
		return "", false
	}
	return s, true
}

// validDomain reports whether s is a lower-case ASCII name of two labels
// or more whose last is not all digits (that would be an IP address).
func validDomain(s string) bool {
	if len(s) == 0 || len(s) > 253 || !strings.Contains(s, ".") {
		return false
	}
	digits := true
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if n == 0 {
				return false
			}
			n, digits = 0, true
			continue
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c == '-', c == '_':
			digits = false
		default:
			return false
		}
		n++
		if n > 63 {
			return false
		}
	}
	return n > 0 && !digits
}

// emailKey is the normal form of an address: the local part lower case,
// the domain as [DomainKey].
func emailKey(s string) (string, bool) {
	i := strings.LastIndexByte(s, '@')
	if i <= 0 || i > 256 || strings.ContainsAny(s[:i], " \t<>,;\"") {
		return "", false
	}
	d, ok := DomainKey(s[i+1:])
	if !ok {
		return "", false
	}
	return strings.ToLower(s[:i]) + "@" + d, true
}

// URLKey is what a URL is matched by: host and path, query included,
// without scheme, port or fragment; "/" for an empty path.
func URLKey(u urls.URL) string {
	rest := u.Rest
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" || rest[0] != '/' {
		rest = "/" + rest
	}
	h := u.Host
	if u.IP.Is6() {
		h = "[" + h + "]"
	}
	return h + rest
}

func cut(s string) string {
	if len(s) <= 80 {
		return s
	}
	n := 80
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// Format is how a list file is written.
type Format string

// The formats.
const (
	FormatAuto  Format = "auto"
	FormatLines Format = "lines"
	FormatCSV   Format = "csv"
)

// Parsed is one line's entry, or why it holds none.
type Parsed struct {
	Line  int    // from 1
	Text  string // the value as listed
	Entry Entry
	Err   error // wraps ErrUnrecognised; Entry is then zero
}

// typeWords name the kinds in CSV type columns (MISP, OpenCTI, OTX and
// the like); a known word for a kind not matched gives an error.
var typeWords = map[string]Kind{
	"domain": KindDomain, "hostname": KindDomain, "host": KindDomain, "fqdn": KindDomain, "domain-name": KindDomain, "domain_name": KindDomain,
	"url": KindURL, "uri": KindURL, "link": KindURL,
	"ip": KindIP, "ip-dst": KindIP, "ip-src": KindIP, "ipv4": KindIP, "ipv6": KindIP, "ipv4-addr": KindIP, "ipv6-addr": KindIP,
	"ip_address": KindIP, "ip-address": KindIP, "cidr": KindIP, "network": KindIP, "ip-range": KindIP, "netblock": KindIP,
	"email": KindEmail, "email-src": KindEmail, "email-dst": KindEmail, "email-addr": KindEmail, "email_address": KindEmail, "mail": KindEmail, "sender": KindEmail,
	"sha256": KindSHA256, "sha-256": KindSHA256, "filehash-sha256": KindSHA256, "file-sha256": KindSHA256, "hash": KindNone,
}

// unsupportedTypes are type words for values this check does not match.
var unsupportedTypes = map[string]bool{"md5": true, "sha1": true, "sha-1": true, "sha512": true, "ssdeep": true,
	"filehash-md5": true, "filehash-sha1": true, "imphash": true, "tlsh": true, "filename": true, "mutex": true, "yara": true}

// valueWords name a CSV header's value column.
var valueWords = map[string]bool{"value": true, "indicator": true, "ioc": true, "observable": true,
	"ioc_value": true, "indicator_value": true, "data": true, "object": true}

// typeColumnWords name a CSV header's type column.
var typeColumnWords = map[string]bool{"type": true, "kind": true, "ioc_type": true, "indicator_type": true, "object_type": true}

// Parse reads a list from r, calling each for every line that holds an
// entry or a problem (not blank lines, comments or a CSV header), in
// order; it stops early when each returns false. name decides the auto
// format (".csv"). A UTF-8 byte order mark and CRLF line ends are taken
// in their stride; "#" starts a comment at the start of a line or after
// white space. Only a read error is an error.
func Parse(r io.Reader, name string, format Format, each func(Parsed) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	p := &parser{format: format, valueCol: -1, typeCol: -1}
	if p.format == "" {
		p.format = FormatAuto
	}
	if p.format == FormatAuto && strings.HasSuffix(strings.ToLower(name), ".csv") {
		p.format = FormatCSV
	}
	for n := 1; ; n++ {
		line, long, err := readLine(br)
		if err != nil && err != io.EOF {
			return fmt.Errorf("ioc: %s:%d: %w", name, n, err)
		}
		if len(line) == 0 && err == io.EOF && !long {
			return nil
		}
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		var out Parsed
		var ok bool
		if long {
			out, ok = Parsed{Line: n, Err: fmt.Errorf("%w: line longer than %d bytes", ErrUnrecognised, maxLine)}, true
		} else {
			out, ok = p.line(n, string(line))
		}
		if ok && !each(out) {
			return nil
		}
		if err == io.EOF {
			return nil
		}
	}
}

// readLine reads one line without its end (LF or CRLF); a line past
// maxLine is skipped to its end and reported long.
func readLine(br *bufio.Reader) (line []byte, long bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !long {
			if len(line)+len(chunk) > maxLine+2 {
				long, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		return line, long, err
	}
}

type parser struct {
	format   Format
	started  bool // the first data line has been seen
	valueCol int  // CSV: the value column, -1 until known
	typeCol  int  // CSV: the type column, or -1
	hint     Kind // CSV: the kind a header names for the value column
}

// stripComment removes a "#" comment at the start or after white space.
func stripComment(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "#") {
		return ""
	}
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

func (p *parser) line(n int, raw string) (Parsed, bool) {
	s := stripComment(raw)
	if s == "" {
		return Parsed{}, false
	}
	if !p.started {
		p.started = true
		if p.format == FormatAuto {
			p.format = FormatLines
			if strings.ContainsAny(s, ",") {
				if _, err := Normalise(s, KindNone); err != nil {
					p.format = FormatCSV
				}
			}
		}
		if p.format == FormatCSV && p.header(splitCSV(s)) {
			return Parsed{}, false
		}
	}
	if p.format == FormatLines {
		if strings.ContainsAny(s, " \t") {
			return Parsed{Line: n, Text: cut(s), Err: fmt.Errorf("%w: %q has white space inside", ErrUnrecognised, cut(s))}, true
		}
		e, err := Normalise(s, KindNone)
		return Parsed{Line: n, Text: s, Entry: e, Err: err}, true
	}
	return p.record(n, splitCSV(s)), true
}

// header reads a CSV header, if fields are one: a value column named
// value, indicator, ... or for a kind (url, domain, sha256, ...), and
// perhaps a type column. A first line none of whose fields is an entry
// is taken for a header too, without known columns; one with an entry
// is data.
func (p *parser) header(fields []string) bool {
	for _, f := range fields {
		if _, err := Normalise(f, KindNone); err == nil {
			return false // data, not a header
		}
	}
	named := false
	for i, f := range fields {
		w := strings.ToLower(strings.TrimSpace(f))
		switch {
		case valueWords[w] && p.valueCol < 0:
			p.valueCol, named = i, true
		case typeColumnWords[w] && p.typeCol < 0:
			p.typeCol, named = i, true
		}
	}
	if p.valueCol < 0 {
		for i, f := range fields {
			w := strings.ToLower(strings.TrimSpace(f))
			if k, ok := typeWords[w]; ok && w != "hash" && w != "host" {
				p.valueCol, p.hint, named = i, k, true
				break
			}
		}
	}
	if named {
		if p.valueCol < 0 { // a type column alone: the value is the next one
			p.valueCol = p.typeCol + 1
		}
	}
	return true
}

// record reads one CSV record. Without a header, the first record fixes
// the layout: "type,value" pairs when its first field is a type word,
// else the first field that is an entry.
func (p *parser) record(n int, fields []string) Parsed {
	if p.valueCol < 0 {
		if len(fields) >= 2 && isTypeWord(fields[0]) {
			p.typeCol, p.valueCol = 0, 1
		} else {
			for i, f := range fields {
				if _, err := Normalise(f, KindNone); err == nil {
					p.valueCol = i
					break
				}
			}
		}
		if p.valueCol < 0 {
			return Parsed{Line: n, Text: cut(strings.Join(fields, ",")), Err: fmt.Errorf("%w: no field is one", ErrUnrecognised)}
		}
	}
	if p.valueCol >= len(fields) {
		return Parsed{Line: n, Text: cut(strings.Join(fields, ",")), Err: fmt.Errorf("%w: no column %d", ErrUnrecognised, p.valueCol+1)}
	}
	v := strings.TrimSpace(fields[p.valueCol])
	hint := p.hint
	if p.typeCol >= 0 && p.typeCol < len(fields) {
		w := strings.ToLower(strings.TrimSpace(fields[p.typeCol]))
		if unsupportedTypes[w] {
			return Parsed{Line: n, Text: cut(v), Err: fmt.Errorf("%w: type %q is not matched (only SHA-256 hashes are)", ErrUnrecognised, w)}
		}
		if k, ok := typeWords[w]; ok {
			hint = k
		}
	}
	e, err := Normalise(v, hint)
	return Parsed{Line: n, Text: v, Entry: e, Err: err}
}

func isTypeWord(s string) bool {
	w := strings.ToLower(strings.TrimSpace(s))
	_, ok := typeWords[w]
	return ok || unsupportedTypes[w]
}

// maxFields bounds the fields of a CSV record.
const maxFields = 64

// splitCSV splits one CSV line (RFC 4180, within a line): fields
// separated by commas, a quoted field's "" an escaped quote. An
// unterminated quote runs to the end of the line.
func splitCSV(s string) []string {
	var out []string
	for len(out) < maxFields {
		t := strings.TrimLeft(s, " \t")
		if strings.HasPrefix(t, `"`) {
			var b strings.Builder
			i := 1
			for i < len(t) {
				if t[i] == '"' {
					if i+1 < len(t) && t[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(t[i])
				i++
			}
			out = append(out, b.String())
			rest := t[i:]
			j := strings.IndexByte(rest, ',')
			if j < 0 {
				return out
			}
			s = rest[j+1:]
			continue
		}
		j := strings.IndexByte(s, ',')
		if j < 0 {
			return append(out, strings.TrimSpace(s))
		}
		out = append(out, strings.TrimSpace(s[:j]))
		s = s[j+1:]
	}
	return out
}
