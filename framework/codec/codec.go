package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/microsim/microsim/framework/internal/wire"
)

// Content types of the shipped codecs.
const (
	ContentTypeJSON  = "application/json"
	ContentTypeProto = "application/protobuf"
	ContentTypeBytes = "application/octet-stream"
)

// Errors.
var (
	// ErrUnknownContentType is wrapped by Table.Lookup for a content type it does not hold.
	ErrUnknownContentType = errors.New("codec: unknown content type")
	// ErrUnsupportedType is wrapped when a codec cannot handle a Go value's type.
	ErrUnsupportedType = errors.New("codec: unsupported value type")
)

// Codec marshals values of one content type. Implementations must be safe
// for concurrent use.
type Codec interface {
	// ContentType is the MIME type this codec reads and writes.
	ContentType() string
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into v, which is a pointer. v keeps no
	// reference to data: the caller may reuse data once it returns (the
	// client and server decode messages the transport lends them, see
	// package transport). A codec that would rather alias data implements
	// AliasUnmarshaler.
	Unmarshal(data []byte, v any) error
}

// Appender is an optional interface of a Codec: it encodes into a buffer
// the caller supplies, so that a caller that reuses its buffers allocates
// nothing per message. The client and server use it when their codec has
// it.
type Appender interface {
	// MarshalAppend appends the encoding of v to b and returns the extended
	// slice, as Marshal would encode v.
	MarshalAppend(b []byte, v any) ([]byte, error)
}

// AliasUnmarshaler is an optional interface of a Codec: it decodes data
// that the caller hands over for good, so that the decoded value may share
// memory with data instead of copying it (the bytes codec's slice), for
// callers that own data for good. The client and server do not use it:
// the bodies they decode are lent by the transport.
type AliasUnmarshaler interface {
	// UnmarshalAlias is Unmarshal for data that the caller never reads or
	// writes again: v may keep referencing it.
	UnmarshalAlias(data []byte, v any) error
}

// Table maps content types to codecs. The zero value is empty and usable;
// a Table must not be modified after it is shared between goroutines.
type Table struct {
	codecs  map[string]Codec
	headers map[string]map[string]string // by a codec's ContentType: Header's maps
}

// NewTable returns a table holding codecs; a later codec replaces an earlier
// one with the same content type.
func NewTable(codecs ...Codec) *Table {
	t := &Table{codecs: make(map[string]Codec, len(codecs)), headers: make(map[string]map[string]string, len(codecs))}
	for _, c := range codecs {
		ct := c.ContentType()
		t.codecs[normalize(ct)] = c
		t.headers[ct] = map[string]string{wire.ContentType: ct}
	}
	return t
}

// Header returns a message header that holds only contentType, the
// ContentType of one of the table's codecs, under the name a message
// carries it by: one map per codec, made with the table and shared by
// every caller, which must not modify it (a server's replies send it:
// Send copies it or encodes it). It returns nil for a content type that
// no codec of the table gives.
func (t *Table) Header(contentType string) map[string]string {
	if t == nil {
		return nil
	}
	return t.headers[contentType]
}

// Standard returns a new table with the JSON, Proto and Bytes codecs.
func Standard() *Table { return NewTable(JSON(), Proto(), Bytes()) }

// Lookup returns the codec for contentType. Parameters such as
// "; charset=utf-8" and letter case are ignored.
func (t *Table) Lookup(contentType string) (Codec, error) {
	if t != nil {
		// The keys are normalized: a content type already in that form
		// (what every microsim peer sends) is found without lowercasing.
		if c, ok := t.codecs[contentType]; ok {
			return c, nil
		}
		if c, ok := t.codecs[normalize(contentType)]; ok {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownContentType, contentType, strings.Join(t.ContentTypes(), ", "))
}

// ContentTypes lists the table's content types, sorted.
func (t *Table) ContentTypes() []string {
	if t == nil {
		return nil
	}
	out := make([]string, 0, len(t.codecs))
	for ct := range t.codecs {
		out = append(out, ct)
	}
	sort.Strings(out)
	return out
}

func normalize(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// UnmarshalAlias decodes with the codec's AliasUnmarshaler, or Unmarshal.
// The caller never reads or writes data again.
func UnmarshalAlias(c Codec, data []byte, v any) error {
	if a, ok := c.(AliasUnmarshaler); ok {
		return a.UnmarshalAlias(data, v)
	}
	return c.Unmarshal(data, v)
}

// JSON returns the encoding/json codec.
func JSON() Codec { return jsonCodec{} }

type jsonCodec struct{}

func (jsonCodec) ContentType() string { return ContentTypeJSON }

func (jsonCodec) Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("codec: json: %w", err)
	}
	return b, nil
}

func (jsonCodec) Unmarshal(data []byte, v any) error {
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("codec: json: %w", err)
	}
	return nil
}

// Proto returns the protobuf codec; values must implement proto.Message.
func Proto() Codec { return protoCodec{} }

type protoCodec struct{}

func (protoCodec) ContentType() string { return ContentTypeProto }

func (protoCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%w: protobuf codec needs a proto.Message, got %T", ErrUnsupportedType, v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("codec: protobuf: %w", err)
	}
	return b, nil
}

func (protoCodec) MarshalAppend(b []byte, v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return b, fmt.Errorf("%w: protobuf codec needs a proto.Message, got %T", ErrUnsupportedType, v)
	}
	out, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	if err != nil {
		return b, fmt.Errorf("codec: protobuf: %w", err)
	}
	return out, nil
}

func (protoCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("%w: protobuf codec needs a proto.Message, got %T", ErrUnsupportedType, v)
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Errorf("codec: protobuf: %w", err)
	}
	return nil
}

// Bytes returns the raw codec: Marshal accepts []byte or *[]byte and
// Unmarshal accepts *[]byte (it copies data).
func Bytes() Codec { return bytesCodec{} }

type bytesCodec struct{}

func (bytesCodec) ContentType() string { return ContentTypeBytes }

func (bytesCodec) Marshal(v any) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return b, nil
	case *[]byte:
		if b == nil {
			return nil, nil
		}
		return *b, nil
	}
	return nil, fmt.Errorf("%w: bytes codec needs []byte or *[]byte, got %T", ErrUnsupportedType, v)
}

func (c bytesCodec) MarshalAppend(b []byte, v any) ([]byte, error) {
	data, err := c.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, data...), nil
}

// UnmarshalAlias stores data itself in *v, without copying.
func (bytesCodec) UnmarshalAlias(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok || b == nil {
		return fmt.Errorf("%w: bytes codec needs a non-nil *[]byte, got %T", ErrUnsupportedType, v)
	}
	*b = data
	return nil
}

func (bytesCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok || b == nil {
		return fmt.Errorf("%w: bytes codec needs a non-nil *[]byte, got %T", ErrUnsupportedType, v)
	}
	*b = append((*b)[:0], data...)
	return nil
}
