package sim

import (
	"fmt"
	"time"
)

// Percent writes a ratio as reports do: "97.20%", "99.987%", "100%".
func Percent(r float64) string { return pct(r) }

// pct formats a ratio as a percentage with a sensible precision.
func pct(r float64) string {
	switch {
	case r == 0 || r == 1:
		return fmt.Sprintf("%.0f%%", r*100)
	case r > 0.999 || r < 0.001:
		return fmt.Sprintf("%.3f%%", r*100)
	}
	return fmt.Sprintf("%.2f%%", r*100)
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.2fms", v)
}
