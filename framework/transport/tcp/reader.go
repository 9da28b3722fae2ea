package tcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/microsim/microsim/framework/transport"
)

// initReader prepares the reading of the connection: its frame reader,
// whose state passes from one goroutine to the next with the reading role
// (roles.go), and the first tick of the read deadline.
func (c *conn) initReader() {
	var buf []byte
	if c.server {
		c.readBuf = c.t.pool.get(readBufSize)
		buf = (*c.readBuf)[:readBufSize]
	} else {
		// A Recv reading for itself may still be reading when the
		// reader goroutine exits: the buffer is not pooled.
		buf = make([]byte, readBufSize)
		c.role = roleReader
		c.rgrant = make(chan struct{}, 1)
	}
	c.fr = newFrameReader(c.rw, buf, maxFramePayload(c.o.maxMsg))
	c.fr.onRead = func() { c.nread++ }
	c.fr.beforeRead = c.beforeRead
	c.fr.onTimeout = c.onTimeout
	c.lastActive = time.Now()
	if tick := c.o.tick(); tick > 0 {
		c.raw.SetReadDeadline(c.lastActive.Add(tick))
	}
}

// readFrames reads frames and dispatches them until reading fails, which
// ends the connection (the error says why), or the goroutine must stop
// reading: errYield (it hands the reading role on) or errTakenOver
// (another goroutine reads now).
func (c *conn) readFrames() error {
	for {
		f, err := c.fr.next()
		if err != nil {
			if err == errYield || err == errTakenOver {
				return err
			}
			return c.readError(err)
		}
		if err := c.handleFrame(f); err != nil {
			return err
		}
	}
}

// onTimeout is the frame reader's onTimeout: the read deadline passed. It
// serves as the tick timer (checkTimeouts), as the linger timer of a
// graceful close, and interrupts a Recv reading for itself whose ctx is
// done (the watchdog sets a past deadline).
func (c *conn) onTimeout(midFrame bool) error {
	if c.lingering.Load() {
		now := time.Now()
		if c.lingerUntil.IsZero() {
			c.lingerUntil = now.Add(lingerTimeout)
		} else if !now.Before(c.lingerUntil) {
			return quietf("the peer did not close within %v of our close", lingerTimeout)
		}
		c.raw.SetReadDeadline(c.lingerUntil)
		return nil
	}
	if err := c.checkTimeouts(midFrame); err != nil {
		return err
	}
	if !midFrame && c.asLeader && c.leadCtx.Err() != nil {
		return errYield
	}
	return nil
}

// beforeRead is the frame reader's beforeRead: every buffered frame has
// been handled. It wakes the streams that have news (and on a server hands
// new streams to Serve's pool, or serves one inline), then decides whether this
// goroutine goes on reading (see roles.go).
func (c *conn) beforeRead(midFrame bool) error {
	if err := c.flushWakes(midFrame); err != nil || midFrame {
		return err
	}
	switch {
	case c.asLeader:
		if c.leadDone() {
			return errYield
		}
	case !c.server && c.rDelivered:
		if c.readerParks() {
			return errYield
		}
	}
	return nil
}

// wakeLater records that s has news for a waiting Recv or Send; the reader
// wakes it in flushWakes, once it has handled every frame it has buffered,
// so a woken goroutine sees them all (a reply and the CLOSE behind it).
// Called under s.mu by the reading goroutine.
func (c *conn) wakeLater(s *stream) {
	if !s.wakePending {
		s.wakePending = true
		c.wakes = append(c.wakes, s)
	}
}

