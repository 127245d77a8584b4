package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

func init() {
	register(&command{
		name:    "log",
		summary: "query the message-tracking log",
		usage:   "[-c config] [--data DIR] [--since T] [--until T] [--direction D] [--sender A] [--rcpt A] [--subject TEXT] [--action A] [--ip IP] [--limit N] [--format table|json|csv]",
		help: `Prints tracking-log rows, newest first. Times are RFC 3339, a date, or an
age such as 24h or 7d. Addresses match exactly (case-insensitive) or by
domain with *@example.com. --subject matches a substring, case-insensitive.`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer) error {
			var cf configFlags
			cf.register(fs)
			since := fs.String("since", "", "only rows at or after `time`")
			until := fs.String("until", "", "only rows before `time`")
			var q store.EventQuery
			fs.StringVar(&q.Direction, "direction", "", "inbound, outbound, internal or mixed")
			fs.StringVar(&q.Sender, "sender", "", "envelope sender `address` or *@domain")
			fs.StringVar(&q.Recipient, "rcpt", "", "recipient `address` or *@domain")
			fs.StringVar(&q.Subject, "subject", "", "subject `text` (substring)")
			fs.StringVar(&q.Action, "action", "", "final `action`: accept, reject, tempfail, discard, split, …")
			fs.StringVar(&q.ClientIP, "ip", "", "client `IP` address")
			fs.IntVar(&q.Limit, "limit", 100, "at most `N` rows")
			format := fs.String("format", "table", "table, json (one object per line) or csv")
			return func(ctx context.Context, args []string, out io.Writer) error {
				if len(args) > 0 {
					return errUsage
				}
				switch q.Direction {
				case "", "inbound", "outbound", "internal", "mixed":
				default:
					return fmt.Errorf("--direction: %q is not inbound, outbound, internal or mixed", q.Direction)
				}
				var err error
				now := time.Now()
				if q.Since, err = parseWhen(*since, now); err != nil {
					return fmt.Errorf("--since: %w", err)
				}
				if q.Until, err = parseWhen(*until, now); err != nil {
					return fmt.Errorf("--until: %w", err)
				}
				_, st, done, err := cf.loadStore(ctx)
				if err != nil {
					return err
				}
				defer done()
				evs, err := st.Events(ctx, q)
				if err != nil {
					return err
				}
				return printEvents(out, evs, *format)
			}
		},
	})
}

func rcptSummary(rs []store.RecipientOutcome) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Address + "=" + r.Action
	}
	return strings.Join(parts, " ")
}

func matchSummary(ms []store.Match) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		s := m.Rule
		if len(m.Findings) > 0 {
			f := m.Findings[0]
			s += "(" + f.Name
			if f.Where != "" {
				s += "@" + f.Where
			}
			s += ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func printEvents(out io.Writer, evs []store.Event, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(out)
		for i := range evs {
			if err := enc.Encode(&evs[i]); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		w := csv.NewWriter(out)
		_ = w.Write([]string{"time", "queue_id", "client_ip", "client_name", "helo", "tls", "auth_user", "direction", "stage",
			"sender", "recipients", "from", "to", "subject", "message_id", "size", "attachments", "rules", "action", "reply", "duration_ms", "quarantine"})
		for _, e := range evs {
			_ = w.Write([]string{e.Time.Format(time.RFC3339Nano), e.QueueID, e.ClientIP, e.ClientName, e.Helo, e.TLSVersion,
				e.AuthUser, e.Direction, e.Stage, e.Sender, rcptSummary(e.Recipients), e.HeaderFrom, e.HeaderTo, e.Subject,
				e.MessageID, fmt.Sprint(e.Size), strings.Join(e.Attachments, " "), matchSummary(e.Matches), e.Action, e.Reply,
				fmt.Sprint(e.Duration.Milliseconds()), strings.Join(e.QuarantineIDs, " ")})
		}
		w.Flush()
		return w.Error()
	case "table":
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tCLIENT\tDIR\tSENDER\tRECIPIENTS\tSUBJECT\tACTION\tRULES")
		for _, e := range evs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format("2006-01-02 15:04:05"), e.ClientIP,
				e.Direction, "<"+e.Sender+">", rcptSummary(e.Recipients), clip(e.Subject, 40), e.Action, matchSummary(e.Matches))
		}
		return tw.Flush()
	}
	return fmt.Errorf("--format: %q is not table, json or csv", format)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
