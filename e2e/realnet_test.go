package e2e_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/errors"
)

// TestGracefulStop: three instances on the TCP transport registered in
// Consul, a client calling them through the selector from four workers,
// and one instance stopped gracefully mid-run. No call fails.
//
// Why none can: server.Stop
//
//  1. deregisters the node first; the client's selector, fed by its Consul
//     watch (blocking queries), drops it within a round trip, so new calls
//     stop choosing it;
//  2. then closes its listener: new connections are refused, and each open
//     connection sends GOAWAY, so streams a client still opens towards the
//     node — it picked the node before the watch event arrived — are
//     refused (ErrRefused) before anything is processed; the client reports
//     Unavailable and retries on another node, for any call, idempotent or
//     not;
//  3. and drains: requests already accepted run to completion and their
//     replies are delivered before Stop returns. (This needs the client to
//     leave a connection that answered GOAWAY open for the calls still in
//     flight on it: it may stop opening streams there, not close it.)
//
// To watch each step happen rather than hope the timing shows it, the test
// holds one call in the stopping instance's handler and holds back the
// watch event that removes the node from the client's selector, so that
// the client keeps sending attempts to the node after it stopped
// accepting. It checks, in order: Consul no longer lists the node; the
// address refuses connections; attempts to it are refused and retried
// elsewhere; once the event is let through the selector drops the node;
// Stop has not returned (the held call is in flight); once the held call
// is let go it succeeds, answered by the stopping instance, and Stop
// returns. Afterwards the stopped instance receives nothing.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := newCluster(t, 3)
	victim := c.insts[1]
	vaddr := victim.srv.Addr()
	ready := time.Since(start)

	const warmup, refusals, tail = 90, 10, 150
	l := c.startLoad(t, tail, nil)
	l.waitCalls(t, before, warmup)
	held, release := victim.echo.holdNext(1)
	t.Cleanup(release)
	heldSeq := receive(t, held, "call held in the instance to stop")
	releaseWatch := c.reg.holdDelete(c.service, victim.name)
	t.Cleanup(releaseWatch)

	l.setPhase(during)
	stopStart := time.Now()
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		stopped <- victim.srv.Stop(ctx)
	}()
	// (1) Deregistered first.
	require.Eventually(t, func() bool { ok, err := c.listed(vaddr); return err == nil && !ok }, waitLimit, poll,
		"Consul still lists the stopping instance")
	deregistered := time.Since(stopStart)
	// (2) Not accepting.
	require.Eventually(t, func() bool { return refusesConnections(vaddr) }, waitLimit, poll,
		"the stopping instance still accepts connections")
	// (3) Attempts the lagging selector still sends there are refused.
	require.Eventually(t, func() bool { return c.attempts.failedTo(vaddr) >= refusals }, waitLimit, poll,
		"no %d attempts to the stopping instance were refused", refusals)
	ok, err := c.offers(vaddr)
	require.NoError(t, err)
	require.True(t, ok, "the selector kept offering the node while its deletion was held back")
	// (1') The watch event removes it from the selector.
	releaseWatch()
	require.Eventually(t, func() bool { return c.dropped(vaddr) }, waitLimit, poll,
		"the selector still offers the stopped instance after the watch event")
	// (3') Stop waits for the call in flight.
	select {
	case err := <-stopped:
		t.Errorf("Stop returned (%v) while a call was in flight in its handler: it must drain; "+
			"the handler's ctx was cancelled, so the client ended the call (see the failed calls below)", err)
		stopped <- err
	default:
	}
	release()
	require.NoError(t, receive(t, stopped, "return from Stop"))
	servedAtStop := victim.echo.served.Load()
	stopTook := time.Since(stopStart)
	l.setPhase(after)

	results := l.finish(t)
	attempts := c.attempts.snapshot()

	// No call failed.
	fails := failures(results)
	if len(fails) > 0 {
		t.Fatalf("%d of %d calls failed:%s", len(fails), len(results), describe(fails))
	}

	// The held call was drained: answered by the stopping instance.
	i := slices.IndexFunc(results, func(r result) bool { return r.seq == heldSeq })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, victim.name, results[i].instance, "the call in flight during Stop was answered by the stopping instance")

	// Before the stop every instance served; after Stop returned the
	// stopped one received nothing, the other two everything.
	bef, dur, aft := replies(results, before), replies(results, during), replies(results, after)
	for _, in := range c.insts {
		assert.Positive(t, bef[in.name], "%s served before the stop", in.name)
	}
	assert.Zero(t, aft[victim.name], "replies from the stopped instance after its Stop returned")
	assert.Equal(t, servedAtStop, victim.echo.served.Load(), "calls the stopped instance received after its Stop returned")
	assert.GreaterOrEqual(t, sumOf(aft), tail)
	for _, in := range c.insts {
		if in != victim {
			assert.Positive(t, aft[in.name], "%s served after the stop", in.name)
		}
	}

	// Every failed attempt went to the stopping instance after it stopped
	// accepting, was refused before anything was processed, and was retried.
	refused := 0
	for _, a := range attempts {
		if a.err == nil {
			continue
		}
		refused++
		assert.Equal(t, vaddr, a.addr, "a failed attempt went to a live instance: %v", a.err)
		assert.Equal(t, errors.Unavailable, errors.CodeOf(a.err), "attempt %d to the stopping instance: %v", a.seq, a.err)
	}
	assert.GreaterOrEqual(t, refused, refusals)
	assert.Equal(t, len(results)+refused, len(attempts), "one attempt per call plus one retry per refused attempt")

	t.Logf("%d calls, 0 failed; replies per instance before the stop %v, during %v, after %v", len(results), bef, dur, aft)
	t.Logf("%s (%s) served %d calls in all, none after Stop returned; %d attempts refused by it and retried elsewhere",
		victim.name, vaddr, servedAtStop, refused)
	t.Logf("cluster ready in %v; Consul dropped the node %v after Stop began; Stop returned after %v (held call released)",
		ready.Round(time.Millisecond), deregistered.Round(time.Millisecond), stopTook.Round(time.Millisecond))
}

