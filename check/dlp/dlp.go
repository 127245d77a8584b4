// Package dlp reports built-in data-loss-prevention templates: payment
// card numbers, Japanese My Number and corporate numbers, IBANs, US Social
// Security numbers, and email addresses and phone numbers above a count.
// Each template is validated, not only a pattern: card numbers by the
// Luhn check and the networks' IIN ranges and lengths, the Japanese
// numbers by their check digits, IBANs by the country length and mod 97,
// SSNs by the SSA's area, group and serial rules. Each gives one finding,
// dlp.TEMPLATE, whose value is the count of distinct values found, once
// the count reaches the template's min_count.
//
// Numbers are taken only as a whole token: digits glued to letters,
// other digits, "#", "/" or a decimal point are part of something else (a
// version, a path, a reference). Text is NFKC-normalized first, so
// full-width digits count. Twelve- and thirteen-digit numbers pass a
// check digit one time in ten or nine by chance, so My Number and the
// corporate number also need a word that names them (マイナンバー, 個人番号,
// 法人番号, "My Number", ...) within 64 bytes.
package dlp

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/textscan"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/policy"
)

// Section is the config section.
const Section = "dlp"

// The templates; the finding of each is "dlp." and its name.
const (
	CreditCard        = "credit_card"
	MyNumber          = "my_number"
	CorporateNumber   = "jp_corporate_number"
	IBAN              = "iban"
	SSN               = "us_ssn"
	Email             = "email"
	Phone             = "phone"
	findingPrefix     = "dlp."
	defaultEmailCount = 20
	defaultPhoneCount = 10
)

// Templates lists every template, in the order findings are reported.
var Templates = []string{CreditCard, MyNumber, CorporateNumber, IBAN, SSN, Email, Phone}

var docs = map[string]string{
	CreditCard:      "payment card numbers (Luhn, IIN range and length)",
	MyNumber:        "Japanese individual numbers (My Number, check digit, named nearby)",
	CorporateNumber: "Japanese corporate numbers (check digit, named nearby)",
	IBAN:            "IBANs (country length, mod 97)",
	SSN:             "US Social Security numbers (area, group and serial rules)",
	Email:           "email addresses, at least min_count.email distinct",
	Phone:           "phone numbers, at least min_count.phone distinct",
}

// Config is the [dlp] section.
type Config struct {
	// Templates are the templates that run (when a rule names their
	// finding); default all.
	Templates []string `toml:"templates"`
	// Entities are the texts scanned: "subject", "body", "html",
	// "headers", "header:NAME", "attachment_names", "attachment_text";
	// default subject, body, html and attachment_text.
	Entities []string `toml:"entities"`
	// MinCount is, per template, the number of distinct values that gives
	// its finding.
	MinCount MinCount `toml:"min_count"`
}

// MinCount is the [dlp.min_count] table.
type MinCount struct {
	CreditCard      int `toml:"credit_card"`
	MyNumber        int `toml:"my_number"`
	CorporateNumber int `toml:"jp_corporate_number"`
	IBAN            int `toml:"iban"`
	SSN             int `toml:"us_ssn"`
	Email           int `toml:"email"`
	Phone           int `toml:"phone"`
}

func (m *MinCount) of(t string) *int {
	switch t {
	case CreditCard:
		return &m.CreditCard
	case MyNumber:
		return &m.MyNumber
	case CorporateNumber:
		return &m.CorporateNumber
	case IBAN:
		return &m.IBAN
	case SSN:
		return &m.SSN
	case Email:
		return &m.Email
	default:
		return &m.Phone
	}
}

// Defaults is the section when the config says nothing.
func Defaults() Config {
	return Config{
		Templates: slices.Clone(Templates),
		Entities:  []string{textscan.Subject, textscan.Body, textscan.HTML, textscan.AttachmentText},
		MinCount:  MinCount{CreditCard: 1, MyNumber: 1, CorporateNumber: 1, IBAN: 1, SSN: 1, Email: defaultEmailCount, Phone: defaultPhoneCount},
	}
}

func init() {
	config.Register(Section, Defaults, validate)
	check.Register(build)
}

func validate(r *config.Report, c *Config) {
	for i, t := range c.Templates {
		if !slices.Contains(Templates, t) {
			r.Add(fmt.Sprintf("dlp.templates[%d]", i), "one of "+strings.Join(Templates, ", "), "unknown template %q", t)
		}
	}
	for i, e := range c.Entities {
		if err := textscan.Check(e); err != nil {
			r.Add(fmt.Sprintf("dlp.entities[%d]", i), "one of "+strings.Join(textscan.Names, ", "), "unknown entity %q", e)
		}
	}
	for _, t := range Templates {
		if n := *c.MinCount.of(t); n < 1 {
			r.Add("dlp.min_count."+t, "a count of at least 1", "min_count %d is not a count", n)
		}
	}
}

