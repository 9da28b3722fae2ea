//go:build race

package client

// raceEnabled: the race detector makes sync.Pool drop items at random and
// instruments allocations, so allocation counts are not meaningful under it.
const raceEnabled = true
