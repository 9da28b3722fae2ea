package tcp

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts what a Transport refused or cut to protect itself. Every
// counter only grows.
type Stats struct {
	// ConnsRefused: connections closed on accept because their listener
	// served WithMaxConns connections already.
	ConnsRefused uint64
	// StreamsRefused: streams refused because their connection had
	// WithMaxStreams streams open, or the accept backlog was full.
	StreamsRefused uint64
	// SlowPeers: connections ended because a frame arrived slower than
	// WithMinReadRate.
	SlowPeers uint64
	// HandshakeFailures: server connections whose handshake (TLS and
	// preface) failed or did not complete within the handshake timeout.
	HandshakeFailures uint64
}

// counters are a Transport's Stats, updated atomically.
type counters struct {
	connsRefused, streamsRefused, slowPeers, handshakeFailures atomic.Uint64
}

// Stats returns the counts of what the transport refused or cut so far.
// It does not block.
func (t *Transport) Stats() Stats {
	return Stats{
		ConnsRefused:      t.stats.connsRefused.Load(),
		StreamsRefused:    t.stats.streamsRefused.Load(),
		SlowPeers:         t.stats.slowPeers.Load(),
		HandshakeFailures: t.stats.handshakeFailures.Load(),
	}
}

// refusalLogEvery is the least time between two log lines about refusals
// of one kind; the refusals in between are counted in the next line.
const refusalLogEvery = time.Second

// rateLog logs one kind of event at most once per refusalLogEvery, so that
// a flood of refusals (thousands per second) writes a line per second
// that says how many there were. It does not block.
type rateLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed uint64
}

// warn logs msg with attrs unless a line was logged less than
// refusalLogEvery ago, in which case it only counts the event.
func (r *rateLog) warn(l *slog.Logger, msg string, attrs ...any) {
	now := time.Now()
	r.mu.Lock()
	if !r.last.IsZero() && now.Sub(r.last) < refusalLogEvery {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	r.last = now
	n := r.suppressed
	r.suppressed = 0
	r.mu.Unlock()
	if n > 0 {
		attrs = append(attrs, "suppressed", n)
	}
	l.Warn(msg, attrs...)
}
