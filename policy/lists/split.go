package lists

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrInvalid is matched (with [errors.Is]) by every parse error of this
// package: a malformed entry, range, pattern or expiry.
var ErrInvalid = errors.New("lists: invalid entry")

// invalid is a parse error. Its text is the message alone, without the
// sentinel's, since config errors quote it after the key path.
type invalid struct{ msg string }

func (e *invalid) Error() string        { return e.msg }
func (e *invalid) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalid{fmt.Sprintf(format, args...)}
}

// Error is a problem at one place of a list's text.
type Error struct {
	Source int    // which of the texts given to the parser, from 0
	Line   int    // the line in that text, from 1
	Text   string // the entry (or, for a bad expiry, the comment) as written
	Err    error  // matches [ErrInvalid]
}

// Error returns the message, which quotes the entry; Line is for callers
// that read files and print file:line.
func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Item is what every entry carries besides what it matches.
type Item struct {
	// Text is the entry as written, so that a match can name it.
	Text string
	// Comment is the comment of the entry's line (without "#" and the
	// expiry), or the store's note.
	Comment string
	// Expires is when the entry stops matching; zero means never.
	Expires time.Time
	// Source and Line say where the entry was written, as in [Error];
	// both are zero for an entry not parsed from text.
	Source, Line int
}

// Live reports whether the entry still matches at at.
func (it *Item) Live(at time.Time) bool {
	return it.Expires.IsZero() || at.Before(it.Expires)
}

// outlives reports whether expiry a comes later than b, zero being never.
func outlives(a, b time.Time) bool {
	return !b.IsZero() && (a.IsZero() || a.After(b))
}

// isSep reports whether c separates entries.
func isSep(c byte) bool {
	return c == ',' || c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// split cuts the texts into entries with their line, comment and expiry.
// The entries' Text fields are substrings of the texts.
func split(texts []string) ([]Item, []error) {
	lines := 0
	for _, text := range texts {
		lines += strings.Count(text, "\n") + 1
	}
	items := make([]Item, 0, lines) // most lists hold an entry a line
	var errs []error
	for n, text := range texts {
		for line := 1; text != ""; line++ {
			var l string
			l, text, _ = strings.Cut(text, "\n")
			first := len(items)
			i := 0
			comment := ""
		fields:
			for {
				for i < len(l) && isSep(l[i]) {
					i++
				}
				switch {
				case i == len(l):
					break fields
				case l[i] == '#':
					comment = l[i+1:]
					break fields
				}
				start := i
				for quoted := false; i < len(l) && (quoted || !isSep(l[i])); i++ {
					switch {
					case l[i] == '"':
						quoted = !quoted
					case l[i] == '\\' && quoted && i+1 < len(l):
						i++
					}
				}
				items = append(items, Item{Text: l[start:i], Source: n, Line: line})
			}
			if len(items) == first || comment == "" {
				continue
			}
			note, expires, err := parseComment(comment)
			if err != nil {
				errs = append(errs, &Error{Source: n, Line: line, Text: "#" + comment, Err: err})
				items = items[:first] // never an entry that silently does not expire
				continue
			}
			for j := first; j < len(items); j++ {
				items[j].Comment, items[j].Expires = note, expires
			}
		}
	}
	return items, errs
}

// sortErrors puts errors in the order of the texts and lines they are at.
func sortErrors(errs []error) []error {
	slices.SortStableFunc(errs, func(a, b error) int {
		var ea, eb *Error
		if !errors.As(a, &ea) || !errors.As(b, &eb) {
			return 0
		}
		return cmp.Or(cmp.Compare(ea.Source, eb.Source), cmp.Compare(ea.Line, eb.Line))
	})
	return errs
}

// parseComment reads an expiry at the start of a comment: "expires DATE",
// "expires: DATE" or "expires=DATE", then the note.
func parseComment(c string) (note string, expires time.Time, err error) {
	c = strings.TrimSpace(c)
	const kw = "expires"
	if len(c) < len(kw) || !strings.EqualFold(c[:len(kw)], kw) {
		return c, time.Time{}, nil
	}
	rest := c[len(kw):]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != ':' && rest[0] != '=' {
		return c, time.Time{}, nil // "expiresoon" is a note
	}
	rest = strings.TrimLeft(rest, " \t")
	if rest != "" && (rest[0] == ':' || rest[0] == '=') {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	end := strings.IndexAny(rest, " \t")
	if end < 0 {
		end = len(rest)
	}
	date, note := strings.TrimRight(rest[:end], ",;:"), rest[end:]
	t, err := ParseExpiry(date)
	if err != nil {
		return "", time.Time{}, err
	}
	return strings.TrimSpace(note), t, nil
}

// expiryLayouts are the forms of an expiry without a zone, read as UTC.
var expiryLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

// ParseExpiry reads an expiry: RFC 3339, or a date or date and time
// without a zone, in UTC (2026-01-31 is 2026-01-31T00:00:00Z).
func ParseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range expiryLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, invalidf("expiry %q is not a date (2026-01-31, 2026-01-31T12:00:00Z)", s)
}
