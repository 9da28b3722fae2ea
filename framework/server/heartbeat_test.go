package server_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/server"
)

// beatReg is a registry decorator that records when each Register began
// and, while hang is set, makes Register wait until its ctx ends (as on a
// paused host).
type beatReg struct {
	registry.Registry
	hang atomic.Bool

	mu        sync.Mutex
	starts    []time.Duration // since t0
	waited    []time.Duration // how long each hung Register waited
	deadlines []time.Duration // each Register's ctx deadline, less its start
	t0        time.Time
}

func (r *beatReg) Register(ctx context.Context, s *registry.Service, opts ...registry.RegisterOption) error {
	start := time.Now()
	dl, ok := ctx.Deadline()
	r.mu.Lock()
	r.starts = append(r.starts, start.Sub(r.t0))
	if ok {
		r.deadlines = append(r.deadlines, dl.Sub(start))
	}
	r.mu.Unlock()
	if r.hang.Load() {
		<-ctx.Done()
		r.mu.Lock()
		r.waited = append(r.waited, time.Since(start))
		r.mu.Unlock()
		return ctx.Err()
	}
	return r.Registry.Register(ctx, s, opts...)
}

func (r *beatReg) snapshot() (starts, waited, deadlines []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.starts...), append([]time.Duration(nil), r.waited...), append([]time.Duration(nil), r.deadlines...)
}

// heartbeaters runs test with the servers' own heartbeaters and with one
// they share: opts returns the options of a server.
func heartbeaters(t *testing.T, test func(t *testing.T, opts func() []server.Option)) {
	t.Run("own", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) { test(t, func() []server.Option { return nil }) })
	})
	t.Run("shared", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := server.NewHeartbeater()
			test(t, func() []server.Option { return []server.Option{server.WithHeartbeater(h)} })
		})
	})
}

