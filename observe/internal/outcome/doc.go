// Package outcome names the outcome of a call, an attempt or an event the
// same way in spans and in metrics.
package outcome
