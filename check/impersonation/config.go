package impersonation

import (
	"fmt"
	"strings"

	"github.com/mailwarden/mailwarden/config"
)

// Config is the [impersonation] section: the people whose names are
// protected and the domains whose lookalikes are.
type Config struct {
	// ProtectedDomains are domains whose lookalikes give
	// impersonation.domain, besides organization.internal_domains: a
	// parent company, a bank, a supplier.
	ProtectedDomains []string `toml:"protected_domains"`
	// AllowDomains are domains never taken for lookalikes, though close to
	// a protected one: a partner at one letter's distance, the same brand
	// under another suffix.
	AllowDomains []string `toml:"allow_domains"`
	// DistanceShort is the largest Damerau-Levenshtein distance at which
	// the registrable label of a domain (its confusable skeleton, "examp1e"
	// of examp1e.co.jp) is a lookalike of a protected label shorter than
	// long_label characters (default 1). Labels under 4 characters are
	// lookalikes only with an equal skeleton.
	DistanceShort int `toml:"distance_short"`
	// DistanceLong is that distance for labels of long_label characters
	// or more (default 2).
	DistanceLong int `toml:"distance_long"`
	// LongLabel is the length, in characters, from which a label is long
	// (default 9).
	LongLabel int `toml:"long_label"`
	// People are the high-profile people whose names in a From display
	// name, from another address than theirs, give
	// impersonation.display_name.
	People []Person `toml:"people"`
}

// Person is one [[impersonation.people]] table.
type Person struct {
	// Name is the person's name as the finding shows it, e.g. "Taro
	// Yamada". Word order, case, width, spacing, diacritics and
	// confusable characters do not matter.
	Name string `toml:"name"`
	// Aliases are other spellings of the name that match too, such as the
	// name in kanji ("山田 太郎") or kana ("ヤマダ タロウ").
	Aliases []string `toml:"aliases"`
	// Addresses are the person's own addresses, compared
	// case-insensitively: mail from one of them is no impersonation.
	// "@example.com" stands for every address at that domain.
	Addresses []string `toml:"addresses"`
}

func defaults() Config {
	return Config{DistanceShort: 1, DistanceLong: 2, LongLabel: 9}
}

func init() {
	config.Register("impersonation", defaults, validate)
}

func validate(r *config.Report, c *Config) {
	if c.DistanceShort < 0 || c.DistanceShort > 3 {
		r.Add("impersonation.distance_short", "1 is the default; 0 finds only equal skeletons", "must be between 0 and 3")
	}
	if c.DistanceLong < 0 || c.DistanceLong > 4 {
		r.Add("impersonation.distance_long", "2 is the default", "must be between 0 and 4")
	}
	if c.LongLabel < 1 || c.LongLabel > 63 {
		r.Add("impersonation.long_label", "9 is the default", "must be between 1 and 63")
	}
	for _, list := range []struct {
		key  string
		vals []string
	}{{"impersonation.protected_domains", c.ProtectedDomains}, {"impersonation.allow_domains", c.AllowDomains}} {
		for i, d := range list.vals {
			if _, ok := ParseDomain(d); !ok || strings.ContainsAny(d, "@*/ ") {
				r.Add(fmt.Sprintf("%s[%d]", list.key, i), "a registrable domain such as \"example.com\"", "%q is not a domain with a registrable part", d)
			}
		}
	}
	for i, p := range c.People {
		key := fmt.Sprintf("impersonation.people[%d]", i)
		if len(NameKeys(p.Name)) == 0 {
			r.Add(key+".name", "the person's name, e.g. \"Taro Yamada\"", "name %q has no letters", p.Name)
		}
		for j, a := range p.Aliases {
			if len(NameKeys(a)) == 0 {
				r.Add(fmt.Sprintf("%s.aliases[%d]", key, j), "another spelling of the name", "alias %q has no letters", a)
			}
		}
		if len(p.Addresses) == 0 {
			r.Add(key+".addresses", "the person's own addresses, e.g. [\"taro.yamada@example.com\"]", "no addresses: every message showing the name would be an impersonation")
		}
		for j, a := range p.Addresses {
			_, dom, ok := strings.Cut(strings.TrimSpace(a), "@")
			if !ok || dom == "" || strings.ContainsAny(a, " <>,") || strings.Contains(dom, "@") {
				r.Add(fmt.Sprintf("%s.addresses[%d]", key, j), "an address such as \"taro@example.com\", or \"@example.com\" for the whole domain", "%q is not an address", a)
			}
		}
	}
}
