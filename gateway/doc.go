// Package gateway is an HTTP API gateway in front of microsim services: an
// http.Handler that turns JSON over HTTP into framework RPCs.
//
// Routes:
//
//	POST /{service}/{method}           -> service, the endpoint whose method is {method}
//	POST /{service}/{handler}/{method} -> service, endpoint "{Handler}.{Method}"
//	POST /rpc                          -> {"service", "endpoint", "request"} in the body
//	GET  /                             -> the registered services, as JSON
//
// Names match case-insensitively against the endpoints the service
// registered, so /greeter/hello reaches Greeter.Hello; when a route names
// only the method and several handlers serve it, the handler named like the
// service wins, and otherwise the gateway answers 400 listing them. A
// service that registered no endpoint list is called at "{Service}.{Method}".
// The gateway remembers a service's endpoints for WithLookupCache (a
// second by default) rather than asking the registry on every request.
//
// The request body (a JSON value, {} when empty) is passed to the service
// as the JSON request; the reply is the JSON response. Request headers
// become the call's metadata, except hop-by-hop and transport headers
// (Connection, Content-Length, Content-Type, Accept, Accept-Encoding, Host, ...),
// CORS headers and the framework's reserved Micro-* keys. The call's
// deadline comes from the Micro-Timeout header or the timeout query
// parameter (a Go duration such as 250ms), else WithTimeout's default,
// never beyond WithMaxTimeout.
//
// Errors are JSON bodies {"id", "code", "detail", "status"} with the HTTP
// status of the framework's error code (bad_request 400, unauthorized 401,
// forbidden 403, not_found 404, conflict 409, resource_exhausted 429,
// canceled 499, internal and unknown 500, not_implemented 501,
// interrupted 502, unavailable 503, deadline_exceeded 504). They say what
// to do: a service that is not registered lists the close names
// ("suggestions"), an endpoint that does not exist lists the service's
// endpoints ("endpoints"), a body that is not JSON gives the line and
// column, and a request the service could not decode carries the shape of
// the request it expects ("request_shape", from the registry). The gateway
// itself refuses bad input with a 4xx before any call: a body over
// WithMaxBodyBytes (413), a content type other than JSON (415), a method
// other than POST (405), a path that is not a route or names a service or
// endpoint with characters no service uses (400 or 404).
//
// CORS is off unless WithCORS lists the allowed origins. Close stops the
// gateway gracefully: new requests get 503 while the calls in flight
// finish, up to Close's ctx, after which they are cancelled.
//
// The gateway uses only the framework's public API (a registry to resolve
// and list services, a client to call them), so it runs over memory.Network
// inside a test, in virtual time, as over TCP and Consul.
package gateway
