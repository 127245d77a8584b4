package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/mailwarden/mailwarden/milter"
	"github.com/mailwarden/mailwarden/policy"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func init() {
	register(&command{
		name:    "check",
		summary: "dry-run a message through the rules, offline",
		usage:   "[-c config] --ip 192.0.2.1 --helo NAME --from SENDER --rcpt RCPT [--rcpt …] [--json] message.eml",
		help: `Runs the same session code as the daemon, stage by stage, and prints each
stage's answer and matched rules with their findings, then each recipient's
final outcome. Nothing is stored, quarantined or sent. Use "-" to read the
message from standard input.`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, io.Writer) error {
			var cf configFlags
			cf.register(fs)
			ip := fs.String("ip", "", "client `address`")
			name := fs.String("name", "unknown", "client reverse `name`")
			helo := fs.String("helo", "", "HELO `name`")
			from := fs.String("from", "", "envelope `sender` (empty for <>)")
			auth := fs.String("auth", "", "SMTP AUTH `user` (makes the session outbound)")
			var rcpts listFlag
			fs.Var(&rcpts, "rcpt", "envelope `recipient` (repeat for several)")
			asJSON := fs.Bool("json", false, "print one JSON document")
			return func(_ context.Context, args []string, out io.Writer) error {
				if len(args) != 1 || len(rcpts) == 0 {
					return errUsage
				}
				var addr netip.Addr
				if *ip != "" {
					a, err := netip.ParseAddr(*ip)
					if err != nil {
						return fmt.Errorf("--ip: %q is not an IP address", *ip)
					}
					addr = a
				}
				var msg []byte
				var err error
				if args[0] == "-" {
					msg, err = io.ReadAll(os.Stdin)
				} else {
					msg, err = os.ReadFile(args[0])
				}
				if err != nil {
					return err
				}
				cfg, pol, err := cf.load()
				if err != nil {
					return err
				}
				rt := &milter.Runtime{Config: cfg, Policy: pol, SpoolDir: os.TempDir()}
				rep := milter.DryRun(rt, milter.DryRunInput{ClientIP: addr, ClientName: *name, Helo: *helo,
					AuthUser: *auth, From: *from, Rcpts: rcpts, Message: msg}, quietLogger())
				if *asJSON {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(rep)
				}
				printReport(out, rep)
				return nil
			}
		},
	})
}

func printReport(out io.Writer, rep *milter.DryRunReport) {
	for _, s := range rep.Stages {
		who := ""
		if s.Rcpt != "" {
			who = " <" + s.Rcpt + ">"
		}
		fmt.Fprintf(out, "%-8s%s: %s\n", s.Stage, who, s.Answer)
		printMatches(out, s.Matches, "    ")
	}
	if len(rep.Findings) > 0 {
		fmt.Fprintln(out, "findings:")
		for _, f := range rep.Findings {
			fmt.Fprintf(out, "    %s = %q at %s: %s\n", f.Name, f.Value, f.Where, f.Reason)
		}
	}
	fmt.Fprintf(out, "message: %s", rep.Action)
	if rep.Reply != "" {
		fmt.Fprintf(out, " %q", rep.Reply)
	}
	fmt.Fprintln(out)
	for _, t := range rep.TagSubject {
		fmt.Fprintf(out, "    tag subject %q\n", t)
	}
	for _, h := range rep.AddHeaders {
		fmt.Fprintf(out, "    add header %s: %s\n", h.Name, h.Value)
	}
	fmt.Fprintln(out, "recipients:")
	for _, r := range rep.Recipients {
		fmt.Fprintf(out, "    <%s>: %s", r.Address, r.Outcome)
		if r.Rule != "" {
			fmt.Fprintf(out, " by rule %q", r.Rule)
		}
		if r.Area != "" {
			fmt.Fprintf(out, " into area %q", r.Area)
		}
		if r.Reply != "" {
			fmt.Fprintf(out, " %q", r.Reply)
		}
		fmt.Fprintln(out)
		printMatches(out, r.Matches, "        ")
	}
}

func printMatches(out io.Writer, ms []policy.Match, indent string) {
	for _, m := range ms {
		action := m.Action
		if action == "" {
			action = "modify"
		}
		fmt.Fprintf(out, "%smatched rule %q (%s, %s)\n", indent, m.Rule, m.Stage, action)
		for _, f := range m.Findings {
			fmt.Fprintf(out, "%s    %s = %q at %s: %s\n", indent, f.Name, f.Value, f.Where, f.Reason)
		}
	}
}
