// Package web is microsim's dashboard: an http.Handler that serves one
// self-contained page (no fetch of anything from elsewhere) showing the
// registered services — versions, nodes with their address, zone and
// metadata, their health as the registry and the selector see it — and
// each endpoint with the shape of its request, with a form that calls an
// endpoint and shows the reply and its latency.
//
// The page updates live: it holds one server-sent-events stream
// (GET /events) on which the dashboard pushes a new snapshot of the system
// whenever the registry's watch reports a change, and every
// WithRefresh interval (default 2s) if the selector's view of the nodes
// (requests, failures, latency, ejection) changed. The browser never polls.
//
// Routes: GET / (the page), GET /events (the stream), GET /api/services
// (the snapshot, JSON), and /api/ (the API gateway of package gateway
// mounted there: POST /api/rpc with {"service", "endpoint", "request"};
// replies carry X-Micro-Latency, the call's latency as the dashboard
// measured it, such as 1.250ms).
//
// New reads the registry once (for the first snapshot, bounded by 10s)
// and starts two goroutines: one watches the registry, one refreshes the
// snapshot; Close stops them and ends the open event streams. The dashboard uses only the framework's
// public API, so it runs over memory.Network inside a test.
package web
