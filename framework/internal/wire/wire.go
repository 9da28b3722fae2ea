// Package wire is microsim's RPC protocol over a transport.Socket: the header
// names that client and server agree on, and helpers to read them.
//
// Unary call, one stream:
//
//	client -> server  request:  Micro-Service, Micro-Endpoint, Micro-Content-Type,
//	                            [Micro-Timeout], user metadata headers; body = encoded request
//	server -> client  response: Micro-Content-Type; body = encoded response
//	                   or error: Micro-Error-Id, Micro-Error-Code, Micro-Error-Detail; empty body
//
// Streaming call, one stream: the first client message carries the same
// headers as a unary request (its body may be empty: Micro-Stream-Open: 1
// marks an opening message that carries no payload). Further messages carry
// only bodies. The client half-closes (CloseSend) when it has no more to send.
// The server sends data messages, then exactly one trailer: a message with
// Micro-End: 1 and, if the handler failed, the error headers. Then it closes.
//
// Every error reply, unary or streaming, carries Micro-End: 1 besides the
// error headers, so one reply shape serves both kinds of caller; a
// successful unary reply carries Micro-Content-Type (the codec's own type)
// and stream data messages carry no headers at all. A server that is
// overloaded reads the first message (without decoding it) and replies
// Unavailable, so the client's Send never races with the server's close.
//
// Micro-Timeout is the caller's remaining deadline in nanoseconds (decimal)
// when the request was sent; the server derives the handler's deadline from it.
//
// Every header starting with "Micro-" is reserved; all others are metadata.
package wire

import (
	"fmt"
	"strconv"
	"time"
)

// Header names.
const (
	Service     = "Micro-Service"
	Endpoint    = "Micro-Endpoint"
	ContentType = "Micro-Content-Type"
	Timeout     = "Micro-Timeout"
	StreamOpen  = "Micro-Stream-Open"
	End         = "Micro-End"
)

// FormatTimeout encodes a remaining deadline.
func FormatTimeout(d time.Duration) string { return strconv.FormatInt(int64(d), 10) }

// ParseTimeout decodes a Micro-Timeout value.
func ParseTimeout(s string) (time.Duration, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("wire: bad %s header %q: %w", Timeout, s, err)
	}
	return time.Duration(n), nil
}
