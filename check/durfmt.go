package check

import (
	"strconv"
	"strings"
	"time"
)

// FormatDuration writes d the way a config writes it: "1m", "5m", "1h30m",
// "36d", "90s", rather than Go's "1m0s"; for reasons and replies.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d <= 0 {
		return "0s"
	}
	if d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.Round(time.Millisecond).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
