package codec_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/microsim/microsim/framework/codec"
)

func TestMarshalAppend(t *testing.T) {
	for _, tc := range []struct {
		c codec.Codec
		v any
	}{
		{codec.Proto(), wrapperspb.Bytes([]byte("hello"))},
		{codec.Proto(), &structpb.Struct{Fields: map[string]*structpb.Value{"a": structpb.NewNumberValue(1)}}},
		{codec.Bytes(), []byte("raw")},
	} {
		a, ok := tc.c.(codec.Appender)
		require.True(t, ok, tc.c.ContentType())
		want, err := tc.c.Marshal(tc.v)
		require.NoError(t, err)
		got, err := a.MarshalAppend([]byte("prefix"), tc.v)
		require.NoError(t, err)
		assert.Equal(t, append([]byte("prefix"), want...), got, tc.c.ContentType())
	}
	_, err := codec.Proto().(codec.Appender).MarshalAppend(nil, "not a message")
	assert.ErrorIs(t, err, codec.ErrUnsupportedType)
}

func TestUnmarshalAliasBytesAndFallback(t *testing.T) {
	raw := []byte("raw")
	var b []byte
	require.NoError(t, codec.UnmarshalAlias(codec.Bytes(), raw, &b))
	assert.Same(t, &raw[0], &b[0], "no copy")
	assert.ErrorIs(t, codec.UnmarshalAlias(codec.Bytes(), raw, b), codec.ErrUnsupportedType)

	v := wrapperspb.Bytes([]byte("previous"))
	data, err := codec.Proto().Marshal(wrapperspb.Bytes([]byte("payload")))
	require.NoError(t, err)
	require.NoError(t, codec.UnmarshalAlias(codec.Proto(), data, v), "Proto falls back to Unmarshal")
	assert.Equal(t, []byte("payload"), v.Value)

	var s struct{ A int }
	require.NoError(t, codec.UnmarshalAlias(codec.JSON(), []byte(`{"A":3}`), &s), "JSON falls back to Unmarshal")
	assert.Equal(t, 3, s.A)
}
