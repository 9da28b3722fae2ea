package metadata_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/microsim/microsim/framework/metadata"
)

func TestContextRoundTrip(t *testing.T) {
	ctx := metadata.NewContext(context.Background(), metadata.New("x-user", "ann", "trace-id", "t1"))
	v, ok := metadata.Value(ctx, "X-User")
	assert.True(t, ok)
	assert.Equal(t, "ann", v)

	ctx2 := metadata.AppendToContext(ctx, "x-user", "bob", "region", "eu")
	md, _ := metadata.FromContext(ctx2)
	assert.Equal(t, metadata.MD{"X-User": "bob", "Trace-Id": "t1", "Region": "eu"}, md)

	// The parent context is unchanged, and copies are independent.
	md0, _ := metadata.FromContext(ctx)
	assert.Equal(t, "ann", md0["X-User"])
	md0.Set("x-user", "mallory")
	v, _ = metadata.Value(ctx, "x-user")
	assert.Equal(t, "ann", v)
}

func TestHeadersSkipReserved(t *testing.T) {
	ctx := metadata.NewContext(context.Background(), metadata.MD{"Micro-Endpoint": "evil", "Tenant": "a"})
	h := map[string]string{}
	metadata.ToHeader(ctx, h)
	assert.Equal(t, map[string]string{"Tenant": "a"}, h)

	md := metadata.FromHeader(map[string]string{"micro-timeout": "5", "tenant": "b", "Micro-Service": "s"})
	assert.Equal(t, metadata.MD{"Tenant": "b"}, md)
	assert.True(t, metadata.IsReserved("MICRO-anything"))
	assert.False(t, metadata.IsReserved("Micro"))
}
