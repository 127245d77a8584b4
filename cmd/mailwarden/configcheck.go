package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/session"
)

func init() {
	register(&command{
		name:    "config check",
		summary: "validate a config file and show when each rule is decided",
		usage:   "[FILE | -c FILE]",
		help: `Reports every problem at once, each with file, line and key, and exits 1
if there is any. On success it prints each rule with the stage at which it
is decided: the earliest SMTP stage where all of its facts are known.
Without a file it checks the embedded default config.
Warnings, which do not change the exit status, come first: protections of
the embedded default the config no longer has (judged by what its rules
match), rules that decide all mail, and comparisons of direction with a
value it never has.`,
		flags: func(fs *flag.FlagSet) func(context.Context, []string, *stdio) error {
			var cf configFlags
			cf.register(fs)
			return func(_ context.Context, args []string, s *stdio) error {
				switch {
				case len(args) > 1:
					return fmt.Errorf("one config file at a time, got %d", len(args))
				case len(args) == 1 && cf.file != "" && cf.file != args[0]:
					return fmt.Errorf("two config files: -c %s and %s", cf.file, args[0])
				case len(args) == 1:
					cf.file = args[0]
				}
				out := s.out
				l, err := cf.load()
				if err != nil {
					return err // a *config.ConfigError is printed whole by run
				}
				cfg, pol := l.Config, l.Policy
				fmt.Fprintf(out, "%s: OK, %d rule(s)", cfg.File, len(pol.Rules)+len(pol.Disabled))
				if len(pol.Warnings) > 0 {
					fmt.Fprintf(out, ", %d warning(s)", len(pol.Warnings))
				}
				fmt.Fprintln(out)
				for _, w := range pol.Warnings {
					fmt.Fprintln(out, w)
				}
				if err := printChecks(out, l); err != nil {
					return err
				}
				printRules(out, pol)
				return nil
			}
		},
	})
}

// printChecks lists the checks this config runs, with their stage, scope,
// budget and failure mode and why each runs, then those it never runs.
func printChecks(out io.Writer, l *session.Loaded) error {
	set := l.Checks
	runner := check.NewRunner(set, l.Policy.UsedFindings())
	active := map[string]bool{}
	fmt.Fprintln(out, "\nchecks that run:")
	width := 10
	for _, a := range runner.Active() {
		width = max(width, len(a.Check.Name()))
	}
	for _, a := range runner.Active() {
		c := a.Check
		active[c.Name()] = true
		fmt.Fprintf(out, "  %-*s from %s, awaited %s, per %s, budget %v, on error %s: %s\n",
			width, c.Name(), c.Stage(), a.Await, c.Scope(), c.Budget(), c.OnError(), a.Why)
	}
	var idle []string
	for _, c := range set.Checks() {
		if !active[c.Name()] {
			var names []string
			for _, d := range c.Findings() {
				names = append(names, d.Name)
			}
			idle = append(idle, fmt.Sprintf("%s (%s)", c.Name(), strings.Join(names, ", ")))
		}
	}
	if len(idle) > 0 {
		fmt.Fprintf(out, "checks that never run (no rule uses their findings): %s\n", strings.Join(idle, "; "))
	}
	return nil
}

func printRules(out io.Writer, pol *policy.Policy) {
	for _, group := range []struct {
		rules []*policy.Rule
		note  string
	}{{pol.Rules, ""}, {pol.Disabled, " (disabled)"}} {
		for _, r := range group.rules {
			action := r.Action.String()
			if action == "" {
				action = "modify"
			}
			if r.Scored {
				// The spam score is summed once per message, at end of
				// message, whatever stage the rule's facts are known at.
				fmt.Fprintf(out, "\nrule %q%s, line %d: scored at end of message, once per message -> score", r.Name, group.note, r.Line)
			} else {
				fmt.Fprintf(out, "\nrule %q%s, line %d: decided %s -> %s", r.Name, group.note, r.Line, r.Stage.Describe(), action)
			}
			if r.Reply.Code != 0 {
				fmt.Fprintf(out, " %q", r.Reply.String())
			}
			if r.Area != "" {
				fmt.Fprintf(out, " [area %s]", r.Area)
			}
			fmt.Fprintln(out)
			for _, c := range r.Conditions {
				fmt.Fprintf(out, "    when %s  (%s)\n", c, c.Stage())
			}
			if len(r.Conditions) == 0 {
				fmt.Fprintln(out, "    when always")
			}
			if r.TagSubject != "" {
				fmt.Fprintf(out, "    tag subject %q\n", r.TagSubject)
			}
			for _, h := range r.AddHeaders {
				fmt.Fprintf(out, "    add header %s: %s\n", h.Name, h.Value)
			}
			if r.Scored {
				fmt.Fprintf(out, "    adds %+g to the spam score ([spam])\n", r.Score)
			}
			if r.PerRecipient() && (r.TagSubject != "" || len(r.AddHeaders) > 0) {
				fmt.Fprintln(out, "    note: the delivered recipients share one copy, so these changes reach all of them when any one matches")
			}
		}
	}
}
