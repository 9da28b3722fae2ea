// Package bench holds microsim's go test -bench suites.
package bench
