package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/client"
)

// attempt is one attempt of a call as the client's attempt wrapper saw it.
type attempt struct {
	seq   int64
	addr  string
	start time.Time
	err   error
}

// attemptLog records every attempt of a cluster's client.
type attemptLog struct {
	mu   sync.Mutex
	list []attempt
}

func (l *attemptLog) wrap(next client.AttemptFunc) client.AttemptFunc {
	return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
		a := attempt{addr: addr, start: time.Now()}
		if r, ok := req.Body.(*EchoRequest); ok {
			a.seq = r.Seq
		}
		err := next(ctx, addr, req, rsp)
		a.err = err
		l.mu.Lock()
		l.list = append(l.list, a)
		l.mu.Unlock()
		return err
	}
}

// failedTo counts the failed attempts to addr.
func (l *attemptLog) failedTo(addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.list {
		if a.addr == addr && a.err != nil {
			n++
		}
	}
	return n
}

func (l *attemptLog) snapshot() []attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]attempt(nil), l.list...)
}

// Phases of a load: the test moves the load from one to the next, and each
// call is tagged with the phase in which it started.
const (
	before int32 = iota + 1 // before the instance is stopped or crashes
	during                  // from the stop (crash) on
	after                   // after Stop returned (the crashed node expired)
)

var phaseNames = map[int32]string{before: "before", during: "during", after: "after"}

// result is the outcome of one call.
type result struct {
	seq      int64
	phase    int32
	instance string // who replied
	err      error
}

// load makes calls to a cluster from a few workers, each call with its own
// ctx deadline, until lastN calls of the last phase have completed. In a
// phase given a pause, the workers stop calling after that many calls and
// wait for the next phase.
type load struct {
	c     *cluster
	opts  []client.CallOption
	lastN int
	pause map[int32]int

	seq      atomic.Int64
	issued   atomic.Int64
	progress chan struct{} // a token after each call; dropped when one is pending
	stop     chan struct{} // closed to end the load early (test cleanup)
	done     chan struct{} // closed when every worker has returned

	mu      sync.Mutex
	phase   int32
	next    chan struct{} // closed when the phase changes
	results []result
	count   map[int32]int // completed calls per phase
}

func (c *cluster) startLoad(t *testing.T, lastN int, pause map[int32]int, opts ...client.CallOption) *load {
	l := &load{c: c, opts: opts, lastN: lastN, pause: pause, progress: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
		phase: before, next: make(chan struct{}), count: make(map[int32]int)}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(l.work)
	}
	go func() { wg.Wait(); close(l.done) }()
	t.Cleanup(func() { close(l.stop); <-l.done })
	return l
}

// setPhase moves the load to phase: calls started from now on are tagged
// with it.
func (l *load) setPhase(phase int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phase = phase
	close(l.next)
	l.next = make(chan struct{})
}

// begin returns the phase of a worker's next call, waiting while the phase
// is paused; false when the load is over.
func (l *load) begin() (int32, bool) {
	for {
		l.mu.Lock()
		phase, next := l.phase, l.next
		over := l.count[after] >= l.lastN
		limit, paused := l.pause[phase]
		paused = paused && l.count[phase] >= limit
		l.mu.Unlock()
		if over {
			return 0, false
		}
		if !paused {
			select {
			case <-l.stop:
				return 0, false
			default:
				return phase, true
			}
		}
		select {
		case <-next:
		case <-l.stop:
			return 0, false
		}
	}
}

func (l *load) work() {
	for {
		phase, ok := l.begin()
		if !ok {
			return
		}
		seq := l.seq.Add(1)
		if seq > maxCalls {
			return
		}
		l.issued.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		var rsp EchoReply
		err := l.c.client.Call(ctx, l.c.service, "Echo.Say", &EchoRequest{Seq: seq}, &rsp, l.opts...)
		cancel()
		l.mu.Lock()
		l.results = append(l.results, result{seq: seq, phase: phase, instance: rsp.Instance, err: err})
		l.count[phase]++
		l.mu.Unlock()
		select {
		case l.progress <- struct{}{}:
		default:
		}
	}
}

// waitCalls waits until n calls of phase have completed.
func (l *load) waitCalls(t *testing.T, phase int32, n int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		l.mu.Lock()
		got := l.count[phase]
		l.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-l.progress:
		case <-l.done:
			l.mu.Lock()
			got = l.count[phase]
			l.mu.Unlock()
			require.GreaterOrEqual(t, got, n, "calls %s when the load ended", phaseNames[phase])
			return
		case <-deadline:
			t.Fatalf("%d calls %s after %v, want %d", got, phaseNames[phase], waitLimit, n)
		}
	}
}

// finish waits for the workers and returns every call's result.
func (l *load) finish(t *testing.T) []result {
	t.Helper()
	receive(t, l.done, "end of the load")
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Len(t, l.results, int(l.issued.Load()), "every call issued returned")
	return append([]result(nil), l.results...)
}

// replies counts the successful calls of phase by the instance that replied.
func replies(results []result, phase int32) map[string]int {
	m := make(map[string]int)
	for _, r := range results {
		if r.phase == phase && r.err == nil {
			m[r.instance]++
		}
	}
	return m
}

// failures returns the calls that failed.
func failures(results []result) []result {
	var out []result
	for _, r := range results {
		if r.err != nil {
			out = append(out, r)
		}
	}
	return out
}

// describe lists the first few failed calls and their errors.
func describe(fails []result) string {
	var b strings.Builder
	for i, r := range fails {
		if i == 5 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(fails)-i)
			break
		}
		fmt.Fprintf(&b, "\n  call %d (started %s): %v", r.seq, phaseNames[r.phase], r.err)
	}
	return b.String()
}
