package selector_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/registry/registrymock"
	"github.com/microsim/microsim/framework/selector"
)

var errDown = fmt.Errorf("%w: connection refused", registry.ErrUnavailable)

// idleWatcher returns a mock watcher whose Next blocks until its ctx is
// done or it is stopped.
func idleWatcher(ctrl *gomock.Controller) *registrymock.MockWatcher {
	w := registrymock.NewMockWatcher(ctrl)
	stop := make(chan struct{})
	var once sync.Once
	w.EXPECT().Stop().Do(func() { once.Do(func() { close(stop) }) }).AnyTimes()
	w.EXPECT().Next(gomock.Any()).DoAndReturn(func(ctx context.Context) (*registry.Event, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-stop:
			return nil, registry.ErrWatcherStopped
		}
	}).AnyTimes()
	return w
}

// watchTimes records when Watch was called.
type watchTimes struct {
	mu sync.Mutex
	at []time.Time
}

func (w *watchTimes) add() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.at = append(w.at, time.Now())
}

// watch returns a Watch implementation that records the call and returns
// watcher, err.
func (w *watchTimes) watch(watcher registry.Watcher, err error) func(context.Context, ...registry.WatchOption) (registry.Watcher, error) {
	return func(context.Context, ...registry.WatchOption) (registry.Watcher, error) {
		w.add()
		return watcher, err
	}
}

func (w *watchTimes) get() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.at...)
}

func TestMockStaleServedWhileRegistryUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctrl := gomock.NewController(t)
		reg := registrymock.NewMockRegistry(ctrl)
		reg.EXPECT().Watch(gomock.Any()).Return(idleWatcher(ctrl), nil)
		ns := nodes("n", 2)
		gomock.InOrder(
			reg.EXPECT().GetService(gomock.Any(), "svc").Return([]*registry.Service{service("svc", "v1", ns...)}, nil),
			reg.EXPECT().GetService(gomock.Any(), "svc").Return(nil, errDown).Times(2),
		)
		s := newSelector(t, reg, selector.WithCacheTTL(5*time.Second))
		assert.ElementsMatch(t, ids(ns), allIDs(t, s, "svc"))
		time.Sleep(5 * time.Second)
		assert.ElementsMatch(t, ids(ns), allIDs(t, s, "svc"), "refetch failed: stale entry served")
		time.Sleep(999 * time.Millisecond)
		assert.ElementsMatch(t, ids(ns), allIDs(t, s, "svc"), "within the hold-off: no registry call")
		time.Sleep(time.Millisecond)
		assert.ElementsMatch(t, ids(ns), allIDs(t, s, "svc"), "second failed refetch: still stale")
	})
}

func TestMockUnavailableWithoutCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctrl := gomock.NewController(t)
		reg := registrymock.NewMockRegistry(ctrl)
		reg.EXPECT().Watch(gomock.Any()).Return(idleWatcher(ctrl), nil)
		reg.EXPECT().GetService(gomock.Any(), "svc").Return(nil, errDown)
		s := newSelector(t, reg)
		_, err := s.Select(context.Background(), "svc")
		require.ErrorIs(t, err, registry.ErrUnavailable)
		assert.NotErrorIs(t, err, selector.ErrNotFound)
		assert.Contains(t, err.Error(), `"svc"`)
	})
}

func TestMockNotFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctrl := gomock.NewController(t)
		reg := registrymock.NewMockRegistry(ctrl)
		reg.EXPECT().Watch(gomock.Any()).Return(idleWatcher(ctrl), nil)
		notFound := fmt.Errorf("%w: %q", registry.ErrNotFound, "svc")
		gomock.InOrder(
			reg.EXPECT().GetService(gomock.Any(), "svc").Return(nil, notFound),
			reg.EXPECT().GetService(gomock.Any(), "svc").Return([]*registry.Service{service("svc", "v1", nodes("n", 1)...)}, nil),
			reg.EXPECT().GetService(gomock.Any(), "svc").Return(nil, notFound),
		)
		s := newSelector(t, reg, selector.WithCacheTTL(time.Second))
		_, err := s.Select(context.Background(), "svc")
		require.ErrorIs(t, err, selector.ErrNotFound)
		require.ErrorIs(t, err, registry.ErrNotFound)
		assert.Contains(t, err.Error(), `"svc"`)

		pick(t, s, "svc") // not cached as missing: asked again, now found
		time.Sleep(time.Second)
		// Not found on refetch is an answer, not an outage: nothing stale.
		_, err = s.Select(context.Background(), "svc")
		require.ErrorIs(t, err, selector.ErrNotFound)
	})
}

func TestMockWatchBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctrl := gomock.NewController(t)
		reg := registrymock.NewMockRegistry(ctrl)
		var times watchTimes
		const failures = 9
		gomock.InOrder(
			reg.EXPECT().Watch(gomock.Any()).DoAndReturn(times.watch(nil, errDown)).Times(failures),
			reg.EXPECT().Watch(gomock.Any()).DoAndReturn(times.watch(idleWatcher(ctrl), nil)),
		)
		ns := nodes("n", 1)
		reg.EXPECT().GetService(gomock.Any(), "svc").Return([]*registry.Service{service("svc", "v1", ns...)}, nil).Times(2)

		s := newSelector(t, reg, selector.WithRand(rand.New(rand.NewPCG(1, 2))))
		start := time.Now()
		pick(t, s, "svc") // the first Watch failed: Select does not wait for a retry
		assert.Equal(t, start, time.Now())
		time.Sleep(time.Minute)

		at := times.get()
		require.Len(t, at, failures+1)
		step := 100 * time.Millisecond
		for i := 1; i < len(at); i++ {
			gap := at[i].Sub(at[i-1])
			assert.GreaterOrEqual(t, gap, step/2, "retry %d", i)
			assert.LessOrEqual(t, gap, step, "retry %d", i)
			step = min(2*step, 5*time.Second)
		}
		// Fetched while the watch was down: refetched once it is back.
		pick(t, s, "svc")
	})
}

func TestMockBackoffIsReproducible(t *testing.T) {
	run := func() (gaps []time.Duration) {
		synctest.Test(t, func(t *testing.T) {
			ctrl := gomock.NewController(t)
			reg := registrymock.NewMockRegistry(ctrl)
			var times watchTimes
			reg.EXPECT().Watch(gomock.Any()).DoAndReturn(times.watch(nil, errDown)).AnyTimes()
			reg.EXPECT().GetService(gomock.Any(), "svc").Return(nil, errDown)
			s := newSelector(t, reg, selector.WithRand(rand.New(rand.NewPCG(7, 7))))
			_, _ = s.Select(context.Background(), "svc")
			time.Sleep(20 * time.Second)
			at := times.get()
			for i := 1; i < len(at); i++ {
				gaps = append(gaps, at[i].Sub(at[i-1]))
			}
		})
		return gaps
	}
	a, b := run(), run()
	assert.NotEmpty(t, a)
	assert.Equal(t, a, b)
}

func TestMockWatchNextErrorReconnects(t *testing.T) {
	for name, nextErr := range map[string]error{
		"unavailable":         errDown,
		"stopped by registry": registry.ErrWatcherStopped,
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctrl := gomock.NewController(t)
				reg := registrymock.NewMockRegistry(ctrl)
				broken := registrymock.NewMockWatcher(ctrl)
				broken.EXPECT().Next(gomock.Any()).Return(nil, nextErr)
				broken.EXPECT().Stop().MinTimes(1)
				var times watchTimes
				gomock.InOrder(
					reg.EXPECT().Watch(gomock.Any()).DoAndReturn(times.watch(broken, nil)),
					reg.EXPECT().Watch(gomock.Any()).DoAndReturn(times.watch(idleWatcher(ctrl), nil)),
				)
				reg.EXPECT().GetService(gomock.Any(), "svc").
					Return([]*registry.Service{service("svc", "v1", nodes("n", 1)...)}, nil).Times(2)
				s := newSelector(t, reg)
				pick(t, s, "svc")
				time.Sleep(time.Second)
				at := times.get()
				require.Len(t, at, 2)
				assert.LessOrEqual(t, at[1].Sub(at[0]), 100*time.Millisecond)
				pick(t, s, "svc") // the reconnect made the entry stale
				pick(t, s, "svc") // fresh again
			})
		})
	}
}

func TestMockWatchEventsApplied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctrl := gomock.NewController(t)
		reg := registrymock.NewMockRegistry(ctrl)
		events := make(chan *registry.Event)
		w := registrymock.NewMockWatcher(ctrl)
		w.EXPECT().Next(gomock.Any()).DoAndReturn(func(ctx context.Context) (*registry.Event, error) {
			select {
			case ev := <-events:
				return ev, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}).AnyTimes()
		w.EXPECT().Stop().MinTimes(1)
		reg.EXPECT().Watch(gomock.Any()).Return(w, nil)
		ns := nodes("n", 3)
		reg.EXPECT().GetService(gomock.Any(), "svc").Return([]*registry.Service{service("svc", "v1", ns[:2]...)}, nil)
		s := newSelector(t, reg)
		require.ElementsMatch(t, ids(ns[:2]), allIDs(t, s, "svc"))

		events <- &registry.Event{Type: registry.Create, Service: service("svc", "v1", ns[2])}
		events <- &registry.Event{Type: registry.Delete, Service: service("svc", "v1", ns[0])}
		events <- &registry.Event{Type: registry.Create, Service: service("ghost", "v1", ns[0])} // not cached
		events <- &registry.Event{Type: registry.EventType(99), Service: service("svc", "v1", ns[1])}
		events <- nil
		synctest.Wait()
		assert.ElementsMatch(t, []string{"n-0001", "n-0002"}, allIDs(t, s, "svc"))
	})
}

func TestMockCloseDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctrl := gomock.NewController(t)
		reg := registrymock.NewMockRegistry(ctrl)
		reg.EXPECT().Watch(gomock.Any()).Return(nil, errDown).MinTimes(1)
		reg.EXPECT().GetService(gomock.Any(), "svc").Return(nil, errDown)
		s, err := selector.New(reg)
		require.NoError(t, err)
		_, _ = s.Select(context.Background(), "svc")
		time.Sleep(3 * time.Second) // the goroutine is in a backoff wait
		start := time.Now()
		require.NoError(t, s.Close())
		assert.Equal(t, start, time.Now(), "Close does not wait out the backoff")
	})
}
