package tcp

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/microsim/microsim/framework/transport"
)

const (
	// smallBufSize is the size of the shared buffer small frames are
	// encoded into; frames above largeFrame get a buffer of their own,
	// encoded outside the queue's lock.
	smallBufSize = 1 << minBufShift
	largeFrame   = smallBufSize / 2
	// queueLimit is how many bytes may wait for the writer before Send
	// blocks (a single larger frame is always let in on an empty queue).
	queueLimit = 1 << 20
	// yieldBelow: the writer yields once before writing a smaller batch.
	yieldBelow      = 8 << 10
	maxYieldBackoff = 64
)

// writeQueue holds encoded frames waiting for the writer goroutine, in
// order: the sealed buffers in segs, then cur. Guarded by conn.wmu.
type writeQueue struct {
	pool    *bufPool
	cur     *[]byte   // small frames are appended here
	segs    []*[]byte // buffers queued before cur
	queued  int       // bytes in segs and cur
	err     error     // set once nothing more may be queued
	closing bool      // graceful close: flush, then close the write side
	room    chan struct{}
	signal  bool // the writer has been woken for what is queued
}

// fail makes later enqueues fail and releases Send calls waiting for room.
func (q *writeQueue) fail() {
	if q.err == nil {
		q.err = transport.ErrClosed
	}
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
}

// reserve returns n bytes of space at the end of the queue for the caller
// to fill.
func (q *writeQueue) reserve(n int) []byte {
	if q.cur != nil && cap(*q.cur)-len(*q.cur) < n {
		q.segs = append(q.segs, q.cur)
		q.cur = nil
	}
	if q.cur == nil {
		q.cur = q.pool.get(max(n, smallBufSize))
	}
	b := *q.cur
	*q.cur = b[:len(b)+n]
	q.queued += n
	return b[len(b) : len(b)+n]
}

// push queues a buffer of its own.
func (q *writeQueue) push(b *[]byte) {
	if q.cur != nil && len(*q.cur) > 0 {
		q.segs = append(q.segs, q.cur)
		q.cur = nil
	}
	q.segs = append(q.segs, b)
	q.queued += len(*b)
}

// signalWriter wakes the writer goroutine. It does not block.
func (c *conn) signalWriter() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// wakeLocked wakes the writer for newly queued frames unless it already
// was; called under c.wmu, it reports whether to signal after unlocking.
func (c *conn) wakeLocked() bool {
	if c.wq.signal {
		return false
	}
	c.wq.signal = true
	return true
}

// enqueueControl queues a frame without a stream (or for a known stream
// id): PING, PONG, GOAWAY, RESET from the reader. It never blocks; after
// the connection ended it does nothing.
func (c *conn) enqueueControl(typ byte, id uint32, payload []byte) {
	c.wmu.Lock()
	if c.wq.err != nil || c.wq.closing {
		c.wmu.Unlock()
		return
	}
	b := c.wq.reserve(frameHeaderLen + len(payload))
	putFrameHeader(b, len(payload), typ, id)
	copy(b[frameHeaderLen:], payload)
	wake := c.wakeLocked()
	c.wmu.Unlock()
	if wake {
		c.signalWriter()
	}
}

// enqueueData queues a DATA frame carrying m, whose payload encodes to plen
// bytes (checked against the limit by the caller), and with closeAfter the
// stream's CLOSE behind it, in the same batch. Large frames are encoded
// into a buffer of their own before the lock is taken; small ones straight
// into the shared buffer. It blocks while more than queueLimit bytes wait
// for the writer, until ctx is done. A nil error means the frame will be
// written unless the connection breaks.
func (c *conn) enqueueData(ctx context.Context, s *stream, m *transport.Message, plen int, closeAfter bool) error {
	n := frameHeaderLen + plen
	var own *[]byte
	if n > largeFrame {
		own = c.t.pool.get(n)
		*own = appendData((*own)[:frameHeaderLen], m)
	}
	c.wmu.Lock()
	for c.wq.err == nil && c.wq.queued > 0 && c.wq.queued+n > queueLimit {
		if c.wq.room == nil {
			c.wq.room = make(chan struct{})
		}
		room := c.wq.room
		c.wmu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			if own != nil {
				c.t.pool.put(own)
			}
			return ctx.Err()
		}
		c.wmu.Lock()
	}
	err := c.streamWritableLocked(s)
	if err == nil {
		c.queueDataLocked(s.id.Load(), m, plen, own)
		own = nil
		if closeAfter {
			c.queueCloseLocked(s)
		}
	}
	if err != nil {
		c.wmu.Unlock()
	} else {
		c.pushLocked()
	}
	if own != nil {
		c.t.pool.put(own)
	}
	return err
}

