package brokertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/broker"
)

// recorder records which subscriber got which message numbers, in order.
// Handlers record from the broker's goroutines; the test reads and waits.
type recorder struct {
	topic  string
	notify chan struct{} // capacity 1: something was recorded

	mu    sync.Mutex
	by    map[int][]int // subscriber -> message numbers in delivery order
	total int
	errs  []error // malformed deliveries
}

func newRecorder(topic string) *recorder {
	return &recorder{topic: topic, notify: make(chan struct{}, 1), by: make(map[int][]int)}
}

// handler returns the handler of subscriber who.
func (r *recorder) handler(who int) broker.Handler {
	return func(ctx context.Context, topic string, m *broker.Message) error {
		n, err := number(m)
		if err == nil && topic != r.topic {
			err = fmt.Errorf("handler got topic %q, want %q", topic, r.topic)
		}
		if err == nil && ctx == nil {
			err = errors.New("handler got a nil ctx")
		}
		r.record(who, n, err)
		return nil
	}
}

func (r *recorder) record(who, n int, err error) {
	r.mu.Lock()
	if err != nil {
		r.errs = append(r.errs, err)
	} else {
		r.by[who] = append(r.by[who], n)
		r.total++
	}
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// got returns a copy of what subscriber who received.
func (r *recorder) got(who int) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.by[who]...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// waitTotal waits until the recorder holds at least n deliveries in all,
// failing after w.wait without progress.
func (w *world) waitTotal(r *recorder, n int) {
	w.t.Helper()
	timer := time.NewTimer(w.wait)
	defer timer.Stop()
	for {
		r.mu.Lock()
		total, errs := r.total, errors.Join(r.errs...)
		r.mu.Unlock()
		require.NoError(w.t, errs)
		if total >= n {
			return
		}
		select {
		case <-r.notify:
			if !timer.Stop() {
				<-timer.C
			}
			timer.Reset(w.wait)
		case <-timer.C:
			w.t.Fatalf("%d of %d deliveries after waiting %v", total, n, w.wait)
		}
	}
}

// requireExactly checks, after settling, that r holds exactly n
// deliveries: nothing more arrives.
func (w *world) requireExactly(r *recorder, n int) {
	w.t.Helper()
	w.waitTotal(r, n)
	w.settle()
	require.Equal(w.t, n, r.count(), "deliveries")
}

// requireEach checks that got holds every number of [from, to) exactly
// once, in any order.
func requireEach(t *testing.T, got []int, from, to int, what string) {
	t.Helper()
	seen := make(map[int]int, len(got))
	for _, n := range got {
		seen[n]++
		require.Equal(t, 1, seen[n], "%s: message %d delivered twice", what, n)
		require.True(t, n >= from && n < to, "%s: message %d out of [%d, %d)", what, n, from, to)
	}
	require.Len(t, got, to-from, "%s: deliveries", what)
}

// requireSequence checks that got is exactly from, from+1, ..., to-1.
func requireSequence(t *testing.T, got []int, from, to int, what string) {
	t.Helper()
	want := make([]int, 0, to-from)
	for n := from; n < to; n++ {
		want = append(want, n)
	}
	require.Equal(t, want, got, "%s: deliveries in publication order", what)
}
