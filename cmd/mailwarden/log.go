package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/store"
)

// logActions are the final actions the milter writes to the tracking log.
var logActions = []string{"accept", "reject", "tempfail", "quarantine", "discard", "quarantine+discard", "split",
	"tempfail(internal)", "accept(internal)"}

// tableRcpts is how many recipients a table row shows before "+N more".
const tableRcpts = 2

func init() {
	register(&command{
		name:    "log",
		summary: "query the message-tracking log",
		usage:   "[-c config] [--data DIR] [--since T] [--until T] [--queue-id ID] [--direction D] [--sender A] [--rcpt A] [--subject TEXT] [--action A] [--ip IP|CIDR] [--limit N] [--format table|json|csv]",
		help: `Prints tracking-log rows, newest first: at most --limit (100), and a note
on standard error when more rows match. Times are RFC 3339, a date, or an
age such as 24h or 7d. Addresses match exactly (case-insensitive) or by
domain with *@example.com. --subject matches a substring, case-insensitive.
--queue-id is the MTA's queue ID, as in its log. --ip takes an address or a
network (192.0.2.0/24, 2001:db8::/32). --action is one of
` + strings.Join(logActions, ", ") + `.

The table shows "-" for the sender of a connection refused before MAIL,
and at most ` + fmt.Sprint(tableRcpts) + ` recipients (then "+N more"); json and csv carry every
recipient and every field. The store is opened read-only: the command
creates nothing, and fails when the data directory holds no store.`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, *stdio) error {
			var cf configFlags
			cf.register(fs)
			since := fs.String("since", "", "only rows at or after `time`")
			until := fs.String("until", "", "only rows before `time`")
			var q store.EventQuery
			fs.StringVar(&q.Direction, "direction", "", "inbound, outbound, internal or mixed")
			fs.StringVar(&q.Sender, "sender", "", "envelope sender `address` or *@domain")
			fs.StringVar(&q.Recipient, "rcpt", "", "recipient `address` or *@domain")
			fs.StringVar(&q.Subject, "subject", "", "subject `text` (substring)")
			fs.StringVar(&q.Action, "action", "", "final `action`: accept, reject, tempfail, quarantine, discard, split, …")
			ip := fs.String("ip", "", "client `address` or network (CIDR)")
			queueID := fs.String("queue-id", "", "the MTA's queue `ID`")
			limit := fs.Int("limit", 100, "at most `N` rows")
			format := fs.String("format", "table", "table, json (one object per line) or csv")
			return func(ctx context.Context, args []string, s *stdio) error {
				if len(args) > 0 {
					return errUsage
				}
				switch q.Direction {
				case "", "inbound", "outbound", "internal", "mixed":
				default:
					return fmt.Errorf("--direction: %q is not inbound, outbound, internal or mixed", q.Direction)
				}
				if q.Action != "" && !slices.Contains(logActions, q.Action) {
					return fmt.Errorf("--action: %q is not an action of the log (%s)", q.Action, strings.Join(logActions, ", "))
				}
				switch *format {
				case "table", "json", "csv":
				default:
					return fmt.Errorf("--format: %q is not table, json or csv", *format)
				}
				if *limit < 1 {
					return fmt.Errorf("--limit: %d is not a positive number", *limit)
				}
				if *ip != "" {
					net, err := ipFilter(*ip)
					if err != nil {
						return err
					}
					q.ClientNet = net // the store's index answers
				}
				q.QueueID = strings.TrimSpace(*queueID)
				var err error
				now := time.Now()
				if q.Since, err = parseWhen(*since, now); err != nil {
					return fmt.Errorf("--since: %w", err)
				}
				if q.Until, err = parseWhen(*until, now); err != nil {
					return fmt.Errorf("--until: %w", err)
				}
				_, st, done, err := cf.loadStore(ctx, false)
				if err != nil {
					return err
				}
				defer done()
				evs, more, err := queryEvents(ctx, st, q, *limit)
				if err != nil {
					return err
				}
				if err := printEvents(s.out, evs, *format); err != nil {
					return err
				}
				if more {
					fmt.Fprintf(s.err, "mailwarden log: showing the newest %d rows; more match (raise --limit or narrow the query)\n", *limit)
				}
				return nil
			}
		},
	})
}

// ipFilter reads --ip: an address (as the one-address network, so its
// IPv4-mapped spelling matches too) or a network.
func ipFilter(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("--ip: %q is neither an IP address nor a network such as 192.0.2.0/24", s)
	}
	return p.Masked(), nil
}

// queryEvents returns at most limit events matching q, newest first, and
// whether more match; every filter is applied by the store.
func queryEvents(ctx context.Context, st store.EventLog, q store.EventQuery, limit int) ([]store.Event, bool, error) {
	q.Limit = limit + 1
	evs, err := st.Events(ctx, q)
	if err != nil {
		return nil, false, err
	}
	if len(evs) > limit {
		return evs[:limit], true, nil
	}
	return evs, false, nil
}

func rcptSummary(rs []store.RecipientOutcome) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Address + "=" + r.Action
	}
	return strings.Join(parts, " ")
}

// rcptShort is rcptSummary cut to tableRcpts recipients for the table.
func rcptShort(rs []store.RecipientOutcome) string {
	if len(rs) <= tableRcpts {
		return rcptSummary(rs)
	}
	return fmt.Sprintf("%s +%d more", rcptSummary(rs[:tableRcpts]), len(rs)-tableRcpts)
}

// senderCell shows the envelope sender, "<>" being the null sender; a row
// that ended before MAIL has no sender at all and shows "-".
func senderCell(e *store.Event) string {
	if e.Stage == "connect" || e.Stage == "helo" {
		return "-"
	}
	return "<" + e.Sender + ">"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func matchSummary(ms []scanner.Match) string {
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
	}
	var t table
	t.add("TIME", "QUEUE ID", "CLIENT", "DIR", "SENDER", "RECIPIENTS", "SUBJECT", "ACTION", "RULES")
	for i := range evs {
		e := &evs[i]
		t.add(e.Time.Local().Format("2006-01-02 15:04:05"), dash(e.QueueID), dash(e.ClientIP), dash(e.Direction),
			senderCell(e), dash(rcptShort(e.Recipients)), clip(e.Subject, 40), e.Action, matchSummary(e.Matches))
	}
	return t.write(out)
}
