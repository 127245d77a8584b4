package recipient

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Table is a set of valid recipients, read from files in one of two
// formats:
//
//   - a list: one entry per line;
//   - a Postfix lookup table source (the text postmap reads, as for
//     relay_recipient_maps or virtual_mailbox_maps): a key and a value per
//     line; the value is ignored, and a line starting with white space
//     continues the one before.
//
// In both, "#" starts a comment line, and a key is "user@domain", or
// "@domain" for every address in that domain (a catch-all), compared
// without regard to case. Postfix's bare "user" keys (local to
// $mydestination) are refused: a milter cannot know which domains they
// mean.
type Table struct {
	addrs   map[string]bool // "user@domain"
	domains map[string]bool // "domain", from "@domain"
}

// Len is the number of entries.
func (t *Table) Len() int { return len(t.addrs) + len(t.domains) }

// Has reports whether addr (already lower-case) is valid: listed, or in a
// catch-all domain.
func (t *Table) Has(addr string) bool {
	if t.addrs[addr] {
		return true
	}
	at := strings.LastIndexByte(addr, '@')
	return at >= 0 && t.domains[addr[at+1:]]
}

// maxLine bounds one line of a table file.
const maxLine = 64 << 10

// ParseTable reads a table in the given format ("list" or "postfix") from
// r, adding to t; name is for messages. It returns every bad line.
func (t *Table) Parse(r io.Reader, format, name string) []error {
	if t.addrs == nil {
		t.addrs, t.domains = map[string]bool{}, map[string]bool{}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var errs []error
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 || bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			continue
		}
		if format == "postfix" && (line[0] == ' ' || line[0] == '\t') {
			continue // the value, continued
		}
		fields := strings.Fields(string(line))
		if format == "list" && len(fields) > 1 {
			errs = append(errs, fmt.Errorf("%s:%d: %q: one address per line", name, n, string(bytes.TrimSpace(line))))
			continue
		}
		if err := t.add(fields[0]); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
		}
		if len(errs) > 20 {
			errs = append(errs, fmt.Errorf("%s: too many bad lines; stopped at line %d", name, n))
			return errs
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s:%d: %w", name, n+1, err))
	}
	return errs
}

func (t *Table) add(key string) error {
	key = strings.ToLower(key)
	at := strings.LastIndexByte(key, '@')
	switch {
	case at < 0:
		return fmt.Errorf("%q: a bare user name needs a domain (user@example.com, or @example.com for the whole domain)", key)
	case at == len(key)-1 || strings.ContainsAny(key[at+1:], "@*,;<>\"") || strings.Contains(key[at+1:], ".."):
		return fmt.Errorf("%q is not an address", key)
	case at == 0:
		t.domains[key[1:]] = true
	case strings.ContainsAny(key[:at], "*<>"):
		return fmt.Errorf("%q: wildcards other than @domain are not supported", key)
	default:
		t.addrs[key] = true
	}
	return nil
}
