package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy/lists"
	"github.com/mailwarden/mailwarden/store"
)

// The kinds of list: IP lists hold what lists.ParseRange reads, address
// lists what lists.ParsePattern reads.
const (
	kindIP      = "ip"
	kindAddress = "address"
)

// csvHeader is the header row of export and import.
var csvHeader = []string{"value", "note", "expires", "added"}

const listHelp = `A list holds IP entries (192.0.2.1, 192.0.2.0/24, 192.0.2.1-40,
192.0.2.1-192.0.2.40, 2001:db8::/32, 2001:db8::ac:44f2-45ff) or address
entries (user@example.com, *@example.com, *@*.example.com, user@*, <>),
never both. Its kind is --kind ip|address, else that of the entries it
already holds, else that of the first value given: one with an @ (or * or
<>) is an address. Values are stored in one spelling (192.0.2.7/24 as
192.0.2.0/24, <Bob@Example.COM> as bob@example.com), so each entry is held
once and removed by any of its spellings.

A list name is letters, digits, '.', '_' and '-'. Every edit raises the
list's version by one, so a reader can tell that it changed.`

// listCommand registers one `list VERB` command that works on the store,
// opened read-only unless write is set.
func listCommand(verb, summary, usage, help string, write bool, extra func(fs *flag.FlagSet) func(ctx context.Context, st *store.Store, args []string, s *stdio) error) {
	storeCommand("list "+verb, summary, usage, help+"\n\n"+listHelp, write, listNameArg, func(fs *flag.FlagSet) storeFunc {
		fn := extra(fs)
		return func(ctx context.Context, _ *config.Config, st *store.Store, args []string, s *stdio) error {
			return fn(ctx, st, args, s)
		}
	})
}

// checkListName refuses names that would not read well in a finding
// (list.NAME) or a shell.
func checkListName(name string) error {
	ok := name != "" && len(name) <= 100
	for _, r := range name {
		ok = ok && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}
	if !ok {
		return fmt.Errorf("%q is not a list name (letters, digits, '.', '_' and '-', at most 100)", name)
	}
	return nil
}

// guessKind is the kind of list value v belongs in.
func guessKind(v string) string {
	v = strings.TrimSpace(v)
	if strings.Contains(v, "@") || v == "*" || v == "<>" {
		return kindAddress
	}
	return kindIP
}

// canonValue parses v as an entry of a list of kind and returns its
// stored spelling.
func canonValue(kind, v string) (string, error) {
	if kind == kindIP {
		r, err := lists.ParseRange(v)
		if err != nil {
			if guessKind(v) == kindAddress {
				return "", fmt.Errorf("%q is an address; this is an IP list", v)
			}
			return "", err
		}
		return r.String(), nil
	}
	p, err := lists.ParsePattern(v)
	if err != nil {
		if guessKind(v) == kindIP {
			if _, e := lists.ParseRange(v); e == nil {
				return "", fmt.Errorf("%q is an IP entry; this is an address list", v)
			}
		}
		return "", err
	}
	return p.Canonical(), nil
}

// listKind decides the kind of list: the flag, else the kind of the items
// it holds, else that of first (the first value given).
func listKind(flagKind string, items []store.ListItem, first string) (string, error) {
	held := ""
	if len(items) > 0 {
		held = guessKind(items[0].Value)
	}
	switch {
	case flagKind != "" && flagKind != kindIP && flagKind != kindAddress:
		return "", fmt.Errorf("--kind: %q is not ip or address", flagKind)
	case flagKind != "" && held != "" && flagKind != held:
		return "", fmt.Errorf("--kind %s: the list holds %s entries", flagKind, held)
	case flagKind != "":
		return flagKind, nil
	case held != "":
		return held, nil
	}
	return guessKind(first), nil
}

// parseListExpiry reads --expires: an age from now (7d, 12h) or a time
// (RFC 3339, or a date in UTC), which must be in the future.
func parseListExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := lists.ParseExpiry(s)
	if err != nil {
		d, derr := parseAge(s)
		if derr != nil {
			return time.Time{}, fmt.Errorf("%q is neither an age (7d, 12h) nor a time (2026-01-31, 2026-01-31T12:00:00Z)", s)
		}
		t = now.Add(d)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("%s is not in the future", t.Format(time.RFC3339))
	}
	return t, nil
}

