package bench

import (
	"fmt"
	"testing"
)

// BenchmarkCallTCP is a unary Call end to end over the TCP transport on
// 127.0.0.1: client, selector, one pooled connection, server, protobuf
// codec (wrapperspb.BytesValue), an echo handler. Payload 64 B, 1 KiB and
// 64 KiB; 1, 8, 64 and 256 concurrent callers.
//
//	go test -run '^$' -bench CallTCP ./bench/
func BenchmarkCallTCP(b *testing.B) {
	for _, size := range payloadSizes {
		for _, conc := range callConcs {
			b.Run(fmt.Sprintf("size=%s/conc=%d", sizeName(size), conc), func(b *testing.B) {
				benchEcho(b, newTCPWorld(b), conc, size)
			})
		}
	}
}

// BenchmarkCallMemory is the same unary Call over the in-memory transport
// (client and server on two hosts of one memory.Network, real time).
//
//	go test -run '^$' -bench CallMemory ./bench/
func BenchmarkCallMemory(b *testing.B) {
	for _, size := range payloadSizes {
		for _, conc := range callConcs {
			b.Run(fmt.Sprintf("size=%s/conc=%d", sizeName(size), conc), func(b *testing.B) {
				benchEcho(b, newMemoryWorld(b), conc, size)
			})
		}
	}
}
