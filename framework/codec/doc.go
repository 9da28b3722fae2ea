// Package codec turns request and response values into bytes and back.
//
// A Codec handles one content type. A Table maps content types to codecs; it
// is a value owned by whoever builds it (a client, a server), never a global,
// so two services in one process can use different tables. Looking up a
// content type that the table does not hold returns an error that wraps
// ErrUnknownContentType and names the type.
//
// Three codecs ship: JSON (encoding/json), Proto (google.golang.org/protobuf,
// values must implement proto.Message) and Bytes (raw []byte, no encoding).
// All are safe for concurrent use.
//
// Two optional interfaces avoid copies and allocations: Appender (encode
// into a reused buffer; Proto and Bytes), which the client and server use
// on their hot path, and AliasUnmarshaler (decode a buffer handed over for
// good without copying out of it; Bytes), for callers that own their
// buffers (the client and server decode messages the transport lends
// them, so they copy). The UnmarshalAlias helper falls back to Unmarshal
// for a codec without it.
package codec

//go:generate go tool mockgen -typed -destination=codecmock/codecmock.go -package=codecmock . Codec
