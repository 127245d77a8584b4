package config

import (
	"strings"
	"testing"
	"time"
)

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"150MB", 150e6},
		{"150 MB", 150e6},
		{" 150MB ", 150e6},
		{"64KiB", 64 << 10},
		{"64KB", 64e3},
		{"1MiB", 1 << 20},
		{"2GiB", 2 << 30},
		{"2GB", 2e9},
		{"1.5MB", 1500000},
		{"0.5KiB", 512},
		{"1048576", 1048576},
		{"1048576B", 1048576},
		{"0", 0},
		{"0MB", 0},
	}
	for _, tt := range tests {
		var s Size
		if err := s.UnmarshalText([]byte(tt.in)); err != nil {
			t.Fatalf("UnmarshalText(%q) returned %v; bad values must be kept for validation", tt.in, err)
		}
		if s.err != nil || s.N != tt.want {
			t.Errorf("Size %q = %d, %v; want %d", tt.in, s.N, s.err, tt.want)
		}
		if b, _ := s.MarshalText(); string(b) != tt.in {
			t.Errorf("Size %q marshals as %q", tt.in, b)
		}
	}
	if b, _ := Bytes(1 << 20).MarshalText(); string(b) != "1048576" {
		t.Errorf("Bytes(1<<20) marshals as %q", b)
	}

	bad := []struct{ in, bug string }{
		{in: ""},
		{in: "MB"},
		{in: "B"},
		{in: "lots"},
		{in: "-1"},
		{in: "-1KB"},
		{in: "150mb"}, // units are case-sensitive: mb would read as millibits
		{in: "150 M"},
		{in: "150MBs"},
		{in: "1KiBKiB"},
		{in: "10EB"},
		{in: "9000000000GB"}, // over 2^62
		{in: "Inf"},
		{in: "+Inf"},
		{in: "1e400"},
		{in: "NaN"},
		{in: "nanKB"},
	}
	for _, tt := range bad {
		t.Run("bad/"+tt.in, func(t *testing.T) {
			var s Size
			_ = s.UnmarshalText([]byte(tt.in))
			switch {
			case s.err == nil && tt.bug != "":
				t.Skipf("BUG: Size %q = %d with no error: %s", tt.in, s.N, tt.bug)
			case s.err == nil:
				t.Errorf("Size %q = %d, want an error", tt.in, s.N)
			case tt.bug != "":
				t.Errorf("Size %q: row marked as a bug now passes; remove its bug text", tt.in)
			case !strings.Contains(s.err.Error(), "is not a size"):
				t.Errorf("Size %q: error %q does not say it is not a size", tt.in, s.err)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"30s", 30 * time.Second},
		{"5m", 5 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"250ms", 250 * time.Millisecond},
		{"90d", 90 * 24 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"0d", 0},
		{"0", 0},
		{" 2h ", 2 * time.Hour},
	}
	for _, tt := range tests {
		var d Duration
		if err := d.UnmarshalText([]byte(tt.in)); err != nil {
			t.Fatalf("UnmarshalText(%q) returned %v; bad values must be kept for validation", tt.in, err)
		}
		if d.err != nil || d.D != tt.want {
			t.Errorf("Duration %q = %v, %v; want %v", tt.in, d.D, d.err, tt.want)
		}
		if b, _ := d.MarshalText(); string(b) != tt.in {
			t.Errorf("Duration %q marshals as %q", tt.in, b)
		}
	}
	if b, _ := Dur(90 * time.Second).MarshalText(); string(b) != "1m30s" {
		t.Errorf("Dur(90s) marshals as %q", b)
	}

	bad := []struct{ in, bug string }{
		{in: ""},
		{in: "d"},
		{in: "30"},
		{in: "thirty seconds"},
		{in: "10 minutes"},
		{in: "-5s"},
		{in: "-1d"},
		{in: "1d12h"},
		{in: "1w"},
		{in: "30S"},
		{in: "NaNd"},
		{in: "Infd"},
		{in: "1e300d"},
	}
	for _, tt := range bad {
		t.Run("bad/"+tt.in, func(t *testing.T) {
			var d Duration
			_ = d.UnmarshalText([]byte(tt.in))
			switch {
			case d.err == nil && tt.bug != "":
				t.Skipf("BUG: Duration %q = %v with no error: %s", tt.in, d.D, tt.bug)
			case d.err == nil:
				t.Errorf("Duration %q = %v, want an error", tt.in, d.D)
			case tt.bug != "":
				t.Errorf("Duration %q: row marked as a bug now passes; remove its bug text", tt.in)
			case !strings.Contains(d.err.Error(), "is not a duration"):
				t.Errorf("Duration %q: error %q does not say it is not a duration", tt.in, d.err)
			}
		})
	}
}

// TestUnitsInConfig checks sizes and durations through TOML: numbers are
// accepted as sizes, and a bad value is a problem at its line, not a decode
// failure that hides the others.
func TestUnitsInConfig(t *testing.T) {
	cfg, _, err := load("c.toml", []byte("[limits]\nmax_message_size = 1048576\nspool_memory = \"64KiB\"\n[store]\nevent_retention = \"30d\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Limits.MaxMessageSize.N != 1048576 || cfg.Limits.SpoolMemory.N != 65536 || cfg.Store.EventRetention.D != 30*24*time.Hour {
		t.Errorf("got %d, %d, %v", cfg.Limits.MaxMessageSize.N, cfg.Limits.SpoolMemory.N, cfg.Store.EventRetention.D)
	}
	_, _, err = load("c.toml", []byte("[limits]\nmax_message_size = \"huge\"\n[store]\nevent_retention = \"forever\"\n"))
	want := "c.toml:2: limits.max_message_size: \"huge\" is not a size (use e.g. 150MB, 64KiB or 1048576)\n" +
		"c.toml:4: store.event_retention: \"forever\" is not a duration (use e.g. 30s, 5m, 2h or 90d)"
	if err == nil || err.Error() != want {
		t.Errorf("got error\n%v\nwant\n%s", err, want)
	}
}

// FuzzUnits checks that a size or duration that parses is never negative.
func FuzzUnits(f *testing.F) {
	for _, s := range []string{"150MB", "64KiB", "1048576", "30s", "90d", "1.5d", "-1", "NaN", "Inf", "1e300d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := parseSize(s); err == nil && n < 0 {
			t.Fatalf("parseSize(%q) = %d", s, n)
		}
		if d, err := parseDuration(s); err == nil && d < 0 {
			t.Fatalf("parseDuration(%q) = %v", s, d)
		}
	})
}
