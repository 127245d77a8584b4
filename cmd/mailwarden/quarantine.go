package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy/release"
	"github.com/mailwarden/mailwarden/store"
)

// storeFunc is a store command's work, given the loaded config and the
// store.
type storeFunc func(ctx context.Context, cfg *config.Config, st *store.Store, args []string, s *stdio) error

// storeCommand registers a command that loads the config and opens its
// store, read-only unless write is set; extra adds the command's flags and
// returns its work. args, when set, checks the arguments before anything
// is opened.
func storeCommand(name, summary, usage, help string, write bool, args func([]string) error, extra func(fs *flag.FlagSet) storeFunc) {
	register(&command{
		name: name, summary: summary, usage: usage, help: help,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, *stdio) error {
			var cf configFlags
			cf.register(fs)
			fn := extra(fs)
			return func(ctx context.Context, argv []string, s *stdio) error {
				if args != nil {
					if err := args(argv); err != nil {
						return err
					}
				}
				cfg, st, done, err := cf.loadStore(ctx, write)
				if err != nil {
					return err
				}
				defer done()
				return fn(ctx, cfg, st, argv, s)
			}
		},
	})
}

// quarantineCommand registers one `quarantine VERB` command that works on
// the store, opened read-only unless write is set.
func quarantineCommand(verb, summary, usage, help string, write bool, extra func(fs *flag.FlagSet) func(ctx context.Context, cfg *config.Config, st *store.Store, args []string, s *stdio) error) {
	storeCommand("quarantine "+verb, summary, usage, help, write, nil, func(fs *flag.FlagSet) storeFunc { return extra(fs) })
}

const idHelp = `An ID may be shortened to a unique prefix of at least 4 digits, as
with git commits.`

// selection is the flags that pick entries in bulk.
type selection struct {
	q         store.QuarantineQuery
	since     string
	until     string
	olderThan string
	all       bool
}

func (sel *selection) register(fs *flag.FlagSet, withRcpt bool) {
	fs.StringVar(&sel.q.Area, "area", "", "quarantine `area` (spam, policy, …)")
	fs.StringVar(&sel.q.Sender, "sender", "", "envelope sender `address` or *@domain")
	if withRcpt {
		fs.StringVar(&sel.q.Recipient, "rcpt", "", "recipient `address` or *@domain")
	}
	fs.StringVar(&sel.q.Subject, "subject", "", "subject `text` (substring)")
	fs.StringVar(&sel.since, "since", "", "only entries at or after `time`")
	fs.StringVar(&sel.until, "until", "", "only entries before `time`")
	fs.StringVar(&sel.olderThan, "older-than", "", "only entries older than `age` (7d, 12h); the same as --until AGE")
}

// set reports whether any selector was given.
func (sel *selection) set() bool {
	return sel.all || sel.q.Area != "" || sel.q.Sender != "" || sel.q.Recipient != "" || sel.q.Subject != "" ||
		sel.since != "" || sel.until != "" || sel.olderThan != ""
}

// query turns the flags into a store query.
func (sel *selection) query(now time.Time) (store.QuarantineQuery, error) {
	q := sel.q
	var err error
	if q.Since, err = parseWhen(sel.since, now); err != nil {
		return q, fmt.Errorf("--since: %w", err)
	}
	if q.Until, err = parseWhen(sel.until, now); err != nil {
		return q, fmt.Errorf("--until: %w", err)
	}
	if sel.olderThan != "" {
		d, err := parseAge(sel.olderThan)
		if err != nil {
			return q, fmt.Errorf("--older-than: %w", err)
		}
		if t := now.Add(-d); q.Until.IsZero() || t.Before(q.Until) {
			q.Until = t
		}
	}
	return q, nil
}

// selectEntries returns every entry the selection matches, oldest first,
// so a bulk operation that stops half-way has done the oldest.
func selectEntries(ctx context.Context, st store.Quarantine, sel *selection) ([]store.QuarantineEntry, error) {
	q, err := sel.query(time.Now())
	if err != nil {
		return nil, err
	}
	q.Limit = 1 << 30
	list, err := st.ListQuarantine(ctx, q)
	slices.Reverse(list)
	return list, err
}

