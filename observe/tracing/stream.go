package tracing

import (
	"context"
	"errors"
	"io"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/microsim/microsim/framework/client"
)

// StreamWrapper is a client.StreamWrapper that wraps each stream in a
// span (kind Client) from its opening to its end: the Recv that returns
// io.EOF (the server ended it; outcome ok) or an error (its outcome), or
// Close before that (the client abandoned it: outcome canceled). The
// span's trace context travels in the opening request's metadata, so the
// server's span of the stream is its child.
func (t *Tracing) StreamWrapper(next client.StreamFunc) client.StreamFunc {
	return func(ctx context.Context, req *client.Request) (client.Stream, error) {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			ctx = t.extractMetadata(ctx)
		}
		ctx, span := t.startRPC(ctx, req.Service, req.Endpoint, trace.SpanKindClient)
		s, err := next(t.injectMetadata(ctx), req)
		if err != nil {
			end(span, err)
			return nil, err
		}
		return &tracedStream{Stream: s, span: span}, nil
	}
}

// tracedStream ends its span once the stream ended.
type tracedStream struct {
	client.Stream
	span trace.Span
	once sync.Once
}

// Recv implements client.Stream.
func (s *tracedStream) Recv(msg any) error {
	err := s.Stream.Recv(msg)
	if err != nil {
		s.finish(err)
	}
	return err
}

// Close implements client.Stream.
func (s *tracedStream) Close() error {
	err := s.Stream.Close()
	s.finish(context.Canceled)
	return err
}

func (s *tracedStream) finish(err error) {
	s.once.Do(func() {
		if errors.Is(err, io.EOF) {
			err = nil
		}
		end(s.span, err)
	})
}
