package scenario

import (
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