// confirm asks on the terminal whether to go on with what, unless yes is
// already given. Without a terminal to ask on, it refuses: a script must
// say --yes.
func confirm(s *stdio, yes bool, what string) error {
	if yes {
		return nil
	}
	if !s.interactive {
		return fmt.Errorf("%s: not confirmed; add --yes to do it without asking", what)
	}
	fmt.Fprintf(s.err, "%s? [y/N] ", what)
	line, _ := bufio.NewReader(s.in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("%s: not confirmed", what)
}

// resolveIDs turns each argument, an ID or a unique prefix of one, into an
// ID.
func resolveIDs(ctx context.Context, st store.Quarantine, args []string) ([]string, error) {
	ids := make([]string, 0, len(args))
	for _, a := range args {
		id, err := st.ResolveQuarantineID(ctx, a)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func init() {
	register(&command{
		name:    "quarantine",
		summary: "list, show, release, delete or export quarantined mail",
		usage:   "list|show|release|delete|export …",
		help:    "See 'mailwarden help quarantine VERB' for each verb.",
		flags: func(fs *flag.FlagSet) func(context.Context, []string, *stdio) error {
			return func(context.Context, []string, *stdio) error { return errUsage }
		},
	})

	quarantineCommand("list", "list quarantined messages",
		"[--area A] [--sender A] [--rcpt A] [--subject TEXT] [--since T] [--until T] [--older-than AGE] [--limit N] [--format table|json|ids]",
		`Lists entries, newest first: at most --limit (100), and a note on standard
error when more match. --format ids prints only the IDs, one a line, for
scripts. The table shows at most `+fmt.Sprint(tableRcpts)+` recipients per entry (then "+N
more"); json carries them all.`, false,
		func(fs *flag.FlagSet) func(context.Context, *config.Config, *store.Store, []string, *stdio) error {
			var sel selection
			sel.register(fs, true)
			limit := fs.Int("limit", 100, "at most `N` entries")
			format := fs.String("format", "table", "table, json (one object per line) or ids (one ID per line)")
			return func(ctx context.Context, _ *config.Config, st *store.Store, args []string, s *stdio) error {
				if len(args) > 0 {
					return errUsage
				}
				switch *format {
				case "table", "json", "ids":
				default:
					return fmt.Errorf("--format: %q is not table, json or ids", *format)
				}
				if *limit < 1 {
					return fmt.Errorf("--limit: %d is not a positive number", *limit)
				}
				q, err := sel.query(time.Now())
				if err != nil {
					return err
				}
				q.Limit = *limit + 1
				list, err := st.ListQuarantine(ctx, q)
				if err != nil {
					return err
				}
				more := len(list) > *limit
				list = list[:min(len(list), *limit)]
				switch *format {
				case "json":
					enc := json.NewEncoder(s.out)
					for i := range list {
						if err := enc.Encode(quarantineJSON(&list[i])); err != nil {
							return err
						}
					}
				case "ids":
					for _, e := range list {
						fmt.Fprintln(s.out, e.ID)
					}
				default:
					if err := quarantineTable(s.out, list); err != nil {
						return err
					}
				}
				if more {
					fmt.Fprintf(s.err, "mailwarden quarantine list: showing the newest %d entries; more match (raise --limit or narrow the query)\n", *limit)
				}
				return nil
			}
		})

	quarantineCommand("show", "show one quarantined message", "ID [--raw]", idHelp, false,
		func(fs *flag.FlagSet) func(context.Context, *config.Config, *store.Store, []string, *stdio) error {
			raw := fs.Bool("raw", false, "print the message itself")
			return func(ctx context.Context, _ *config.Config, st *store.Store, args []string, s *stdio) error {
				if len(args) != 1 {
					return errUsage
				}
				ids, err := resolveIDs(ctx, st, args)
				if err != nil {
					return err
				}
				e, err := st.GetQuarantine(ctx, ids[0])
				if err != nil {
					return err
				}
				if *raw {
					_, err := s.out.Write(e.Raw)
					return err
				}
				for _, row := range [][2]string{
					{"ID:", e.ID}, {"Time:", e.Time.Local().Format(time.RFC3339)}, {"Area:", e.Area}, {"Rule:", e.Rule},
					{"Reason:", e.Reason}, {"Client:", clientCell(e)}, {"HELO:", e.Helo}, {"Queue ID:", e.QueueID},
					{"Sender:", "<" + e.Sender + ">"}, {"Recipients:", rcptState(e, 0)}, {"From:", e.HeaderFrom},
					{"Subject:", e.Subject}, {"Message-ID:", e.MessageID}, {"Size:", fmt.Sprint(e.Size)}, {"SHA-256:", e.Digest},
				} {
					fmt.Fprintf(s.out, "%-12s%s\n", row[0], printable(row[1]))
				}
				return nil
			}
		})

	quarantineCommand("release", "deliver quarantined messages to their recipients",
		"ID … | --area A --sender A --rcpt A --older-than AGE … [--yes] [--force] [--smtp HOST:PORT]",
		`Re-injects the original bytes by SMTP (release.smtp, default 127.0.0.1:25)
with a signed X-Mailwarden-Release header that lets the message past the rule
that quarantined it, for these recipients only and until release.token_ttl,
and a Received: field naming the hop it first came by (client, HELO, queue
ID, time, quarantine entry). Release headers the quarantined copy already
carries (a released copy quarantined again) are replaced.

Recipients already released are skipped unless --force is given, so running
the same release twice delivers once. It reports what the MTA accepted: its
queue ID for the released copy, and each recipient it refused, which stays
unreleased (exit 1).

Without IDs it releases every entry the selectors match (--area, --sender,
--rcpt, --subject, --since, --until, --older-than, or --all), after asking
on the terminal; --yes releases without asking, and is required when there
is no terminal. --rcpt releases to that recipient (or *@domain) only.

`+idHelp, true,
		func(fs *flag.FlagSet) func(context.Context, *config.Config, *store.Store, []string, *stdio) error {
			var sel selection
			sel.register(fs, false)
			fs.BoolVar(&sel.all, "all", false, "without IDs: every entry")
			var only listFlag
			fs.Var(&only, "rcpt", "release only to this `recipient` or *@domain (repeat for several); without IDs, the entries it is in")
			force := fs.Bool("force", false, "deliver again to recipients already released")
			yes := fs.Bool("yes", false, "release a selection without asking")
			smtpAddr := fs.String("smtp", "", "re-inject to `host:port`; overrides release.smtp")
			return func(ctx context.Context, cfg *config.Config, st *store.Store, args []string, s *stdio) error {
				ids, err := pickEntries(ctx, st, args, &sel, only)
				if err != nil {
					return err
				}
				if len(args) == 0 {
					if len(ids) == 0 {
						fmt.Fprintln(s.err, "mailwarden quarantine release: no entry matches")
						return nil
					}
					if err := confirm(s, *yes, fmt.Sprintf("release %d entries", len(ids))); err != nil {
						return err
					}
				}
				r := releaser{cfg: cfg, st: st, only: only, force: *force, smtp: *smtpAddr, out: s.out, learn: newQuarantineLearner(cfg, st, s)}
				var failed int
				for _, id := range ids {
					if err := r.release(ctx, id); err != nil {
						fmt.Fprintf(s.err, "mailwarden quarantine release: %s: %v\n", id, err)
						failed++
					}
				}
				if failed > 0 {
					return exitError(1)
				}
				return nil
			}
		})

	quarantineCommand("delete", "delete quarantined messages",
		"ID … | --area A --sender A --rcpt A --older-than AGE … [--yes]",
		`Deletes the entries given by ID, or, without IDs, every entry the selectors
match (--area, --sender, --rcpt, --subject, --since, --until, --older-than,
or --all), after asking on the terminal; --yes deletes without asking, and
is required when there is no terminal.

`+idHelp, true,
		func(fs *flag.FlagSet) func(context.Context, *config.Config, *store.Store, []string, *stdio) error {
			var sel selection
			sel.register(fs, true)
			fs.BoolVar(&sel.all, "all", false, "without IDs: every entry")
			yes := fs.Bool("yes", false, "delete a selection without asking")
			return func(ctx context.Context, cfg *config.Config, st *store.Store, args []string, s *stdio) error {
				ids, err := pickEntries(ctx, st, args, &sel, nil)
				if err != nil {
					return err
				}
				if len(args) == 0 {
					if len(ids) == 0 {
						fmt.Fprintln(s.err, "mailwarden quarantine delete: no entry matches")
						return nil
					}
					if err := confirm(s, *yes, fmt.Sprintf("delete %d entries", len(ids))); err != nil {
						return err
					}
				}
				learn := newQuarantineLearner(cfg, st, s)
				for _, id := range ids {
					// The copy is read first when the classifier learns
					// deletions from its area: afterwards it is gone.
					var e *store.QuarantineEntry
					if learn != nil {
						if e, err = st.GetQuarantine(ctx, id); err != nil {
							e = nil
						}
					}
					if err := st.DeleteQuarantine(ctx, id); err != nil {
						return fmt.Errorf("%s: %w", id, err)
					}
					fmt.Fprintf(s.out, "deleted %s\n", id)
					if e != nil {
						learn(ctx, e, false)
					}
				}
				return nil
			}
		})

	quarantineCommand("export", "write a quarantined message as an .eml file", "ID [-o FILE]",
		"Without -o the message goes to standard output.\n\n"+idHelp, false,
		func(fs *flag.FlagSet) func(context.Context, *config.Config, *store.Store, []string, *stdio) error {
			file := fs.String("o", "", "output `file`")
			return func(ctx context.Context, _ *config.Config, st *store.Store, args []string, s *stdio) error {
				if len(args) != 1 {
					return errUsage
				}
				ids, err := resolveIDs(ctx, st, args)
				if err != nil {
					return err
				}
				e, err := st.GetQuarantine(ctx, ids[0])
				if err != nil {
					return err
				}
				if *file == "" {
					_, err = s.out.Write(e.Raw)
					return err
				}
				return os.WriteFile(*file, e.Raw, 0o600)
			}
		})
}

// pickEntries returns the entries to act on: the IDs given, or those the
// selectors match. rcpts are release's --rcpt: with IDs they only narrow
// the recipients; without, they also select, each the entries it is in.
func pickEntries(ctx context.Context, st store.Quarantine, args []string, sel *selection, rcpts []string) ([]string, error) {
	if len(args) > 0 {
		if sel.set() {
			return nil, usageErrorf("give IDs or selectors (--area, --sender, --since, …), not both")
		}
		return resolveIDs(ctx, st, args)
	}
	if !sel.set() && len(rcpts) == 0 {
		return nil, usageErrorf("give IDs, or select entries with --area, --sender, --rcpt, --subject, --since, --until, --older-than or --all")
	}
	sels := []*selection{sel}
	if len(rcpts) > 0 {
		sels = nil
		for _, r := range rcpts {
			one := *sel
			one.q.Recipient = r
			sels = append(sels, &one)
		}
	}
	var all []store.QuarantineEntry
	for _, one := range sels {
		list, err := selectEntries(ctx, st, one)
		if err != nil {
			return nil, err
		}
		all = append(all, list...)
	}
	slices.SortStableFunc(all, func(a, b store.QuarantineEntry) int { return a.Time.Compare(b.Time) })
	var ids []string
	for _, e := range all {
		if !slices.Contains(ids, e.ID) {
			ids = append(ids, e.ID)
		}
	}
	return ids, nil
}

func quarantineTable(out io.Writer, list []store.QuarantineEntry) error {
	var t table
	t.add("ID", "TIME", "AREA", "RULE", "SENDER", "RECIPIENTS", "SUBJECT", "SIZE")
	for i := range list {
		e := &list[i]
		t.add(e.ID, e.Time.Local().Format("2006-01-02 15:04:05"), e.Area, e.Rule, "<"+e.Sender+">", rcptState(e, tableRcpts),
			clip(e.Subject, 40), fmt.Sprint(e.Size))
	}
	return t.write(out)
}

// rcptState lists the recipients, marking the released ones; n > 0 shows
// at most n and counts the rest.
func rcptState(e *store.QuarantineEntry, n int) string {
	parts := make([]string, len(e.Recipients))
	for i, r := range e.Recipients {
		parts[i] = r
		if _, ok := e.Released[r]; ok {
			parts[i] += "(released)"
		}
	}
	if n > 0 && len(parts) > n {
		return fmt.Sprintf("%s +%d more", strings.Join(parts[:n], " "), len(parts)-n)
	}
	return strings.Join(parts, " ")
}

func clientCell(e *store.QuarantineEntry) string {
	switch {
	case e.ClientIP == "":
		return "-"
	case e.ClientName == "":
		return e.ClientIP
	}
	return e.ClientIP + " (" + e.ClientName + ")"
}

func quarantineJSON(e *store.QuarantineEntry) any {
	released := map[string]string{}
	for r, t := range e.Released {
		released[r] = t.Format(time.RFC3339)
	}
	return map[string]any{"id": e.ID, "time": e.Time.Format(time.RFC3339Nano), "area": e.Area, "rule": e.Rule,
		"reason": e.Reason, "client_ip": e.ClientIP, "client_name": e.ClientName, "helo": e.Helo, "queue_id": e.QueueID,
		"sender": e.Sender, "recipients": e.Recipients, "from": e.HeaderFrom, "subject": e.Subject, "message_id": e.MessageID,
		"size": e.Size, "sha256": e.Digest, "released": released}
}

// releaser releases entries one by one.
type releaser struct {
	cfg   *config.Config
	st    *store.Store
	only  []string // recipients (or *@domain) to release to; empty: all
	force bool
	smtp  string
	out   io.Writer
	key   []byte
	learn quarantineLearner // teaches the classifier a released spam-area message as ham
}

// addrMatches reports whether addr is pattern, case-insensitively, or at
// its domain when pattern is *@domain.
func addrMatches(pattern, addr string) bool {
	if dom, ok := strings.CutPrefix(pattern, "*@"); ok {
		_, d, found := strings.Cut(addr, "@")
		return found && strings.EqualFold(d, dom)
	}
	return strings.EqualFold(pattern, addr)
}

func (r *releaser) release(ctx context.Context, id string) error {
	e, err := r.st.GetQuarantine(ctx, id)
	if err != nil {
		return err
	}
	var rcpts []string
	for _, rc := range e.Recipients {
		if len(r.only) > 0 && !slices.ContainsFunc(r.only, func(o string) bool { return addrMatches(o, rc) }) {
			continue
		}
		if _, done := e.Released[rc]; done && !r.force {
			fmt.Fprintf(r.out, "%s: <%s> already released; use --force to deliver again\n", id, rc)
			continue
		}
		rcpts = append(rcpts, rc)
	}
	for _, o := range r.only {
		if !slices.ContainsFunc(e.Recipients, func(rc string) bool { return addrMatches(o, rc) }) {
			return fmt.Errorf("<%s> is not a recipient of this quarantined message", o)
		}
	}
	if len(rcpts) == 0 {
		return nil
	}
	if r.key == nil {
		if r.key = r.cfg.ReleaseKey(); r.key == nil {
			if r.key, err = release.LoadOrCreateKey(r.cfg.Server.DataDir); err != nil {
				return err
			}
		}
	}
	smtpAddr := r.smtp
	if smtpAddr == "" {
		smtpAddr = r.cfg.Release.SMTP
	}
	tok := release.Token{ID: e.ID, Rule: e.Rule, Sender: e.Sender, Nonce: release.NewNonce(), Recipients: rcpts,
		Expires: time.Now().Add(r.cfg.Release.TokenTTL.D)}
	msg := release.NewMessage(r.key, tok, e.Raw, r.trace(ctx, e))
	in := release.Injector{Addr: smtpAddr, Helo: r.cfg.Release.Helo}
	res, sendErr := in.Send(ctx, msg)
	for _, ref := range res.Refused {
		fmt.Fprintf(r.out, "%s: <%s> refused by %s, not released: %s\n", id, ref.Recipient, smtpAddr, ref.Reply)
	}
	if sendErr != nil {
		return sendErr
	}
	if err := r.st.MarkReleased(ctx, e.ID, res.Accepted, time.Now()); err != nil {
		return fmt.Errorf("delivered to %s, but recording the release failed: %w", strings.Join(res.Accepted, ", "), err)
	}
	fmt.Fprintf(r.out, "%s: released to %s via %s: %s\n", id, strings.Join(res.Accepted, ", "), smtpAddr, res.Reply)
	if len(res.Accepted) > 0 && r.learn != nil {
		r.learn(ctx, e, true)
	}
	if len(res.Refused) > 0 {
		return fmt.Errorf("%d of %d recipients refused by the MTA", len(res.Refused), len(rcpts))
	}
	return nil
}

// trace is the original hop of e, for the released copy. Entries stored
// before their HELO was recorded take it from their tracking-log row.
func (r *releaser) trace(ctx context.Context, e *store.QuarantineEntry) *release.Trace {
	t := &release.Trace{ClientIP: e.ClientIP, ClientName: e.ClientName, Helo: e.Helo, QueueID: e.QueueID,
		Time: e.Time.Local(), Entry: e.ID, Rule: e.Rule, By: r.cfg.Release.Helo}
	if t.Helo == "" && e.ClientIP != "" {
		evs, err := r.st.Events(ctx, store.EventQuery{ClientIP: e.ClientIP, Since: e.Time.Add(-time.Hour), Until: e.Time.Add(time.Hour), Limit: 100})
		if err == nil {
			for _, ev := range evs {
				if slices.Contains(ev.QuarantineIDs, e.ID) {
					t.Helo, t.ClientName = ev.Helo, cmp.Or(t.ClientName, ev.ClientName)
					if t.QueueID == "" {
						t.QueueID = ev.QueueID
					}
					break
				}
			}
		}
	}
	return t
}

// parseAge reads an age: a Go duration ("12h") or a number of days ("7d").
func parseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n && days >= 0 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not an age such as 7d or 12h", s)
}
