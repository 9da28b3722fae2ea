package faults_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/selector"
)

// attemptLog records every attempt of a client, in virtual time.
type attemptLog struct {
	mu       sync.Mutex
	attempts []attemptRec
}

type attemptRec struct {
	at   time.Time
	addr string
	err  error
}

func (l *attemptLog) wrapper(next client.AttemptFunc) client.AttemptFunc {
	return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
		err := next(ctx, addr, req, rsp)
		l.mu.Lock()
		l.attempts = append(l.attempts, attemptRec{time.Now(), addr, err})
		l.mu.Unlock()
		return err
	}
}

// mark returns a mark of the attempts made so far.
func (l *attemptLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.attempts)
}

// to returns the attempts to addr since mark.
func (l *attemptLog) to(addr string, mark int) []attemptRec {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []attemptRec
	for _, a := range l.attempts[mark:] {
		if a.addr == addr {
			out = append(out, a)
		}
	}
	return out
}

// crashGhost crashes echo-1 of three instances (TTL 3s) 500ms after they
// registered and calls every 50ms for 4s; it returns the attempts that
// went to the crashed node and when it crashed.
func crashGhost(t *testing.T, w *world, log *attemptLog) ([]attemptRec, time.Time) {
	ctx := testCtx(t)
	time.Sleep(500 * time.Millisecond)
	for range 30 {
		_, err := w.call(ctx)
		require.NoError(t, err)
	}
	require.Equal(t, []int{10, 10, 10}, w.calls())
	dead := w.nodes[1].Addr()
	deadID := "echo-" + dead

	mark := log.mark()
	f, err := w.inj.Inject(ctx, "crash", faults.NodeFault{Action: faults.NodeCrash, Nodes: faults.Node("echo-1")})
	require.NoError(t, err)
	crashed := time.Now()
	require.Equal(t, []string{"echo-1"}, f.Stats().Targets)
	for time.Since(crashed) < 4*time.Second {
		rsp, err := w.call(ctx)
		require.NoError(t, err, "every call succeeds: attempts to the ghost are refused and retried elsewhere")
		require.NotEqual(t, "echo-1", rsp.Instance)
		listed := slices.Contains(nodesOf(t, w.reg), deadID)
		// The last heartbeat was at registration, 500ms before the crash.
		if since := time.Since(crashed); since < 2500*time.Millisecond {
			require.True(t, listed, "at crash+%v the registry still lists the crashed node (a ghost)", since)
		} else {
			require.False(t, listed, "at crash+%v its TTL has passed", since)
		}
		time.Sleep(50 * time.Millisecond)
	}
	toDead := log.to(dead, mark)
	for _, a := range toDead {
		require.Error(t, a.err, "an attempt to the crashed node fails")
		require.Less(t, a.at.Sub(crashed), 2500*time.Millisecond, "none once the ghost expired")
	}

	// Stopping the fault restarts the node on the same address.
	require.NoError(t, f.Stop(ctx))
	assert.Equal(t, dead, w.nodes[1].Addr())
	assert.Contains(t, nodesOf(t, w.reg), deadID)
	// Let the client's selector see the node again: its watch applies the
	// Create event, and an outlier ejection (10s in the ejection subtest)
	// runs out so the probe can bring the node back.
	time.Sleep(11 * time.Second)
	synctest.Wait()
	before := w.calls()[1]
	for range 30 {
		_, err := w.call(ctx)
		require.NoError(t, err)
	}
	assert.Greater(t, w.calls()[1], before, "the restarted node serves again (calls %v, nodes %v)", w.calls(), nodesOf(t, w.reg))
	return toDead, crashed
}

func TestNodeCrashLeavesGhostUntilTTL(t *testing.T) {
	t.Run("round robin", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			log := &attemptLog{}
			w := newWorld(t, worldConfig{instances: 3, clientOpts: []client.Option{client.WithAttemptWrapper(log.wrapper)}})
			toDead, _ := crashGhost(t, w, log)
			t.Logf("without outlier ejection %d attempts went to the ghost before its TTL passed", len(toDead))
			assert.Greater(t, len(toDead), 10, "round robin keeps picking the ghost until its TTL passes")
		})
	})
	t.Run("outlier ejection", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			log := &attemptLog{}
			w := newWorld(t, worldConfig{
				instances:  3,
				clientOpts: []client.Option{client.WithAttemptWrapper(log.wrapper)},
				selOpts:    []selector.Option{selector.WithOutlierDetection(selector.OutlierConfig{ConsecutiveFailures: 2, BaseEjectionTime: 10 * time.Second})},
			})
			toDead, crashed := crashGhost(t, w, log)
			t.Logf("with outlier ejection (2 failures) %d attempts went to the ghost, the last at crash+%v",
				len(toDead), toDead[len(toDead)-1].at.Sub(crashed))
			assert.LessOrEqual(t, len(toDead), 2, "ejected after 2 failures, long before the TTL")
		})
	})
}

func TestNodePauseAndResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 2})
		opts := []client.CallOption{client.WithIdempotent(), client.WithCallAttemptTimeout(100 * time.Millisecond)}
		for range 10 {
			_, err := w.call(ctx, opts...)
			require.NoError(t, err)
		}
		pausedID := "echo-" + w.nodes[0].Addr()
		f, err := w.inj.Inject(ctx, "pause", faults.NodeFault{Action: faults.NodePause, Nodes: faults.Node("echo-0")})
		require.NoError(t, err)
		paused := time.Now()
		before := w.calls()[0]
		for time.Since(paused) < 5*time.Second {
			rsp, err := w.call(ctx, opts...)
			require.NoError(t, err, "calls that time out on the paused node are retried on the other")
			require.Equal(t, "echo-1", rsp.Instance)
			time.Sleep(100 * time.Millisecond)
		}
		assert.Equal(t, before, w.calls()[0], "a paused node runs nothing")
		assert.NotContains(t, nodesOf(t, w.reg), pausedID, "no heartbeat: its registration expired")

		require.NoError(t, f.Stop(ctx))
		time.Sleep(time.Second) // one heartbeat interval
		assert.Contains(t, nodesOf(t, w.reg), pausedID, "resumed, it heartbeats again")
		for range 10 {
			_, err := w.call(ctx, opts...)
			require.NoError(t, err)
		}
		assert.Greater(t, w.calls()[0], before, "and serves again")
	})
}

// TestNodePausedHostHoldsCalls: a call to a paused host waits; it is served
// as soon as the host resumes.
func TestNodePausedHostHoldsCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 1})
		_, err := w.call(ctx)
		require.NoError(t, err)
		f, err := w.inj.Inject(ctx, "pause", faults.NodeFault{Action: faults.NodePause, Nodes: faults.Node("echo-0")})
		require.NoError(t, err)
		done := make(chan time.Time)
		go func() {
			_, err := w.call(ctx)
			assert.NoError(t, err)
			done <- time.Now()
		}()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Empty(t, done)
		resumed := time.Now()
		require.NoError(t, f.Stop(ctx))
		assert.Equal(t, resumed, <-done, "served at once when the host resumes")
	})
}

func TestNodeGracefulStopAndRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		log := &attemptLog{}
		w := newWorld(t, worldConfig{instances: 2, clientOpts: []client.Option{client.WithAttemptWrapper(log.wrapper)}})
		for range 4 {
			_, err := w.call(ctx)
			require.NoError(t, err)
		}
		addr := w.nodes[0].Addr()
		mark := log.mark()
		f, err := w.inj.Inject(ctx, "stop", faults.NodeFault{Action: faults.NodeStop, Nodes: faults.Node("echo-0")})
		require.NoError(t, err)
		assert.NotContains(t, nodesOf(t, w.reg), "echo-"+addr, "deregistered at once")
		synctest.Wait() // the client's watch delivers the Delete
		for range 10 {
			_, err := w.call(ctx)
			require.NoError(t, err)
		}
		assert.Empty(t, log.to(addr, mark), "no attempt goes to a node that stopped gracefully")
		require.NoError(t, f.Stop(ctx))
		assert.Equal(t, addr, w.nodes[0].Addr())
		assert.Contains(t, nodesOf(t, w.reg), "echo-"+addr)

		// A restart with downtime: Start blocks for it, the node comes back.
		r, err := w.inj.Add("restart", faults.NodeFault{Action: faults.NodeRestart, Nodes: faults.Node("echo-1"), Downtime: 2 * time.Second})
		require.NoError(t, err)
		start := time.Now()
		require.NoError(t, r.Start(ctx))
		assert.Equal(t, 2*time.Second, time.Since(start))
		assert.Len(t, nodesOf(t, w.reg), 2)
		_, err = w.call(ctx)
		require.NoError(t, err)
	})
}

func TestNodeRandomTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := testCtx(t)
		w := newWorld(t, worldConfig{instances: 4})
		pick := func(seed uint64, target faults.Target) []string {
			inj := faults.New(seed)
			for i := range 4 {
				name := w.hosts[i].Name()
				require.NoError(t, inj.AddNode(name, faults.NodeInfo{Service: "echo", Zone: []string{"a", "b"}[i%2],
					Labels: map[string]string{"rack": []string{"r1", "r1", "r2", "r2"}[i]}}))
			}
			f, err := inj.Inject(ctx, "slow", faults.NodeFault{Action: faults.NodeSlowdown, Nodes: target, Factor: 2})
			require.NoError(t, err)
			defer inj.Close()
			return f.Stats().Targets
		}
		one := faults.Target{Service: "echo", Count: 1}
		assert.Len(t, pick(1, one), 1)
		assert.Equal(t, pick(1, one), pick(1, one), "the same seed picks the same instance")
		seen := map[string]bool{}
		for seed := range uint64(40) {
			seen[pick(seed, one)[0]] = true
		}
		assert.Len(t, seen, 4, "every instance gets picked by some seed")
		assert.Len(t, pick(1, faults.Target{Service: "echo", Share: 0.5}), 2)
		assert.Equal(t, []string{"echo-1", "echo-3"}, pick(1, faults.Zone("b")))
		assert.Equal(t, []string{"echo-1"}, pick(1, faults.Target{Zone: "b", Count: 1, Nodes: []string{"echo-0", "echo-1"}}))
		assert.Equal(t, []string{"echo-2", "echo-3"}, pick(1, faults.Target{Labels: map[string]string{"rack": "r2"}}))
		assert.Equal(t, []string{"echo-3"}, pick(1, faults.Target{Labels: map[string]string{"rack": "r2"}, Zone: "b"}))
		assert.Equal(t, []string{"*"}, pick(1, faults.Target{}), "the zero target is every node")
	})
}
