package faults

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// DistKind names a distribution of durations.
type DistKind int

// The distributions.
const (
	// DistConstant is always Value.
	DistConstant DistKind = iota
	// DistUniform is uniform in [Min, Max].
	DistUniform
	// DistNormal has Mean and Stddev; draws below zero become zero.
	DistNormal
	// DistLogNormal is given by its Median and its 99th percentile P99.
	DistLogNormal
	// DistExponential has Mean.
	DistExponential
	// DistPareto has the minimum Scale and the shape Alpha (a heavy tail:
	// the smaller Alpha, the heavier).
	DistPareto
)

var distNames = [...]string{"constant", "uniform", "normal", "lognormal", "exponential", "pareto"}

func (k DistKind) String() string {
	if k >= 0 && int(k) < len(distNames) {
		return distNames[k]
	}
	return fmt.Sprintf("dist(%d)", int(k))
}

// z99 is the standard normal distribution's 99th percentile.
const z99 = 2.3263478740408408

// Dist is a distribution of durations. The zero value is the constant 0.
// Build one with Constant, Uniform, Normal, LogNormal, Exponential or
// Pareto; WithJitter and Clamp refine it.
type Dist struct {
	Kind DistKind
	// Value is DistConstant's value.
	Value time.Duration
	// Min and Max bound DistUniform. For the other kinds a positive Min or
	// Max clamps each draw (before jitter).
	Min, Max time.Duration
	// Mean is DistNormal's and DistExponential's mean; Stddev is DistNormal's
	// standard deviation.
	Mean, Stddev time.Duration
	// Median and P99 define DistLogNormal: half the draws are below Median,
	// 99% below P99.
	Median, P99 time.Duration
	// Scale (the minimum) and Alpha (the shape) define DistPareto.
	Scale time.Duration
	Alpha float64
	// Jitter adds a uniform draw in [-Jitter, +Jitter]; the result is never
	// below zero.
	Jitter time.Duration
}

// Constant is always d.
func Constant(d time.Duration) Dist { return Dist{Kind: DistConstant, Value: d} }

// Uniform is uniform in [lo, hi].
func Uniform(lo, hi time.Duration) Dist { return Dist{Kind: DistUniform, Min: lo, Max: hi} }

// Normal has the given mean and standard deviation (draws below 0 are 0).
func Normal(mean, stddev time.Duration) Dist {
	return Dist{Kind: DistNormal, Mean: mean, Stddev: stddev}
}

// LogNormal has the given median and 99th percentile: the user-friendly
// way to describe a skewed latency ("usually 20ms, 1% above 200ms").
func LogNormal(median, p99 time.Duration) Dist {
	return Dist{Kind: DistLogNormal, Median: median, P99: p99}
}

// Exponential has the given mean.
func Exponential(mean time.Duration) Dist { return Dist{Kind: DistExponential, Mean: mean} }

// Pareto has the minimum scale and the shape alpha (P(X > x) = (scale/x)^alpha).
func Pareto(scale time.Duration, alpha float64) Dist {
	return Dist{Kind: DistPareto, Scale: scale, Alpha: alpha}
}

// WithJitter returns d with a uniform jitter in [-j, +j] added to each draw.
func (d Dist) WithJitter(j time.Duration) Dist { d.Jitter = j; return d }

// Clamp returns d with each draw clamped to [lo, hi] (0 leaves that side open).
// It does not apply to DistUniform, whose Min and Max are its bounds.
func (d Dist) Clamp(lo, hi time.Duration) Dist { d.Min, d.Max = lo, hi; return d }

// IsZero reports whether d always draws 0.
func (d Dist) IsZero() bool { return d == Dist{} }

