package cli

import (
	"time"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/lookup"
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

// The period rule is internal/lookup's, shared with the lean front.
const (
	minPeriod = lookup.MinPeriod
	maxPeriod = lookup.MaxPeriod
)

func parsePeriod(s string) (time.Duration, error) { return lookup.ParsePeriod(s) }

func fmtPeriod(d time.Duration) string { return lookup.FormatPeriod(d) }

// rotationPeriod is how long a key lives before it is due: --rotate-after,
// else TORALE_CRED_ROTATE_AFTER, else 90 days (lookup.RotationPeriod); a
// bad value of either is a usage error naming the allowed range.
func (f *Factory) rotationPeriod() (time.Duration, error) {
	d, err := lookup.RotationPeriod(f.Getenv, f.flags())
	if err != nil {
		return 0, usageErrorf("%s", err)
	}
	return d, nil
}

// warnIfRotationDue prints a one-line rotation hint on stderr when the
// resolved key is the stored one and it is due (token, exec), from the
// answer's own rotation status. Stdout is never touched.
func (f *Factory) warnIfRotationDue(r credstore.Resolution) {
	if r.KeySource != credstore.FromKeychain || r.Key == "" || r.Rotation == nil || !r.Rotation.Due {
		return
	}
	f.say("%s: the key %s for profile %q is %d days old (rotation was due on %s); run: torale-cred rotate --profile %s",
		prog, credstore.Hint(r.Key), r.Profile, r.Rotation.AgeDays, r.Rotation.DueAt.Format("2006-01-02"), r.Profile)
}
