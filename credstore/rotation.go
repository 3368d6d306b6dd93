package credstore

import (
	"math"
	"time"
)

// RotationOf computes p's rotation status at now for the given period.
func RotationOf(p Profile, period time.Duration, now time.Time) Rotation {
	if period <= 0 {
		period = DefaultRotationPeriod
	}
	from := p.AgeFrom()
	age := now.Sub(from)
	days := int(math.Floor(age.Hours() / 24))
	if days < 0 {
		days = 0
	}
	due := from.Add(period)
	return Rotation{AgeDays: days, DueAt: due.UTC(), Due: !now.Before(due)}
}
