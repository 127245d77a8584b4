package message

import (
	"bytes"
	"strings"
)

// field is one header field of a header block.
type field struct {
	name  string
	value []byte // unfolded and trimmed; may alias the message
}

// headerBlock is the result of reading one header block.
type headerBlock struct {
	fields []field
	body   []byte
	// badLine is the first line that ended the block without being a field
	// or the empty line (it is the first body line).
	badLine []byte
	// orphan is set when a continuation line came before any field.
	orphan bool
	// overLimit is set when the block was longer than the limit; the fields
	// before the limit are kept and the rest of the block is skipped.
	overLimit bool
}

// readHeader splits b into its header block (RFC 5322 section 2.2) and body.
// It accepts CRLF and LF line ends, a leading mbox "From " line, and
// obsolete whitespace before the colon. A line that is neither a field, a
// continuation nor empty ends the block and starts the body, as in
// Postfix's cleanup. At most max bytes of header are read into fields.
func readHeader(b []byte, max int) headerBlock {
	var h headerBlock
	pos := 0
	if bytes.HasPrefix(b, []byte("From ")) {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			pos = i + 1
		} else {
			return h
		}
	}
	cur := -1      // index in h.fields of the field being read
	multi := false // cur has continuation lines and owns its value
	for pos < len(b) {
		next := len(b)
		line := b[pos:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
			next = pos + i + 1
		}
		for len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1] // CRLF, and the CR CR LF of some mailers
		}
		if len(line) == 0 {
			h.body = b[next:]
			break
		}
		if next > max {
			h.overLimit = true
			h.body = skipHeaderRest(b, pos)
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur < 0 {
				h.orphan = true
			} else {
				f := &h.fields[cur]
				if !multi {
					f.value = append([]byte(nil), f.value...)
					multi = true
				}
				f.value = append(f.value, line...)
			}
			pos = next
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validFieldName(bytes.TrimRight(line[:colon], " \t")) {
			h.badLine = line
			h.body = b[pos:]
			break
		}
		if cur >= 0 {
			h.fields[cur].value = bytes.TrimSpace(h.fields[cur].value)
		}
		h.fields = append(h.fields, field{
			name:  string(bytes.TrimRight(line[:colon], " \t")),
			value: line[colon+1:],
		})
		cur = len(h.fields) - 1
		multi = false
		pos = next
	}
	if cur >= 0 {
		h.fields[cur].value = bytes.TrimSpace(h.fields[cur].value)
	}
	return h
}

// skipHeaderRest returns what follows the first empty line at or after pos,
// or nothing when there is none.
func skipHeaderRest(b []byte, pos int) []byte {
	for {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			return nil
		}
		pos += i + 1
		switch {
		case bytes.HasPrefix(b[pos:], crlf):
			return b[pos+2:]
		case bytes.HasPrefix(b[pos:], lf):
			return b[pos+1:]
		}
	}
}

// validFieldName reports whether n is a field name: printable US-ASCII
// except the colon (RFC 5322 section 3.6.8).
func validFieldName(n []byte) bool {
	if len(n) == 0 {
		return false
	}
	for _, c := range n {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// get returns the values of every field named name, case-insensitively.
func (h *headerBlock) get(name string) []string {
	var out []string
	for _, f := range h.fields {
		if strings.EqualFold(f.name, name) {
			out = append(out, string(f.value))
		}
	}
	return out
}
