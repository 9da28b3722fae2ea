package gateway_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/gateway"
)

func TestCloseWaitsForCallsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		slow := make(chan *reply, 1)
		go func() { slow <- w.do(t, "POST", "/greeter/hello", `{"name": "ana", "sleep": "2s"}`) }()
		time.Sleep(100 * time.Millisecond) // the call is in flight
		start := time.Now()
		closed := make(chan error, 1)
		go func() { closed <- w.gw.Close(context.Background()) }()
		synctest.Wait()

		r := w.do(t, "POST", "/greeter/hello", `{}`)
		require.Equal(t, http.StatusServiceUnavailable, r.status)
		require.Contains(t, r.problem(t).Detail, "shutting down")
		require.Equal(t, "close", r.header.Get("Connection"))

		require.NoError(t, <-closed)
		require.Equal(t, 1900*time.Millisecond, time.Since(start), "Close returned when the call finished")
		r = <-slow
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Equal(t, "Hello, ana", r.json(t)["message"])
		require.NoError(t, w.gw.Close(context.Background()), "idempotent")
	})
}

func TestCloseCancelsCallsAtItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		slow := make(chan *reply, 1)
		go func() { slow <- w.do(t, "POST", "/greeter/hello", `{"sleep": "10s"}`) }()
		time.Sleep(100 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := w.gw.Close(ctx)
		require.ErrorIs(t, err, gateway.ErrClosed)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, time.Second, time.Since(start))
		r := <-slow
		require.Equal(t, 499, r.status, "%s", r.body)
		require.Equal(t, "canceled", r.problem(t).Code)
	})
}