func build(cfg *config.Config) []check.Check {
	c := config.Section[Config](cfg, Section)
	ents, err := textscan.Parse(c.Entities)
	if err != nil { // validated
		return nil
	}
	ch := &Check{entities: ents, min: c.MinCount}
	for _, t := range Templates {
		if slices.Contains(c.Templates, t) {
			ch.templates = append(ch.templates, t)
		}
	}
	if len(ch.templates) == 0 {
		return nil
	}
	return []check.Check{ch}
}

// Check is the DLP check.
type Check struct {
	templates []string
	entities  textscan.Set
	min       MinCount
}

func (*Check) Name() string          { return "dlp" }
func (*Check) Stage() policy.Stage   { return policy.StageEOM }
func (*Check) Scope() check.Scope    { return check.ScopeTransaction }
func (*Check) Budget() time.Duration { return 5 * time.Second }

// OnError is skip: the scan is in memory and fails only by a bug or an
// exhausted budget.
func (*Check) OnError() check.OnError { return check.OnErrorSkip }

func (c *Check) Findings() []check.Declared {
	out := make([]check.Declared, 0, len(c.templates))
	for _, t := range c.templates {
		out = append(out, check.Declared{Name: findingPrefix + t, Doc: docs[t]})
	}
	return out
}

// found is one template's result.
type found struct {
	seen  map[string]bool
	first match
	where string
}

func (c *Check) Run(ctx context.Context, in *check.Input) ([]check.Finding, error) {
	if in.Message == nil {
		return nil, nil
	}
	start := time.Now()
	res := map[string]*found{}
	for _, t := range c.entities.TextsContext(ctx, in.Message) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("dlp: %w", err)
		}
		s := norm.NFKC.String(t.Text)
		for _, tmpl := range c.templates {
			for _, m := range find(tmpl, s) {
				f := res[tmpl]
				if f == nil {
					f = &found{seen: map[string]bool{}, first: m, where: t.Where}
					res[tmpl] = f
				}
				f.seen[m.value] = true
			}
		}
	}
	var out []check.Finding
	for _, tmpl := range c.templates {
		f := res[tmpl]
		if f == nil || len(f.seen) < *c.min.of(tmpl) {
			continue
		}
		out = append(out, check.Finding{
			Name:   findingPrefix + tmpl,
			Value:  strconv.Itoa(len(f.seen)),
			Where:  f.where,
			Reason: reason(tmpl, len(f.seen), f.first),
		})
	}
	if in.Env != nil && in.Env.Log != nil {
		in.Env.Log.Debug("dlp", slog.Duration("took", time.Since(start)), slog.Int("findings", len(out)))
	}
	return out, nil
}

// find returns the values of template tmpl in the (NFKC-normalized) text s.
func find(tmpl, s string) []match {
	switch tmpl {
	case CreditCard:
		return findRuns(s, acceptCard, nil)
	case MyNumber:
		return findRuns(s, acceptMyNumber, nearWords(s, myNumberWords))
	case CorporateNumber:
		return findRuns(s, acceptCorporate, nearWords(s, corporateWords))
	case IBAN:
		return findIBAN(s)
	case SSN:
		return findRuns(s, acceptSSN, nil)
	case Email:
		return findEmail(s)
	case Phone:
		return findPhone(s)
	}
	return nil
}

// reason says what was found without repeating the values, which the
// tracking log must not keep: only the last four digits of a number.
func reason(tmpl string, n int, first match) string {
	last4 := first.value[max(0, len(first.value)-4):]
	switch tmpl {
	case CreditCard:
		return fmt.Sprintf("%d payment card number(s); the first a %s card ending %s", n, first.brand, last4)
	case MyNumber:
		return fmt.Sprintf("%d Japanese individual number(s) (My Number); the first ending %s", n, last4)
	case CorporateNumber:
		return fmt.Sprintf("%d Japanese corporate number(s)", n)
	case IBAN:
		return fmt.Sprintf("%d IBAN(s); the first of country %s ending %s", n, first.value[:2], last4)
	case SSN:
		return fmt.Sprintf("%d US Social Security number(s); the first ending %s", n, last4)
	case Email:
		return fmt.Sprintf("%d distinct email addresses", n)
	default:
		return fmt.Sprintf("%d distinct phone numbers", n)
	}
}
