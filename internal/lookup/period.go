package lookup

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bounds on the rotation period: short ones are for trying reminders out.
const (
	MinPeriod = time.Minute
	MaxPeriod = 10 * 365 * 24 * time.Hour
)

// ParsePeriod reads "90d", "90" (days) or a Go duration such as "36h".
func ParsePeriod(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok || isDigits(s) {
		if !ok {
			n = s
		}
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > int(MaxPeriod/(24*time.Hour)) {
			return 0, fmt.Errorf("%q is not a rotation period: use days such as 60d or 90d, or a duration such as 36h, between 1m and 3650d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a rotation period: use days such as 60d or 90d, or a duration such as 36h, between 1m and 3650d", s)
		}
	}
	if d < MinPeriod || d > MaxPeriod {
		return 0, fmt.Errorf("rotation period %q is out of range: between 1m and 3650d", s)
	}
	return d, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// FormatPeriod is d as ParsePeriod reads it back: "60d", or "36h0m0s".
func FormatPeriod(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
