package ioc

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailwarden/mailwarden/check"
)

// snapshot is one load of a list file: immutable once built, swapped
// whole when the file changes. Each entry maps to its line; the text as
// listed is kept only where it differs from the key.
type snapshot struct {
	path    string
	mod     time.Time
	size    int64
	loaded  time.Duration // how long the load took
	domains map[string]uint32
	urls    map[string]uint32
	emails  map[string]uint32
	hashes  map[[32]byte]uint32
	nets    map[netip.Prefix]uint32
	bits4   []int // the prefix lengths of nets, longest first
	bits6   []int
	listed  map[uint32]string

	entries int
	kinds   [KindSHA256 + 1]int
	bad     int      // unrecognised lines
	badText []string // the first maxLogged of them, "path:line: why"
	capped  int      // lines with entries past max_entries, not loaded
	logged  atomic.Bool
}

// maxLogged bounds the unrecognised lines a load names one by one.
const maxLogged = 10

// load reads and parses a list file, keeping at most max entries.
func load(path string, format Format, max int) (*snapshot, error) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ioc: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("ioc: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("ioc: %s is not a regular file", path)
	}
	s := &snapshot{path: path, mod: fi.ModTime(), size: fi.Size(),
		domains: map[string]uint32{}, urls: map[string]uint32{}, emails: map[string]uint32{},
		hashes: map[[32]byte]uint32{}, nets: map[netip.Prefix]uint32{}, listed: map[uint32]string{}}
	bits := map[int]bool{}
	err = Parse(f, path, format, func(p Parsed) bool {
		if p.Err != nil {
			s.bad++
			if len(s.badText) < maxLogged {
				s.badText = append(s.badText, fmt.Sprintf("%s:%d: %s", path, p.Line, strings.TrimPrefix(p.Err.Error(), "ioc: ")))
			}
			return true
		}
		line := uint32(p.Line)
		e := p.Entry
		if s.entries >= max {
			if !s.has(e) {
				s.capped++
			}
			return true
		}
		var added bool
		switch e.Kind {
		case KindDomain:
			added = addKey(s.domains, e.Key, line)
		case KindURL:
			added = addKey(s.urls, e.Key, line)
		case KindEmail:
			added = addKey(s.emails, e.Key, line)
		case KindSHA256:
			added = addKey(s.hashes, e.Sum, line)
		case KindIP:
			added = addKey(s.nets, e.Net, line)
			if added && !bits[e.Net.Bits()+1000*boolInt(e.Net.Addr().Is6())] {
				bits[e.Net.Bits()+1000*boolInt(e.Net.Addr().Is6())] = true
				if e.Net.Addr().Is6() {
					s.bits6 = append(s.bits6, e.Net.Bits())
				} else {
					s.bits4 = append(s.bits4, e.Net.Bits())
				}
			}
		}
		if !added {
			return true // listed twice: the first line stands
		}
		s.entries++
		s.kinds[e.Kind]++
		if p.Text != e.Key {
			s.listed[line] = p.Text
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(s.bits4, func(a, b int) int { return b - a })
	slices.SortFunc(s.bits6, func(a, b int) int { return b - a })
	s.loaded = time.Since(start)
	if now, err := os.Stat(path); err != nil || !now.ModTime().Equal(fi.ModTime()) || now.Size() != fi.Size() {
		return s, errChanged
	}
	return s, nil
}

// errChanged is a load's error when the file changed while it was read:
// the snapshot may hold half of one version.
var errChanged = errors.New("ioc: the file changed while it was read")

// has reports whether e is loaded already.
func (s *snapshot) has(e Entry) bool {
	var ok bool
	switch e.Kind {
	case KindDomain:
		_, ok = s.domains[e.Key]
	case KindURL:
		_, ok = s.urls[e.Key]
	case KindEmail:
		_, ok = s.emails[e.Key]
	case KindSHA256:
		_, ok = s.hashes[e.Sum]
	case KindIP:
		_, ok = s.nets[e.Net]
	}
	return ok
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func addKey[K comparable](m map[K]uint32, k K, line uint32) bool {
	if _, dup := m[k]; dup {
		return false
	}
	m[k] = line
	return true
}

// text is the entry of line as listed.
func (s *snapshot) text(line uint32, key string) string {
	if t, ok := s.listed[line]; ok {
		return t
	}
	return key
}

// summary is the load's counts, for the log.
func (s *snapshot) summary() []any {
	return []any{"path", s.path, "entries", s.entries, "domains", s.kinds[KindDomain], "urls", s.kinds[KindURL],
		"ips", s.kinds[KindIP], "emails", s.kinds[KindEmail], "sha256", s.kinds[KindSHA256],
		"unrecognised", s.bad, "over_max_entries", s.capped, "duration", s.loaded}
}

// hit is one match: the entry as listed and its line.
type hit struct {
	text string
	line uint32
}

func (s *snapshot) ip(a netip.Addr) (hit, bool) {
	a = a.Unmap()
	bits := s.bits4
	if a.Is6() {
		bits = s.bits6
	}
	for _, b := range bits {
		p, err := a.Prefix(b)
		if err != nil {
			continue
		}
		if line, ok := s.nets[p]; ok {
			return hit{s.text(line, p.String()), line}, true
		}
	}
	return hit{}, false
}

// domain matches a host or any parent domain of it.
func (s *snapshot) domain(host string) (hit, bool) {
	if len(s.domains) == 0 {
		return hit{}, false
	}
	for h := host; strings.Contains(h, "."); h = h[strings.IndexByte(h, '.')+1:] {
		if line, ok := s.domains[h]; ok {
			return hit{s.text(line, h), line}, true
		}
	}
	return hit{}, false
}

// email matches an address, else its domain.
func (s *snapshot) email(addr string) (hit, bool) {
	k, ok := emailKey(addr)
	if !ok {
		return hit{}, false
	}
	if line, ok := s.emails[k]; ok {
		return hit{s.text(line, k), line}, true
	}
	return s.domain(k[strings.LastIndexByte(k, '@')+1:])
}

type fileStat struct {
	mod  time.Time
	size int64
}

// list is one [[ioc]] table: the current snapshot of its file, looked
// at again every reload_interval and swapped when the file's time or
// size changed. A reload runs in the background, the old snapshot
// serving meanwhile; one that fails keeps it.
type list struct {
	cfg      Config
	interval time.Duration
	cur      atomic.Pointer[snapshot]

	mu      sync.Mutex
	checked time.Time
	pending fileStat // a change seen once, loaded when the next look sees it again
	loading bool
	lastErr string
	reloads sync.WaitGroup // for tests
}

func newList(c Config, s *snapshot) *list {
	l := &list{cfg: c, interval: c.ReloadInterval.D}
	if l.interval <= 0 {
		l.interval = DefaultReloadInterval
	}
	if s != nil {
		l.cur.Store(s)
	}
	return l
}

// current is the list's snapshot (nil when none loaded yet), starting a
// reload when the file changed.
func (l *list) current(env *check.Env) *snapshot {
	var log *slog.Logger
	if env != nil {
		log = env.Log
	}
	cur := l.cur.Load()
	if cur != nil && log != nil && !cur.logged.Swap(true) {
		l.logLoad(log, cur)
	}
	now := env.Time()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.loading || cur != nil && now.Sub(l.checked) < l.interval && !now.Before(l.checked) {
		return cur
	}
	l.checked = now
	fi, err := os.Stat(l.cfg.File)
	if err != nil {
		if msg := err.Error(); msg != l.lastErr && log != nil {
			log.Error("ioc list file cannot be read; keeping the entries loaded before", "list", l.cfg.Name, "err", err)
		}
		l.lastErr = err.Error()
		return cur
	}
	st := fileStat{fi.ModTime(), fi.Size()}
	if cur != nil && st.mod.Equal(cur.mod) && st.size == cur.size {
		l.pending = fileStat{}
		return cur
	}
	// A change is loaded once two looks see the same time and size, so a
	// file being written is not read half way.
	if cur != nil && (!st.mod.Equal(l.pending.mod) || st.size != l.pending.size) {
		l.pending = st
		return cur
	}
	l.pending = fileStat{}
	l.loading = true
	l.reloads.Add(1)
	go l.reload(log, st)
	return cur
}

// reload loads the file, which the looks saw as st.
func (l *list) reload(log *slog.Logger, st fileStat) {
	defer l.reloads.Done()
	s, err := load(l.cfg.File, Format(l.cfg.Format), l.cfg.maxEntries())
	if err == nil && (!s.mod.Equal(st.mod) || s.size != st.size) {
		err = errChanged // changed again since the looks: a rewrite may be under way
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loading = false
	if errors.Is(err, errChanged) {
		if log != nil {
			log.Debug("ioc list file changed while it was read; loading it again later", "list", l.cfg.Name)
		}
		return
	}
	if err != nil {
		if msg := err.Error(); msg != l.lastErr && log != nil {
			log.Error("ioc list file did not load; keeping the entries loaded before", "list", l.cfg.Name, "err", err)
		}
		l.lastErr = err.Error()
		return
	}
	l.lastErr = ""
	l.cur.Store(s)
	if log != nil {
		s.logged.Store(true)
		l.logLoad(log, s)
	}
}

func (l *list) logLoad(log *slog.Logger, s *snapshot) {
	log.Info("ioc list loaded", append([]any{"list", l.cfg.Name}, s.summary()...)...)
	for _, t := range s.badText {
		log.Warn("ioc list line not recognised", "list", l.cfg.Name, "at", t)
	}
	if s.bad > len(s.badText) {
		log.Warn("ioc list has more lines not recognised", "list", l.cfg.Name, "path", s.path, "more", s.bad-len(s.badText))
	}
	if s.capped > 0 {
		log.Warn("ioc list has more entries than max_entries; the rest are not matched", "list", l.cfg.Name,
			"path", s.path, "max_entries", l.cfg.maxEntries(), "not_loaded", s.capped)
	}
}
