package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mailwarden/mailwarden/check/profiler"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/store"
)

// profilerCommand registers one `profiler VERB` command on the store,
// opened read-only unless write is set.
func profilerCommand(verb, summary, usage, help string, write bool, extra func(fs *flag.FlagSet) func(ctx context.Context, p *profiler.Profiler, st *store.Store, args []string, s *stdio) error) {
	storeCommand("profiler "+verb, summary, usage, help, write, nil, func(fs *flag.FlagSet) storeFunc {
		fn := extra(fs)
		return func(ctx context.Context, cfg *config.Config, st *store.Store, args []string, s *stdio) error {
			p := profiler.FromConfig(cfg)
			if !p.Enabled() {
				fmt.Fprintf(s.err, "mailwarden profiler %s: note: the profiler is not enabled in %s (profiler.enabled)\n", verb, configName(cfg))
			}
			return fn(ctx, p, st, args, s)
		}
	})
}

func configName(cfg *config.Config) string {
	if cfg.File == "" {
		return "this config"
	}
	return cfg.File
}

// parseClient reads an address, or a network as list prints it.
func parseClient(arg string) (netip.Addr, error) {
	if p, err := netip.ParsePrefix(arg); err == nil {
		return p.Addr(), nil
	}
	a, err := netip.ParseAddr(arg)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", arg)
	}
	return a, nil
}

func init() {
	register(&command{
		name:    "profiler",
		summary: "list, show or unblock the clients the IP profiler blocked",
		usage:   "list|show|unblock …",
		help:    "See 'mailwarden help profiler VERB' for each verb.",
		flags: func(fs *flag.FlagSet) func(context.Context, []string, *stdio) error {
			return func(context.Context, []string, *stdio) error { return errUsage }
		},
	})

	profilerCommand("list", "list the blocked client networks", "[--limit N] [--format table|json]",
		`Lists the networks the IP profiler has blocked and that are blocked still,
by network: the threat (spam, virus, harvest, bounce), when the block began
and ends, and why (the counts in the window). At most --limit (100), and a
note on standard error when there are more.`, false,
		func(fs *flag.FlagSet) func(context.Context, *profiler.Profiler, *store.Store, []string, *stdio) error {
			limit := fs.Int("limit", 100, "at most `N` networks")
			format := fs.String("format", "table", "table or json (one object per line)")
			return func(ctx context.Context, _ *profiler.Profiler, st *store.Store, args []string, s *stdio) error {
				if len(args) > 0 {
					return errUsage
				}
				if *format != "table" && *format != "json" {
					return fmt.Errorf("--format: %q is not table or json", *format)
				}
				if *limit < 1 {
					return fmt.Errorf("--limit: %d is not a positive number", *limit)
				}
				list, err := profiler.List(ctx, st, "", *limit+1, time.Now())
				if err != nil {
					return err
				}
				more := len(list) > *limit
				list = list[:min(len(list), *limit)]
				if *format == "json" {
					enc := json.NewEncoder(s.out)
					for _, b := range list {
						if err := enc.Encode(b); err != nil {
							return err
						}
					}
				} else {
					var t table
					t.add("NETWORK", "TYPE", "SINCE", "UNTIL", "REASON")
					for _, b := range list {
						t.add(b.Network.String(), b.Type, b.Since.Local().Format("2006-01-02 15:04:05"),
							b.Until.Local().Format("2006-01-02 15:04:05"), b.Reason)
					}
					if err := t.write(s.out); err != nil {
						return err
					}
				}
				if more {
					fmt.Fprintf(s.err, "mailwarden profiler list: showing the first %d networks; more are blocked (raise --limit)\n", *limit)
				}
				return nil
			}
		})

	profilerCommand("show", "show what the profiler knows of a client", "IP [--format table|json]",
		`Shows the network the profiler keeps IP under (the address itself for IPv4,
its /64 for IPv6, by default), its block if it has one, and its counts in
the window now: spam and virus messages, bounces, recipients and invalid
recipients.`, false,
		func(fs *flag.FlagSet) func(context.Context, *profiler.Profiler, *store.Store, []string, *stdio) error {
			format := fs.String("format", "table", "table or json")
			return func(ctx context.Context, p *profiler.Profiler, st *store.Store, args []string, s *stdio) error {
				if len(args) != 1 {
					return errUsage
				}
				if *format != "table" && *format != "json" {
					return fmt.Errorf("--format: %q is not table or json", *format)
				}
				ip, err := parseClient(args[0])
				if err != nil {
					return err
				}
				status, err := p.Show(ctx, st, ip, time.Now())
				if err != nil {
					return err
				}
				if *format == "json" {
					return json.NewEncoder(s.out).Encode(status)
				}
				blocked := "no"
				rows := [][2]string{{"Network:", status.Network.String()}}
				if b := status.Blocked; b != nil {
					blocked = fmt.Sprintf("%s, since %s, until %s", b.Type, b.Since.Local().Format(time.RFC3339), b.Until.Local().Format(time.RFC3339))
					rows = append(rows, [2]string{"Blocked:", blocked}, [2]string{"Reason:", b.Reason})
				} else {
					rows = append(rows, [2]string{"Blocked:", blocked})
				}
				c := status.Counts
				rows = append(rows, [2]string{"Window:", status.Window},
					[2]string{"Spam:", fmt.Sprint(c[profiler.Spam])}, [2]string{"Virus:", fmt.Sprint(c[profiler.Virus])},
					[2]string{"Bounces:", fmt.Sprint(c[profiler.Bounce])},
					[2]string{"Recipients:", fmt.Sprintf("%d, %d invalid", c["rcpt"], c["invalid"])})
				for _, r := range rows {
					fmt.Fprintf(s.out, "%-12s%s\n", r[0], r[1])
				}
				return nil
			}
		})

	profilerCommand("unblock", "lift the profiler's block of clients", "IP …",
		`Lifts the block of each IP's network and forgets its counts, so that its
next message does not block it again at once. An address that was not
blocked only has its counts forgotten (a note says so).`, true,
		func(fs *flag.FlagSet) func(context.Context, *profiler.Profiler, *store.Store, []string, *stdio) error {
			return func(ctx context.Context, p *profiler.Profiler, st *store.Store, args []string, s *stdio) error {
				if len(args) == 0 {
					return errUsage
				}
				ips := make([]netip.Addr, 0, len(args))
				for _, a := range args {
					ip, err := parseClient(a)
					if err != nil {
						return err
					}
					ips = append(ips, ip)
				}
				var notBlocked []string
				for _, ip := range ips {
					net, was, err := p.Unblock(ctx, st, ip, time.Now())
					if err != nil {
						return err
					}
					if !was {
						notBlocked = append(notBlocked, net.String())
						continue
					}
					fmt.Fprintf(s.out, "unblocked %s\n", net)
				}
				if len(notBlocked) > 0 {
					fmt.Fprintf(s.err, "mailwarden profiler unblock: not blocked: %s (counts forgotten)\n", strings.Join(notBlocked, ", "))
				}
				return nil
			}
		})
}
