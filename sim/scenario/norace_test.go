//go:build !race

package scenario_test

// raceSlowdown: see race_test.go.
const raceSlowdown = 1
