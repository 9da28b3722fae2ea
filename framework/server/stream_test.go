package server_test

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/internal/wire"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
)

func send(t *testing.T, sock transport.Socket, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, sock.Send(t.Context(), &transport.Message{Body: b}))
}

// recvAll reads data messages until the trailer and returns both; it checks
// that the server then ends the stream.
func recvAll(t *testing.T, sock transport.Socket) ([]string, *transport.Message) {
	t.Helper()
	var got []string
	for {
		m, err := sock.Recv(t.Context())
		require.NoError(t, err)
		if m.Header[wire.End] != "" {
			require.Equal(t, "1", m.Header[wire.End])
			_, err := sock.Recv(t.Context())
			require.ErrorIs(t, err, io.EOF, "nothing follows the trailer")
			return got, m
		}
		var r HelloReply
		require.NoError(t, json.Unmarshal(m.Body, &r))
		got = append(got, r.Greeting)
	}
}

func TestStreamEcho(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.started(t, &Greeter{})
		c := w.dial(t, s.Addr())

		sock, err := c.openStream(t.Context(), "greeter", "Greeter.Echo")
		require.NoError(t, err)
		defer sock.Close()
		for _, n := range []string{"a", "b", "c"} {
			send(t, sock, &HelloRequest{Name: n})
		}
		require.NoError(t, sock.CloseSend())
		got, trailer := recvAll(t, sock)
		assert.Equal(t, []string{"a", "b", "c"}, got)
		assert.Nil(t, errors.FromHeader(trailer.Header), "a successful stream's trailer has no error")
	})
}

func TestStreamInterleaved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.started(t, &Greeter{})
		c := w.dial(t, s.Addr())

		sock, err := c.openStream(t.Context(), "greeter", "Greeter.Echo")
		require.NoError(t, err)
		defer sock.Close()
		for _, n := range []string{"x", "y"} {
			send(t, sock, &HelloRequest{Name: n})
			m, err := sock.Recv(t.Context())
			require.NoError(t, err)
			assert.JSONEq(t, `{"greeting":"`+n+`"}`, string(m.Body))
		}
		require.NoError(t, sock.CloseSend())
		got, trailer := recvAll(t, sock)
		assert.Empty(t, got)
		assert.Nil(t, errors.FromHeader(trailer.Header))
	})
}

func TestStreamHandlerErrorInTrailer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.started(t, &Greeter{})
		c := w.dial(t, s.Addr())

		sock, err := c.openStream(t.Context(), "greeter", "Greeter.Echo")
		require.NoError(t, err)
		defer sock.Close()
		send(t, sock, &HelloRequest{Name: "ok"})
		send(t, sock, &HelloRequest{Name: "fail"})
		got, trailer := recvAll(t, sock)
		assert.Equal(t, []string{"ok"}, got)
		e := errors.FromHeader(trailer.Header)
		require.NotNil(t, e)
		assert.Equal(t, errors.Conflict, e.Code)
		assert.Contains(t, e.Detail, `"fail"`)
	})
}

// TestStreamOpeningMessageWithPayload: without Micro-Stream-Open the first
// message's body is the first payload.
func TestStreamOpeningMessageWithPayload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.started(t, &Greeter{})
		c := w.dial(t, s.Addr())

		sock, err := c.conn.NewStream(t.Context(), nil)
		require.NoError(t, err)
		defer sock.Close()
		require.NoError(t, sock.Send(t.Context(), &transport.Message{
			Header: c.request(t.Context(), "greeter", "Greeter.Echo"), Body: []byte(`{"name":"first"}`),
		}))
		send(t, sock, &HelloRequest{Name: "second"})
		require.NoError(t, sock.CloseSend())
		got, trailer := recvAll(t, sock)
		assert.Equal(t, []string{"first", "second"}, got)
		assert.Nil(t, errors.FromHeader(trailer.Header))
	})
}

func TestStreamErrorsAreTrailers(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		code     errors.Code
		detail   string
	}{
		{name: "unknown endpoint", endpoint: "Greeter.Nope", code: errors.NotFound, detail: "Greeter.Nope"},
		{name: "unary endpoint", endpoint: "Greeter.Hello", code: errors.BadRequest, detail: "unary"},
		{name: "panic", endpoint: "Stream.Panic", code: errors.Internal, detail: "Stream.Panic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				s := w.server(t, &Greeter{})
				require.NoError(t, s.HandleFunc("Stream.Panic", func(ctx context.Context, st server.Stream) error { panic("stream boom") }))
				require.NoError(t, s.Start(t.Context()))
				c := w.dial(t, s.Addr())
				sock, err := c.openStream(t.Context(), "greeter", tc.endpoint)
				require.NoError(t, err)
				defer sock.Close()
				got, trailer := recvAll(t, sock)
				assert.Empty(t, got)
				e := errors.FromHeader(trailer.Header)
				require.NotNil(t, e)
				assert.Equal(t, tc.code, e.Code)
				assert.Contains(t, e.Detail, tc.detail)
			})
		})
	}
}

func TestStreamContextAndDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.server(t, nil)
		require.NoError(t, s.HandleFunc("Stream.Wait", func(ctx context.Context, st server.Stream) error {
			if st.Context() != ctx {
				return errors.NewInternal("test", "Stream.Context differs from the handler's ctx")
			}
			dl, ok := ctx.Deadline()
			if !ok || time.Until(dl) != 3*time.Second {
				return errors.NewInternal("test", "deadline %v %v", ok, time.Until(dl))
			}
			var m HelloRequest
			return st.Recv(&m) // the client sends nothing: the deadline ends it
		}))
		require.NoError(t, s.Start(t.Context()))
		c := w.dial(t, s.Addr())

		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		sock, err := c.openStream(ctx, "greeter", "Stream.Wait")
		require.NoError(t, err)
		defer sock.Close()
		_, trailer := recvAll(t, sock)
		e := errors.FromHeader(trailer.Header)
		require.NotNil(t, e)
		assert.Equal(t, errors.DeadlineExceeded, e.Code, "%v", e)
		assert.Equal(t, "greeter", e.ID)
		assert.Equal(t, 3*time.Second, time.Since(start))
	})
}
