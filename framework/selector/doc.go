// Package selector chooses which node of a service a call goes to.
//
// Select returns a Next function for one call: each invocation yields the
// node for the next attempt, so retries move on through the strategy.
// Mark feeds the outcome of an attempt back, so strategies and health
// tracking can learn from it. Filters narrow the candidate services first
// (by version, metadata, endpoint, ...).
//
// The default Selector (New) reads nodes from a cache over the registry that
// a single Watch keeps current, so a node that expires or is deregistered
// stops being chosen as soon as its event arrives.
package selector

//go:generate go tool mockgen -typed -destination=selectormock/selectormock.go -package=selectormock . Selector,Strategy
