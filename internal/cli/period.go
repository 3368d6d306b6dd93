package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/apikey"
)

// rotateAfter is --rotate-after: days ("60d", "90") or a Go duration
// ("36h"). Bad values are usage errors when the flag is parsed.
type rotateAfter struct {
	d   time.Duration
	set bool
}

func (p *rotateAfter) String() string {
	if !p.set {
		return ""
	}
	return fmtPeriod(p.d)
}

func (p *rotateAfter) Set(s string) error {
	d, err := parsePeriod(s)
	if err != nil {
		return err
	}
	p.d, p.set = d, true
	return nil
}

func (p *rotateAfter) Type() string { return "period" }

// Bounds on the rotation period: short ones are for trying reminders out.
const (
	minPeriod = time.Minute
	maxPeriod = 10 * 365 * 24 * time.Hour
)

// parsePeriod reads "90d", "90" (days) or a Go duration such as "36h".
func parsePeriod(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok || isDigits(s) {
		if !ok {
			n = s
		}
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > int(maxPeriod/(24*time.Hour)) {
			return 0, fmt.Errorf(msgBadPeriod, s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf(msgBadPeriod, s)
		}
	}
	if d < minPeriod || d > maxPeriod {
		return 0, fmt.Errorf(msgPeriodOutOfRange, s)
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

// fmtPeriod is d as parsePeriod reads it back: "60d", or "36h0m0s".
func fmtPeriod(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// rotationPeriod is how long a key lives before it is due: --rotate-after,
// else TORALE_CRED_ROTATE_AFTER, else 90 days. One rule for both: a bad
// value of either is a usage error naming the allowed range.
func (f *Factory) rotationPeriod() (time.Duration, error) {
	if f.RotateAfter.set {
		return f.RotateAfter.d, nil
	}
	if v := f.Getenv("TORALE_CRED_ROTATE_AFTER"); v != "" {
		d, err := parsePeriod(v)
		if err != nil {
			return 0, usageErrorf(msgBadRotateAfterEnv, err)
		}
		return d, nil
	}
	return credstore.DefaultRotationPeriod, nil
}

// warnIfRotationDue prints a one-line rotation hint on stderr when the
// resolved key is the stored one and it is due (token, exec), from the
// answer's own rotation status. Stdout is never touched.
func (f *Factory) warnIfRotationDue(r credstore.Resolution) {
	if r.KeySource != credstore.FromKeychain || r.Key == "" || r.Rotation == nil || !r.Rotation.Due {
		return
	}
	f.say(msgRotationDue, prog, apikey.Hint(r.Key), r.Profile, r.Rotation.AgeDays, r.Rotation.DueAt.Format("2006-01-02"), r.Profile)
}