// liveItems reads a list's items, and fails for a list never written.
func liveItems(ctx context.Context, st *store.Store, name string) ([]store.ListItem, int64, error) {
	items, v, err := st.ListItems(ctx, name, time.Time{})
	if err == nil && v == 0 {
		err = fmt.Errorf("no list %q (mailwarden list show names them)", name)
	}
	return items, v, err
}

func init() {
	register(&command{
		name:    "list",
		summary: "show, add, remove, import or export the entries of named IP and address lists",
		usage:   "show|add|remove|import|export …",
		help:    "See 'mailwarden help list VERB' for each verb.",
		flags: func(fs *flag.FlagSet) func(context.Context, []string, *stdio) error {
			return func(context.Context, []string, *stdio) error { return errUsage }
		},
	})

	listCommand("show", "show a list's entries, or every list", "[NAME]",
		`Without NAME, prints every list with its version and number of entries.
With NAME, prints its entries (value, expiry, when added, note), ordered by
value; expired entries are not shown. The store is opened read-only.`, false,
		func(fs *flag.FlagSet) func(context.Context, *store.Store, []string, *stdio) error {
			return func(ctx context.Context, st *store.Store, args []string, s *stdio) error {
				var t table
				switch len(args) {
				case 0:
					ls, err := st.Lists(ctx, time.Time{})
					if err != nil {
						return err
					}
					if len(ls) == 0 {
						fmt.Fprintln(s.err, "mailwarden list show: no lists yet")
						return nil
					}
					t.add("NAME", "VERSION", "ENTRIES")
					for _, l := range ls {
						t.add(l.Name, fmt.Sprint(l.Version), fmt.Sprint(l.Items))
					}
				case 1:
					items, _, err := liveItems(ctx, st, args[0])
					if err != nil {
						return err
					}
					t.add("VALUE", "EXPIRES", "ADDED", "NOTE")
					for _, it := range items {
						x := "-"
						if !it.Expires.IsZero() {
							x = it.Expires.Local().Format("2006-01-02 15:04:05")
						}
						t.add(it.Value, x, it.Added.Local().Format("2006-01-02 15:04:05"), it.Note)
					}
				default:
					return errUsage
				}
				return t.write(s.out)
			}
		})

	listCommand("add", "add entries to a list, creating it", "NAME VALUE… [--note TEXT] [--expires AGE|TIME] [--kind ip|address]",
		`Adds the values with the note and expiry given; a value already in the
list gets them instead. --expires is an age from now (7d, 12h) or a time
(RFC 3339, or a date, read as UTC midnight); the entry stops matching then,
and the daemon prunes it.`, true,
		func(fs *flag.FlagSet) func(context.Context, *store.Store, []string, *stdio) error {
			note := fs.String("note", "", "the entries' note `text` (a ticket, a reason)")
			expires := fs.String("expires", "", "when the entries expire: an `age` (7d, 12h) or a time")
			kind := fs.String("kind", "", "the list's `kind`, ip or address (default: from its entries or the values)")
			return func(ctx context.Context, st *store.Store, args []string, s *stdio) error {
				if len(args) < 2 {
					return usageErrorf("missing NAME and VALUE")
				}
				name, values := args[0], args[1:]
				x, err := parseListExpiry(*expires, time.Now())
				if err != nil {
					return fmt.Errorf("--expires: %w", err)
				}
				if len(*note) > store.MaxKeyLen {
					return fmt.Errorf("--note: %d bytes, over %d", len(*note), store.MaxKeyLen)
				}
				held, _, err := st.ListItems(ctx, name, time.Time{})
				if err != nil {
					return err
				}
				k, err := listKind(*kind, held, values[0])
				if err != nil {
					return err
				}
				var items []store.ListItem
				var errs []error
				for _, v := range values {
					c, err := canonValue(k, v)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					items = append(items, store.ListItem{Value: c, Note: *note, Expires: x})
				}
				if len(errs) > 0 {
					return fmt.Errorf("nothing added: %w", errors.Join(errs...))
				}
				v, err := st.ListPut(ctx, name, items...)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.out, "%s: %d %s entries put, version %d\n", name, len(items), k, v)
				return nil
			}
		})

	listCommand("remove", "remove entries from a list", "NAME VALUE…",
		`Removes the values, in any spelling of them. A value not in the list is
an error, and then nothing is removed.`, true,
		func(fs *flag.FlagSet) func(context.Context, *store.Store, []string, *stdio) error {
			return func(ctx context.Context, st *store.Store, args []string, s *stdio) error {
				if len(args) < 2 {
					return usageErrorf("missing NAME and VALUE")
				}
				name, values := args[0], args[1:]
				items, _, err := liveItems(ctx, st, name)
				if err != nil {
					return err
				}
				held := map[string]bool{}
				for _, it := range items {
					held[it.Value] = true
				}
				k, _ := listKind("", items, values[0])
				var remove []string
				var errs []error
				for _, v := range values {
					c, err := canonValue(k, v)
					if err != nil {
						c = v // a value stored as written, before this command
					}
					if !held[c] {
						errs = append(errs, fmt.Errorf("%q is not in %s", v, name))
						continue
					}
					remove = append(remove, c)
				}
				if len(errs) > 0 {
					return fmt.Errorf("nothing removed: %w", errors.Join(errs...))
				}
				v, err := st.ListRemove(ctx, name, remove...)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.out, "%s: %d entries removed, version %d\n", name, len(remove), v)
				return nil
			}
		})

	listCommand("import", "add a CSV file's entries to a list", "NAME FILE|- [--kind ip|address] [--replace]",
		`Reads CSV with the columns value, note, expires, added (the format of
export; a header row is optional, and only value is required; lines that
start with # are comments). Expires and added are RFC 3339 times or dates
(UTC); an empty expires is never, an empty added is now. Every line is
checked first: each bad one is reported with its line number (a bad value,
an expiry in the past, a second spelling of an entry) and then nothing
changes. --replace makes the list exactly the file: entries not in it are
removed after the file's are put.`, true,
		func(fs *flag.FlagSet) func(context.Context, *store.Store, []string, *stdio) error {
			kind := fs.String("kind", "", "the list's `kind`, ip or address (default: from its entries or the first value)")
			replace := fs.Bool("replace", false, "remove the entries the file does not have")
			return func(ctx context.Context, st *store.Store, args []string, s *stdio) error {
				if len(args) != 2 {
					return usageErrorf("missing NAME and FILE (or - for standard input)")
				}
				name, file := args[0], args[1]
				var in io.Reader = s.in
				if file != "-" {
					f, err := os.Open(file)
					if err != nil {
						return err
					}
					defer f.Close()
					in = f
				}
				held, _, err := st.ListItems(ctx, name, time.Time{})
				if err != nil {
					return err
				}
				items, probs := readListCSV(in, *kind, held, time.Now())
				if len(probs) > 0 {
					where := file
					if file == "-" {
						where = "standard input"
					}
					for _, p := range probs {
						fmt.Fprintf(s.err, "%s:%s\n", where, p)
					}
					return fmt.Errorf("%d problem(s) in %s; %s is unchanged", len(probs), where, name)
				}
				v, err := st.ListPut(ctx, name, items...)
				if err != nil {
					return err
				}
				removed := 0
				if *replace {
					keep := map[string]bool{}
					for _, it := range items {
						keep[it.Value] = true
					}
					var gone []string
					for _, it := range held {
						if !keep[it.Value] {
							gone = append(gone, it.Value)
						}
					}
					if len(gone) > 0 {
						if v, err = st.ListRemove(ctx, name, gone...); err != nil {
							return err
						}
					}
					removed = len(gone)
				}
				fmt.Fprintf(s.out, "%s: %d entries put, %d removed, version %d\n", name, len(items), removed, v)
				return nil
			}
		})

	listCommand("export", "write a list's entries as CSV", "NAME",
		`Writes value, note, expires and added (RFC 3339, UTC; an empty expires is
never), with a header row, ordered by value: the format import reads.
Expired entries are left out. The store is opened read-only.`, false,
		func(fs *flag.FlagSet) func(context.Context, *store.Store, []string, *stdio) error {
			return func(ctx context.Context, st *store.Store, args []string, s *stdio) error {
				if len(args) != 1 {
					return errUsage
				}
				items, _, err := liveItems(ctx, st, args[0])
				if err != nil {
					return err
				}
				w := csv.NewWriter(s.out)
				w.Write(csvHeader)
				for _, it := range items {
					x := ""
					if !it.Expires.IsZero() {
						x = it.Expires.UTC().Format(time.RFC3339Nano)
					}
					w.Write([]string{it.Value, it.Note, x, it.Added.UTC().Format(time.RFC3339Nano)})
				}
				w.Flush()
				return w.Error()
			}
		})
}

