// Package selector chooses which node of a service a call goes to.
//
// Select returns a Pick for one call: each Next yields the node for the
// next attempt, never one the call has tried, so retries move on through
// the strategy, and Release hands the Pick's state back for reuse once the
// call is done with it (a released Pick fails cleanly with ErrReleased
// rather than touch another call's state). The outcome of each attempt
// flows back either through Tracker (Begin when the attempt starts, done
// when it ends: the selector then knows requests in flight and latency) or
// through Mark, so that strategies and outlier detection learn from it. Filters narrow the
// candidate services first (by version, metadata, endpoint, zone).
//
// Strategies: Random, RoundRobin (shared rotation), WeightedRoundRobin
// (node metadata "weight", smooth), P2CLeastLoaded (power of two choices on
// requests in flight), P2CPeakEWMA (power of two choices on latency times
// load, as in Finagle and Linkerd) and ConsistentHash (a ring of virtual
// nodes over a per-call key, WithHashKey). Each is safe for concurrent use,
// reproducible from a seeded *rand.Rand, O(1) per pick (O(log n) for the
// ring) and, with its Pickers recycled on Release, allocates nothing: a
// whole call's selection (Select, Next, Begin/done or Mark, Release) is
// allocation-free in steady state.
//
// The default Selector (New) reads nodes from a bounded LRU cache over the
// registry that a single Watch keeps current, so a node that expires or is
// deregistered stops being chosen as soon as its event arrives, and stale
// entries are served while the registry fails. It implements Tracker and
// StatsReporter (per-node requests, outcomes, requests in flight, latency,
// ejections), and, with WithOutlierDetection, ejects nodes whose attempts
// keep failing for reasons that concern the node (never for application
// errors), within a cap, and lets them back through a single probe.
package selector

//go:generate go tool mockgen -typed -destination=selectormock/selectormock.go -package=selectormock . Selector,Strategy,Picker
