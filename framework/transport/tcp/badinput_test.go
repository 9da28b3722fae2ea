package tcp_test

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/framework/transport/transporttest"
)

// TestBadInput sends malformed bytes on one connection to a live listener:
// that connection is closed with an error naming the problem (logged), while
// a good client on another connection keeps getting answers.
func TestBadInput(t *testing.T) {
	open1 := rawFrame(0, tOpen, 1, nil)
	tests := []struct {
		name  string
		bytes []byte
		log   []string
		sink  bool // send to a listener that never accepts
	}{
		{"Garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), []string{"bad preface", `"GET / HTTP/1.1\r\n"`}, false},
		{"WrongVersion", []byte("MSIM\x07\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x20"), []string{"preface version 7"}, false},
		{"GarbageAfterPreface", append(preface(1<<20, 32), "\xde\xad\xbe\xef\xde\xad\xbe\xef\xde\xad"...), []string{"unknown frame type 0xde"}, false},
		{"TruncatedFrame", append(append(preface(1<<20, 32), open1...), rawFrame(100, tData, 1, []byte("only part"))...), []string{"truncated frame"}, false},
		{"TwoGiBFrame", append(append(preface(1<<20, 32), open1...), rawFrame(2<<30, tData, 1, nil)...), []string{"DATA frame announces 2147483648 bytes, above the limit"}, false},
		{"UnknownType", append(preface(1<<20, 32), rawFrame(0, 0x42, 1, nil)...), []string{"unknown frame type 0x42"}, false},
		{"StreamNeverOpened", append(preface(1<<20, 32), rawFrame(3, tData, 7, dataPayload([]byte("hi")))...), []string{"DATA frame for stream 7, which was never opened"}, false},
		{"StreamIDSkipsAhead", append(preface(1<<20, 32), rawFrame(0, tOpen, 5, nil)...), []string{"OPEN frame for stream 5, but the next stream id is 1"}, false},
		{"DataOnStreamZero", append(preface(1<<20, 32), rawFrame(3, tData, 0, dataPayload([]byte("hi")))...), []string{"DATA frame on stream 0"}, false},
		{"PingWrongLength", append(preface(1<<20, 32), rawFrame(3, tPing, 0, []byte("abc"))...), []string{"PING frame with a 3-byte payload, want 8"}, false},
		{"BadDataPayload", append(append(preface(1<<20, 32), open1...), rawFrame(3, tData, 1, []byte{1, 0x7f, 0x01})...), []string{"DATA frame with a bad header count"}, false},
		{"WindowOverflow", windowOverflow(), []string{"stream 1 overflowed its window of 2 messages"}, true},
		{"GoAwayFromClient", append(preface(1<<20, 32), rawFrame(0, tGoAway, 0, nil)...), []string{"GOAWAY frame from a client"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogSink()
			tr := newTransport(t, tcp.WithLogger(logs.logger()), tcp.WithStreamWindow(2))
			l := echoServer(t, tr)
			good := startGoodClient(t, tr, l.Addr())
			good.alive(t)

			addr := l.Addr()
			if tc.sink {
				sink, err := tr.Listen("127.0.0.1:0")
				require.NoError(t, err)
				t.Cleanup(func() { sink.Close() })
				addr = sink.Addr()
			}
			bad := dialRaw(t, addr)
			bad.write(tc.bytes)
			if tc.name == "TruncatedFrame" {
				bad.nc.(interface{ CloseWrite() error }).CloseWrite()
			}
			bad.waitClosed()
			logs.waitFor(t, append([]string{"WARN tcp: connection closed", "server=true"}, tc.log...)...)
			good.alive(t)
		})
	}
}

// windowOverflow opens stream 1 and sends three messages, one more than the
// server's window of 2 allows.
func windowOverflow() []byte {
	b := append(preface(1<<20, 32), rawFrame(0, tOpen, 1, nil)...)
	for range 3 {
		b = append(b, rawFrame(3, tData, 1, dataPayload([]byte("abc"))[:3])...)
	}
	return b
}

// TestSilentPeer: a peer that connects and sends nothing is closed after
// the read timeout (its preface never came); one that sends a preface and
// then nothing is closed after the idle timeout, with a GOAWAY first.
func TestSilentPeer(t *testing.T) {
	t.Run("NoPreface", func(t *testing.T) {
		logs := newLogSink()
		tr := newTransport(t, tcp.WithLogger(logs.logger()), tcp.WithReadTimeout(200*time.Millisecond))
		l := echoServer(t, tr)
		good := startGoodClient(t, tr, l.Addr())
		bad := dialRaw(t, l.Addr())
		start := time.Now()
		require.Empty(t, bad.waitClosed())
		require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
		logs.waitFor(t, "WARN tcp: connection closed", "handshake: read preface", "i/o timeout")
		good.alive(t)
	})
	t.Run("Idle", func(t *testing.T) {
		logs := newLogSink()
		tr := newTransport(t, tcp.WithLogger(logs.logger()), tcp.WithIdleTimeout(200*time.Millisecond))
		l := echoServer(t, tr)
		bad := dialRaw(t, l.Addr())
		bad.write(preface(1<<20, 32))
		got := bad.waitClosed()
		require.Len(t, got, 16+9, "the server's preface, then a GOAWAY")
		require.Equal(t, rawFrame(0, tGoAway, 0, nil), got[16:])
		logs.waitFor(t, "DEBUG tcp: closing idle connection")
	})
}

// TestPeerStopsReading: a peer that stops reading while the server writes
// to it is cut off after the write timeout; the server's handler sees its
// Send fail with ErrReset, and other clients are served throughout.
func TestPeerStopsReading(t *testing.T) {
	logs := newLogSink()
	tr := newTransport(t, tcp.WithLogger(logs.logger()), tcp.WithWriteTimeout(300*time.Millisecond))
	l := echoServer(t, tr)
	good := startGoodClient(t, tr, l.Addr())
	good.alive(t)

	// A second listener whose handler streams 1 MiB messages forever.
	sl, err := tr.Listen("127.0.0.1:0")
	require.NoError(t, err)
	accsl := transporttest.NewAcceptor(sl)
	t.Cleanup(func() { accsl.Close() })
	t.Cleanup(func() { sl.Close() })
	sendErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		s, err := accsl.Accept(ctx)
		if err != nil {
			sendErr <- err
			return
		}
		defer s.Close()
		m := &transport.Message{Body: make([]byte, 1<<20)}
		for {
			if err := s.Send(ctx, m); err != nil {
				sendErr <- err
				return
			}
		}
	}()

	bad := dialRaw(t, sl.Addr())
	// A window large enough that flow control never stops the server: only
	// the socket can.
	bad.write(append(preface(1<<20, 1<<16), rawFrame(0, tOpen, 1, nil)...))
	select {
	case err := <-sendErr:
		require.ErrorIs(t, err, transport.ErrReset)
	case <-time.After(wait):
		t.Fatal("the server's Send to a peer that stopped reading never failed")
	}
	logs.waitFor(t, "WARN tcp: connection closed", "write timeout", "made no progress")
	good.alive(t)
}

// TestOversizedFrameNotAllocated: a header announcing 4 GiB closes the
// connection before any payload is read, and costs no allocation of that size.
func TestOversizedFrameNotAllocated(t *testing.T) {
	logs := newLogSink()
	tr := newTransport(t, tcp.WithLogger(logs.logger()))
	l := echoServer(t, tr)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	bad := dialRaw(t, l.Addr())
	hdr := rawFrame(0, tData, 1, nil)
	binary.BigEndian.PutUint32(hdr, 0xFFFFFFFF)
	bad.write(append(append(preface(1<<20, 32), rawFrame(0, tOpen, 1, nil)...), hdr...))
	bad.waitClosed()
	logs.waitFor(t, "DATA frame announces 4294967295 bytes")
	runtime.ReadMemStats(&after)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "bytes allocated meanwhile")
}
