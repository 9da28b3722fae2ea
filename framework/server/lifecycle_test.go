package server_test

import (
	"context"
	stderrors "errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
)

// nodeIDs returns the IDs of the live greeter nodes.
func nodeIDs(t *testing.T, reg registry.Registry) []string {
	t.Helper()
	svcs, err := reg.GetService(t.Context(), "greeter")
	if err != nil {
		require.ErrorIs(t, err, registry.ErrNotFound)
		return nil
	}
	var ids []string
	for _, s := range svcs {
		for _, n := range s.Nodes {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

func TestHeartbeatKeepsNodeAliveUntilHostCrashes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		reg := w.reg(w.cliHost)
		watch := watchService(t, reg)
		logs := &logRecorder{}
		s := w.started(t, &Greeter{}, server.WithRegisterTTL(3*time.Second), server.WithLogger(slog.New(logs)))
		id := s.Node().ID

		ev, err := watch.Next(t.Context())
		require.NoError(t, err)
		assert.Equal(t, registry.Create, ev.Type)

		// 60 virtual seconds: twenty TTLs, the node never expires.
		for range 60 {
			time.Sleep(time.Second)
			require.Equal(t, []string{id}, nodeIDs(t, reg))
		}

		crashed := time.Now()
		w.srvHost.Crash()
		ev, err = watch.Next(t.Context())
		require.NoError(t, err)
		assert.Equal(t, registry.Delete, ev.Type)
		assert.Equal(t, id, ev.Service.Nodes[0].ID)
		// The dead host cannot deregister: the node lingers until the TTL
		// of its last heartbeat (at most one interval, 1s, before the crash) passes.
		assert.GreaterOrEqual(t, time.Since(crashed), 2*time.Second, "the node outlives the crash until its TTL passes")
		assert.LessOrEqual(t, time.Since(crashed), 3*time.Second, "gone at most one TTL after the crash")
		assert.Empty(t, nodeIDs(t, reg))

		// The accept loop logged its failure once and ended: it does not spin.
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Equal(t, 1, logs.count("accept failed"))
		assert.Equal(t, 1, logs.count("listener failed; node deregistered"), "the heartbeat ended with the listener")
		assert.Empty(t, nodeIDs(t, reg))

		// Stop after a crash still ends every goroutine (goleak checks);
		// deregistering from the dead host may fail.
		_ = s.Stop(t.Context())
	})
}

func TestHeartbeatRecoversAfterRegistryOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var down atomic.Bool
		flaky := &hookReg{Registry: w.reg(w.srvHost), onRegister: func() error {
			if down.Load() {
				return fmt.Errorf("test: %w", registry.ErrUnavailable)
			}
			return nil
		}}
		logs := &logRecorder{}
		s, err := server.New("greeter", w.srvHost.Transport(), flaky,
			server.WithRegisterTTL(3*time.Second), server.WithRegisterInterval(time.Second), server.WithLogger(slog.New(logs)))
		require.NoError(t, err)
		require.NoError(t, s.Handle(&Greeter{}))
		require.NoError(t, s.Start(t.Context()))
		defer s.Stop(context.Background())
		reg := w.reg(w.cliHost)

		time.Sleep(4500 * time.Millisecond) // heartbeats at 1s..4s succeed
		down.Store(true)
		time.Sleep(3 * time.Second) // t=7.5s: the last refresh (4s) expired at 7s
		assert.Empty(t, nodeIDs(t, reg))
		assert.GreaterOrEqual(t, logs.count("heartbeat failed"), 3)

		down.Store(false)
		time.Sleep(time.Second) // the 8s heartbeat registers again
		assert.Equal(t, []string{s.Node().ID}, nodeIDs(t, reg))
		assert.Equal(t, 1, logs.count("heartbeat recovered"))
	})
}

func TestGracefulStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var order []string
		var mu sync.Mutex
		note := func(s string) {
			mu.Lock()
			order = append(order, s)
			mu.Unlock()
		}
		var addr string
		reg := &hookReg{Registry: w.reg(w.srvHost), onDeregister: func() error {
			// The listener must still be open when the node is deregistered.
			conn, err := w.cliHost.Transport().Dial(context.Background(), addr)
			if err == nil {
				conn.Close()
				note("deregister while listening")
			} else {
				note("deregister after the listener closed: " + err.Error())
			}
			return nil
		}}
		s, err := server.New("greeter", w.srvHost.Transport(), reg)
		require.NoError(t, err)
		require.NoError(t, s.Handle(&Greeter{}))
		watch := watchService(t, w.reg(w.cliHost))
		require.NoError(t, s.Start(t.Context()))
		addr = s.Addr()
		_, err = watch.Next(t.Context()) // Create
		require.NoError(t, err)

		c := w.dial(t, addr)
		start := time.Now()
		replies := make([]SleepReply, 3)
		errs := make([]error, 3)
		var calls sync.WaitGroup
		for i := range replies {
			calls.Go(func() {
				errs[i] = c.call(t.Context(), "greeter", "Greeter.Sleep", &SleepRequest{Delay: 2 * time.Second}, &replies[i])
			})
		}
		synctest.Wait() // all three are in their handlers

		var stopErr error
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			stopErr = s.Stop(t.Context())
		}()
		ev, err := watch.Next(t.Context())
		require.NoError(t, err)
		assert.Equal(t, registry.Delete, ev.Type)
		synctest.Wait() // Stop is draining

		// New dials, and new streams on an open connection, are refused.
		_, err = w.cliHost.Transport().Dial(t.Context(), addr)
		assert.ErrorIs(t, err, transport.ErrRefused)
		err = c.call(t.Context(), "greeter", "Greeter.Hello", &HelloRequest{}, &HelloReply{})
		assert.ErrorIs(t, err, transport.ErrRefused)
		select {
		case <-stopped:
			t.Fatal("Stop returned before the in-flight requests finished")
		default:
		}

		calls.Wait()
		for i := range errs {
			require.NoError(t, errs[i])
			assert.Equal(t, 2*time.Second, replies[i].Slept)
		}
		<-stopped
		require.NoError(t, stopErr)
		assert.Equal(t, 2*time.Second, time.Since(start))
		assert.Equal(t, []string{"deregister while listening"}, order)
	})
}

func TestStopAbandonsRequestsWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.started(t, &Greeter{})
		c := w.dial(t, s.Addr())

		errs := make([]error, 2)
		var calls sync.WaitGroup
		for i := range errs {
			calls.Go(func() {
				errs[i] = c.call(t.Context(), "greeter", "Greeter.Sleep", &SleepRequest{Delay: 10 * time.Second}, &SleepReply{})
			})
		}
		synctest.Wait()

		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		err := s.Stop(ctx)
		require.ErrorIs(t, err, server.ErrAbandoned)
		assert.Contains(t, err.Error(), "2 requests")
		// The drain ends a tenth of the budget before the deadline, which
		// leaves the cancelled handlers time to reply.
		assert.Equal(t, 900*time.Millisecond, time.Since(start), "Stop is bounded by its ctx")

		calls.Wait()
		for _, err := range errs {
			var e *errors.Error
			require.True(t, stderrors.As(err, &e), "an abandoned request gets an error reply: %v", err)
			assert.Equal(t, errors.Interrupted, e.Code)
			assert.Contains(t, e.Error(), "the server stopped before it finished")
		}
		require.NoError(t, s.Stop(t.Context()), "a second Stop is a no-op")
	})
}

// hangingDeregister is a registry whose Deregister hangs until its ctx ends.
type hangingDeregister struct{ registry.Registry }

func (h hangingDeregister) Deregister(ctx context.Context, _ *registry.Service) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestStopBoundsDeregister: a registry that hangs takes a quarter of the
// stop budget, not all of it; the drain still has the rest.
func TestStopBoundsDeregister(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s, err := server.New("greeter", w.srvHost.Transport(), hangingDeregister{w.reg(w.srvHost)})
		require.NoError(t, err)
		require.NoError(t, s.Handle(&Greeter{}))
		require.NoError(t, s.Start(t.Context()))
		c := w.dial(t, s.Addr())

		var callErr error
		var reply SleepReply
		var calls sync.WaitGroup
		calls.Go(func() {
			callErr = c.call(t.Context(), "greeter", "Greeter.Sleep", &SleepRequest{Delay: 4 * time.Second}, &reply)
		})
		synctest.Wait()

		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		err = s.Stop(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "deregister node")
		assert.NotErrorIs(t, err, server.ErrAbandoned, "the drain had the rest of the budget")
		assert.Equal(t, 4*time.Second, time.Since(start), "deregister took 2.5 s, the drain waited for the call")
		calls.Wait()
		require.NoError(t, callErr)
		assert.Equal(t, 4*time.Second, reply.Slept)
	})
}

func TestConcurrentStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := w.started(t, &Greeter{})
		c := w.dial(t, s.Addr())
		done := make(chan error, 1)
		go func() {
			done <- c.call(t.Context(), "greeter", "Greeter.Sleep", &SleepRequest{Delay: time.Second}, &SleepReply{})
		}()
		synctest.Wait()

		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = s.Stop(t.Context()) })
		}
		wg.Wait()
		for _, err := range errs {
			assert.NoError(t, err)
		}
		require.NoError(t, <-done)
		assert.Equal(t, "srv:49152", s.Addr(), "Addr still reports where the server listened")
	})
}

func TestStartFailsCleanly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var fail atomic.Bool
		fail.Store(true)
		reg := &hookReg{Registry: w.reg(w.srvHost), onRegister: func() error {
			if fail.Load() {
				return fmt.Errorf("test: %w", registry.ErrUnavailable)
			}
			return nil
		}}
		s, err := server.New("greeter", w.srvHost.Transport(), reg, server.WithAddress("srv:7000"))
		require.NoError(t, err)
		require.NoError(t, s.Handle(&Greeter{}))

		err = s.Start(t.Context())
		require.ErrorIs(t, err, registry.ErrUnavailable)
		assert.Contains(t, err.Error(), "greeter-srv:7000")
		assert.Empty(t, s.Addr())
		// The address was freed and the server can start again.
		fail.Store(false)
		require.NoError(t, s.Start(t.Context()))
		assert.Equal(t, "srv:7000", s.Addr())

		// Listening on a taken address fails at Start.
		other, err := server.New("greeter", w.srvHost.Transport(), reg, server.WithAddress("srv:7000"))
		require.NoError(t, err)
		err = other.Start(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "srv:7000")
		require.NoError(t, s.Stop(t.Context()))
	})
}
