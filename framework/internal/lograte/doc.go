// Package lograte keeps a hot error path from flooding its log: a Limiter
// lets one record per key through each interval and counts the ones it
// held back, for the next record let through to report.
package lograte
