package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration file. Every key has a doc comment, and
// contrib/mailwarden.toml documents every key; a test keeps the two in step.
type Config struct {
	// Server holds the daemon's listener, limits and failure mode.
	Server ServerConfig `toml:"server"`
	// Organization tells mailwarden which mail is its own, to give each
	// recipient a direction: inbound, outbound or internal.
	Organization OrganizationConfig `toml:"organization"`
	// Limits caps what one session may cost. Going over a limit is a
	// scan.exclusion finding, never a crash.
	Limits LimitsConfig `toml:"limits"`
	// Store sets retention for the tracking log and the quarantine.
	Store StoreConfig `toml:"store"`
	// Release configures how quarantined mail is re-injected.
	Release ReleaseConfig `toml:"release"`
	// Policy holds settings of the rule set as a whole.
	Policy PolicyConfig `toml:"policy"`
	// Rules are evaluated per recipient at the earliest stage where their facts
	// are known; within a stage, in file order.
	Rules []RuleConfig `toml:"rule"`

	// File is the path the config was loaded from ("(embedded default)" for the default).
	File string `toml:"-"`

	// sections holds the decoded value of each registered section, by name.
	sections map[string]any
}

// ServerConfig holds the daemon's settings.
type ServerConfig struct {
	// Listen is the milter socket: "inet:HOST:PORT", "inet6:[HOST]:PORT" or
	// "unix:/path" (also written "local:/path"), as in Postfix's smtpd_milters.
	Listen string `toml:"listen"`
	// SocketMode is the octal file mode of a unix socket, e.g. "0660".
	SocketMode string `toml:"socket_mode"`
	// SocketGroup is the group that owns a unix socket, e.g. "postfix", so a
	// chrooted smtpd can reach it.
	SocketGroup string `toml:"socket_group"`
	// DataDir holds the SQLite databases (mailwarden.db, state.db), the
	// tracking-log journal, the spool and the release key.
	DataDir string `toml:"data_dir"`
	// MaxSessions caps concurrent milter sessions; beyond it a new session is
	// answered with tempfail.
	MaxSessions int `toml:"max_sessions"`
	// ReadTimeout is how long to wait for the next milter command from the MTA.
	ReadTimeout Duration `toml:"read_timeout"`
	// WriteTimeout bounds writing one reply to the MTA.
	WriteTimeout Duration `toml:"write_timeout"`
	// ShutdownTimeout bounds how long SIGTERM waits for sessions to finish.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// OnError is the answer when mailwarden itself fails (store error, panic,
	// timeout): "tempfail" (default; the MTA retries, nothing is lost) or
	// "accept" (fail open).
	OnError string `toml:"on_error"`
	// MetricsListen is "host:port" for the Prometheus /metrics endpoint (and
	// /healthz); empty turns it off.
	MetricsListen string `toml:"metrics_listen"`
	// LogLevel is "debug", "info", "warn" or "error".
	LogLevel string `toml:"log_level"`
	// LogFormat is "text" or "json" (both log/slog, to standard error).
	LogFormat string `toml:"log_format"`
}

// OrganizationConfig defines what is internal.
type OrganizationConfig struct {
	// InternalDomains are the domains this host receives mail for. Subdomains
	// are included when written as "*.example.com".
	InternalDomains []string `toml:"internal_domains"`
	// TrustedNetworks are clients whose mail is outbound or internal (your
	// own hosts), in any form a [NetList] takes. Authenticated sessions
	// ({auth_authen} set) count as trusted too.
	TrustedNetworks []string `toml:"trusted_networks"`
}

