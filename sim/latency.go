package sim

import (
	"math"
	"time"
)

// Latency is a distribution of durations. In a file it is either a
// duration ("20ms", constant) or a mapping with a dist and its parameters.
type Latency struct {
	// Dist is constant (default), uniform, normal, lognormal, exponential
	// or pareto.
	Dist string `yaml:"dist"`
	// Value is the constant's value.
	Value Duration `yaml:"value"`
	// Min and Max bound uniform; for other distributions they clamp draws.
	Min Duration `yaml:"min"`
	Max Duration `yaml:"max"`
	// Mean is normal's and exponential's mean.
	Mean Duration `yaml:"mean"`
	// Stddev is normal's standard deviation.
	Stddev Duration `yaml:"stddev"`
	// Median and P99 define lognormal.
	Median Duration `yaml:"median"`
	P99    Duration `yaml:"p99"`
	// Scale (the minimum) and Alpha (the shape) define pareto.
	Scale Duration `yaml:"scale"`
	Alpha float64  `yaml:"alpha"`
}

// Const is a constant latency, for scenarios built in Go.
func Const(d time.Duration) Latency { return Latency{Dist: DistConstant, Value: D(d)} }

// Distribution names.
const (
	DistConstant    = "constant"
	DistUniform     = "uniform"
	DistNormal      = "normal"
	DistLognormal   = "lognormal"
	DistExponential = "exponential"
	DistPareto      = "pareto"
)

var distNames = []string{DistConstant, DistUniform, DistNormal, DistLognormal, DistExponential, DistPareto}

// setScalar implements scalarSetter: a bare duration is a constant.
func (l *Latency) setScalar(text string, _ bool) error {
	d, err := parseDuration(text)
	if err != nil {
		return err
	}
	*l = Latency{Dist: DistConstant, Value: d}
	return nil
}

// z99 is the standard normal's 99th percentile.
const z99 = 2.3263478740408408

// sampler draws from a validated Latency. It is immutable: draws take the
// caller's uniform variates, so one sampler serves many goroutines.
type sampler struct {
	dist     string
	a, b     float64 // parameters in nanoseconds (or shape)
	min, max float64
	zero     bool
}

func newSampler(l Latency) sampler {
	s := sampler{dist: l.Dist, min: float64(l.Min), max: float64(l.Max)}
	switch l.Dist {
	case "", DistConstant:
		s.dist, s.a = DistConstant, float64(l.Value)
		s.zero = l.Value == 0
	case DistUniform:
		s.a, s.b = float64(l.Min), float64(l.Max)
	case DistNormal:
		s.a, s.b = float64(l.Mean), float64(l.Stddev)
	case DistLognormal:
		mu := math.Log(float64(l.Median))
		s.a, s.b = mu, (math.Log(float64(l.P99))-mu)/z99
	case DistExponential:
		s.a = float64(l.Mean)
	case DistPareto:
		s.a, s.b = float64(l.Scale), l.Alpha
	}
	return s
}

// draw returns a duration from two uniform variates in [0, 1).
func (s sampler) draw(u1, u2 float64) time.Duration {
	var v float64
	switch s.dist {
	case DistConstant:
		return time.Duration(s.a)
	case DistUniform:
		v = s.a + u1*(s.b-s.a)
	case DistNormal:
		v = s.a + s.b*gauss(u1, u2)
	case DistLognormal:
		v = math.Exp(s.a + s.b*gauss(u1, u2))
	case DistExponential:
		v = -s.a * math.Log(1-u1)
	case DistPareto:
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
