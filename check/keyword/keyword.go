// Package keyword reports keyword and regex lists: each [[keywords]] list
// is the finding keyword.NAME, one per entry that matched, with the entry
// as value, the entity it matched in as Where, and its description and a
// short excerpt as Reason. A list reports only once its entries matched
// min_matches times in all.
//
// A literal is found with strings.Index, a regex with Go's regexp (RE2:
// linear in the text, no backtracking). case_insensitive lower-cases the
// literal and the text, and adds (?i) to a regex; nfkc normalizes both
// the entries and the text by NFKC, so full-width and half-width forms
// (ＡＢＣ and ABC, ｶﾞ and ガ) match each other. The text is the message
// model's, bounded by its limits (see check/textscan).
package keyword

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/textscan"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
)

// Section is the config section: an array of tables.
const Section = "keywords"

// Config is one [[keywords]] list.
type Config struct {
	// Name identifies the list; the finding is keyword.NAME.
	Name string `toml:"name"`
	// Entries are the keywords, each a table with text (a literal) or
	// regex (a Go regular expression), and an optional description.
	Entries []Entry `toml:"entries"`
	// CaseInsensitive matches regardless of case.
	CaseInsensitive bool `toml:"case_insensitive"`
	// NFKC matches width-insensitively: entries and text are NFKC-normalized.
	NFKC bool `toml:"nfkc"`
	// Entities are the texts matched: "subject", "body", "html",
	// "headers", "header:NAME", "attachment_names", "attachment_text";
	// default subject, body and html.
	Entities []string `toml:"entities"`
	// MinMatches is the number of matches (of all entries, in all
	// entities) that gives the findings; default 1.
	MinMatches int `toml:"min_matches"`
}

// Entry is one keyword.
type Entry struct {
	// Text is a literal to find.
	Text string `toml:"text"`
	// Regex is a Go regular expression to find.
	Regex string `toml:"regex"`
	// Description says what the entry is for; it is in the finding's reason.
	Description string `toml:"description"`
}

// value is the entry as findings show it: the literal, or /regex/.
func (e Entry) value() string {
	if e.Regex != "" {
		return "/" + e.Regex + "/"
	}
	return e.Text
}

// maxFindings caps the findings of one list per message.
const maxFindings = 20

// excerptBytes is about how much text an excerpt shows around a match.
const excerptBytes = 60

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func init() {
	config.Register(Section, func() []Config { return nil }, validate)
	check.Register(build)
}

func validate(r *config.Report, lists *[]Config) {
	seen := map[string]bool{}
	for i, l := range *lists {
		key := fmt.Sprintf("keywords[%d]", i)
		switch {
		case !validName.MatchString(l.Name):
			r.Add(key+".name", `lower-case letters, digits, "-" and "_", such as "confidential"`, "%q is not a list name", l.Name)
		case seen[l.Name]:
			r.Add(key+".name", "each list needs its own name", "list %q is defined twice", l.Name)
		}
		seen[l.Name] = true
		if len(l.Entries) == 0 {
			r.Add(key+".entries", `entries = [{ text = "confidential" }]`, "list %q has no entries", l.Name)
		}
		for j, e := range l.Entries {
			ek := fmt.Sprintf("%s.entries[%d]", key, j)
			switch {
			case (e.Text == "") == (e.Regex == ""):
				r.Add(ek, `{ text = "literal" } or { regex = "pattern" }`, "an entry needs exactly one of text and regex")
			case e.Regex != "":
				if _, err := compile(l, e); err != nil {
					r.Add(ek+".regex", "a Go regular expression (RE2 syntax)", "%v", err)
				}
			default:
				if _, err := compile(l, e); err != nil {
					r.Add(ek+".text", "", "%v", err)
				}
			}
		}
		for j, ent := range l.Entities {
			if err := textscan.Check(ent); err != nil {
				r.Add(fmt.Sprintf("%s.entities[%d]", key, j), "one of "+strings.Join(textscan.Names, ", "), "unknown entity %q", ent)
			}
		}
		if l.MinMatches < 0 {
			r.Add(key+".min_matches", "a count; 0 or 1 mean any match", "min_matches %d is negative", l.MinMatches)
		}
	}
}

// compile turns an entry into its regexp under the list's options.
func compile(l Config, e Entry) (*regexp.Regexp, error) {
	pat := e.Regex
	if e.Text != "" {
		t := e.Text
		if l.NFKC {
			t = norm.NFKC.String(t)
		}
		pat = regexp.QuoteMeta(t)
	} else if l.NFKC {
		pat = norm.NFKC.String(pat)
	}
	if l.CaseInsensitive {
		pat = "(?i)" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("keyword: %w", err)
	}
	return re, nil
}

// list is one compiled list.
type list struct {
	cfg      Config
	res      []*regexp.Regexp
	lits     []string // per entry: the literal to find, lower case when case-insensitive; "" for a regex
	entities textscan.Set
	min      int
}

// literal is the text a literal entry is found by with strings.Index,
// which is many times faster than a (?i) regexp: the literal NFKC-
// normalized under nfkc, and lower-cased under case_insensitive (the text
// is then lower-cased too).
func literal(l Config, e Entry) string {
	if e.Text == "" {
		return ""
	}
	t := e.Text
	if l.NFKC {
		t = norm.NFKC.String(t)
	}
	if l.CaseInsensitive {
		t = strings.ToLower(t)
	}
	return t
}