// LimitsConfig caps per-session resources.
type LimitsConfig struct {
	// MaxMessageSize is the largest body+header mailwarden spools; past it the
	// rest is not kept, and a scan.exclusion finding is raised.
	MaxMessageSize Size `toml:"max_message_size"`
	// SpoolMemory is how much of a message is kept in memory before spooling
	// to a file in the data directory.
	SpoolMemory Size `toml:"spool_memory"`
	// MIMEDepth is the deepest MIME nesting that is parsed.
	MIMEDepth int `toml:"mime_depth"`
	// MIMEParts is the largest number of MIME parts that is parsed.
	MIMEParts int `toml:"mime_parts"`
	// ScanMemory bounds the memory all sessions hold at once: header fields
	// and in-memory spool as they arrive (past it the body goes to the
	// spool file), and each end-of-message scan (counted as four times its
	// message), which waits for room up to ScanWait.
	ScanMemory Size `toml:"scan_memory"`
	// ScanWait is how long an end-of-message scan waits for scan memory
	// before the message is tempfailed; keep it under the MTA's wait for the
	// milter's end-of-message reply (Postfix's milter_content_timeout, 300s;
	// Sendmail's T=E).
	ScanWait Duration `toml:"scan_wait"`
	// MaxRecipients caps recipients tracked per message (the MTA has its own
	// limit; this bounds mailwarden's memory).
	MaxRecipients int `toml:"max_recipients"`
	// MaxHeaderBytes bounds the header block of one message as the MTA
	// passes it; past it the message is refused at end of headers with
	// 552 5.3.4.
	MaxHeaderBytes Size `toml:"max_header_bytes"`
	// MaxHeaderFieldBytes bounds one header field, folded lines included
	// (Postfix's header_size_limit is the same figure); past it, 552 5.3.4.
	MaxHeaderFieldBytes Size `toml:"max_header_field_bytes"`
	// MaxHeaderFields bounds the number of header fields of one message;
	// past it, 552 5.3.4.
	MaxHeaderFields int `toml:"max_header_fields"`
}

// StoreConfig sets retention.
type StoreConfig struct {
	// EventRetention is how long tracking-log rows are kept.
	EventRetention Duration `toml:"event_retention"`
	// QuarantineRetention is how long quarantined messages are kept.
	QuarantineRetention Duration `toml:"quarantine_retention"`
	// PruneInterval is how often the daemon prunes old rows.
	PruneInterval Duration `toml:"prune_interval"`
	// JournalMax bounds the tracking-log journal (data_dir/journal/), which
	// holds the rows the store has not taken yet, e.g. while it is locked or
	// its disk is full. Read at start.
	JournalMax Size `toml:"journal_max"`
}

// ReleaseConfig configures quarantine release.
type ReleaseConfig struct {
	// SMTP is where released mail is re-injected, "host:port"; normally the
	// MTA itself.
	SMTP string `toml:"smtp"`
	// Helo is the name mailwarden gives in EHLO when re-injecting.
	Helo string `toml:"helo"`
	// Key is the HMAC key for release headers, as hex (at least 32 bytes).
	// When empty, a key is generated once in the data directory (release.key).
	Key string `toml:"key"`
	// TokenTTL is how long a release header stays valid after the release.
	TokenTTL Duration `toml:"token_ttl"`
}

// PolicyConfig holds settings of the rule set as a whole.
type PolicyConfig struct {
	// AllowNoRules lets a config without any enabled [[rule]] load. Without
	// rules no mail is checked at all, not even GTUBE or a message that could
	// not be scanned, so such a config is refused unless this says it is
	// meant; a SIGHUP to it then keeps the old config in force.
	AllowNoRules bool `toml:"allow_no_rules"`
}

