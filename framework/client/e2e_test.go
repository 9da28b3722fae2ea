package client_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
)

// attemptLog records, in virtual time, every attempt the client makes.
type attemptLog struct {
	mu       sync.Mutex
	attempts []attempt
}

type attempt struct {
	at   time.Time
	addr string
	err  error
}

func (l *attemptLog) wrapper(next client.AttemptFunc) client.AttemptFunc {
	return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
		err := next(ctx, addr, req, rsp)
		l.mu.Lock()
		l.attempts = append(l.attempts, attempt{at: time.Now(), addr: addr, err: err})
		l.mu.Unlock()
		return err
	}
}

// TestEndToEnd is the core issue's proof: a service with 3 instances whose
// handler sleeps 100 ms and 300 calls from a client, in virtual time.
func TestEndToEnd(t *testing.T) {
	wallStart := time.Now() // real time: taken outside the bubble
	var virtual time.Duration

	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		log := &attemptLog{}
		c := newCluster(t, clusterConfig{
			instances:  3,
			delay:      100 * time.Millisecond,
			ttl:        3 * time.Second,
			clientOpts: []client.Option{client.WithAttemptWrapper(log.wrapper)},
		})
		ctx := context.Background()

		// (b) Round robin rotates across calls: 300 sequential calls give
		// each instance exactly 100.
		for i := range 300 {
			var rsp EchoReply
			require.NoError(t, c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{Text: "hi"}, &rsp), "call %d", i)
			require.Equal(t, "hi", rsp.Text)
		}
		assert.Equal(t, []int{100, 100, 100}, c.calls())
		assert.Equal(t, 30*time.Second, time.Since(start), "300 sequential 100 ms calls take 30 s of virtual time")

		// (c) Kill one instance mid-run without deregistering: its host
		// crashes, so its address refuses connections while its registry
		// entry lives on until the TTL passes.
		log.mu.Lock()
		log.attempts = nil
		log.mu.Unlock()
		dead := c.servers[1].Addr()
		var crashedAt time.Time
		for i := range 300 {
			if i == 150 {
				c.hosts[1].Crash()
				crashedAt = time.Now()
			}
			var rsp EchoReply
			require.NoError(t, c.client.Call(ctx, "echo", "Echo.Say", &EchoRequest{Text: "x"}, &rsp), "call %d", 300+i)
			if i >= 150 && rsp.Instance == "echo-1" {
				t.Fatalf("call %d: a reply came from the dead instance; attempts so far: %+v", 300+i, log.attempts)
			}
		}

		var toDead, failedToDead, afterTTL int
		var lastToDead time.Time
		for _, a := range log.attempts {
			if a.addr != dead || a.at.Before(crashedAt) {
				continue
			}
			toDead++
			if a.err != nil {
				failedToDead++
			}
			lastToDead = a.at
			if a.at.After(crashedAt.Add(3 * time.Second)) {
				afterTTL++
			}
		}
		t.Logf("after the crash: %d attempts went to the dead node, %d failed and were retried elsewhere; last at crash+%v",
			toDead, failedToDead, lastToDead.Sub(crashedAt))
		assert.Positive(t, toDead, "round robin kept choosing the ghost until its TTL passed")
		assert.Equal(t, toDead, failedToDead, "every attempt to the dead node failed (refused) and was retried")
		assert.Zero(t, afterTTL, "no attempt reaches the dead node once its TTL has passed")
		assert.Equal(t, 300+toDead, len(log.attempts), "each call took exactly one attempt, plus one per refused attempt")

		virtual = time.Since(start)
	})

	wall := time.Since(wallStart)
	t.Logf("virtual time %v, wall time %v (%.0fx faster than real time)", virtual, wall, virtual.Seconds()/wall.Seconds())
	assert.Less(t, wall, time.Second, "the whole run takes well under a second of wall time")
	assert.GreaterOrEqual(t, virtual, 60*time.Second)
}
