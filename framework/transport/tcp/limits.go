package tcp

import (
	"errors"
	"fmt"
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

// checkRate ends a connection that delivers a frame it has begun slower
// than the minimum read rate. A frame seen incomplete at a tick starts a
// measure (the bytes read since); while frames stay incomplete at the
// following ticks, once half the read timeout has passed, the bytes must
// keep up with the rate. Memory held for a frame grows only with the
// bytes that arrived (frameReader), so a peer that announces a large
// frame and trickles it holds little, and not for long.
func (c *conn) checkRate(now time.Time, midFrame bool) error {
	rate, rt := c.o.minReadRate, c.o.readTimeout
	if !midFrame || rate == 0 || rt == 0 {
		c.slowSince = time.Time{}
		return nil
	}
	if c.slowSince.IsZero() {
		c.slowSince, c.slowBytes = now, c.fr.total
		return nil
	}
	elapsed := now.Sub(c.slowSince)
	if elapsed < rt/2 {
		return nil
	}
	got := c.fr.total - c.slowBytes
	if float64(got) < float64(rate)*elapsed.Seconds() {
		c.t.stats.slowPeers.Add(1)
		return fmt.Errorf("%w: %d bytes of a frame in %v, under the minimum rate of %d bytes/s",
			errTooSlow, got, elapsed.Round(time.Millisecond), rate)
	}
	return nil
}

// errStreamLimit: lookup found the connection at its stream limit.
var errStreamLimit = errors.New("stream limit reached")

// refuseOverLimit refuses stream id, which the client opened while the
// connection had WithMaxStreams streams open: a RESET (refused) tells the
// client nothing was processed, and the frames that follow for id are
// dropped as those of a finished stream.
func (c *conn) refuseOverLimit(id uint32) error {
	c.t.stats.streamsRefused.Add(1)
	c.t.streamsLog.warn(c.o.logger, "tcp: stream limit reached, refusing a stream",
		"remote", c.remote, "limit", c.o.maxStreams)
	if c.backlogged() {
		return protoErr("streams opened over the limit: %d bytes of refusals wait for a peer that does not read them", c.queuedBytes())
	}
	c.enqueueControl(frameReset, id, []byte{resetRefused})
	return nil
}

// controlBacklog is how many queued bytes make a peer that sends frames
// the connection must answer (PING, OPEN over the stream limit) while it
// does not read the answers a flooder: the connection ends instead of
// queueing more.
const controlBacklog = 4 * queueLimit

// backlogged reports whether more than controlBacklog bytes wait for the
// writer.
func (c *conn) backlogged() bool { return c.queuedBytes() > controlBacklog }

func (c *conn) queuedBytes() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.wq.queued
}
