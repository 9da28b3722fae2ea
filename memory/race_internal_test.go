//go:build race

package memory

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// a test of what the pools keep expects less of them under it.
const raceEnabled = true
