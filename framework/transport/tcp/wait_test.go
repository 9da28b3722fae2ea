package tcp_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/framework/transport/transporttest"
)

// TestWaitChannelsRaceTimeouts: Recv and Send borrow their wake channel
// from the transport for each wait and hand it back. Here many streams
// wait with timeouts as short as the messages' and credits' arrival (so
// that wakes race timeouts), mixed with waits without a timeout, which
// would hang if a wake went to a channel that had been handed back (to
// another stream's wait) or got lost. Every message must arrive, in order.
func TestWaitChannelsRaceTimeouts(t *testing.T) {
	tr := newTransport(t, tcp.WithStreamWindow(1)) // Send waits for credit too
	l, err := tr.Listen("127.0.0.1:0")
	require.NoError(t, err)
	accl := transporttest.NewAcceptor(l)
	t.Cleanup(func() { accl.Close() })
	defer l.Close()
	ctx := testCtx(t)
	c, err := tr.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()

	const streams, n = 16, 200
	var wg sync.WaitGroup
	errs := make(chan error, 2*streams)
	for id := range streams {
		cs, err := c.NewStream(ctx, nil)
		require.NoError(t, err)
		defer cs.Close()
		ss, err := accl.Accept(ctx)
		require.NoError(t, err)
		defer ss.Close()
		wg.Go(func() {
			for i := range n {
				m := &transport.Message{Body: fmt.Appendf(nil, "%d/%d", id, i)}
				if err := retry(ctx, i, func(ctx context.Context) error { return cs.Send(ctx, m) }); err != nil {
					errs <- fmt.Errorf("stream %d: send %d: %w", id, i, err)
					return
				}
			}
		})
		wg.Go(func() {
			for i := range n {
				var m *transport.Message
				err := retry(ctx, i+id, func(ctx context.Context) (err error) {
					m, err = ss.Recv(ctx)
					return err
				})
				if err != nil {
					errs <- fmt.Errorf("stream %d: recv %d: %w", id, i, err)
					return
				}
				if want := fmt.Sprintf("%d/%d", id, i); string(m.Body) != want {
					errs <- fmt.Errorf("stream %d: got %q, want %q", id, m.Body, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// retry calls f until it does not fail with DeadlineExceeded: with a
// timeout of a few microseconds, except every third call (by i), which
// waits as long as ctx.
func retry(ctx context.Context, i int, f func(context.Context) error) error {
	if i%3 == 0 {
		return f(ctx)
	}
	for d := time.Microsecond; ; d = min(2*d, time.Millisecond) {
		tctx, cancel := context.WithTimeout(ctx, d)
		err := f(tctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return err
		}
	}
}
