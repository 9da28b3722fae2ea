package metadata

import (
	"context"
	"net/textproto"
	"strings"
)

// ReservedPrefix begins every header the framework uses for itself.
const ReservedPrefix = "Micro-"

// MD is a set of metadata key-value pairs. Keys are canonical.
type MD map[string]string

// New returns an MD holding kv, which must be key-value pairs.
// A trailing key without a value is ignored.
func New(kv ...string) MD {
	md := make(MD, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		md.Set(kv[i], kv[i+1])
	}
	return md
}

// Get returns the value for key (any case).
func (md MD) Get(key string) (string, bool) {
	v, ok := md[textproto.CanonicalMIMEHeaderKey(key)]
	return v, ok
}

// Set sets key (any case) to value.
func (md MD) Set(key, value string) { md[textproto.CanonicalMIMEHeaderKey(key)] = value }

// Copy returns an independent copy of md.
func (md MD) Copy() MD {
	c := make(MD, len(md))
	for k, v := range md {
		c[k] = v
	}
	return c
}

type mdKey struct{}

// NewContext returns a ctx carrying md, replacing any metadata ctx had.
// md is copied: later changes to it do not affect ctx.
func NewContext(ctx context.Context, md MD) context.Context {
	return context.WithValue(ctx, mdKey{}, md.Copy())
}

// FromContext returns a copy of the metadata in ctx.
func FromContext(ctx context.Context) (MD, bool) {
	md, ok := ctx.Value(mdKey{}).(MD)
	if !ok {
		return MD{}, false
	}
	return md.Copy(), true
}

// AppendToContext returns a ctx whose metadata is ctx's with kv (key-value
// pairs) added or replaced.
func AppendToContext(ctx context.Context, kv ...string) context.Context {
	md, _ := FromContext(ctx)
	for i := 0; i+1 < len(kv); i += 2 {
		md.Set(kv[i], kv[i+1])
	}
	return context.WithValue(ctx, mdKey{}, md)
}

// Value returns the value of key in ctx's metadata.
func Value(ctx context.Context, key string) (string, bool) {
	md, ok := ctx.Value(mdKey{}).(MD)
	if !ok {
		return "", false
	}
	return md.Get(key)
}

// IsReserved reports whether key is one of the framework's own headers.
func IsReserved(key string) bool {
	return len(key) >= len(ReservedPrefix) && strings.EqualFold(key[:len(ReservedPrefix)], ReservedPrefix)
}

// ToHeader copies the metadata in ctx into h, skipping reserved keys.
func ToHeader(ctx context.Context, h map[string]string) {
	md, ok := ctx.Value(mdKey{}).(MD)
	if !ok {
		return
	}
	for k, v := range md {
		if !IsReserved(k) {
			h[k] = v
		}
	}
}

// FromHeader returns the metadata in h: every header that is not reserved.
func FromHeader(h map[string]string) MD {
	md := make(MD, len(h))
	for k, v := range h {
		if !IsReserved(k) {
			md.Set(k, v)
		}
	}
	return md
}