// RuleConfig is one rule as written in the config file. All conditions that
// are set must hold (AND); an unset condition always holds.
type RuleConfig struct {
	// Name identifies the rule in the tracking log and the SMTP reply.
	Name string `toml:"name"`
	// Enabled turns the rule off when false. Default true.
	Enabled *bool `toml:"enabled"`
	// Direction limits the rule to "inbound", "outbound", "internal" or "any" (default).
	Direction string `toml:"direction"`
	// Senders are envelope-sender patterns (user@domain, *@domain,
	// *@*.domain, user@*, <> for bounces); empty means any sender.
	Senders []string `toml:"senders"`
	// SendersExcept are sender patterns the rule never applies to.
	SendersExcept []string `toml:"senders_except"`
	// Recipients are envelope-recipient patterns; empty means any recipient.
	Recipients []string `toml:"recipients"`
	// RecipientsExcept are recipient patterns the rule never applies to.
	RecipientsExcept []string `toml:"recipients_except"`
	// Clients are client networks (addresses, CIDR, ranges).
	Clients []string `toml:"clients"`
	// ClientsExcept are client networks the rule never applies to.
	ClientsExcept []string `toml:"clients_except"`
	// ClientName is a regular expression on the client's verified reverse name
	// ("unknown" when it has none).
	ClientName string `toml:"client_name"`
	// Helo is a regular expression on the HELO/EHLO name.
	Helo string `toml:"helo"`
	// RecipientCountOver holds when the message has more recipients than this.
	// It is checked at each RCPT with the count so far, so only the
	// recipients past the limit get the rule's reply (RFC 5321 §4.5.3.1.10).
	RecipientCountOver int `toml:"recipient_count_over"`
	// Headers maps a header field name to a regular expression on its decoded
	// value; it holds when any field of that name matches.
	Headers map[string]string `toml:"headers"`
	// Subject is a regular expression on the decoded subject.
	Subject string `toml:"subject"`
	// SizeOver holds when the message is larger than this.
	SizeOver Size `toml:"size_over"`
	// GTUBE is retired: a rule that sets it is refused with the hint
	// findings = ["content.gtube"], which the gtube check reports.
	GTUBE bool `toml:"gtube"`
	// Findings holds when any finding with one of these names was reported
	// (e.g. "message.malformed", "scan.exclusion", "dnsbl.*" for any DNSBL).
	Findings []string `toml:"findings"`
	// FindingsExcept are findings that exempt a message from the rule:
	// it does not apply when any of them was reported, e.g.
	// ["sender.approved"] on a DNSBL rule. A rule is decided once all
	// its findings are known, so such a rule waits for the stage of the
	// exempting check (MAIL for sender.approved). Names ending in ".*"
	// cover a family, here and in findings.
	FindingsExcept []string `toml:"findings_except"`
	// Expr is a boolean expression for combinations the keys above can't say,
	// e.g. `size > 1000000 && has("message.malformed")`. See the README.
	Expr string `toml:"expr"`

	// Action is the terminal action: "accept", "reject", "tempfail",
	// "discard", "quarantine", or empty for modifying actions only.
	Action string `toml:"action"`
	// Reply is the SMTP reply for reject and tempfail: "550 5.7.1 text".
	// The rule name is appended so the sender can quote it.
	Reply string `toml:"reply"`
	// Quarantine is the quarantine area for action "quarantine" (and where a
	// discarded copy is kept); default "policy".
	Quarantine string `toml:"quarantine"`
	// TagSubject is prepended to the subject, e.g. "[SPAM]".
	TagSubject string `toml:"tag_subject"`
	// AddHeaders are header fields to add, each "Name: value".
	AddHeaders []string `toml:"add_headers"`
	// Score makes the rule a spam test ([spam]): when its conditions
	// hold, Score (negative for a ham sign) adds to the message's spam
	// score, and the rule takes no other action.
	Score *float64 `toml:"score"`
}

//go:embed default.toml
var defaultTOML []byte

// DefaultTOML returns the embedded default configuration.
func DefaultTOML() []byte { return bytes.Clone(defaultTOML) }

// Problem is one thing wrong in a config file.
type Problem struct {
	File string
	Line int    // 0 when unknown
	Key  string // key path, e.g. "rule[2].action"
	Msg  string
	Hint string
	// Warning marks a problem that does not stop the config from loading;
	// see [Policy.Warnings].
	Warning bool
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Warning {
		b.WriteString(": warning")
	}
	if p.Key != "" {
		fmt.Fprintf(&b, ": %s", p.Key)
	}
	fmt.Fprintf(&b, ": %s", p.Msg)
	if p.Hint != "" {
		fmt.Fprintf(&b, " (hint: %s)", p.Hint)
	}
	return b.String()
}

// ConfigError lists every problem found in a config file.
type ConfigError struct {
	Problems []Problem
}

// ErrConfig is matched by every [ConfigError].
var ErrConfig = errors.New("config: invalid config")

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