// flushWakes hands the streams opened since the last read to Serve's
// pool and wakes the streams recorded by wakeLater. Offering a stream only once the
// frames that followed its OPEN in the same read are handled lets the
// server's Recv find its first message already queued instead of waking
// twice. A stream that opened alone on its connection with its first
// message, when nothing else is buffered, is served inline instead
// (runInline), once the listener serves; an error is
// errTakenOver: another goroutine reads the connection now.
func (c *conn) flushWakes(midFrame bool) error {
	var inline *stream
	if c.server && len(c.offers) == 1 && !midFrame && c.l.handle.Load() != nil && c.streamsOpen() == 1 && c.offers[0].hasMessage() {
		inline = c.offers[0]
		c.offers[0] = nil
		c.offers = c.offers[:0]
	}
	for i, s := range c.offers {
		c.l.offer(s)
		c.offers[i] = nil
	}
	c.offers = c.offers[:0]
	for i, s := range c.wakes {
		s.mu.Lock()
		s.wakePending = false
		s.wakeLocked()
		s.mu.Unlock()
		c.wakes[i] = nil
	}
	c.wakes = c.wakes[:0]
	if inline != nil {
		return c.runInline(inline)
	}
	return nil
}

// readError explains why reading stopped.
func (c *conn) readError(err error) error {
	switch {
	case errors.Is(err, errProtocol), errors.Is(err, errQuiet), errors.Is(err, errReadTimeout), errors.Is(err, errWriteTimeout), errors.Is(err, errTooSlow):
		return err
	case err == io.EOF:
		return quietf("closed by the peer")
	case err == io.ErrUnexpectedEOF:
		return protoErr("connection closed inside a frame (truncated frame)")
	}
	return fmt.Errorf("read: %w", err)
}

var (
	errReadTimeout  = errors.New("read timeout")
	errWriteTimeout = errors.New("write timeout")
	errTooSlow      = errors.New("peer too slow")
)

// checkTimeouts runs every tick, when the reader's deadline passes. It
// fails the connection after the read timeout (no bytes while streams are
// open or a frame is half read) or the write timeout (one write under way
// for that long), closes it after the idle timeout (no open stream), pings a
// peer that has been silent for half the read timeout, and sets the next
// deadline. Progress is sampled at ticks, so a timeout fires up to a tick
// (a quarter of the smallest timeout) late, and no clock is read per frame.
func (c *conn) checkTimeouts(midFrame bool) error {
	tick := c.o.tick()
	if tick == 0 {
		c.raw.SetReadDeadline(time.Time{})
		return nil
	}
	now := time.Now()
	if c.nread != c.seenRead {
		c.seenRead, c.lastActive = c.nread, now
	}
	if wt := c.o.writeTimeout; wt > 0 {
		if seq := c.wseq.Load(); seq != c.seenWseq {
			c.seenWseq, c.writeSince = seq, now
		} else if seq&1 == 1 && now.Sub(c.writeSince) >= wt {
			return fmt.Errorf("%w: a write to the peer made no progress for %v (limit %v)",
				errWriteTimeout, now.Sub(c.writeSince).Round(time.Millisecond), wt)
		}
	}
	c.mu.Lock()
	if c.active == 0 && c.idleSince.IsZero() {
		c.idleSince = now
	}
	active, idleSince := c.active, c.idleSince
	c.mu.Unlock()
	if err := c.checkRate(now, midFrame); err != nil {
		return err
	}
	silent := now.Sub(c.lastActive)
	if rt := c.o.readTimeout; rt > 0 && (active > 0 || midFrame) {
		if silent >= rt {
			return fmt.Errorf("%w: no bytes from the peer for %v (limit %v) with %d streams open",
				errReadTimeout, silent.Round(time.Millisecond), rt, active)
		}
		if silent >= rt/2 && !c.pingOut {
			c.pingOut = true
			var p [8]byte
			binary.BigEndian.PutUint64(p[:], uint64(now.UnixNano()))
			c.enqueueControl(framePing, 0, p[:])
		}
	}
	if it := c.o.idleTimeout; it > 0 && active == 0 && now.Sub(idleSince) >= it {
		if !c.server {
			return fmt.Errorf("%w after the idle timeout of %v", errLocalClose, it)
		}
		c.o.logger.Debug("tcp: closing idle connection", "remote", c.remote, "idle", it)
		c.sendGoAway()
		c.shutdown()
	}
	c.raw.SetReadDeadline(now.Add(tick))
	return nil
}

