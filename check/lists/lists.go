// Package lists is the check behind [[list]] tables: named IP lists
// matched against the client at connect, and address lists matched
// against the envelope sender at MAIL and the header From at end of
// headers. A match is the finding list.NAME; a match in an address list
// with sender = "approved" or "blocked" is also sender.approved or
// sender.blocked.
//
// A list's entries come from the config, from files (read again when they
// change) and from the store (`mailwarden list`, read again when the
// list's version moves); each source is looked at no more than once a
// second. A source that fails to read again keeps its last good entries.
// Parsing and lookups are package policy/lists': O(log n) for IP lists,
// a few map lookups for addresses.
package lists

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
	"github.com/mailwarden/mailwarden/policy/lists"
)

// The findings of sender roles.
const (
	Approved = "sender.approved"
	Blocked  = "sender.blocked"
)

func init() { check.Register(build) }

func build(cfg *config.Config) []check.Check {
	ipc := &IPCheck{}
	ac := &AddrCheck{}
	seen := map[string]bool{}
	for _, lc := range *config.Section[[]ListConfig](cfg, "list") {
		if !listNameRE.MatchString(lc.Name) || seen[lc.Name] {
			continue // reported by the validator
		}
		seen[lc.Name] = true
		l := newList(lc)
		switch lc.Kind {
		case "ip":
			ipc.lists = append(ipc.lists, l)
		case "address":
			ac.lists = append(ac.lists, l)
		}
	}
	out := []check.Check{ac}
	if len(ipc.lists) > 0 {
		out = append(out, ipc)
	}
	return out
}

// IPCheck matches the client against the IP lists.
type IPCheck struct{ lists []*list }

func (*IPCheck) Name() string           { return "ip-lists" }
func (*IPCheck) Stage() policy.Stage    { return policy.StageConnect }
func (*IPCheck) Scope() check.Scope     { return check.ScopeConnection }
func (*IPCheck) Budget() time.Duration  { return 2 * time.Second }
func (*IPCheck) OnError() check.OnError { return check.OnErrorTempfail }

// JudgesClient: on a connection from a known host the lists judge the
// message's first untrusted hop.
func (*IPCheck) JudgesClient() bool { return true }

func (c *IPCheck) Findings() []check.Declared {
	var out []check.Declared
	for _, l := range c.lists {
		out = append(out, check.Declared{Name: "list." + l.cfg.Name, Doc: "the client is in IP list " + l.cfg.Name})
	}
	return out
}

func (c *IPCheck) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if !in.ClientIP.IsValid() {
		return nil, nil
	}
	var out []check.Finding
	for _, l := range c.lists {
		ip, _, err := l.current(ctx, in.Env)
		if err != nil {
			return out, err
		}
		if e, ok := ip.Lookup(in.ClientIP, in.Env.Time()); ok {
			out = append(out, check.Finding{Name: "list." + l.cfg.Name, Value: e.Text, Where: "client",
				Reason: reason("client "+in.ClientIP.String(), l.cfg.Name, e.Item)})
		}
	}
	return out, nil
}

// AddrCheck matches the envelope sender, and the header From, against the
// address lists.
type AddrCheck struct{ lists []*list }

func (*AddrCheck) Name() string           { return "sender-lists" }
func (*AddrCheck) Stage() policy.Stage    { return policy.StageMail }
func (*AddrCheck) Scope() check.Scope     { return check.ScopeTransaction }
func (*AddrCheck) Budget() time.Duration  { return 2 * time.Second }
func (*AddrCheck) OnError() check.OnError { return check.OnErrorTempfail }

// LateStage: the header From is known at end of headers.
func (*AddrCheck) LateStage() policy.Stage { return policy.StageEOH }

func (c *AddrCheck) Findings() []check.Declared {
	out := []check.Declared{
		{Name: Approved, Doc: "the envelope sender (at MAIL) or header From (at end of headers) is in an approved-sender list"},
		{Name: Blocked, Doc: "the envelope sender (at MAIL) or header From (at end of headers) is in a blocked-sender list"},
	}
	for _, l := range c.lists {
		out = append(out, check.Declared{Name: "list." + l.cfg.Name, Doc: "the sender is in address list " + l.cfg.Name})
	}
	return out
}

func (c *AddrCheck) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	return c.match(ctx, in, []string{in.Sender}, "envelope")
}

// RunLate matches the addresses of the header From.
func (c *AddrCheck) RunLate(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	var addrs []string
	for _, h := range in.Headers {
		if strings.EqualFold(h.Name, "From") {
			addrs = append(addrs, fromAddresses(h.Value)...)
		}
	}
	if len(addrs) == 0 {
		return nil, nil
	}
	return c.match(ctx, in, addrs, "header:From")
}

func (c *AddrCheck) match(ctx context.Context, in *check.Input, addrs []string, where string) ([]check.Finding, error) {
	var out []check.Finding
	for _, l := range c.lists {
		_, al, err := l.current(ctx, in.Env)
		if err != nil {
			return out, err
		}
		for _, a := range addrs {
			e, ok := al.Lookup(a, in.Env.Time())
			if !ok {
				continue
			}
			shown := a
			if shown == "" {
				shown = "<>"
			}
			why := reason(where+" "+shown, l.cfg.Name, e.Item)
			out = append(out, check.Finding{Name: "list." + l.cfg.Name, Value: e.Text, Where: where, Reason: why})
			switch l.cfg.Sender {
			case "approved":
				out = append(out, check.Finding{Name: Approved, Value: shown, Where: where, Reason: why})
			case "blocked":
				out = append(out, check.Finding{Name: Blocked, Value: shown, Where: where, Reason: why})
			}
			break
		}
	}
	return out, nil
}

