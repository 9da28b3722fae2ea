package sim

import (
	"hash/fnv"
	"math/rand/v2"
)

// Every random stream of a run is derived from the scenario seed and the
// name of the component that draws from it ("workload/browse",
// "client/web/backoff", "fault/crash-1"), so that adding a component does
// not change the draws of another, and one seed reproduces a run.

// streamKey hashes a component name.
func streamKey(component string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(component))
	return h.Sum64()
}

// newRand returns the component's own seeded generator. It is not safe
// for concurrent use: each goroutine that draws gets its own.
func newRand(seed uint64, component string) *rand.Rand {
	return rand.New(rand.NewPCG(seed, streamKey(component)))
}

// mix64 is SplitMix64's finaliser: a bijective hash of a 64-bit word.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// callDraws gives the uniform variates of one call on one instance. They
// depend only on the instance's seed and the call's sequence number, not
// on the order in which concurrent calls arrive, so a handler's latency
// and failure for a given call are the same in every run of a seed.
type callDraws struct{ state uint64 }

func newCallDraws(instSeed, callSeq uint64) callDraws {
	return callDraws{state: mix64(instSeed ^ mix64(callSeq))}
}

// next returns a uniform variate in [0, 1).
func (c *callDraws) next() float64 {
	c.state += 0x9e3779b97f4a7c15
	return float64(mix64(c.state)>>11) / (1 << 53)
}
