// Package describe builds bounded JSON descriptions (registry.Shape) of the
// request and response types of endpoints, so that tools — the CLI's
// describe, the gateway's errors, the dashboard's forms — can show and build
// a message without the Go type.
//
// Go types are described by reflection, following encoding/json (the rules
// the JSON codec decodes by): exported fields under their json tag names,
// "-" skipped, untagged embedded structs flattened, ",string" numbers as
// strings, []byte as base64 strings, time.Time as a date-time string, other
// json.Marshaler types as "any" and encoding.TextMarshaler types as strings.
// Protobuf messages (types implementing proto.Message) are described
// through their descriptors: the fields of the generated struct under their
// proto names, enums as integers, oneofs as "any" with format "oneof".
//
// A description is bounded so that it fits every registry (Consul's
// included): an object lists at most MaxFields fields, nesting stops at
// MaxDepth levels, a recursive type is cut where it recurs, and the JSON
// encoding of one message's shape is at most MaxBytes; a description that
// would be larger is rebuilt shallower until it fits. Every cut is marked
// with Truncated. Budget bounds the shapes of a whole service.
//
// The package has no state; every function is pure.
package describe
