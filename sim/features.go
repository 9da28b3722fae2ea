package sim

// What the engine can run depends on what other parts of the framework
// provide. A scenario that asks for something the engine cannot run yet
// is refused by the validator with "not supported yet: <why>", never
// silently run without it.

// feature is an ability a scenario field needs.
type feature int

const (
	featureNone feature = iota
	featureRetryBudget
	featureHedging
	featureOutlier
	featureZoneAffinity
	featureStrategyLeastLoaded
	featureStrategyPeakEWMA
	featureStrategyWeighted
	featureStrategyHash
)

// missing returns why the feature cannot run, or "" when it can. Every
// feature has landed; the mechanism stays for the next one.
func (f feature) missing() string { return "" }

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

func strategyFeature(name string) feature {
	switch name {
	case StrategyLeastLoaded:
		return featureStrategyLeastLoaded
	case StrategyPeakEWMA:
		return featureStrategyPeakEWMA
	case StrategyWeightedRR:
		return featureStrategyWeighted
	case StrategyConsistentHash:
		return featureStrategyHash
	}
	return featureNone
}
