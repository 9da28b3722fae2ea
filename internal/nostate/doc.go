// Package nostate holds the test that keeps the module free of
// package-level mutable state: two services, or two simulated worlds, in
// one process must never see each other through a variable. It has no
// code of its own; `go test ./internal/nostate` (run by make test) reads
// every package of the module and fails on a package-level variable that
// is not one of the forms below.
//
// Allowed: interface assertions (var _ I = T{}); files the compiler
// embeds (//go:embed); error sentinels (an
// exported Err... or unexported err... variable); compiled patterns and
// templates (regexp.MustCompile, template.Must); and unexported lookup
// tables (a composite literal) that nothing ever assigns, indexes into
// for writing, increments or takes the address of, tests included.
// Everything else (a sync.Pool, a reassignable policy, an exported slice,
// a tunable that tests overwrite) is reported with its position.
package nostate