func build(cfg *config.Config) []check.Check {
	lists := config.Section[[]Config](cfg, Section)
	if lists == nil || len(*lists) == 0 {
		return nil
	}
	ch := &Check{}
	for _, l := range *lists {
		ents := l.Entities
		if len(ents) == 0 {
			ents = []string{textscan.Subject, textscan.Body, textscan.HTML}
		}
		set, err := textscan.Parse(ents)
		if err != nil { // validated
			continue
		}
		cl := &list{cfg: l, entities: set, min: max(1, l.MinMatches)}
		for _, e := range l.Entries {
			re, err := compile(l, e)
			if err != nil { // validated
				continue
			}
			cl.res = append(cl.res, re)
			cl.lits = append(cl.lits, literal(l, e))
		}
		ch.lists = append(ch.lists, cl)
	}
	return []check.Check{ch}
}

// Check matches every list.
type Check struct {
	lists []*list
}

func (*Check) Name() string          { return "keyword" }
func (*Check) Stage() policy.Stage   { return policy.StageEOM }
func (*Check) Scope() check.Scope    { return check.ScopeTransaction }
func (*Check) Budget() time.Duration { return 5 * time.Second }

// OnError is skip: matching is in memory and fails only by a bug or an
// exhausted budget.
func (*Check) OnError() check.OnError { return check.OnErrorSkip }

func (c *Check) Findings() []check.Declared {
	out := make([]check.Declared, 0, len(c.lists))
	for _, l := range c.lists {
		out = append(out, check.Declared{Name: "keyword." + l.cfg.Name, Doc: "an entry of keyword list " + l.cfg.Name + " matched"})
	}
	return out
}

func (c *Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if in.Message == nil {
		return nil, nil
	}
	var out []check.Finding
	for _, l := range c.lists {
		fs, err := l.match(ctx, l.entities.TextsContext(ctx, in.Message))
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// match reports the list's findings in texts.
func (l *list) match(ctx context.Context, texts []textscan.Text) ([]check.Finding, error) {
	type hit struct {
		where, excerpt string
	}
	first := make([]*hit, len(l.res))
	total := 0
	for _, t := range texts {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("keyword: %w", err)
		}
		s := t.Text
		if l.cfg.NFKC {
			s = norm.NFKC.String(s)
		}
		lower := ""
		for i, re := range l.res {
			if lit := l.lits[i]; lit != "" {
				hay := s
				if l.cfg.CaseInsensitive {
					if lower == "" {
						lower = strings.ToLower(s)
					}
					hay = lower
				}
				k := strings.Index(hay, lit)
				if k < 0 {
					continue
				}
				total += strings.Count(hay, lit)
				if first[i] == nil {
					// The excerpt keeps the text's case where lower-casing
					// kept its length, as it does but for a few letters.
					if len(hay) == len(s) {
						hay = s
					}
					first[i] = &hit{where: t.Where, excerpt: Excerpt(hay, k, k+len(lit))}
				}
				continue
			}
			locs := re.FindAllStringIndex(s, -1)
			if len(locs) == 0 {
				continue
			}
			total += len(locs)
			if first[i] == nil {
				first[i] = &hit{where: t.Where, excerpt: Excerpt(s, locs[0][0], locs[0][1])}
			}
		}
	}
	if total < l.min {
		return nil, nil
	}
	var out []check.Finding
	for i, h := range first {
		if h == nil {
			continue
		}
		e := l.cfg.Entries[i]
		reason := fmt.Sprintf("%q", h.excerpt)
		if e.Description != "" {
			reason = e.Description + ": " + reason
		}
		out = append(out, check.Finding{Name: "keyword." + l.cfg.Name, Value: e.value(), Where: h.where, Reason: reason})
		if len(out) == maxFindings {
			break
		}
	}
	return out, nil
}

// Excerpt is s[i:j] with up to about excerptBytes of context on either side,
// cut at rune boundaries, the match itself cut to excerptBytes, line ends
// made spaces, "…" marking a cut, and long numbers masked but their last
// four digits.
func Excerpt(s string, i, j int) string {
	if j-i > excerptBytes {
		j = i + excerptBytes
		for j > i && !utf8.RuneStart(s[j]) {
			j--
		}
	}
	a, b := max(0, i-excerptBytes/2), min(len(s), j+excerptBytes/2)
	for a > 0 && !utf8.RuneStart(s[a]) {
		a++
	}
	for b < len(s) && !utf8.RuneStart(s[b]) {
		b--
	}
	out := s[a:b]
	if a > 0 {
		out = "…" + out
	}
	if b < len(s) {
		out += "…"
	}
	return maskNumbers(strings.Join(strings.Fields(out), " "))
}

// maskNumbers hides the digits but the last four of every run of 9 or more
// digits (spaces and dashes between them allowed) in an excerpt: the
// tracking log must not keep a card or account number that happened to be
// next to a keyword.
func maskNumbers(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); {
		if b[i] < '0' || b[i] > '9' {
			i++
			continue
		}
		j, n := i, 0
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || (b[j] == ' ' || b[j] == '-') && j+1 < len(b) && b[j+1] >= '0' && b[j+1] <= '9') {
			if b[j] >= '0' && b[j] <= '9' {
				n++
			}
			j++
		}
		if n >= 9 {
			for k, left := i, n-4; k < j && left > 0; k++ {
				if b[k] >= '0' && b[k] <= '9' {
					b[k] = '*'
					left--
				}
			}
		}
		i = j
	}
	return string(b)
}
