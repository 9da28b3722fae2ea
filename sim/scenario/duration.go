package scenario

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in scenario files as a Go duration
// string with a unit ("250ms", "1.5s", "2m"); a bare 0 is allowed.
type Duration time.Duration

// D converts a time.Duration, for scenarios built in Go.
func D(d time.Duration) Duration { return Duration(d) }

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// setScalar implements scalarSetter.
func (d *Duration) setScalar(text string, quoted bool) error {
	v, err := parseDuration(text)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes d as its string form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// MarshalYAML writes d as its string form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func parseDuration(text string) (Duration, error) {
	s := strings.TrimSpace(text)
	if s == "0" {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("duration %s needs a unit, for example %ss or %sms", s, s, s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a number with a unit, for example 250ms, 1.5s or 2m", s)
	}
	return Duration(v), nil
}
