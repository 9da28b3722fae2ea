package client_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
)

// Calls of a client that reuses its calls' state, eight at a time, with
// attempt timeouts that fire, retries and hedges racing the ends of calls,
// under each kind of caller ctx (none, cancellable, with a deadline):
// every call gets its own reply or its own failure, and (under the race
// detector, as make test runs it) nothing touches a call's state once it
// is another call's. The attempt wrapper sees each attempt's ctx carry
// its call's deadline.
func TestCallReuseKeepsCallsApart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var noDeadline int
		c := newCluster(t, clusterConfig{instances: 3, clientOpts: []client.Option{
			client.WithCallReuse(),
			client.WithDefaultTimeout(120 * time.Millisecond),
			client.WithAttemptTimeout(50 * time.Millisecond),
			client.WithRetryPolicy(client.DefaultPolicy{MaxAttempts: 3}),
			client.WithHedging(client.HedgePolicy{Delay: 10 * time.Millisecond, MaxHedges: 1}),
			client.WithAttemptWrapper(func(next client.AttemptFunc) client.AttemptFunc {
				return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
					if _, ok := ctx.Deadline(); !ok {
						mu.Lock()
						noDeadline++
						mu.Unlock()
					}
					return next(ctx, addr, req, rsp)
				}
			}),
		}})
		var wg sync.WaitGroup
		var ok, failed [3]int
		for g := range 8 {
			wg.Go(func() {
				for i := range 60 {
					n := g*1000 + i
					er := EchoRequest{Text: fmt.Sprintf("call %d", n)}
					switch {
					case n%7 == 0:
						er.Sleep = 60 * time.Millisecond // past the attempt timeout
					case n%5 == 0:
						er.Sleep = 20 * time.Millisecond // past the hedge delay
					}
					opts := []client.CallOption{client.WithIdempotent()}
					if n%11 == 0 {
						// Past the call's deadline, which ends the call
						// (its timer fires) with no attempt timeout first.
						er.Sleep = 400 * time.Millisecond
						opts = append(opts, client.WithCallAttemptTimeout(0))
					}
					kind := n % 3
					ctx := context.Background()
					var cancel context.CancelFunc = func() {}
					switch kind {
					case 1:
						ctx, cancel = context.WithCancel(ctx)
					case 2:
						ctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
					}
					var rsp EchoReply
					err := c.client.Call(ctx, "echo", "Echo.Say", &er, &rsp, opts...)
					cancel()
					mu.Lock()
					if err == nil {
						ok[kind]++
						assert.Equal(t, er.Text, rsp.Text, "call %d got another call's reply", n)
					} else {
						failed[kind]++
						assert.Equal(t, errors.DeadlineExceeded, errors.CodeOf(err), "call %d: %v", n, err)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for kind := range 3 {
			assert.Greater(t, ok[kind], 100, "kind %d: calls that succeeded", kind)
			assert.Greater(t, failed[kind], 5, "kind %d: calls that failed", kind)
		}
		assert.Zero(t, noDeadline, "attempts without their call's deadline")
	})
}