// TestCrash: an instance dies abruptly (its TCP transport closes every
// connection at once; it neither deregisters nor renews its registration)
// while calls are in flight on it, two of them certainly so (held in its
// handler). Its node stays in Consul, a ghost, until its TTL passes.
//
// Attempts meet the crash in two ways:
//
//   - refused: the connection or stream was refused before the request was
//     written (ECONNREFUSED on dial to the ghost, or a stream opened after
//     GOAWAY). The request was certainly not processed: the client reports
//     Unavailable and retries any call on another node.
//   - interrupted: the request was handed to the connection and the
//     connection broke before the reply. The handler may have run (the held
//     ones did), so the outcome is unknown: the client reports Interrupted
//     and retries only calls marked idempotent.
//
// So idempotent calls all succeed. Non-idempotent calls cannot all
// succeed: a call in flight at the moment of a crash has an unknown
// outcome, and running it again might run it twice. What holds, and is
// asserted, is that they fail exactly when one of their attempts was
// interrupted by the crash (the held calls among them), with Interrupted,
// and that every other call succeeds, the ones refused by the dead instance
// included. After the TTL the ghost leaves the selector and is chosen no
// more.
//
// The workers make warmup calls, then window calls after the crash (while
// the ghost is registered), then pause until the ghost has expired, then
// make tail more calls.
func TestCrash(t *testing.T) {
	t.Parallel()
	t.Run("idempotent", func(t *testing.T) { t.Parallel(); testCrash(t, true) })
	t.Run("not idempotent", func(t *testing.T) { t.Parallel(); testCrash(t, false) })
}