func reason(what, list string, it lists.Item) string {
	r := fmt.Sprintf("%s is in list %s (entry %s", what, list, it.Text)
	if it.Comment != "" {
		r += ": " + it.Comment
	}
	return r + ")"
}

// maxFromAddrs bounds the addresses read from a From field.
const maxFromAddrs = 20

// fromAddresses reads the addresses of a From field leniently: as an
// address list, or failing that, what stands in angle brackets or the
// whole value.
func fromAddresses(v string) []string {
	v = strings.TrimSpace(v)
	if as, err := mail.ParseAddressList(v); err == nil {
		var out []string
		for _, a := range as[:min(len(as), maxFromAddrs)] {
			out = append(out, a.Address)
		}
		return out
	}
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return []string{strings.TrimSpace(v[i+1 : i+j])}
		}
	}
	if strings.Contains(v, "@") && !strings.ContainsAny(v, " \t") {
		return []string{v}
	}
	return nil
}

// list is one [[list]] and its sources, combined into one lookup
// structure that is rebuilt when a source changes.
type list struct {
	cfg    ListConfig
	inline parsed

	mu      sync.Mutex
	files   []*fileSource
	store   storeSource
	checked time.Time
	built   bool
	ip      lists.IPList
	addr    lists.AddrList
}

type fileSource struct {
	path string
	mod  time.Time
	size int64
	p    parsed
	ok   bool
}

type storeSource struct {
	version int64
	p       parsed
	ok      bool
}

// recheck is how often a list's files and store version are looked at.
const recheck = time.Second

func newList(c ListConfig) *list {
	l := &list{cfg: c}
	l.inline = parse(c.Kind, strings.Join(c.Entries, "\n"))
	for _, f := range c.Files {
		l.files = append(l.files, &fileSource{path: f})
	}
	return l
}

// current returns the list's lookup structure, looking at its sources
// first when a second has passed.
func (l *list) current(ctx context.Context, env *check.Env) (lists.IPList, lists.AddrList, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.built && now.Sub(l.checked) < recheck {
		return l.ip, l.addr, nil
	}
	l.checked = now
	var log *slog.Logger
	if env != nil {
		log = env.Log
	}
	changed := !l.built
	for _, f := range l.files {
		ch, err := f.refresh(l.cfg.Kind)
		if err != nil {
			if !f.ok {
				return l.ip, l.addr, fmt.Errorf("lists: %s: %w", l.cfg.Name, err)
			}
			if log != nil {
				log.Error("list file did not load; keeping its last good entries", "list", l.cfg.Name, "path", f.path, "err", err)
			}
		}
		changed = changed || ch
	}
	if l.cfg.Store {
		ch, err := l.store.refresh(ctx, env, l.cfg)
		if err != nil {
			if !l.store.ok {
				return l.ip, l.addr, fmt.Errorf("lists: %s: %w", l.cfg.Name, err)
			}
			if log != nil {
				log.Error("list did not load from the store; keeping its last good entries", "list", l.cfg.Name, "err", err)
			}
		}
		changed = changed || ch
	}
	if changed {
		l.rebuild()
	}
	l.built = true
	return l.ip, l.addr, nil
}

func (l *list) rebuild() {
	all := []parsed{l.inline, l.store.p}
	for _, f := range l.files {
		all = append(all, f.p)
	}
	var ips []lists.IPEntry
	var addrs []lists.AddrEntry
	for _, p := range all {
		ips = append(ips, p.ip...)
		addrs = append(addrs, p.addr...)
	}
	l.ip, l.addr = lists.NewIPList(ips), lists.NewAddrList(addrs)
}

// refresh reads the file again when its size or time changed; a file
// with errors keeps the last good entries.
func (f *fileSource) refresh(kind string) (bool, error) {
	fi, err := os.Stat(f.path)
	if err != nil {
		return false, err
	}
	if f.ok && fi.ModTime().Equal(f.mod) && fi.Size() == f.size {
		return false, nil
	}
	f.mod, f.size = fi.ModTime(), fi.Size()
	src, err := os.ReadFile(f.path)
	if err != nil {
		return false, err
	}
	p := parse(kind, string(src))
	if len(p.errs) > 0 {
		return false, fmt.Errorf("%w (and %d more problems)", p.errs[0], len(p.errs)-1)
	}
	f.p, f.ok = p, true
	return true, nil
}

// refresh reads the store's list again when its version moved.
func (s *storeSource) refresh(ctx context.Context, env *check.Env, c ListConfig) (bool, error) {
	if env == nil || env.State == nil {
		if env != nil && env.DryRun {
			s.ok = true // a dry run without a store sees the config's entries
			return false, nil
		}
		return false, check.ErrNoState
	}
	v, err := env.State.ListVersion(ctx, c.Name)
	if err != nil {
		return false, err
	}
	if s.ok && v == s.version {
		return false, nil
	}
	items, v, err := env.State.ListItems(ctx, c.Name, time.Time{})
	if err != nil {
		return false, err
	}
	var p parsed
	for _, it := range items {
		item := lists.Item{Text: it.Value, Comment: it.Note, Expires: it.Expires}
		if c.Kind == "ip" {
			r, err := lists.ParseRange(it.Value)
			if err != nil {
				continue // the CLI checks values; skip one that does not parse
			}
			p.ip = append(p.ip, lists.IPEntry{Range: r, Item: item})
		} else {
			pt, err := lists.ParsePattern(it.Value)
			if err != nil {
				continue
			}
			p.addr = append(p.addr, lists.AddrEntry{Pattern: pt, Item: item})
		}
	}
	s.p, s.version, s.ok = p, v, true
	return true, nil
}