// queueDataLocked queues the DATA frame of m for stream id: into own (m
// already encoded behind its header) when it is not nil, else into the
// shared buffer. Called under c.wmu.
func (c *conn) queueDataLocked(id uint32, m *transport.Message, plen int, own *[]byte) {
	if own != nil {
		putFrameHeader(*own, plen, frameData, id)
		c.wq.push(own)
		return
	}
	b := c.wq.reserve(frameHeaderLen + plen)
	putFrameHeader(b, plen, frameData, id)
	appendData(b[frameHeaderLen:frameHeaderLen], m)
}

// queueCloseLocked queues the CLOSE frame of s; nothing may follow it.
// Called under c.wmu.
func (c *conn) queueCloseLocked(s *stream) {
	s.wclosed, s.closeQueued = true, true
	putFrameHeader(c.wq.reserve(frameHeaderLen), 0, frameClose, s.id.Load())
}

// enqueueCloseSend queues the CLOSE_SEND frame of s; no DATA may follow.
// It does not block.
func (c *conn) enqueueCloseSend(s *stream) error {
	c.wmu.Lock()
	err := c.streamWritableLocked(s)
	if err == nil {
		s.wclosed = true
		putFrameHeader(c.wq.reserve(frameHeaderLen), 0, frameCloseSend, s.id.Load())
	}
	wake := err == nil && c.wakeLocked()
	c.wmu.Unlock()
	if wake {
		c.signalWriter()
	}
	return err
}

// streamWritableLocked reports why s may not queue DATA or CLOSE_SEND, if
// it may not. Called under c.wmu.
func (c *conn) streamWritableLocked(s *stream) error {
	switch {
	case c.wq.err != nil:
		return c.streamErr(s)
	case c.wq.closing:
		return fmt.Errorf("tcp: connection to %s is closing: %w", c.remote, transport.ErrClosed)
	case s.wclosed:
		return s.sendClosedErr()
	}
	return nil
}

// writeLoop is the writer goroutine: it writes everything queued with one
// (vectored) write per batch, so concurrent streams share syscalls.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	defer close(c.writerDone)
	var batch []*[]byte
	var closing bool
	var skip, backoff int
	for {
		<-c.wake // conn.fail signals it too
		if c.isDone() {
			return
		}
		for {
			var busy bool
			batch, closing, busy = c.takeWrite(batch[:0])
			if busy {
				break // a sender is writing; it wakes us again for what follows
			}
			if len(batch) == 0 {
				if closing {
					c.closeWrite()
					return
				}
				break
			}
			// A small batch: let the goroutines that are about to queue
			// frames run first, so that they share this write. Yielding
			// costs a trip through the scheduler, so after a yield that
			// gained nothing (a lone caller), skip the next ones, doubling.
			if skip > 0 {
				skip--
			} else if batchSize(batch) < yieldBelow {
				n := len(batch)
				runtime.Gosched()
				if batch, _ = c.take(batch); len(batch) > n {
					backoff = 0
				} else {
					backoff = min(max(1, 2*backoff), maxYieldBackoff)
					skip = backoff
				}
			}
			c.iov = c.iov[:0]
			for _, b := range batch {
				c.iov = append(c.iov, *b)
			}
			c.wseq.Add(1) // odd: a write is under way (see checkTimeouts)
			// WriteTo consumes the slice it is called on: keep c.iov's
			// capacity by writing from a copy (a field, so it does not
			// escape to a fresh allocation).
			var err error
			if len(c.iov) == 1 {
				_, err = c.rw.Write(c.iov[0])
			} else {
				c.iovw = c.iov
				_, err = c.iovw.WriteTo(c.rw)
			}
			c.wseq.Add(1)
			clear(c.iov)
			for i, b := range batch {
				c.t.pool.put(b)
				batch[i] = nil
			}
			c.wmu.Lock()
			c.writing = false
			c.wmu.Unlock()
			if err != nil {
				c.fail(fmt.Errorf("write: %w", err))
				return
			}
		}
	}
}

// takeWrite is take for the writer goroutine: unless a sender is writing
// (busy), it takes the writing role along with everything queued, after
// the unwritten rest of a sender's write, if any.
func (c *conn) takeWrite(batch []*[]byte) (_ []*[]byte, closing, busy bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.writing {
		c.wq.signal = false
		return batch, false, true
	}
	if c.wrest != nil {
		batch = append(batch, c.wrest)
		c.wrest = nil
	}
	batch, closing = c.takeLocked(batch)
	c.writing = len(batch) > 0
	return batch, closing, false
}

