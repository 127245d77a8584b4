package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/session"
	"github.com/mailwarden/mailwarden/store"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// The exit status of `mailwarden check` is the message's verdict. 1 and 2
// stay the errors and usage mistakes of every command.
const (
	exitAccept     = 0 // delivered to every recipient still in the transaction
	exitQuarantine = 3 // some or all recipients' copy goes to the quarantine (quarantine, discard, split)
	exitReject     = 4
	exitTempfail   = 5
)

// verdictExit maps a dry run's message action to the exit status.
func verdictExit(action string) int {
	switch action {
	case "accept":
		return exitAccept
	case "reject":
		return exitReject
	case "tempfail":
		return exitTempfail
	}
	return exitQuarantine // split, quarantine, discard, quarantine+discard
}

func init() {
	register(&command{
		name:    "check",
		summary: "dry-run a message through the checks and rules, changing nothing",
		usage:   "[-c config] --rcpt RCPT [--rcpt …] [--ip 192.0.2.1] [--helo NAME] [--from SENDER] [--auth USER] [--json] message.eml",
		help: `Runs the same session code as the daemon, stage by stage, and prints what
was decided at each stage (its answer and the rules matched there, with
their findings), then each recipient's final outcome. Nothing is stored,
quarantined or sent: the daemon's state store (store lists, throttle and
profiler blocks, greylist triplets) is read, never written, and DNS checks
ask the [dns] resolver unless --offline answers every lookup as a
failure. Use "-" to read the message from standard input.
Without --ip the client has no address (network rules do not match);
without --from the sender is the null sender <>.

Exit status: the message's verdict, so scripts need not parse the output:
  0  accept: delivered to every recipient still in the transaction
  3  quarantine: some or all recipients' copy is quarantined or discarded
     (the --json "action" is quarantine, discard or split)
  4  reject
  5  tempfail
  1  an error (unreadable message, bad config), 2 a usage mistake.`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, *stdio) error {
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
			offline := fs.Bool("offline", false, "answer every network lookup of the checks (DNS and the like) as a failure, so the dry run never waits on the network")
			return func(ctx context.Context, args []string, s *stdio) error {
				var missing []string
				if len(rcpts) == 0 {
					missing = append(missing, "--rcpt ADDRESS")
				}
				if len(args) == 0 {
					missing = append(missing, "the message file (or - for standard input)")
				}
				if len(missing) > 0 {
					return usageErrorf("missing %s", strings.Join(missing, " and "))
				}
				if len(args) > 1 {
					return usageErrorf("one message at a time, got %d: %s", len(args), strings.Join(args, " "))
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
					msg, err = io.ReadAll(s.in)
				} else {
					msg, err = os.ReadFile(args[0])
				}
				if err != nil {
					return err
				}
				l, err := cf.load()
				if err != nil {
					return err
				}
				rt, err := session.NewRuntime(l, nil, os.TempDir())
				if err != nil {
					return err
				}
				in := session.DryRunInput{ClientIP: addr, ClientName: *name, Helo: *helo,
					AuthUser: *auth, From: *from, Rcpts: rcpts, Message: msg, Offline: *offline}
				// The daemon's counters, blocks, triplets and lists, read
				// only; without a store the dry run sees an empty state.
				if st, err := store.OpenReadOnly(ctx, l.Config.Server.DataDir, nil); err == nil {
					defer st.Close()
					in.State, in.Correspondents = st, st
				}
				rep := session.DryRun(rt, in, quietLogger())
				stageOnly(rep)
				if *asJSON {
					enc := json.NewEncoder(s.out)
					enc.SetIndent("", "  ")
					if err := enc.Encode(rep); err != nil {
						return err
					}
				} else {
					printReport(s.out, rep)
				}
				if code := verdictExit(rep.Action); code != exitAccept {
					return exitError(code)
				}
				return nil
			}
		},
	})
}

// stageOnly leaves each stage with the matches decided at that stage: the
// engine reports every match up to a stage, so without this a connect-stage
// rule would be shown again at HELO, MAIL and every RCPT.
func stageOnly(rep *session.DryRunReport) {
	for i := range rep.Stages {
		st := &rep.Stages[i]
		st.Matches = slices.DeleteFunc(st.Matches, func(m scanner.Match) bool { return m.Stage != st.Stage })
	}
}

// contentStage reports whether a stage's matches are told per recipient:
// at end of headers and end of message the session reports no matches of
// its own, and each recipient's verdict holds those decided there.
func contentStage(stage string) bool { return stage == "eoh" || stage == "eom" }

func printReport(out io.Writer, rep *session.DryRunReport) {
	for _, s := range rep.Stages {
		who := ""
		if s.Rcpt != "" {
			who = " <" + s.Rcpt + ">"
		}
		fmt.Fprintf(out, "%-8s%s: %s\n", s.Stage, who, s.Answer)
		printMatches(out, s.Matches, "    ")
		if !contentStage(s.Stage) || len(s.Matches) > 0 {
			continue
		}
		// The matches decided at this stage, per recipient; once when all
		// recipients share them.
		var per [][]scanner.Match
		same := true
		for _, r := range rep.Recipients {
			ms := slices.DeleteFunc(slices.Clone(r.Matches), func(m scanner.Match) bool { return m.Stage != s.Stage })
			if len(per) > 0 && !sameMatches(per[0], ms) {
				same = false
			}
			per = append(per, ms)
		}
		for i, r := range rep.Recipients {
			if len(per[i]) == 0 {
				continue
			}
			if same {
				printMatches(out, per[i], "    ")
				break
			}
			fmt.Fprintf(out, "    for <%s>:\n", r.Address)
			printMatches(out, per[i], "        ")
		}
	}
	if len(rep.Findings) > 0 {
		fmt.Fprintln(out, "findings:")
		for _, f := range rep.Findings {
			fmt.Fprintf(out, "    %s = %q at %s: %s\n", f.Name, f.Value, f.Where, f.Reason)
		}
	}
	if v := rep.Spam; v != nil {
		fmt.Fprintf(out, "spam score: %.1f (required %.1f, probable %.1f)\n", v.Score, v.Required, v.Probable)
		for _, t := range v.Tests {
			fmt.Fprintf(out, "    %+.1f %s\n", t.Score, t.Name)
		}
		if rep.SpamHeadersRemoved > 0 {
			fmt.Fprintf(out, "    removes %d X-Spam-* field(s) the sender wrote\n", rep.SpamHeadersRemoved)
		}
	}
	if rep.OwnHeadersRemoved > 0 {
		fmt.Fprintf(out, "removes %d X-Mailwarden-* field(s) the sender wrote\n", rep.OwnHeadersRemoved)
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
	}
}

func sameMatches(a, b []scanner.Match) bool {
	return slices.EqualFunc(a, b, func(x, y scanner.Match) bool {
		return x.Rule == y.Rule && x.Stage == y.Stage && x.Action == y.Action &&
			slices.EqualFunc(x.Findings, y.Findings, func(f, g scanner.Finding) bool {
				return f.Name == g.Name && f.Value == g.Value && f.Where == g.Where && f.Reason == g.Reason &&
					slices.Equal(f.Recipients, g.Recipients)
			})
	})
}

func printMatches(out io.Writer, ms []scanner.Match, indent string) {
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