// newBeatServer starts a greeter on the world's server host whose registry
// calls go through a beatReg; t0 is the start.
func newBeatServer(t *testing.T, w *world, logs *logRecorder, opts ...server.Option) (server.Server, *beatReg) {
	t.Helper()
	reg := &beatReg{Registry: w.reg(w.srvHost), t0: time.Now()}
	s, err := server.New("greeter", w.srvHost.Transport(), reg, append([]server.Option{
		server.WithRegisterTTL(3 * time.Second), server.WithRegisterInterval(time.Second), server.WithLogger(slog.New(logs))}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, s.Handle(&Greeter{}))
	require.NoError(t, s.Start(t.Context()))
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s, reg
}

func TestHeartbeatBeatsOnItsPhaseBoundedByTheInterval(t *testing.T) {
	heartbeaters(t, func(t *testing.T, opts func() []server.Option) {
		w := newWorld(t)
		logs := &logRecorder{}
		s, reg := newBeatServer(t, w, logs, opts()...)
		time.Sleep(3500 * time.Millisecond)
		starts, _, deadlines := reg.snapshot()
		// Start's registration, then one beat a second (Start's ctx has no deadline).
		assert.Equal(t, []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, starts)
		assert.Equal(t, []time.Duration{time.Second, time.Second, time.Second}, deadlines, "each beat is bounded by the interval")

		// Beats that hang end at the next tick, which starts the next beat.
		reg.hang.Store(true)
		time.Sleep(3 * time.Second) // t=6.5s
		reg.hang.Store(false)
		time.Sleep(2 * time.Second) // t=8.5s
		starts, waited, _ := reg.snapshot()
		assert.Equal(t, []time.Duration{0, 1, 2, 3, 4, 5, 6, 7, 8}, secs(starts), "no beat is skipped or delayed by the one before")
		assert.Equal(t, []time.Duration{time.Second, time.Second, time.Second}, waited)
		assert.Equal(t, 3, logs.count("heartbeat failed"))
		assert.Equal(t, 1, logs.count("heartbeat recovered"))

		// Stop ends a hanging beat at once; no beat runs after it.
		reg.hang.Store(true)
		time.Sleep(1200 * time.Millisecond) // t=9.7s: the 9s beat hangs
		stopped := time.Now()
		require.NoError(t, s.Stop(t.Context()))
		assert.Zero(t, time.Since(stopped), "Stop waits for no beat")
		n := len(starts) + 1 // the 9s beat
		time.Sleep(5 * time.Second)
		starts, _, _ = reg.snapshot()
		assert.Len(t, starts, n, "no beat after Stop")
		assert.Equal(t, 3, logs.count("heartbeat failed"), "the beat Stop cancelled is not a failure")
	})
}

func TestHeartbeatHangingDoesNotDelayOtherServers(t *testing.T) {
	heartbeaters(t, func(t *testing.T, opts func() []server.Option) {
		w := newWorld(t)
		logs := &logRecorder{}
		_, hung := newBeatServer(t, w, logs, opts()...)
		time.Sleep(300 * time.Millisecond) // the other server's phase is 0.3s later
		other, reg := newBeatServer(t, w, &logRecorder{}, opts()...)
		hung.hang.Store(true)
		time.Sleep(10500 * time.Millisecond) // t=10.8s
		starts, _, _ := reg.snapshot()
		// Its own beats at 1s..10s after its start, on time.
		want := []time.Duration{0}
		for i := 1; i <= 10; i++ {
			want = append(want, time.Duration(i)*time.Second)
		}
		assert.Equal(t, want, starts)
		_, waited, _ := hung.snapshot()
		assert.Equal(t, []time.Duration{time.Second, time.Second, time.Second, time.Second, time.Second, time.Second, time.Second, time.Second, time.Second}, waited,
			"the hung server's beats at 1s..9s each waited their interval; the 10s one waits")
		assert.Equal(t, []string{other.Node().ID}, nodeIDs(t, w.reg(w.cliHost)), "the hung server's registration expired; the other's did not")
	})
}

// Servers started at one instant beat at one instant; one whose beats hang
// delays the others' by at most the watchdog's first check (1ns of virtual
// time), whether it beats before or after them.
func TestHeartbeatHangingDoesNotDelayServersOfItsInstant(t *testing.T) {
	heartbeaters(t, func(t *testing.T, opts func() []server.Option) {
		w := newWorld(t)
		var regs []*beatReg
		var ids []string
		for range 4 {
			s, reg := newBeatServer(t, w, &logRecorder{}, opts()...)
			regs = append(regs, reg)
			ids = append(ids, s.Node().ID)
		}
		regs[0].hang.Store(true)
		regs[2].hang.Store(true)
		time.Sleep(5500 * time.Millisecond)
		for i, reg := range regs {
			starts, waited, _ := reg.snapshot()
			require.Len(t, starts, 6, "server %d: Start's registration and 5 beats", i)
			for k, at := range starts {
				assert.InDelta(t, float64(time.Duration(k)*time.Second), float64(at), float64(2*time.Nanosecond), "server %d beat %d at %v", i, k, at)
			}
			if i == 0 || i == 2 {
				assert.Len(t, waited, 4, "server %d: its beats at 1s..4s hung until the next", i)
			}
		}
		live := nodeIDs(t, w.reg(w.cliHost))
		assert.ElementsMatch(t, []string{ids[1], ids[3]}, live)
	})
}

func TestHeartbeaterWithoutServersHoldsNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		h := server.NewHeartbeater()
		var srvs []server.Server
		for range 3 {
			s, _ := newBeatServer(t, w, &logRecorder{}, server.WithHeartbeater(h))
			srvs = append(srvs, s)
		}
		time.Sleep(2500 * time.Millisecond)
		for _, s := range srvs {
			require.NoError(t, s.Stop(t.Context()))
		}
		// synctest.Test fails if a goroutine or a timer's goroutine of
		// the bubble is left; a server started afterwards beats again.
		s, reg := newBeatServer(t, w, &logRecorder{}, server.WithHeartbeater(h))
		time.Sleep(1500 * time.Millisecond)
		starts, _, _ := reg.snapshot()
		assert.Equal(t, []time.Duration{0, time.Second}, starts)
		require.NoError(t, s.Stop(t.Context()))
	})
}

func secs(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d / time.Second
	}
	return out
}