// handleFrame dispatches one frame. An error is a protocol violation that
// ends the connection.
func (c *conn) handleFrame(f frame) error {
	switch f.typ {
	case framePing:
		if c.backlogged() {
			return protoErr("PING flood: %d bytes wait for a peer that does not read them", c.queuedBytes())
		}
		c.enqueueControl(framePong, 0, f.payload)
		return nil
	case framePong:
		c.pingOut = false
		return nil
	case frameGoAway:
		return c.handleGoAway(f.id)
	}
	s, isNew, err := c.lookup(f)
	if err == errStreamLimit {
		return c.refuseOverLimit(f.id)
	}
	if err != nil || s == nil {
		return err
	}
	switch f.typ {
	case frameOpen:
		if !isNew {
			return protoErr("OPEN frame for stream %d, which is open", f.id)
		}
	case frameData:
		m := s.newRmsg()
		if err := decodeData(m, f.payload, f.owned, c.o.maxMsg, &c.t.msgs, &c.strs); err != nil {
			return err
		}
		if err := s.deliver(m); err != nil {
			return err
		}
		c.rDelivered = true
	case frameCloseSend:
		s.peerEnded(false)
	case frameClose:
		s.peerEnded(true)
	case frameReset:
		if f.payload[0] == resetRefused {
			s.fail(fmt.Errorf("tcp: stream to %s: %w: the server did not accept it", c.remote, transport.ErrRefused))
		} else {
			s.fail(fmt.Errorf("tcp: stream to %s: %w by the peer", c.remote, transport.ErrReset))
		}
	case frameWindow:
		s.addCredit(binary.BigEndian.Uint32(f.payload))
	}
	if isNew {
		c.offers = append(c.offers, s) // handed to the server in flushWakes
	}
	return nil
}

// lookup finds the stream a frame belongs to. On the server, an OPEN frame
// with the next stream id opens a stream (isNew). A nil stream and error means
// the frame is for a finished stream, or one opened past our GOAWAY, and is
// dropped.
func (c *conn) lookup(f frame) (s *stream, isNew bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, false, nil
	}
	if s := c.streams[f.id]; s != nil {
		return s, false, nil
	}
	name := frameNames[f.typ]
	if !c.server {
		if f.id >= c.nextID {
			return nil, false, protoErr("%s frame for stream %d, which was never opened", name, f.id)
		}
		return nil, false, nil
	}
	if f.typ != frameOpen {
		if f.id <= c.lastPeerID {
			return nil, false, nil
		}
		return nil, false, protoErr("%s frame for stream %d, which was never opened", name, f.id)
	}
	if f.id != c.lastPeerID+1 {
		return nil, false, protoErr("OPEN frame for stream %d, but the next stream id is %d", f.id, c.lastPeerID+1)
	}
	c.lastPeerID = f.id
	if c.goaway {
		return nil, false, nil
	}
	if c.active >= c.o.maxStreams {
		return nil, false, errStreamLimit
	}
	s = newStream(c, f.id)
	c.streams[f.id] = s
	c.active++
	return s, true, nil
}

// handleGoAway handles the server's GOAWAY on a client connection: streams
// past last fail with ErrRefused, and no new stream is opened.
func (c *conn) handleGoAway(last uint32) error {
	if c.server {
		return protoErr("GOAWAY frame from a client")
	}
	c.mu.Lock()
	if c.goaway && c.goawayLast < last {
		last = c.goawayLast
	}
	c.goaway, c.goawayLast = true, last
	var refused []*stream
	for id, s := range c.streams {
		if id > last {
			refused = append(refused, s)
		}
	}
	c.mu.Unlock()
	for _, s := range refused {
		s.fail(fmt.Errorf("tcp: stream to %s: %w: the server is going away", c.remote, transport.ErrRefused))
	}
	return nil
}
