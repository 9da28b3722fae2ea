package sim

import (
	"math"
	"time"

	"github.com/microsim/microsim/sim/scenario"
)

// z99 is the standard normal's 99th percentile.
const z99 = 2.3263478740408408

// sampler draws from a validated scenario.Latency. It is immutable: draws
// take the caller's uniform variates, so one sampler serves many
// goroutines.
type sampler struct {
	dist     string
	a, b     float64 // parameters in nanoseconds (or shape)
	min, max float64
	zero     bool
}

func newSampler(l scenario.Latency) sampler {
	s := sampler{dist: l.Dist, min: float64(l.Min), max: float64(l.Max)}
	switch l.Dist {
	case "", scenario.DistConstant:
		s.dist, s.a = scenario.DistConstant, float64(l.Value)
		s.zero = l.Value == 0
	case scenario.DistUniform:
		s.a, s.b = float64(l.Min), float64(l.Max)
	case scenario.DistNormal:
		s.a, s.b = float64(l.Mean), float64(l.Stddev)
	case scenario.DistLognormal:
		mu := math.Log(float64(l.Median))
		s.a, s.b = mu, (math.Log(float64(l.P99))-mu)/z99
	case scenario.DistExponential:
		s.a = float64(l.Mean)
	case scenario.DistPareto:
		s.a, s.b = float64(l.Scale), l.Alpha
	}
	return s
}

// draw returns a duration from two uniform variates in [0, 1).
func (s sampler) draw(u1, u2 float64) time.Duration {
	var v float64
	switch s.dist {
	case scenario.DistConstant:
		return time.Duration(s.a)
	case scenario.DistUniform:
		v = s.a + u1*(s.b-s.a)
	case scenario.DistNormal:
		v = s.a + s.b*gauss(u1, u2)
	case scenario.DistLognormal:
		v = math.Exp(s.a + s.b*gauss(u1, u2))
	case scenario.DistExponential:
		v = -s.a * math.Log(1-u1)
	case scenario.DistPareto:
		v = s.a / math.Pow(1-u1, 1/s.b)
	}
	if s.min > 0 && v < s.min {
		v = s.min
	}
	if s.max > 0 && v > s.max {
		v = s.max
	}
	if v < 0 || math.IsNaN(v) {
		v = 0
	}
	if v > float64(math.MaxInt64/2) {
		v = float64(math.MaxInt64 / 2)
	}
	return time.Duration(v)
}

// gauss turns two uniform variates into a standard normal (Box-Muller).
func gauss(u1, u2 float64) float64 {
	return math.Sqrt(-2*math.Log(1-u1)) * math.Cos(2*math.Pi*u2)
}
