package faults_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/transport"
)

func TestPartitionBlackHoleHeals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 1})
		_, err := w.call(ctx) // the client now holds a connection
		require.NoError(t, err)
		f, err := w.inj.Inject(ctx, "cut", faults.LinkFault{
			From: faults.Node("client"), To: faults.Service("echo"), Bidirectional: true, Partition: true,
		})
		require.NoError(t, err)

		// On the open connection, the request vanishes: the client waits
		// for its deadline, and the handler never runs.
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		start := time.Now()
		_, err = w.call(cctx)
		cancel()
		assert.Equal(t, errors.DeadlineExceeded, codeOf(err), "%v", err)
		assert.Equal(t, time.Second, time.Since(start))
		assert.Equal(t, []int{1}, w.calls())

		// A new connection hangs in Dial until the partition heals, then
		// the call goes through.
		c2, err := client.New(w.sel, w.inj.WrapTransport("client", w.net.Host("client").Transport(), nil),
			client.WithRand(newRand(3)))
		require.NoError(t, err)
		defer c2.Close()
		done := make(chan error, 1)
		go func() {
			var rsp EchoReply
			done <- c2.Call(ctx, "echo", "Echo.Say", &EchoRequest{Text: "late"}, &rsp)
		}()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Empty(t, done, "the dial hangs")
		healed := time.Now()
		require.NoError(t, f.Stop(ctx))
		require.NoError(t, <-done, "traffic resumes when the partition heals")
		assert.Equal(t, healed, time.Now())
		_, err = w.call(ctx)
		require.NoError(t, err, "the old connection carries traffic again")
		assert.Equal(t, []int{3}, w.calls())
		st := f.Stats()
		assert.Positive(t, st.Counts["dropped"])
		assert.False(t, st.Active)
		assert.Equal(t, healed, st.Stopped)
	})
}

func TestPartitionRefuseHeals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		log := &attemptLog{}
		w := newWorld(t, worldConfig{instances: 2, clientOpts: []client.Option{client.WithAttemptWrapper(log.wrapper)}})
		for range 4 {
			_, err := w.call(ctx)
			require.NoError(t, err)
		}
		f, err := w.inj.Inject(ctx, "refuse", faults.LinkFault{
			From: faults.Node("client"), To: faults.Node("echo-0"), Bidirectional: true, Partition: true, Mode: faults.Refuse,
		})
		require.NoError(t, err)
		mark := log.mark()
		for range 20 {
			rsp, err := w.call(ctx)
			require.NoError(t, err, "refused attempts are retried on the other instance")
			require.Equal(t, "echo-1", rsp.Instance)
		}
		refused := log.to(w.nodes[0].Addr(), mark)
		require.NotEmpty(t, refused)
		for _, a := range refused {
			assert.Equal(t, errors.Unavailable, codeOf(a.err), "%v", a.err)
		}
		assert.Equal(t, 2, w.calls()[0], "echo-0 ran nothing")
		st := f.Stats()
		t.Logf("refusing partition: %d attempts to echo-0, counts %v", len(refused), st.Counts)
		assert.Equal(t, uint64(1), st.Counts["reset"], "the open connection was reset")
		assert.Equal(t, uint64(len(refused)-1), st.Counts["refused"], "later dials were refused")

		require.NoError(t, f.Stop(ctx))
		for range 10 {
			_, err := w.call(ctx)
			require.NoError(t, err)
		}
		assert.Greater(t, w.calls()[0], 2, "traffic resumes")
	})
}

// TestPartitionOneWay: a one-way partition drops requests but lets
// replies through, and a refusing one refuses dials from the cut side only.
func TestPartitionOneWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		inj := faults.New(1)
		lk := newLink(t, inj)
		spec := aToB
		spec.Partition, spec.Direction = true, faults.Requests
		_, err := inj.Inject(ctx, "a-to-b", spec)
		require.NoError(t, err)
		require.NoError(t, lk.ss.Send(ctx, numbered(1)))
		m, err := lk.cs.Recv(ctx)
		require.NoError(t, err, "b to a still works")
		assert.Equal(t, 1, numberOf(m))
		require.NoError(t, lk.cs.Send(ctx, numbered(2)), "a black hole swallows the message")
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = lk.ss.Recv(rctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)

		refuse := aToB
		refuse.Partition, refuse.Mode = true, faults.Refuse
		_, err = inj.Inject(ctx, "refuse", refuse)
		require.NoError(t, err)
		_, err = lk.tr.Dial(ctx, "b:80")
		assert.ErrorIs(t, err, transport.ErrRefused)
		assert.ErrorContains(t, err, `link fault "refuse"`)
	})
}
