package server_test

import (
	"context"
	"fmt"
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

// callCountReg counts the Register calls that reach a registry. It hides
// the registry's Standing (if any): its heartbeats beat every interval.
type callCountReg struct {
	registry.Registry
	calls atomic.Int64
}

func (r *callCountReg) Register(ctx context.Context, s *registry.Service, opts ...registry.RegisterOption) error {
	r.calls.Add(1)
	return r.Registry.Register(ctx, s, opts...)
}

// standingCountReg is a callCountReg that passes on its registry's Standing.
type standingCountReg struct{ *callCountReg }

func (r standingCountReg) Stand(svc *registry.Service, at time.Time, every, ttl time.Duration, holder registry.StandHolder) (registry.Stand, bool) {
	return r.Registry.(registry.Standing).Stand(svc, at, every, ttl, holder)
}

// beatHistory is what the rest of the world sees of a server's heartbeat
// through pauses of its host: the registry's events and when, since start,
// the heartbeat's log records, and the Register calls made.
type beatHistory struct {
	events []string
	logs   []string
	calls  int64
}

// runBeatHistory runs a server (TTL 3s, beats every second) whose host
// is paused from 10.5s to 20.5s and from 30.5s to 30.9s, stopped at
// 40.5s, on a registry with or without its Standing.
func runBeatHistory(t *testing.T, standing bool) beatHistory {
	var h beatHistory
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		start := time.Now()
		cr := &callCountReg{Registry: w.reg(w.srvHost)}
		var reg registry.Registry = cr
		if standing {
			reg = standingCountReg{cr}
		}
		watch, err := w.reg(w.cliHost).Watch(t.Context())
		require.NoError(t, err)
		var mu sync.Mutex
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				ev, err := watch.Next(context.Background())
				if err != nil {
					return
				}
				mu.Lock()
				h.events = append(h.events, fmt.Sprintf("%v@%v", ev.Type, ev.Timestamp.Sub(start)))
				mu.Unlock()
			}
		}()
		logs := &logRecorder{}
		s, err := server.New("greeter", w.srvHost.Transport(), reg, server.WithRegisterTTL(3*time.Second),
			server.WithRegisterInterval(time.Second), server.WithLogger(slog.New(logs)), server.WithHeartbeater(server.NewHeartbeater()))
		require.NoError(t, err)
		require.NoError(t, s.Handle(&Greeter{}))
		require.NoError(t, s.Start(t.Context()))
		at := func(d time.Duration) { time.Sleep(time.Until(start.Add(d))) }

		at(10500 * time.Millisecond)
		w.srvHost.Pause()
		at(20500 * time.Millisecond)
		w.srvHost.Resume()
		at(30500 * time.Millisecond)
		w.srvHost.Pause()
		at(30900 * time.Millisecond)
		w.srvHost.Resume()
		at(40500 * time.Millisecond)
		require.NoError(t, s.Stop(t.Context()))
		at(50 * time.Second)
		watch.Stop()
		<-done
		h.logs, h.calls = logs.msgs, cr.calls.Load()
	})
	return h
}

// A heartbeat whose registry holds its renewals (registry.Standing) is
// seen by the world exactly as one that beats every interval: the node
// expires at the same instant during a pause, comes back at the same
// instant after it, and the same records are logged; but it makes a
// Register call only while the registry cannot hold its renewals.
func TestHeartbeatStandingIsSeenAsBeats(t *testing.T) {
	var beats, standing beatHistory
	t.Run("beats", func(t *testing.T) { beats = runBeatHistory(t, false) })
	t.Run("standing", func(t *testing.T) { standing = runBeatHistory(t, true) })
	want := []string{"create@0s", "delete@13s", "create@20.5s", "delete@40.5s"}
	assert.Equal(t, want, beats.events)
	assert.Equal(t, want, standing.events)
	assert.Equal(t, beats.logs, standing.logs)
	// The beats of 11s-19s hang until the next tick ends them; the one of
	// 20s is made when the host resumes.
	assert.Equal(t, 9, countOf(beats.logs, "WARN server: heartbeat failed"))
	assert.Equal(t, 1, countOf(beats.logs, "INFO server: heartbeat recovered"))
	// Start's registration and 40 beats (1s-40s); with a standing,
	// Start's, the beat of 1s, the ten of the first pause (11s-20s) and
	// the one after the second (31s).
	assert.EqualValues(t, 41, beats.calls)
	assert.EqualValues(t, 13, standing.calls)
}

func countOf(msgs []string, msg string) int {
	n := 0
	for _, m := range msgs {
		if m == msg {
			n++
		}
	}
	return n
}
