// Package metrics exports a microsim service's metrics to Prometheus, on
// a prometheus.Registerer passed in (never the global default).
//
// New(reg) registers the request metrics; its ClientOption, ServerOption
// and ServiceOption install the wrappers that feed them:
//
//	micro_client_request_total{micro_name,micro_endpoint,micro_status,micro_code}
//	micro_client_request_duration_seconds{micro_name,micro_endpoint}
//	micro_client_attempts_total{micro_name,micro_endpoint,micro_kind,micro_code}
//	micro_server_request_total{micro_name,micro_endpoint,micro_status,micro_code}
//	micro_server_request_duration_seconds{micro_name,micro_endpoint}
//	micro_broker_published_total{micro_topic,micro_status}
//	micro_broker_delivered_total{micro_topic,micro_status}
//
// micro_name is the called (or serving) service, micro_status "success"
// or "failure" (the names go-micro's Prometheus wrapper uses),
// micro_code the framework's error code ("ok" on success), micro_kind
// whether an attempt was the call's "first", a "retry" or a "hedge". A
// client's series are bounded: past MaxClientEndpoints (service, endpoint)
// pairs, further calls count under the endpoint OtherEndpoint.
//
// The counters the framework keeps itself are read when Prometheus
// scrapes, by collectors registered separately: NewClientCollector (a
// client's retries granted and refused by the retry budget, hedges sent,
// won and refused, and its selector's per-node requests, failures, load,
// latency, ejections and state for the services named), NewServerCollector
// (requests in flight, refused for overload), and NewServiceCollector for
// both. Handler serves a registry's metrics over HTTP.
//
// Several Metrics on one registry share its metrics (New finds those
// already registered), so every service of a process, or of a simulated
// world, may report to one registry. Latencies are measured with the time
// package: virtual inside a testing/synctest bubble.
package metrics
