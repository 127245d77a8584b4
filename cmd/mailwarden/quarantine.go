package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/policy/release"
	"github.com/mailwarden/mailwarden/store"
)

// quarantineCommand registers one `quarantine VERB` command that works on
// the store.
func quarantineCommand(verb, summary, usage, help string, extra func(fs *flag.FlagSet) func(ctx context.Context, cfg *policy.Config, st *store.Store, args []string, out io.Writer) error) {
	register(&command{
		name: "quarantine " + verb, summary: summary, usage: usage, help: help,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer) error {
			var cf configFlags
			cf.register(fs)
			fn := extra(fs)
			return func(ctx context.Context, args []string, out io.Writer) error {
				cfg, st, done, err := cf.loadStore(ctx)
				if err != nil {
					return err
				}
				defer done()
				return fn(ctx, cfg, st, args, out)
			}
		},
	})
}

func init() {
	register(&command{
		name:    "quarantine",
		summary: "list, show, release, delete or export quarantined mail",
		usage:   "list|show|release|delete|export …",
		help:    "See 'mailwarden help quarantine VERB' for each verb.",
		flags: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer) error {
			return func(context.Context, []string, io.Writer) error { return errUsage }
		},
	})

	quarantineCommand("list", "list quarantined messages", "[--area A] [--sender A] [--rcpt A] [--subject TEXT] [--since T] [--until T] [--limit N] [--format table|json]", "",
		func(fs *flag.FlagSet) func(context.Context, *policy.Config, *store.Store, []string, io.Writer) error {
			var q store.QuarantineQuery
			fs.StringVar(&q.Area, "area", "", "quarantine `area` (spam, policy, …)")
			fs.StringVar(&q.Sender, "sender", "", "envelope sender `address` or *@domain")
			fs.StringVar(&q.Recipient, "rcpt", "", "recipient `address` or *@domain")
			fs.StringVar(&q.Subject, "subject", "", "subject `text` (substring)")
			since := fs.String("since", "", "only entries at or after `time`")
			until := fs.String("until", "", "only entries before `time`")
			fs.IntVar(&q.Limit, "limit", 100, "at most `N` entries")
			format := fs.String("format", "table", "table or json (one object per line)")
			return func(ctx context.Context, _ *policy.Config, st *store.Store, args []string, out io.Writer) error {
				if len(args) > 0 {
					return errUsage
				}
				var err error
				if q.Since, err = parseWhen(*since, time.Now()); err != nil {
					return fmt.Errorf("--since: %w", err)
				}
				if q.Until, err = parseWhen(*until, time.Now()); err != nil {
					return fmt.Errorf("--until: %w", err)
				}
				list, err := st.ListQuarantine(ctx, q)
				if err != nil {
					return err
				}
				if *format == "json" {
					enc := json.NewEncoder(out)
					for i := range list {
						if err := enc.Encode(quarantineJSON(&list[i])); err != nil {
							return err
						}
					}
					return nil
				}
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTIME\tAREA\tRULE\tSENDER\tRECIPIENTS\tSUBJECT\tSIZE")
				for _, e := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t<%s>\t%s\t%s\t%d\n", e.ID, e.Time.Local().Format("2006-01-02 15:04:05"), e.Area, e.Rule,
						e.Sender, rcptState(&e), clip(e.Subject, 40), e.Size)
				}
				return tw.Flush()
			}
		})

	quarantineCommand("show", "show one quarantined message", "ID [--raw]", "",
		func(fs *flag.FlagSet) func(context.Context, *policy.Config, *store.Store, []string, io.Writer) error {
			raw := fs.Bool("raw", false, "print the message itself")
			return func(ctx context.Context, _ *policy.Config, st *store.Store, args []string, out io.Writer) error {
				if len(args) != 1 {
					return errUsage
				}
				e, err := st.GetQuarantine(ctx, args[0])
				if err != nil {
					return err
				}
				if *raw {
					_, err := out.Write(e.Raw)
					return err
				}
				fmt.Fprintf(out, "ID:         %s\nTime:       %s\nArea:       %s\nRule:       %s\nReason:     %s\nClient:     %s\nQueue ID:   %s\nSender:     <%s>\nRecipients: %s\nFrom:       %s\nSubject:    %s\nMessage-ID: %s\nSize:       %d\nSHA-256:    %s\n",
					e.ID, e.Time.Local().Format(time.RFC3339), e.Area, e.Rule, e.Reason, e.ClientIP, e.QueueID, e.Sender,
					rcptState(e), e.HeaderFrom, e.Subject, e.MessageID, e.Size, e.Digest)
				return nil
			}
		})

	quarantineCommand("release", "deliver a quarantined message to its recipients", "ID [--rcpt ADDR …] [--force] [--smtp HOST:PORT]",
		`Re-injects the original bytes by SMTP (release.smtp, default 127.0.0.1:25)
with a signed X-Mailwarden-Release header that lets the message past the rule
that quarantined it, for these recipients only and until release.token_ttl.
Recipients already released are skipped unless --force is given, so running
the same release twice delivers once.`,
		func(fs *flag.FlagSet) func(context.Context, *policy.Config, *store.Store, []string, io.Writer) error {
			var only listFlag
			fs.Var(&only, "rcpt", "release only to this `recipient` (repeat for several)")
			force := fs.Bool("force", false, "deliver again to recipients already released")
			smtpAddr := fs.String("smtp", "", "re-inject to `host:port`; overrides release.smtp")
			return func(ctx context.Context, cfg *policy.Config, st *store.Store, args []string, out io.Writer) error {
				if len(args) != 1 {
					return errUsage
				}
				return releaseEntry(ctx, cfg, st, args[0], only, *force, *smtpAddr, out)
			}
		})

	quarantineCommand("delete", "delete quarantined messages", "ID [ID …]", "",
		func(fs *flag.FlagSet) func(context.Context, *policy.Config, *store.Store, []string, io.Writer) error {
			return func(ctx context.Context, _ *policy.Config, st *store.Store, args []string, out io.Writer) error {
				if len(args) == 0 {
					return errUsage
				}
				for _, id := range args {
					if err := st.DeleteQuarantine(ctx, id); err != nil {
						return fmt.Errorf("%s: %w", id, err)
					}
					fmt.Fprintf(out, "deleted %s\n", id)
				}
				return nil
			}
		})

	quarantineCommand("export", "write a quarantined message as an .eml file", "ID [-o FILE]", "Without -o the message goes to standard output.",
		func(fs *flag.FlagSet) func(context.Context, *policy.Config, *store.Store, []string, io.Writer) error {
			file := fs.String("o", "", "output `file`")
			return func(ctx context.Context, _ *policy.Config, st *store.Store, args []string, out io.Writer) error {
				if len(args) != 1 {
					return errUsage
				}
				e, err := st.GetQuarantine(ctx, args[0])
				if err != nil {
					return err
				}
				if *file == "" {
					_, err = out.Write(e.Raw)
					return err
				}
				return os.WriteFile(*file, e.Raw, 0o600)
			}
		})
}