func testCrash(t *testing.T, idempotent bool) {
	c := newCluster(t, 3)
	victim := c.insts[2]
	vaddr := victim.srv.Addr()
	var opts []client.CallOption
	if idempotent {
		opts = append(opts, client.WithIdempotent())
	}

	const warmup, window, tail, holds = 90, 150, 100, 2
	l := c.startLoad(t, tail, map[int32]int{during: window}, opts...)
	l.waitCalls(t, before, warmup)
	held, release := victim.echo.holdNext(holds)
	t.Cleanup(release)
	var heldSeqs []int64
	for range holds {
		heldSeqs = append(heldSeqs, receive(t, held, "call held in the instance to crash"))
	}

	crashStart := time.Now()
	victim.crash(t)
	crashed := time.Now()
	// Calls started from here on cannot be answered by the dead instance;
	// the ones in flight across the crash count as started before it.
	l.setPhase(during)
	release() // the held handlers finish into closed connections
	l.waitCalls(t, during, window)
	require.Eventually(t, func() bool { return c.dropped(vaddr) }, waitLimit, poll,
		"the crashed instance never left the selector")
	expiredAfter := time.Since(crashStart)
	l.setPhase(after)

	results := l.finish(t)
	attempts := c.attempts.snapshot()
	phaseOf := make(map[int64]int32, len(results))
	for _, r := range results {
		phaseOf[r.seq] = r.phase
	}

	// Classify the failed attempts: each went to the crashed instance and
	// was either refused or interrupted. An attempt can be interrupted even
	// if it started just after the crash: the client sent it on its
	// connection before it had read that the connection was gone, and it
	// cannot tell such a request from one the server received.
	interrupted := make(map[int64]bool)
	var refused, ghost, interruptedN int
	for _, a := range attempts {
		if a.addr == vaddr && !a.start.Before(crashed) {
			ghost++
			assert.Error(t, a.err, "attempt %d started after the crash succeeded on the dead instance", a.seq)
			assert.NotEqual(t, after, phaseOf[a.seq], "attempt %d went to the dead instance after it expired", a.seq)
		}
		if a.err == nil {
			continue
		}
		require.Equal(t, vaddr, a.addr, "attempt %d failed on a live instance: %v", a.seq, a.err)
		switch code := errors.CodeOf(a.err); code {
		case errors.Unavailable:
			refused++
		case errors.Interrupted:
			interruptedN++
			interrupted[a.seq] = true
		default:
			t.Errorf("attempt %d to the crashed instance failed with %v, want Unavailable or Interrupted: %v", a.seq, code, a.err)
		}
	}
	for _, seq := range heldSeqs {
		assert.True(t, interrupted[seq], "held call %d was interrupted by the crash", seq)
	}
	assert.Positive(t, ghost, "attempts reached the ghost address while its node was still registered")

	fails := failures(results)
	if idempotent {
		// Every call succeeded: refused and interrupted attempts alike were
		// retried on a live instance, which answered.
		if len(fails) > 0 {
			t.Fatalf("%d of %d idempotent calls failed:%s", len(fails), len(results), describe(fails))
		}
		for _, r := range results {
			if interrupted[r.seq] {
				assert.NotEqual(t, victim.name, r.instance, "call %d was answered after a retry elsewhere", r.seq)
			}
		}
		assert.Equal(t, len(results)+refused+interruptedN, len(attempts), "one attempt per call plus one retry per failed attempt")
	} else {
		// A call in flight at the moment of the crash has an unknown
		// outcome (the held ones did run their handler), so a call not
		// marked idempotent is not retried and fails with Interrupted.
		// Exactly those fail; every other call succeeds, including those
		// refused by the ghost, which are retried because the request was
		// never written.
		failed := make(map[int64]bool, len(fails))
		for _, r := range fails {
			failed[r.seq] = true
			assert.Equal(t, errors.Interrupted, errors.CodeOf(r.err), "call %d: %v", r.seq, r.err)
		}
		assert.Equal(t, interrupted, failed, "the calls that failed are exactly the ones interrupted by the crash")
		assert.GreaterOrEqual(t, len(fails), holds)
		assert.Equal(t, len(results)+refused, len(attempts), "one attempt per call plus one retry per refused attempt")
	}

	bef, dur, aft := replies(results, before), replies(results, during), replies(results, after)
	assert.Zero(t, dur[victim.name]+aft[victim.name], "replies from the crashed instance after the crash")
	assert.GreaterOrEqual(t, sumOf(aft), tail)
	t.Logf("idempotent=%v: %d calls, %d failed; attempts that failed on the dead instance: %d interrupted in flight (%d of them held in its handler), %d refused and retried; %d attempts started after the crash went to its ghost registration",
		idempotent, len(results), len(fails), interruptedN, holds, refused, ghost)
	t.Logf("replies per instance before the crash %v, while the ghost was registered %v, after it expired %v", bef, dur, aft)
	t.Logf("crash (transport Close) took %v; the ghost left the selector %v after the crash (TTL %v)",
		crashed.Sub(crashStart).Round(time.Millisecond), expiredAfter.Round(time.Millisecond), ttl)
}

func sumOf(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
