package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a config duration: Go syntax ("30s", "5m", "1h30m") plus a
// day suffix ("90d"). A bad value does not stop decoding; it is kept and
// reported by validation with every other problem.
type Duration struct {
	D   time.Duration
	raw string
	err error
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	d.raw = string(b)
	d.D, d.err = parseDuration(d.raw)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	if d.raw != "" {
		return []byte(d.raw), nil
	}
	return []byte(d.D.String()), nil
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || !(days >= 0) || days*float64(24*time.Hour) >= 1<<63 {
			return 0, fmt.Errorf("%q is not a duration (use e.g. 30s, 5m, 2h or 90d)", s)
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a duration (use e.g. 30s, 5m, 2h or 90d)", s)
	}
	return v, nil
}

// Dur is a shorthand for a valid [Duration].
func Dur(d time.Duration) Duration { return Duration{D: d} }

// Size is a byte count: a plain number, or one with a unit. KB, MB and GB are
// decimal (1000), KiB, MiB and GiB are binary (1024), as in IEC 80000-13.
type Size struct {
	N   int64
	raw string
	err error
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	s.raw = string(b)
	s.N, s.err = parseSize(s.raw)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) {
	if s.raw != "" {
		return []byte(s.raw), nil
	}
	return []byte(strconv.FormatInt(s.N, 10)), nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || !(n >= 0) || n*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("%q is not a size (use e.g. 150MB, 64KiB or 1048576)", s)
	}
	return int64(n * float64(mult)), nil
}

// Bytes is a shorthand for a valid [Size].
func Bytes(n int64) Size { return Size{N: n} }