func rcptState(e *store.QuarantineEntry) string {
	parts := make([]string, len(e.Recipients))
	for i, r := range e.Recipients {
		parts[i] = r
		if _, ok := e.Released[r]; ok {
			parts[i] += "(released)"
		}
	}
	return strings.Join(parts, " ")
}

func quarantineJSON(e *store.QuarantineEntry) any {
	released := map[string]string{}
	for r, t := range e.Released {
		released[r] = t.Format(time.RFC3339)
	}
	return map[string]any{"id": e.ID, "time": e.Time.Format(time.RFC3339Nano), "area": e.Area, "rule": e.Rule,
		"reason": e.Reason, "client_ip": e.ClientIP, "queue_id": e.QueueID, "sender": e.Sender, "recipients": e.Recipients,
		"from": e.HeaderFrom, "subject": e.Subject, "message_id": e.MessageID, "size": e.Size, "sha256": e.Digest,
		"released": released}
}

func releaseEntry(ctx context.Context, cfg *policy.Config, st *store.Store, id string, only []string, force bool, smtpAddr string, out io.Writer) error {
	e, err := st.GetQuarantine(ctx, id)
	if err != nil {
		return err
	}
	var rcpts []string
	for _, r := range e.Recipients {
		if len(only) > 0 && !slices.ContainsFunc(only, func(o string) bool { return strings.EqualFold(o, r) }) {
			continue
		}
		if _, done := e.Released[r]; done && !force {
			fmt.Fprintf(out, "%s: <%s> already released; use --force to deliver again\n", id, r)
			continue
		}
		rcpts = append(rcpts, r)
	}
	for _, o := range only {
		if !slices.ContainsFunc(e.Recipients, func(r string) bool { return strings.EqualFold(o, r) }) {
			return fmt.Errorf("%s: <%s> is not a recipient of this quarantined message", id, o)
		}
	}
	if len(rcpts) == 0 {
		return nil
	}
	key := cfg.ReleaseKey()
	if key == nil {
		if key, err = release.LoadOrCreateKey(cfg.Server.DataDir); err != nil {
			return err
		}
	}
	if smtpAddr == "" {
		smtpAddr = cfg.Release.SMTP
	}
	tok := release.Token{ID: e.ID, Rule: e.Rule, Sender: e.Sender, Nonce: release.NewNonce(), Recipients: rcpts,
		Expires: time.Now().Add(cfg.Release.TokenTTL.D)}
	in := release.Injector{Addr: smtpAddr, Helo: cfg.Release.Helo}
	if _, err := in.Send(ctx, release.NewMessage(key, tok, e.Raw, nil)); err != nil {
		return err
	}
	if err := st.MarkReleased(ctx, e.ID, rcpts, time.Now()); err != nil {
		return fmt.Errorf("delivered, but recording the release failed: %w", err)
	}
	fmt.Fprintf(out, "%s: released to %s via %s\n", id, strings.Join(rcpts, ", "), smtpAddr)
	return nil
}
