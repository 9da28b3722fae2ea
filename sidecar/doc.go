// Package sidecar lets a service written in any language join a microsim
// system over plain HTTP and JSON. A Sidecar is an http.Handler:
//
//	POST /register    {"name", "version", "url", "endpoints": ["Handler.Method", ...],
//	                   "metadata": {...}, "ttl": "30s"}
//	POST /deregister  {"name"}
//	POST /publish     {"topic", "message": {...}}
//	POST /subscribe   {"topic", "url", "queue"}
//	POST /unsubscribe {"topic", "url"}
//	GET  /health      the sidecar's registrations and subscriptions, as JSON
//	POST /rpc, POST /{service}/{method}, ...  calls, through package gateway
//
// Register starts a framework server for the app's service on the
// sidecar's transport and registers it (with the server's own heartbeat).
// Each endpoint call is forwarded as POST {url}/{Handler.Method} with the
// JSON request as body and the call's metadata as headers; a 2xx reply's
// body is the response, and any other status becomes the framework error
// its status stands for (gateway.Code), with the detail taken from a JSON
// {"code", "detail"} body when the app sends one (a "code" names the
// framework code exactly). An app that cannot be reached answers
// Unavailable. Registering again is the app's heartbeat: a registration
// whose TTL passes without one is deregistered (a TTL of 0 never expires).
//
// Subscribe delivers each event of the topic to the app as POST {url} with
// the event's JSON as body and its topic in the Micro-Topic header. Events
// wait in a bounded queue per subscription (WithQueueSize); one that
// arrives when the queue is full is dropped and counted. A delivery that
// fails (a network error or a status other than 2xx) is retried with
// exponential backoff (WithRetry) before it is dropped and counted.
//
// Every endpoint answers bad input with a 4xx and a JSON error body (the
// gateway's {"id", "code", "detail", "status"}). Close deregisters every
// registration, ends the subscriptions and waits for their deliveries.
package sidecar
