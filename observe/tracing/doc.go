// Package tracing traces microsim calls and events with OpenTelemetry.
//
// A Tracing is built from a trace.TracerProvider passed in (never the
// global one): New(tp). Its ClientOption, ServerOption and ServiceOption
// install its wrappers on a client, a server or a whole service:
//
//   - a span per call (the call wrapper, kind Internal), named
//     "service/Endpoint", with the call's final outcome;
//   - under it, a span per attempt (the attempt wrapper, kind Client): the
//     attempt's number, whether it is the first, a retry or a hedge, the
//     node it went to and its outcome (an attempt that lost to a hedge ends
//     Canceled);
//   - a span per publish (kind Producer) and, on the server, a span per
//     handled request (kind Server) and per delivered event (kind
//     Consumer).
//
// W3C trace context (the traceparent header, or another propagator given
// with WithPropagator) travels in the request metadata of every attempt
// and in the headers of every published event. A server span puts its own
// context into its handler's ctx and metadata, so that the calls the
// handler makes (traced or not) continue the trace; a call whose ctx
// carries no span continues the trace context found in the ctx's metadata.
//
// Every outcome is an attribute "microsim.code" (the errors.Code name,
// "ok" on success); a failure also sets the span status to Error. Spans
// read the clock through the time package, so inside a testing/synctest
// bubble their timestamps are virtual. A stream has one client span
// (the stream wrapper), from its opening to its end, and one server span
// that covers it.
//
// With no Tracing installed nothing here runs: a client or server costs
// what it costs without tracing.
package tracing
