package server_test

import (
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/server"
)

func TestStatsCountInFlightAndRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		logs := &logRecorder{}
		s := w.started(t, &Greeter{}, server.WithMaxConcurrent(2), server.WithLogger(slog.New(logs)))
		sr, ok := s.(server.StatsReporter)
		require.True(t, ok, "the server implements StatsReporter")
		assert.Equal(t, server.Stats{}, sr.Stats())
		c := w.dial(t, s.Addr())

		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				_ = c.call(t.Context(), "greeter", "Greeter.Sleep", &SleepRequest{Delay: time.Second}, &SleepReply{})
			})
		}
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, server.Stats{InFlight: 2, Refused: 3}, sr.Stats(), "mid-way: two served, three refused")
		wg.Wait()
		synctest.Wait()
		assert.Equal(t, server.Stats{InFlight: 0, Refused: 3}, sr.Stats())
		assert.Equal(t, 1, logs.count("overloaded"), "three refusals in the same second log once")

		// A second later the next refusal is logged again.
		time.Sleep(time.Second)
		for range 3 {
			wg.Go(func() {
				_ = c.call(t.Context(), "greeter", "Greeter.Sleep", &SleepRequest{Delay: time.Second}, &SleepReply{})
			})
		}
		wg.Wait()
		assert.Equal(t, uint64(4), sr.Stats().Refused)
		assert.Equal(t, 2, logs.count("overloaded"))
	})
}

func TestPanicsAreLoggedAtMostOncePerSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		logs := &logRecorder{}
		s := w.started(t, &Greeter{}, server.WithLogger(slog.New(logs)))
		c := w.dial(t, s.Addr())
		for range 10 {
			require.Error(t, c.call(t.Context(), "greeter", "Greeter.Panic", &HelloRequest{Name: "x"}, &HelloReply{}))
		}
		assert.Equal(t, 1, logs.count("handler panicked"))
		time.Sleep(time.Second)
		require.Error(t, c.call(t.Context(), "greeter", "Greeter.Panic", &HelloRequest{Name: "x"}, &HelloReply{}))
		assert.Equal(t, 2, logs.count("handler panicked"))
	})
}