// take appends everything queued to batch and reports whether the
// connection is closing gracefully.
func (c *conn) take(batch []*[]byte) ([]*[]byte, bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.takeLocked(batch)
}

func (c *conn) takeLocked(batch []*[]byte) ([]*[]byte, bool) {
	if c.wq.cur != nil && len(*c.wq.cur) > 0 {
		c.wq.segs = append(c.wq.segs, c.wq.cur)
		c.wq.cur = nil
	}
	batch = append(batch, c.wq.segs...)
	clear(c.wq.segs)
	c.wq.segs = c.wq.segs[:0]
	c.wq.queued, c.wq.signal = 0, false
	if c.wq.room != nil {
		close(c.wq.room)
		c.wq.room = nil
	}
	return batch, c.wq.closing && c.wq.err == nil
}

func batchSize(batch []*[]byte) int {
	n := 0
	for _, b := range batch {
		n += len(*b)
	}
	return n
}

// closeWrite ends a graceful close: everything was written; close the write
// side and let the reader wait, bounded by lingerTimeout, for the peer's end.
func (c *conn) closeWrite() {
	if cw, ok := c.rw.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			c.fail(quietf("close write: %v", err))
			return
		}
	}
	c.lingering.Store(true)
	c.raw.SetReadDeadline(time.Now()) // wake the reader to apply the linger deadline
}

// closeStream queues the last frame of s (CLOSE, or RESET with payload)
// unless s never sent anything, and lets no later DATA through. It never
// blocks.
func (c *conn) closeStream(s *stream, typ byte, payload []byte) {
	c.wmu.Lock()
	id := s.id.Load()
	if id == 0 || c.wq.err != nil || c.wq.closing || s.closeQueued {
		s.wclosed = true
		c.wmu.Unlock()
		return
	}
	s.wclosed = true
	b := c.wq.reserve(frameHeaderLen + len(payload))
	putFrameHeader(b, len(payload), typ, id)
	copy(b[frameHeaderLen:], payload)
	wake := c.wakeLocked()
	c.wmu.Unlock()
	if wake {
		c.signalWriter()
	}
}

// pushLocked is called under c.wmu right after a sender queued frames, and
// unlocks it. When the connection carries a single stream, nobody is
// writing and everything queued sits in one buffer, the sender writes it
// itself with one non-blocking write: a lone call then reaches the wire
// without waking the writer goroutine, whose hand-off (a goroutine made
// runnable, which wakes an idle processor) costs more than the write.
// What the socket does not take at once is left to the writer. Otherwise
// the writer is woken as usual, so concurrent senders still share writes.
func (c *conn) pushLocked() {
	if c.rawWrite == nil || c.writing || c.wq.signal || c.wrest != nil || c.wq.err != nil ||
		c.wq.closing || len(c.wq.segs) > 0 || c.wq.cur == nil || c.streamsOpen() > 1 {
		wake := c.wakeLocked()
		c.wmu.Unlock()
		if wake {
			c.signalWriter()
		}
		return
	}
	b := c.wq.cur
	c.wq.cur, c.wq.queued = nil, 0
	if c.wq.room != nil {
		close(c.wq.room)
		c.wq.room = nil
	}
	c.writing = true
	c.wmu.Unlock()
	n, err := c.writeNow(*b)
	c.wmu.Lock()
	c.writing = false
	if err != nil {
		c.wmu.Unlock()
		c.t.pool.put(b)
		c.fail(fmt.Errorf("write: %w", err))
		return
	}
	if n < len(*b) {
		// The rest goes first, by the writer.
		rest := copy(*b, (*b)[n:])
		*b = (*b)[:rest]
		c.wrest = b
	} else {
		c.t.pool.put(b)
	}
	if c.wrest == nil && c.wq.queued == 0 {
		c.wmu.Unlock()
		return
	}
	wake := c.wakeLocked()
	c.wmu.Unlock()
	if wake {
		c.signalWriter()
	}
}

// writeNow makes one non-blocking write of b to the socket and returns how
// much of it was written: less than len(b), possibly 0, when the socket's
// buffer is full. An error is a broken connection. Called by the holder of
// the writing role (c.writing) only.
func (c *conn) writeNow(b []byte) (int, error) {
	c.wbuf = b
	err := c.rawConn.Write(c.rawWrite)
	n, werr := c.wn, c.werr
	c.wbuf, c.werr = nil, nil
	if err != nil {
		return 0, err
	}
	return n, werr
}
