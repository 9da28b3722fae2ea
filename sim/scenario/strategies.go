package scenario

// Strategy names a file may use.
const (
	StrategyRoundRobin     = "round_robin"
	StrategyRandom         = "random"
	StrategyLeastLoaded    = "least_loaded"
	StrategyPeakEWMA       = "peak_ewma"
	StrategyWeightedRR     = "weighted_round_robin"
	StrategyConsistentHash = "consistent_hash"
)

func strategyNames() []string {
	return []string{StrategyRoundRobin, StrategyRandom, StrategyLeastLoaded, StrategyPeakEWMA, StrategyWeightedRR, StrategyConsistentHash}
}
