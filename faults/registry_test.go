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
	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/selector"
)

// TestRegistryUnavailableServesStale: while the registry is unreachable
// from the client, its selector serves the nodes it cached, even one that
// has left since; once the registry is back it catches up.
func TestRegistryUnavailableServesStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		log := &attemptLog{}
		w := newWorld(t, worldConfig{
			instances:  2,
			selOpts:    []selector.Option{selector.WithCacheTTL(time.Second)},
			clientOpts: []client.Option{client.WithAttemptWrapper(log.wrapper)},
		})
		for range 4 {
			_, err := w.call(ctx)
			require.NoError(t, err)
		}
		f, err := w.inj.Inject(ctx, "registry-down", faults.RegistryFault{Nodes: faults.Node("client"), Unavailable: true})
		require.NoError(t, err)

		view := w.inj.WrapRegistry("client", w.net.Host("client").Registry())
		_, err = view.GetService(ctx, "echo")
		require.ErrorIs(t, err, registry.ErrUnavailable)
		require.ErrorIs(t, view.Register(ctx, &registry.Service{Name: "x", Nodes: []*registry.Node{{ID: "x", Address: "client:1"}}}), registry.ErrUnavailable)

		// echo-1 leaves; the client cannot hear of it.
		gone := w.nodes[1].Addr()
		require.NoError(t, w.nodes[1].Stop(ctx))
		mark := log.mark()
		for range 100 {
			_, err := w.call(ctx)
			require.NoError(t, err, "calls go on from the cache")
			time.Sleep(100 * time.Millisecond)
		}
		stale := log.to(gone, mark)
		t.Logf("registry down 10s: %d attempts went to a node that left meanwhile (served stale, refused, retried); fault touched %d calls",
			len(stale), f.Stats().Counts["unavailable"])
		assert.NotEmpty(t, stale, "the selector kept serving its stale entry")
		assert.Greater(t, f.Stats().Counts["unavailable"], uint64(2), "watch broken and refetches failed")

		require.NoError(t, f.Stop(ctx))
		time.Sleep(6 * time.Second) // the selector's watch backoff is at most 5s
		mark = log.mark()
		for range 20 {
			_, err := w.call(ctx)
			require.NoError(t, err)
		}
		assert.Empty(t, log.to(gone, mark), "once the registry is back the selector catches up")
	})
}

// viewer is a host whose registry view is decorated by inj.
func viewer(t *testing.T, w *world) registry.Registry {
	require.NoError(t, w.inj.AddNode("viewer", faults.NodeInfo{}))
	return w.inj.WrapRegistry("viewer", w.net.Host("viewer").Registry())
}

func TestRegistryGhosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 2})
		view := viewer(t, w)
		require.Len(t, nodesOf(t, view), 2)
		watch, err := view.Watch(ctx, registry.WatchService("echo"))
		require.NoError(t, err)
		defer watch.Stop()
		f, err := w.inj.Inject(ctx, "ghosts", faults.RegistryFault{Nodes: faults.Node("viewer"), Ghosts: 5 * time.Second})
		require.NoError(t, err)

		require.NoError(t, w.nodes[1].Stop(ctx))
		left := time.Now()
		assert.Len(t, nodesOf(t, w.reg), 1, "the registry itself dropped it")
		assert.Len(t, nodesOf(t, view), 2, "the viewer still sees it")
		time.Sleep(4900 * time.Millisecond)
		assert.Len(t, nodesOf(t, view), 2)
		ev, err := watch.Next(ctx)
		require.NoError(t, err)
		assert.Equal(t, registry.Delete, ev.Type)
		assert.Equal(t, 5*time.Second, time.Since(left), "the Delete comes 5s late")
		assert.Len(t, nodesOf(t, view), 1, "and the ghost is gone")
		assert.Equal(t, uint64(3), f.Stats().Counts["ghost"], "two listings and one event")
	})
}

func TestRegistryWatchDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 1})
		view := viewer(t, w)
		watch, err := view.Watch(ctx)
		require.NoError(t, err)
		defer watch.Stop()
		_, err = w.inj.Inject(ctx, "slow-watch", faults.RegistryFault{Nodes: faults.Node("viewer"), WatchDelay: 2 * time.Second})
		require.NoError(t, err)

		start := time.Now()
		for i := range 3 {
			svc := &registry.Service{Name: "late", Nodes: []*registry.Node{{ID: string(rune('a' + i)), Address: "x:1"}}}
			require.NoError(t, w.reg.Register(ctx, svc))
			time.Sleep(100 * time.Millisecond)
		}
		for i := range 3 {
			ev, err := watch.Next(ctx)
			require.NoError(t, err)
			assert.Equal(t, registry.Create, ev.Type)
			assert.Equal(t, string(rune('a'+i)), ev.Service.Nodes[0].ID, "in order")
			assert.Equal(t, 2*time.Second+time.Duration(i)*100*time.Millisecond, time.Since(start), "each event 2s late")
		}
	})
}

func TestRegistryFlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 2}) // heartbeats every second
		id := "echo-" + w.nodes[0].Addr()
		time.Sleep(500 * time.Millisecond)
		f, err := w.inj.Inject(ctx, "flap", faults.RegistryFault{Nodes: faults.Node("echo-0"), Flap: 3 * time.Second})
		require.NoError(t, err)
		var seen []bool
		for range 4 {
			time.Sleep(time.Second)
			listed := false
			for _, n := range nodesOf(t, w.reg) {
				listed = listed || n == id
			}
			seen = append(seen, listed)
			time.Sleep(2 * time.Second)
		}
		assert.Equal(t, []bool{false, true, false, true}, seen, "withdrawn 3s, registered 3s, ...")
		assert.Contains(t, nodesOf(t, w.reg), "echo-"+w.nodes[1].Addr(), "the other node does not flap")
		assert.Positive(t, f.Stats().Counts["flapped"])
		require.NoError(t, f.Stop(ctx))
	})
}

// TestRegistryCloseStopsWatchers: watchers of a closed injector end.
func TestRegistryCloseStopsWatchers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 1})
		view := viewer(t, w)
		watch, err := view.Watch(ctx)
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() {
			_, err := watch.Next(context.Background())
			done <- err
		}()
		synctest.Wait()
		require.NoError(t, w.inj.Close())
		require.ErrorIs(t, <-done, registry.ErrWatcherStopped)
		watch.Stop()
	})
}
