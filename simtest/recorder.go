package simtest

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// Recorder is a TB that records failures instead of reporting them: for
// tests of test helpers (that a mistake fails the test, with which
// message) and for examples. Fatalf records, then ends the calling
// goroutine with runtime.Goexit as testing.T does, so run code that may
// call it on a goroutine of its own (see Go). Finish runs the cleanups.
// It is safe for concurrent use.
type Recorder struct {
	mu       sync.Mutex
	errors   []string
	cleanups []func()
}

// Helper does nothing.
func (r *Recorder) Helper() {}

// Errorf records a failure.
func (r *Recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// Fatalf records a failure and ends the calling goroutine.
func (r *Recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	runtime.Goexit()
}

// Cleanup registers fn for Finish.
func (r *Recorder) Cleanup(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, fn)
}

// Go runs fn on a new goroutine and waits for it to return or to end in
// Fatalf; it reports whether fn returned.
func (r *Recorder) Go(fn func()) (returned bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
		returned = true
	}()
	<-done
	return returned
}

// Finish runs the registered cleanups, last registered first, as a test's
// end does. It blocks while they run.
func (r *Recorder) Finish() {
	for {
		r.mu.Lock()
		if len(r.cleanups) == 0 {
			r.mu.Unlock()
			return
		}
		fn := r.cleanups[len(r.cleanups)-1]
		r.cleanups = r.cleanups[:len(r.cleanups)-1]
		r.mu.Unlock()
		fn()
	}
}

// Errors returns the failures recorded so far, in order.
func (r *Recorder) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errors)
}

// Failed reports whether a failure was recorded.
func (r *Recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errors) > 0
}