// Decode decodes src, named file in messages, and validates the core
// sections and every registered one ([Register]). It returns the config and
// a [Report] of the problems found so far, for the rule compiler in policy/
// to add to; err is set, to a *[ConfigError], only when src cannot be
// decoded far enough to validate (a TOML syntax error).
func Decode(file string, src []byte) (*Config, *Report, error) {
	lines := indexKeys(src)
	r := &Report{file: file, lines: lines, last: lastLine(src)}
	// A type mismatch (max_sessions = "many") stops BurntSushi/toml at the
	// first one. To report every problem at once, blank the offending line
	// and decode again, collecting each mismatch; a syntax error ends it.
	var cfg *Config
	var md toml.MetaData
	secs := registered()
	work := bytes.Clone(src)
	for {
		cfg = defaults()
		cfg.File = file
		target := decodeTarget(cfg, secs)
		var err error
		md, err = toml.NewDecoder(bytes.NewReader(work)).Decode(target)
		if err == nil {
			break
		}
		p := Problem{File: file, Msg: err.Error()}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			p.Line, p.Key, p.Msg = pe.Position.Line, pe.LastKey, pe.Message
			return nil, nil, &ConfigError{Problems: append(r.Problems, p)}
		}
		m := decodeErrRE.FindStringSubmatch(err.Error())
		if m == nil {
			return nil, nil, &ConfigError{Problems: append(r.Problems, p)}
		}
		p.Line, _ = strconv.Atoi(m[1])
		p.Key, _ = strconv.Unquote(m[2])
		p.Msg = m[3]
		if idx := lines.keyAt(p.Line); strings.Contains(idx, "[") && strings.HasSuffix(p.Key, idx[strings.LastIndexByte(idx, '.')+1:]) {
			p.Key = idx
		}
		r.Problems = append(r.Problems, p)
		if p.Line <= 0 || len(r.Problems) > 100 || !blankLine(work, p.Line) {
			return nil, nil, &ConfigError{Problems: r.Problems}
		}
	}
	unknownSeen := map[string]int{}
	for _, k := range md.Undecoded() {
		path := k.String()            // quoted where needed, for the message
		plain := strings.Join(k, ".") // as indexKeys stores it
		n := unknownSeen[plain]
		unknownSeen[plain]++
		line := lines.nth(plain, n)
		if indexed := lines.keyAt(line); strings.HasSuffix(indexed, "."+k[len(k)-1]) && strings.Contains(indexed, "[") {
			// rule[3].colour names the rule; rule.colour does not.
			path = strings.TrimSuffix(indexed, k[len(k)-1]) + toml.Key{k[len(k)-1]}.String()
		}
		r.Problems = append(r.Problems, Problem{File: file, Line: line, Key: path,
			Msg: "unknown key", Hint: closestKey(plain)})
	}
	validateCore(r, cfg)
	for _, s := range secs {
		s.validate(r, cfg.sections[s.name])
	}
	return cfg, r, nil
}

// LoadFile reads and decodes a config file; see [Decode].
func LoadFile(path string) (*Config, *Report, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: read: %w", err)
	}
	return Decode(path, src)
}

// blankLine overwrites line n (1-based) of src with spaces, keeping every
// offset and line number; it reports whether the line existed.
func blankLine(src []byte, n int) bool {
	start := 0
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(src[start:], '\n')
		if j < 0 {
			return false
		}
		start += j + 1
	}
	end := bytes.IndexByte(src[start:], '\n')
	if end < 0 {
		end = len(src) - start
	}
	for i := start; i < start+end; i++ {
		src[i] = ' '
	}
	return true
}

// decodeErrRE reads the line and key from BurntSushi/toml's decode errors
// (type mismatches), which are plain errors rather than toml.ParseError.
var decodeErrRE = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)

// defaults returns a config with every default filled in; decoding
// overwrites what the file sets.
func defaults() *Config {
	return &Config{
		Server: ServerConfig{
			Listen:          "inet:127.0.0.1:8899",
			SocketMode:      "0660",
			DataDir:         "/var/lib/mailwarden",
			MaxSessions:     256,
			ReadTimeout:     Dur(10 * time.Minute),
			WriteTimeout:    Dur(30 * time.Second),
			ShutdownTimeout: Dur(30 * time.Second),
			OnError:         "tempfail",
			LogLevel:        "info",
			LogFormat:       "text",
		},
		Limits: LimitsConfig{
			MaxMessageSize: Bytes(160 * 1000 * 1000),
			SpoolMemory:    Bytes(1 << 20),
			// 192 MiB keeps the daemon under 300 MB resident with 32
			// concurrent 10 MB messages (BenchmarkPeakRSS); larger scans
			// queue, up to ScanWait, which stays under Postfix's 300 s.
			ScanMemory:    Bytes(192 << 20),
			ScanWait:      Dur(240 * time.Second),
			MIMEDepth:     20,
			MIMEParts:     1000,
			MaxRecipients: 1000,
			// A header block as large as the MIME parser reads, and one field
			// as large as Postfix keeps.
			MaxHeaderBytes:      Bytes(1 << 20),
			MaxHeaderFieldBytes: Bytes(100 << 10),
			MaxHeaderFields:     2000,
		},
		Store: StoreConfig{
			EventRetention:      Dur(90 * 24 * time.Hour),
			QuarantineRetention: Dur(30 * 24 * time.Hour),
			PruneInterval:       Dur(time.Hour),
			JournalMax:          Bytes(256 << 20),
		},
		Release: ReleaseConfig{
			SMTP:     "127.0.0.1:25",
			Helo:     "mailwarden.localhost",
			TokenTTL: Dur(24 * time.Hour),
		},
	}
}

