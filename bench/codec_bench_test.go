package bench

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/microsim/microsim/framework/codec"
)

// jsonPayload is the JSON codec's benchmark value: one text field.
type jsonPayload struct {
	Text string `json:"text"`
}

// BenchmarkCodec measures one encode plus one decode with each shipped
// codec at 64 B, 1 KiB and 64 KiB: JSON (a struct with one string field of
// that many ASCII bytes), protobuf (wrapperspb.BytesValue) and bytes
// (a []byte, decoded into a reused *[]byte).
//
//	go test -run '^$' -bench Codec ./bench/
func BenchmarkCodec(b *testing.B) {
	for _, size := range payloadSizes {
		b.Run(fmt.Sprintf("codec=json/size=%s", sizeName(size)), func(b *testing.B) {
			in := &jsonPayload{Text: strings.Repeat("x", size)}
			benchCodec(b, codec.JSON(), size, in, func() any { return &jsonPayload{} },
				func(out any) bool { return len(out.(*jsonPayload).Text) == size })
		})
		b.Run(fmt.Sprintf("codec=proto/size=%s", sizeName(size)), func(b *testing.B) {
			in := wrapperspb.Bytes(bytes.Repeat([]byte{'x'}, size))
			out := &wrapperspb.BytesValue{}
			benchCodec(b, codec.Proto(), size, in, func() any { out.Reset(); return out },
				func(out any) bool { return len(out.(*wrapperspb.BytesValue).Value) == size })
		})
		b.Run(fmt.Sprintf("codec=bytes/size=%s", sizeName(size)), func(b *testing.B) {
			in := bytes.Repeat([]byte{'x'}, size)
			var out []byte
			benchCodec(b, codec.Bytes(), size, in, func() any { return &out },
				func(o any) bool { return len(*o.(*[]byte)) == size })
		})
	}
}

// benchCodec runs Marshal(in) then Unmarshal into newOut() per iteration.
func benchCodec(b *testing.B, c codec.Codec, size int, in any, newOut func() any, ok func(any) bool) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var out any
	for b.Loop() {
		data, err := c.Marshal(in)
		if err != nil {
			b.Fatal(err)
		}
		out = newOut()
		if err := c.Unmarshal(data, out); err != nil {
			b.Fatal(err)
		}
	}
	if !ok(out) {
		b.Fatalf("%s: round trip lost data", c.ContentType())
	}
	reportCalls(b, b.N)
}
