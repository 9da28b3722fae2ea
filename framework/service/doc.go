// Package service bundles a client and a server into one Service with a
// lifecycle: Start, Stop, and Run, which starts the server, waits for a
// signal or for its ctx to end, and shuts down gracefully.
//
// A Service owns its server and its client. It owns the selector only when
// it created one (the default, selector.New over the registry); a selector
// given with WithSelector, the transport, the registry and the broker
// belong to the caller and are never closed by the Service.
//
// Shutdown (Stop, or Run's end) stops the server — deregister, stop
// accepting, drain in-flight requests within the shutdown timeout — then
// closes the client and the selector the Service created.
//
// Logs: the service's components log with log/slog to the logger of
// WithLogger; without one, to stderr at level Info when run from a main,
// and nowhere inside a test binary (DefaultLogger).
//
// Signals: Run listens for SIGINT and SIGTERM unless WithSignals says
// otherwise. Inside a testing/synctest bubble pass WithSignals() with no
// signal: a signal channel made in a bubble must not be sent to by the
// process's signal handler, which lives outside it.
package service