// csvRow is one data row of an import and its line.
type csvRow struct {
	line int
	rec  []string
}

// csvProblem is a bad line of an import.
type csvProblem struct {
	line int
	msg  string
}

// readListCSV reads and checks an import: the items to put, or every
// problem as "LINE: message", in the order of the lines.
func readListCSV(in io.Reader, flagKind string, held []store.ListItem, now time.Time) ([]store.ListItem, []string) {
	items, probs := checkListCSV(in, flagKind, held, now)
	slices.SortStableFunc(probs, func(a, b csvProblem) int { return cmp.Compare(a.line, b.line) })
	out := make([]string, len(probs))
	for i, p := range probs {
		out[i] = fmt.Sprintf("%d: %s", p.line, p.msg)
		if p.line == 0 { // the whole file
			out[i] = " " + p.msg
		}
	}
	return items, out
}

func checkListCSV(in io.Reader, flagKind string, held []store.ListItem, now time.Time) ([]store.ListItem, []csvProblem) {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1
	r.Comment = '#'
	var probs []csvProblem
	bad := func(line int, format string, args ...any) {
		probs = append(probs, csvProblem{line, fmt.Sprintf(format, args...)})
	}
	var rows []csvRow
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			bad(pe.Line, "%v", pe.Err)
			continue
		}
		if err != nil {
			return nil, append(probs, csvProblem{0, err.Error()})
		}
		line, _ := r.FieldPos(0)
		if first && strings.EqualFold(strings.TrimSpace(rec[0]), csvHeader[0]) {
			for i, h := range rec {
				if i >= len(csvHeader) || !strings.EqualFold(strings.TrimSpace(h), csvHeader[i]) {
					bad(line, "the header row must be %s, or some of the first of them", strings.Join(csvHeader, ","))
					break
				}
			}
			continue
		}
		rows = append(rows, csvRow{line, rec})
	}
	// The kind: the flag, the entries held, else the first value that is
	// an entry of either kind.
	first := ""
	for _, row := range rows {
		v := strings.TrimSpace(row.rec[0])
		if _, err := lists.ParseRange(v); err == nil {
			first = v
			break
		}
		if _, err := lists.ParsePattern(v); err == nil {
			first = v
			break
		}
	}
	kind, err := listKind(flagKind, held, first)
	if err != nil {
		return nil, append(probs, csvProblem{0, err.Error()})
	}
	var items []store.ListItem
	seen := map[string]int{}
	for _, row := range rows {
		line, rec := row.line, row.rec
		if len(rec) > len(csvHeader) {
			bad(line, "%d columns; the columns are %s", len(rec), strings.Join(csvHeader, ","))
			continue
		}
		rec = append(rec, make([]string, len(csvHeader)-len(rec))...)
		value, note, expires, added := strings.TrimSpace(rec[0]), rec[1], strings.TrimSpace(rec[2]), strings.TrimSpace(rec[3])
		if value == "" {
			bad(line, "no value")
			continue
		}
		c, err := canonValue(kind, value)
		if err != nil {
			bad(line, "%v", err)
			continue
		}
		if len(c) > store.MaxKeyLen || len(note) > store.MaxKeyLen {
			bad(line, "value or note over %d bytes", store.MaxKeyLen)
			continue
		}
		it := store.ListItem{Value: c, Note: note}
		if expires != "" {
			if it.Expires, err = lists.ParseExpiry(expires); err != nil {
				bad(line, "expires: %v", err)
				continue
			}
			if !it.Expires.After(now) {
				bad(line, "expires %s, which has passed", expires)
				continue
			}
		}
		if added != "" {
			if it.Added, err = lists.ParseExpiry(added); err != nil {
				bad(line, "added: %q is not a time (2026-01-31T12:00:00Z)", added)
				continue
			}
		}
		if l, ok := seen[c]; ok {
			bad(line, "%q is the entry of line %d again (%s)", value, l, c)
			continue
		}
		seen[c] = line
		items = append(items, it)
	}
	return items, probs
}

// listNameArg checks the list name a list command is given first.
func listNameArg(args []string) error {
	if len(args) > 0 {
		return checkListName(args[0])
	}
	return nil
}
