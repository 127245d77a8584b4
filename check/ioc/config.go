package ioc

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailwarden/mailwarden/config"
)

// Config is one [[ioc]] table: a file of indicators of compromise.
type Config struct {
	// Name names the list in the finding's reason and the log.
	Name string `toml:"name"`
	// File is the list's absolute path: one domain, URL, IP address or
	// CIDR network, email address or SHA-256 value per line, or CSV.
	File string `toml:"file"`
	// Format is "lines", "csv", or "auto" (the default): CSV when the
	// name ends in .csv or the first line has commas and is no entry.
	Format string `toml:"format"`
	// ReloadInterval is how often the file's modification time and size
	// are looked at (default 5s); a change two looks in a row see loads
	// it again, in the background, and swaps the new entries in whole.
	ReloadInterval config.Duration `toml:"reload_interval"`
	// MaxEntries bounds the entries loaded (default 1000000); those past
	// it are not matched, and the load says how many.
	MaxEntries int `toml:"max_entries"`
}

// Defaults of a table.
const (
	DefaultReloadInterval = 5 * time.Second
	DefaultMaxEntries     = 1_000_000
)

func (c Config) maxEntries() int {
	if c.MaxEntries <= 0 {
		return DefaultMaxEntries
	}
	return c.MaxEntries
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

func init() {
	config.Register("ioc", func() []Config { return nil }, validate)
}

// preloaded keeps the lists the validator loaded for the builder of the
// same configuration, so that a file is read once at startup: the
// validator must read it (a missing file is a config error with its key),
// and the builder takes it from here.
var preloaded = struct {
	sync.Mutex
	m map[string]*snapshot
}{m: map[string]*snapshot{}}

func preloadKey(c Config) string {
	return strings.Join([]string{c.Name, c.File, c.Format, strconv.Itoa(c.maxEntries())}, "\x00")
}

// takePreloaded returns and forgets the snapshot the validator loaded for c.
func takePreloaded(c Config) *snapshot {
	preloaded.Lock()
	defer preloaded.Unlock()
	k := preloadKey(c)
	s := preloaded.m[k]
	delete(preloaded.m, k)
	return s
}

func validate(r *config.Report, cs *[]Config) {
	seen := map[string]int{}
	for i, c := range *cs {
		key := func(k string) string { return fmt.Sprintf("ioc[%d].%s", i, k) }
		ok := true
		if !nameRE.MatchString(c.Name) {
			r.Add(key("name"), "letters, digits, dot, dash and underscore, up to 100", "ioc list name %q is missing or invalid", c.Name)
			ok = false
		} else if first, dup := seen[c.Name]; dup {
			r.Add(key("name"), fmt.Sprintf("ioc[%d] has the same name", first), "duplicate ioc list name %q", c.Name)
			ok = false
		}
		seen[c.Name] = i
		if c.Format != "" {
			n := len(r.Problems)
			r.OneOf(key("format"), c.Format, "auto", "lines", "csv")
			ok = ok && len(r.Problems) == n
		}
		n := len(r.Problems)
		r.Duration(key("reload_interval"), c.ReloadInterval)
		if len(r.Problems) == n && c.ReloadInterval.D != 0 && (c.ReloadInterval.D < time.Second || c.ReloadInterval.D > 24*time.Hour) {
			r.Add(key("reload_interval"), "5s is the default", "must be between 1s and 24h")
		}
		if c.MaxEntries < 0 || c.MaxEntries > 100_000_000 {
			r.Add(key("max_entries"), "1000000 is the default", "must be between 1 and 100000000")
			ok = false
		}
		switch {
		case c.File == "":
			r.Add(key("file"), "the absolute path of a list file", "ioc list %q has no file", c.Name)
			continue
		case !strings.HasPrefix(c.File, "/"):
			r.Add(key("file"), "an absolute path", "%q is not an absolute path", c.File)
			continue
		}
		if !ok {
			continue
		}
		s, err := load(c.File, Format(c.Format), c.maxEntries())
		if errors.Is(err, errChanged) {
			err = nil // at startup a list being written is better than none; it loads again
			s.mod = time.Time{}
		}
		if err != nil {
			r.Add(key("file"), "", "%s", strings.TrimPrefix(err.Error(), "ioc: "))
			continue
		}
		for _, t := range s.badText {
			r.Warn(key("file"), 0, "the line is skipped", "%s", t)
		}
		if s.bad > len(s.badText) {
			r.Warn(key("file"), 0, "", "%s: %d more lines not recognised", c.File, s.bad-len(s.badText))
		}
		if s.capped > 0 {
			r.Warn(key("max_entries"), 0, "raise max_entries, or split the list", "%s: %d entries past max_entries = %d are not matched", c.File, s.capped, c.maxEntries())
		}
		preloaded.Lock()
		preloaded.m[preloadKey(c)] = s
		preloaded.Unlock()
	}
}