// Report collects the problems and warnings of one config file, each with
// the line of its key: the core sections', the registered sections', and
// the rule compiler's. [Report.Err] gives them all at once.
type Report struct {
	file     string
	lines    keyLines
	last     int // the last line that is not blank, 0 for none
	Problems []Problem
	Warnings []Problem
}

// File is the name of the file reported on.
func (r *Report) File() string { return r.file }

// Line returns the line that sets key ("rule[2].action",
// "dnsbl[0].zone"), or of its nearest parent that has one; 0 for none.
func (r *Report) Line(key string) int { return r.lines.line(key) }

// BodyLine returns, for a key set to a multi-line string, the line its
// text starts on, or 0: the next line when the opening delimiter ends the
// line, because TOML drops that newline.
func (r *Report) BodyLine(key string) int { return r.lines.body[key] }

// LastLine is the last line of the file that is not blank, for a problem
// about something missing.
func (r *Report) LastLine() int { return r.last }

// Add records a problem on key, at key's line.
func (r *Report) Add(key, hint, format string, args ...any) {
	r.AddAt(key, r.Line(key), hint, format, args...)
}

// AddAt records a problem on key at a given line (0: key's line).
func (r *Report) AddAt(key string, line int, hint, format string, args ...any) {
	if line == 0 && key != "" {
		line = r.Line(key)
	}
	r.Problems = append(r.Problems, Problem{File: r.file, Line: line, Key: key,
		Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// Warn records a warning on key at line (0: key's line); warnings never
// stop a config from loading.
func (r *Report) Warn(key string, line int, hint, format string, args ...any) {
	if line == 0 && key != "" {
		line = r.Line(key)
	}
	r.Warnings = append(r.Warnings, Problem{File: r.file, Line: line, Key: key,
		Msg: fmt.Sprintf(format, args...), Hint: hint, Warning: true})
}

// Duration reports a duration that did not parse.
func (r *Report) Duration(key string, d Duration) {
	if d.err != nil {
		r.Add(key, "", "%v", d.err)
	}
}

// Size reports a size that did not parse.
func (r *Report) Size(key string, s Size) {
	if s.err != nil {
		r.Add(key, "", "%v", s.err)
	}
}

// OneOf reports val unless it is one of allowed.
func (r *Report) OneOf(key, val string, allowed ...string) {
	if !slices.Contains(allowed, val) {
		r.Add(key, "one of "+strings.Join(allowed, ", "), "%q is not allowed", val)
	}
}

// Err returns every problem as one *[ConfigError], sorted by line, or nil;
// warnings are sorted too and stay in the report.
func (r *Report) Err() error {
	sort.SliceStable(r.Warnings, func(i, j int) bool { return r.Warnings[i].Line < r.Warnings[j].Line })
	if len(r.Problems) == 0 {
		return nil
	}
	sort.SliceStable(r.Problems, func(i, j int) bool { return r.Problems[i].Line < r.Problems[j].Line })
	return &ConfigError{Problems: r.Problems}
}

// lastLine returns the number of the last line of src that is not blank.
func lastLine(src []byte) int {
	last := 0
	for i, l := range bytes.Split(src, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			last = i + 1
		}
	}
	return last
}

// validateCore checks the sections this package owns. Rules are compiled
// and checked by policy/, the organization's networks too.
func validateCore(r *Report, c *Config) {
	s := &c.Server
	if _, _, err := ParseListen(s.Listen); err != nil {
		r.Add("server.listen", "inet:127.0.0.1:8899 or unix:/run/mailwarden/milter.sock", "%v", err)
	}
	if _, err := strconv.ParseUint(s.SocketMode, 8, 32); err != nil || s.SocketMode == "" {
		r.Add("server.socket_mode", "an octal mode such as \"0660\"", "%q is not an octal file mode", s.SocketMode)
	}
	if s.DataDir == "" {
		r.Add("server.data_dir", "", "must not be empty")
	}
	if s.MaxSessions < 1 {
		r.Add("server.max_sessions", "", "must be at least 1")
	}
	r.Duration("server.read_timeout", s.ReadTimeout)
	r.Duration("server.write_timeout", s.WriteTimeout)
	r.Duration("server.shutdown_timeout", s.ShutdownTimeout)
	r.OneOf("server.on_error", s.OnError, "tempfail", "accept")
	if s.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(s.MetricsListen); err != nil || port == "" {
			r.Add("server.metrics_listen", "host:port, e.g. 127.0.0.1:9899", "%q is not host:port", s.MetricsListen)
		}
	}
	r.OneOf("server.log_level", s.LogLevel, "debug", "info", "warn", "error")
	r.OneOf("server.log_format", s.LogFormat, "text", "json")

	for i, d := range c.Organization.InternalDomains {
		if _, ok := InternalDomain(d); !ok {
			r.Add(fmt.Sprintf("organization.internal_domains[%d]", i), "a domain such as example.com or *.example.com", "%q is not a domain", d)
		}
	}

	l := &c.Limits
	r.Size("limits.max_message_size", l.MaxMessageSize)
	r.Size("limits.spool_memory", l.SpoolMemory)
	r.Size("limits.scan_memory", l.ScanMemory)
	r.Duration("limits.scan_wait", l.ScanWait)
	if l.ScanWait.err == nil && (l.ScanWait.D < time.Second || l.ScanWait.D > 30*time.Minute) {
		r.Add("limits.scan_wait", "1s to 30m; under the MTA's end-of-message timeout (Postfix milter_content_timeout = 300s)", "%v is out of range", l.ScanWait.D)
	}
	r.Size("limits.max_header_bytes", l.MaxHeaderBytes)
	r.Size("limits.max_header_field_bytes", l.MaxHeaderFieldBytes)
	if l.MaxHeaderBytes.err == nil && l.MaxHeaderBytes.N < 1024 {
		r.Add("limits.max_header_bytes", "1MiB is the default", "%d bytes cannot hold an ordinary header", l.MaxHeaderBytes.N)
	}
	if l.MaxHeaderFieldBytes.err == nil && l.MaxHeaderFieldBytes.N < 1000 {
		r.Add("limits.max_header_field_bytes", "100KiB is the default", "%d bytes is shorter than RFC 5322's 998-character line", l.MaxHeaderFieldBytes.N)
	}
	if l.ScanMemory.err == nil && l.ScanMemory.N < l.MaxMessageSize.N {
		r.Add("limits.scan_memory", "at least limits.max_message_size", "%d bytes cannot hold one message of max_message_size (%d)", l.ScanMemory.N, l.MaxMessageSize.N)
	}
	for _, lim := range []struct {
		key string
		n   int
	}{{"limits.mime_depth", l.MIMEDepth}, {"limits.mime_parts", l.MIMEParts}, {"limits.max_recipients", l.MaxRecipients},
		{"limits.max_header_fields", l.MaxHeaderFields}} {
		if lim.n < 1 {
			r.Add(lim.key, "", "must be at least 1")
		}
	}
	r.Duration("store.event_retention", c.Store.EventRetention)
	r.Duration("store.quarantine_retention", c.Store.QuarantineRetention)
	r.Duration("store.prune_interval", c.Store.PruneInterval)
	if c.Store.PruneInterval.err == nil && c.Store.PruneInterval.D < time.Minute {
		r.Add("store.prune_interval", "", "must be at least 1m")
	}
	r.Size("store.journal_max", c.Store.JournalMax)
	if c.Store.JournalMax.err == nil && c.Store.JournalMax.N < 1<<20 {
		r.Add("store.journal_max", "e.g. 256MiB", "must be at least 1MiB")
	}
	if !strings.Contains(c.Release.SMTP, ":") {
		r.Add("release.smtp", "host:port, e.g. 127.0.0.1:25", "%q has no port", c.Release.SMTP)
	}
	if c.Release.Key != "" {
		if k, err := decodeHexKey(c.Release.Key); err != nil || len(k) < 32 {
			r.Add("release.key", "generate one with: head -c 32 /dev/urandom | xxd -p -c 64", "must be at least 32 bytes of hex")
		}
	}
	r.Duration("release.token_ttl", c.Release.TokenTTL)
}

// InternalDomain normalises an organization.internal_domains entry: lower
// case, no final dot. It is false for what is not a domain or a "*.domain"
// wildcard.
func InternalDomain(d string) (string, bool) {
	d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
	if d == "" || strings.ContainsAny(d, "@ ,") || (strings.Contains(d, "*") && !strings.HasPrefix(d, "*.")) {
		return d, false
	}
	return d, true
}