func (d Dist) String() string {
	var s string
	switch d.Kind {
	case DistConstant:
		s = d.Value.String()
	case DistUniform:
		s = fmt.Sprintf("uniform(%v, %v)", d.Min, d.Max)
	case DistNormal:
		s = fmt.Sprintf("normal(mean %v, stddev %v)", d.Mean, d.Stddev)
	case DistLogNormal:
		s = fmt.Sprintf("lognormal(median %v, p99 %v)", d.Median, d.P99)
	case DistExponential:
		s = fmt.Sprintf("exponential(mean %v)", d.Mean)
	case DistPareto:
		s = fmt.Sprintf("pareto(scale %v, alpha %v)", d.Scale, d.Alpha)
	default:
		s = d.Kind.String()
	}
	if d.Jitter > 0 {
		s += fmt.Sprintf(" ± %v", d.Jitter)
	}
	return s
}

// validate checks d's parameters; field is its path ("latency").
func (d Dist) validate(c *check, field string) {
	f := func(name string) string { return join(field, name) }
	switch d.Kind {
	case DistConstant:
		c.nonNeg(f("value"), d.Value)
	case DistUniform:
		c.nonNeg(f("min"), d.Min)
		if d.Max < d.Min {
			c.failf(f("max"), "must be >= min (%v), got %v", d.Min, d.Max)
		}
	case DistNormal:
		c.nonNeg(f("mean"), d.Mean)
		c.nonNeg(f("stddev"), d.Stddev)
	case DistLogNormal:
		c.nonNeg(f("median"), d.Median)
		c.positive(f("median"), d.Median)
		if d.P99 < d.Median {
			c.failf(f("p99"), "must be >= median (%v), got %v", d.Median, d.P99)
		}
	case DistExponential:
		c.positive(f("mean"), d.Mean)
	case DistPareto:
		c.positive(f("scale"), d.Scale)
		if !(d.Alpha > 0) || math.IsInf(d.Alpha, 0) {
			c.failf(f("alpha"), "must be > 0, got %v", d.Alpha)
		}
	default:
		c.failf(f("kind"), "unknown distribution %d", int(d.Kind))
	}
	if d.Kind != DistUniform {
		c.nonNeg(f("min"), d.Min)
		c.nonNeg(f("max"), d.Max)
		if d.Max > 0 && d.Max < d.Min {
			c.failf(f("max"), "must be >= min (%v), got %v", d.Min, d.Max)
		}
	}
	c.nonNeg(f("jitter"), d.Jitter)
}

// maxDraw caps draws so that adding them to a time cannot overflow.
const maxDraw = float64(math.MaxInt64 / 4)

// Sample draws one duration from d using r. d must be valid (faults
// validates every Dist of a spec when it is added). Sample does not block;
// r must not be used concurrently.
func (d Dist) Sample(r *rand.Rand) time.Duration {
	var v float64
	switch d.Kind {
	case DistConstant:
		v = float64(d.Value)
	case DistUniform:
		span := int64(d.Max - d.Min)
		v = float64(d.Min)
		if span > 0 {
			v += float64(r.Int64N(span + 1))
		}
	case DistNormal:
		v = float64(d.Mean) + float64(d.Stddev)*r.NormFloat64()
	case DistLogNormal:
		mu := math.Log(float64(d.Median))
		sigma := (math.Log(float64(d.P99)) - mu) / z99
		v = math.Exp(mu + sigma*r.NormFloat64())
	case DistExponential:
		v = float64(d.Mean) * r.ExpFloat64()
	case DistPareto:
		v = float64(d.Scale) / math.Pow(1-r.Float64(), 1/d.Alpha)
	}
	if d.Kind != DistUniform {
		if d.Min > 0 && v < float64(d.Min) {
			v = float64(d.Min)
		}
		if d.Max > 0 && v > float64(d.Max) {
			v = float64(d.Max)
		}
	}
	if d.Jitter > 0 {
		v += float64(r.Int64N(2*int64(d.Jitter)+1) - int64(d.Jitter))
	}
	switch {
	case !(v > 0): // also NaN
		return 0
	case v > maxDraw:
		return time.Duration(maxDraw)
	}
	return time.Duration(math.Round(v))
}
