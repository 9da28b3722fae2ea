package lograte

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// DefaultInterval is how often a Limiter built with New(0) lets a record
// of one key through.
const DefaultInterval = time.Second

// Limiter rate-limits log records by key. Keys should come from a small
// fixed set (the messages of a component's hot paths), never from input:
// the Limiter remembers every key it saw. It is safe for concurrent use and
// reads the clock with the time package (virtual in a synctest bubble).
type Limiter struct {
	every time.Duration

	mu   sync.Mutex
	keys map[string]*state
}

type state struct {
	next       time.Time // no record before this
	suppressed int       // records held back since the last one let through
}

// New returns a Limiter that lets one record per key through every
// interval (DefaultInterval when interval is not positive).
func New(interval time.Duration) *Limiter {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Limiter{every: interval, keys: make(map[string]*state)}
}

// Allow reports whether a record of key may be logged now and, when it
// may, how many records of key were held back since the last one. It does
// not block.
func (l *Limiter) Allow(key string) (ok bool, suppressed int) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.keys[key]
	if st == nil {
		st = &state{}
		l.keys[key] = st
	}
	if now.Before(st.next) {
		st.suppressed++
		return false, 0
	}
	suppressed, st.suppressed = st.suppressed, 0
	st.next = now.Add(l.every)
	return true, suppressed
}

// Log logs msg at level with args through log when the Limiter allows a
// record keyed by msg, adding a "suppressed" attribute that counts the
// records of msg held back since the last one when there were any. The
// level is checked first, so a disabled level costs no clock reading.
func (l *Limiter) Log(ctx context.Context, log *slog.Logger, level slog.Level, msg string, args ...any) {
	if !log.Enabled(ctx, level) {
		return
	}
	ok, n := l.Allow(msg)
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	log.Log(ctx, level, msg, args...)
}

// Stack is a log attribute value holding the stack of the goroutine that
// logs it, read only when a record carrying it is actually logged (a
// record the Limiter holds back costs no stack trace).
type Stack struct{}

// LogValue implements slog.LogValuer.
func (Stack) LogValue() slog.Value { return slog.StringValue(string(debug.Stack())) }
