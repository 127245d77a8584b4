package lists

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy/lists"
)

// ListConfig is one [[list]] table: a named list of IP networks or of
// addresses, whose match is the finding list.NAME.
type ListConfig struct {
	// Name names the list: the finding is list.NAME, and a store-backed
	// list is edited with `mailwarden list add NAME ...`.
	Name string `toml:"name"`
	// Kind is "ip" (addresses, CIDR, ranges; matched against the client
	// at connect) or "address" (user@domain, *@domain, *@*.domain;
	// matched against the envelope sender at MAIL and the header From at
	// end of headers).
	Kind string `toml:"kind"`
	// Entries are inline entries, in the list syntax: separated by
	// commas, spaces or newlines, "#" comments, "# expires DATE".
	Entries []string `toml:"entries"`
	// Files are files of entries in the same syntax, read again when they
	// change and on SIGHUP.
	Files []string `toml:"files"`
	// Store adds the store's list of the same name, edited with
	// `mailwarden list`, and read again when its version moves.
	Store bool `toml:"store"`
	// Sender gives an address list a role: "approved" makes a match also
	// the finding sender.approved (the sender skips the reputation,
	// DNSBL, greylisting and spam rules that take findings_except =
	// ["sender.approved"]; never antivirus or throttling), "blocked" the
	// finding sender.blocked (rejected at MAIL by the default rules).
	Sender string `toml:"sender"`
}

var listNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

func init() {
	config.Register("list", func() []ListConfig { return nil }, validateLists)
}

func validateLists(r *config.Report, ls *[]ListConfig) {
	seen := map[string]int{}
	for i, l := range *ls {
		key := func(k string) string { return fmt.Sprintf("list[%d].%s", i, k) }
		if !listNameRE.MatchString(l.Name) {
			r.Add(key("name"), "letters, digits, dot, dash and underscore, up to 100", "list name %q is missing or invalid", l.Name)
		} else if first, dup := seen[l.Name]; dup {
			r.Add(key("name"), fmt.Sprintf("list[%d] has the same name", first), "duplicate list name %q", l.Name)
		}
		seen[l.Name] = i
		r.OneOf(key("kind"), l.Kind, "ip", "address")
		if l.Sender != "" {
			r.OneOf(key("sender"), l.Sender, "approved", "blocked")
			if l.Kind == "ip" {
				r.Add(key("sender"), "approved and blocked senders are address lists", "an ip list has no sender role")
			}
		}
		if len(l.Entries) == 0 && len(l.Files) == 0 && !l.Store {
			r.Add(fmt.Sprintf("list[%d]", i), "give entries, files or store = true", "list %q has no entries", l.Name)
		}
		for j, e := range l.Entries {
			for _, err := range parse(l.Kind, e).errs {
				r.Add(fmt.Sprintf("list[%d].entries[%d]", i, j), kindForms(l.Kind), "%v", err)
			}
		}
		for j, f := range l.Files {
			k := fmt.Sprintf("list[%d].files[%d]", i, j)
			if !strings.HasPrefix(f, "/") {
				r.Add(k, "an absolute path", "%q is not an absolute path", f)
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				r.Add(k, "", "%v", err)
				continue
			}
			for n, err := range parse(l.Kind, string(src)).errs {
				if n == 10 {
					r.Add(k, "", "%s: more problems follow", f)
					break
				}
				r.Add(k, kindForms(l.Kind), "%s: %v", f, err)
			}
		}
	}
}

func kindForms(kind string) string {
	if kind == "ip" {
		return lists.RangeForms
	}
	return lists.PatternForms
}

// parsed is the entries of one text, of either kind.
type parsed struct {
	ip   []lists.IPEntry
	addr []lists.AddrEntry
	errs []error
}

func parse(kind, text string) parsed {
	var p parsed
	if kind == "ip" {
		l, errs := lists.ParseIPList(text)
		p.ip, p.errs = l.Entries(), errs
	} else {
		l, errs := lists.ParseAddrList(text)
		p.addr, p.errs = l.Entries(), errs
	}
	return p
}
