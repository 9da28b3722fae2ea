package codec_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/microsim/microsim/framework/codec"
)

func TestTableLookup(t *testing.T) {
	tab := codec.Standard()
	for _, ct := range []string{"application/json", "Application/JSON; charset=utf-8", "application/protobuf", "application/octet-stream"} {
		_, err := tab.Lookup(ct)
		assert.NoError(t, err, ct)
	}
	_, err := tab.Lookup("text/xml")
	require.Error(t, err)
	assert.True(t, errors.Is(err, codec.ErrUnknownContentType))
	assert.Contains(t, err.Error(), `"text/xml"`)
	assert.Contains(t, err.Error(), "application/json", "the error lists what is known")

	var empty *codec.Table
	_, err = empty.Lookup("application/json")
	assert.ErrorIs(t, err, codec.ErrUnknownContentType)
}

// TestTableHeader: a table gives one shared header map per codec, holding
// the codec's content type under the name messages carry it by, and nil
// for a content type none of its codecs gives.
func TestTableHeader(t *testing.T) {
	tab := codec.Standard()
	for _, c := range []codec.Codec{codec.JSON(), codec.Proto(), codec.Bytes()} {
		h := tab.Header(c.ContentType())
		require.Equal(t, map[string]string{"Micro-Content-Type": c.ContentType()}, h)
		h2 := tab.Header(c.ContentType())
		assert.Equal(t, fmt.Sprintf("%p", h), fmt.Sprintf("%p", h2), "one map per codec")
	}
	assert.Nil(t, tab.Header("text/xml"))
	assert.Nil(t, tab.Header("Application/JSON"), "the codec's own content type, not a request's spelling of it")
	var empty *codec.Table
	assert.Nil(t, empty.Header(codec.ContentTypeJSON))
	assert.Nil(t, new(codec.Table).Header(codec.ContentTypeJSON))
}

func TestTablesAreIndependent(t *testing.T) {
	a := codec.NewTable(codec.JSON())
	b := codec.NewTable(codec.Bytes())
	_, err := a.Lookup(codec.ContentTypeBytes)
	assert.Error(t, err)
	_, err = b.Lookup(codec.ContentTypeBytes)
	assert.NoError(t, err)
}

func TestJSONRoundTrip(t *testing.T) {
	type msg struct {
		Name string
		N    int
	}
	c := codec.JSON()
	b, err := c.Marshal(msg{"x", 3})
	require.NoError(t, err)
	var out msg
	require.NoError(t, c.Unmarshal(b, &out))
	assert.Equal(t, msg{"x", 3}, out)
	assert.ErrorContains(t, c.Unmarshal([]byte("{"), &out), "codec: json")
	_, err = c.Marshal(func() {})
	assert.Error(t, err)
}

func TestProtoRoundTrip(t *testing.T) {
	c := codec.Proto()
	b, err := c.Marshal(wrapperspb.String("hello"))
	require.NoError(t, err)
	out := &wrapperspb.StringValue{}
	require.NoError(t, c.Unmarshal(b, out))
	assert.Equal(t, "hello", out.GetValue())

	_, err = c.Marshal(struct{}{})
	assert.ErrorIs(t, err, codec.ErrUnsupportedType)
	assert.ErrorContains(t, err, "struct {}")
	assert.ErrorContains(t, c.Unmarshal([]byte{0xff, 0xff}, out), "codec: protobuf")
}

func TestBytesRoundTrip(t *testing.T) {
	c := codec.Bytes()
	in := []byte("raw")
	b, err := c.Marshal(in)
	require.NoError(t, err)
	var out []byte
	require.NoError(t, c.Unmarshal(b, &out))
	assert.Equal(t, in, out)
	out[0] = 'X'
	assert.Equal(t, byte('r'), b[0], "Unmarshal copies")
	_, err = c.Marshal("string")
	assert.ErrorIs(t, err, codec.ErrUnsupportedType)
	assert.ErrorIs(t, c.Unmarshal(b, &in[0]), codec.ErrUnsupportedType)
}
