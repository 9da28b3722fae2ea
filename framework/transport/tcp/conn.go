package tcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/microsim/microsim/framework/transport"
)

// conn is one TCP (or TLS) connection, client or server side. It runs a
// reader and a writer goroutine, started by start and stopped by close
// (idempotent, waits for both) or by a failure.
type conn struct {
	t      *Transport
	o      *options
	raw    net.Conn // the TCP connection; closing it stops everything
	rw     net.Conn // raw, or the TLS connection over it
	server bool
	l      *listener // server side: the listener that accepted it
	remote string    // client: the dialled address; server: the peer's address

	peerMax    int // the peer's message size limit (from its preface)
	peerWindow int // the peer's per-stream window (from its preface)
	sendLimit  int // min(o.maxMsg, peerMax)

	done       chan struct{} // closed once err is set (the writer watches it)
	writerDone chan struct{}
	wake       chan struct{} // cap 1: frames were queued
	wg         sync.WaitGroup

	wq  writeQueue // guarded by wmu
	wmu sync.Mutex

	iov, iovw net.Buffers // used by the writer goroutine only

	// Direct writes (pushLocked), on plain TCP connections only.
	writing  bool    // guarded by wmu: the writer or a sender is writing a batch
	wrest    *[]byte // guarded by wmu: what a sender's write left; written first
	rawConn  syscall.RawConn
	rawWrite func(fd uintptr) bool // c.directWrite, made once
	wbuf     []byte                // used by the holder of the writing role only
	wn       int
	werr     error

	mu         sync.Mutex
	err        error // why the connection ended; nil while it is alive
	streams    map[uint32]*stream
	active     int       // streams not finished (opened, accepted or not)
	idleSince  time.Time // when active last dropped to 0; zero: since the next tick
	nextID     uint32    // client: the id the next stream gets
	lastPeerID uint32    // server: the highest stream id the peer opened
	goaway     bool      // client: the peer sent GOAWAY; server: we sent it
	goawayLast uint32    // the last stream id covered by the GOAWAY
	draining   bool      // server: the listener closed; close once active is 0

	lingering atomic.Bool   // the writer sent its last frame and closed its side
	wseq      atomic.Uint64 // bumped before and after each write: odd while writing

	// Reading roles (roles.go).
	rmu           sync.Mutex
	role          int             // client: who reads (roleFree, roleReader, roleLeader)
	rgrant        chan struct{}   // client, cap 1: the role was handed to the reader goroutine
	leadS         *stream         // client: the stream whose Recv leads
	leadCtx       context.Context // its ctx, which the watchdog watches
	interrupted   bool            // the watchdog interrupted the leader's read
	freeSeq       uint64          // client: counts the times the role was left free
	seenFreeSeq   uint64          // freeSeq at the watchdog's last tick
	inlineOn      bool            // server: the reading goroutine serves a stream inline
	inlineSeq     uint64          // server: counts inline calls
	seenInlineSeq uint64          // inlineSeq at the watchdog's last tick
	readerGen     uint64          // server: bumped when a goroutine takes reading over
	inWatch       bool            // guarded by t.watch.mu: in the watchdog's set

	// Used by the goroutine that reads (holds the reading role) only.
	fr          *frameReader
	strs        strTable // the header strings of received messages (decodeData)
	readBuf     *[]byte  // server: the pooled read buffer
	lingerUntil time.Time
	asLeader    bool      // a Recv reads for itself
	leads       uint64    // client: Recvs that read for themselves (tests)
	rDelivered  bool      // client: a message was delivered since the reader goroutine got the role
	nread       uint64    // reads that returned data
	seenRead    uint64    // nread at the last tick
	lastActive  time.Time // the tick at which nread last changed
	seenWseq    uint64    // wseq at the last tick
	writeSince  time.Time // the tick at which the current write was first seen
	pingOut     bool
	slowSince   time.Time // the tick at which a frame was first seen incomplete (checkRate)
	slowBytes   uint64    // fr.total at slowSince
	wakes       []*stream // streams to wake before the next read (wakeLater)
	offers      []*stream // server: streams opened, to hand to Serve before the next read
}

// maxStreamID bounds client stream ids; a connection that used them all
// takes no new stream.
const maxStreamID = 1<<31 - 1

func newConn(t *Transport, raw net.Conn, server bool, l *listener, remote string) *conn {
	c := &conn{
		t:          t,
		o:          &t.o,
		raw:        raw,
		rw:         raw,
		server:     server,
		l:          l,
		remote:     remote,
		done:       make(chan struct{}),
		writerDone: make(chan struct{}),
		wake:       make(chan struct{}, 1),
		streams:    make(map[uint32]*stream),
		idleSince:  time.Now(),
		nextID:     1,
	}
	c.wq.pool = &t.pool
	if tc, ok := raw.(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			c.rawConn, c.rawWrite = rc, c.directWriter()
		}
	}
	return c
}

// start runs the connection's goroutines; on the server side they first
// perform the handshake. It does not block.
func (c *conn) start() {
	if !c.server {
		c.initReader() // before a Recv may lead; the handshake is done
	}
	c.wg.Add(1)
	go c.run()
}

func (c *conn) run() {
	if c.server {
		if err := c.serverHandshake(); err != nil {
			// Logged here at a bounded rate (a flood of bad connections
			// writes a line a second), so quietly by fail.
			err = fmt.Errorf("handshake: %w", err)
			c.t.stats.handshakeFailures.Add(1)
			c.t.handshakeLog.warn(c.o.logger, "tcp: connection closed", "local", c.raw.LocalAddr().String(),
				"remote", c.remote, "server", true, "err", err)
			c.fail(fmt.Errorf("%w: %w", errQuiet, err))
			close(c.writerDone)
			c.t.forget(c)
			c.wg.Done()
			c.t.wg.Done()
			return
		}
	}
	c.wg.Add(1)
	go c.writeLoop()
	if !c.server {
		c.endReading(c.clientReadLoop())
		return
	}
	c.initReader()
	c.readOn()
}

// readOn is a server connection's reading goroutine: the first, or one
// that took reading over from a goroutine serving a stream inline.
func (c *conn) readOn() {
	c.endReading(c.readFrames())
}

// endReading ends the goroutine that read the connection, and with it the
// connection unless reading was taken over.
func (c *conn) endReading(err error) {
	defer c.t.wg.Done()
	defer c.wg.Done()
	if err == errTakenOver {
		return
	}
	c.flushWakes(true)
	c.fail(err)
	<-c.writerDone
	if c.readBuf != nil {
		c.t.pool.put(c.readBuf)
		c.readBuf = nil
	}
	c.t.forget(c)
}

// close ends the connection with err (if it is still alive) and waits for
// its goroutines. Idempotent.
func (c *conn) close(err error) {
	c.fail(err)
	c.wg.Wait()
}

// fail ends the connection: it records err, closes the socket and wakes
// every goroutine waiting on the connection or one of its streams. Only the
// first call has an effect. It does not block.
func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	if err == nil {
		err = errors.New("connection closed")
	}
	c.err = err
	streams := c.streams
	c.streams = nil
	c.mu.Unlock()
	c.wmu.Lock()
	c.wq.fail()
	c.wmu.Unlock()
	close(c.done) // before the wakes: a woken stream must see it
	c.raw.Close()
	c.signalWriter()
	for _, s := range streams {
		s.mu.Lock()
		s.wakeLocked()
		notified := s.onRecv != nil
		s.mu.Unlock()
		if notified {
			serr := c.streamErr(s)
			s.mu.Lock()
			s.notifyLocked(serr)
			s.mu.Unlock()
		}
	}
	c.logEnd(err)
}

// logEnd logs why the connection ended: quiet for ordinary ends, Warn for
// protocol errors and timeouts.
func (c *conn) logEnd(err error) {
	attrs := []any{"local", c.raw.LocalAddr().String(), "remote", c.raw.RemoteAddr().String(), "server", c.server, "err", err}
	switch {
	case errors.Is(err, errQuiet):
		c.o.logger.Debug("tcp: connection closed", attrs...)
	default:
		c.o.logger.Warn("tcp: connection closed", attrs...)
	}
}

// errQuiet marks connection ends that are part of normal operation.
var errQuiet = errors.New("normal close")

// quietf builds an error for an ordinary end of a connection.
func quietf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errQuiet, fmt.Sprintf(format, args...))
}

// isDone reports whether the connection has ended.
func (c *conn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// streamErr is the error a stream of the ended connection fails with: a
// client stream past the server's GOAWAY was refused; any other was reset,
// unless the connection was closed locally.
func (c *conn) streamErr(s *stream) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streamErrLocked(s.id.Load())
}

func (c *conn) streamErrLocked(id uint32) error {
	if !c.server && c.goaway && id > c.goawayLast {
		return fmt.Errorf("tcp: stream to %s: %w: the server did not take it", c.remote, transport.ErrRefused)
	}
	switch {
	case errors.Is(c.err, errLocalClose):
		return fmt.Errorf("tcp: connection to %s: %w", c.remote, transport.ErrClosed)
	case errors.Is(c.err, transport.ErrClosed):
		return c.err
	}
	return fmt.Errorf("tcp: connection to %s broke: %w: %v", c.remote, transport.ErrReset, c.err)
}

// errLocalClose is the end of a connection closed by Conn.Close.
var errLocalClose = fmt.Errorf("%w: closed locally", errQuiet)

// streamDone takes a finished stream out of the connection's books. A
// draining server connection closes gracefully after its last stream.
func (c *conn) streamDone(s *stream) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	if id := s.id.Load(); id != 0 && c.streams[id] == s {
		delete(c.streams, id)
	}
	c.active--
	last := c.active == 0
	if last {
		c.idleSince = time.Time{} // the reader's next tick reads the clock
	}
	drained := last && c.draining
	c.mu.Unlock()
	if drained {
		c.shutdown()
	}
}

// drain is called when the listener closes: no new stream is accepted (a
// GOAWAY tells the client), and the connection closes once its accepted
// streams have finished. It does not block.
func (c *conn) drain() {
	c.mu.Lock()
	if c.err != nil || c.draining {
		c.mu.Unlock()
		return
	}
	c.draining = true
	idle := c.active == 0
	c.mu.Unlock()
	c.sendGoAway()
	if idle {
		c.shutdown()
	}
}

// sendGoAway tells the client the last stream this server side will
// process; later streams fail with ErrRefused at the client.
func (c *conn) sendGoAway() {
	c.mu.Lock()
	if c.goaway {
		c.mu.Unlock()
		return
	}
	c.goaway, c.goawayLast = true, c.lastPeerID
	last := c.lastPeerID
	c.mu.Unlock()
	c.enqueueControl(frameGoAway, last, nil)
}

// shutdown closes the connection gracefully: the writer sends what is
// queued, closes its side, and the reader waits (bounded) for the peer to
// close. It does not block.
func (c *conn) shutdown() {
	c.wmu.Lock()
	c.wq.closing = true
	c.wmu.Unlock()
	c.signalWriter()
}

// newStream opens a client stream: it gets the next id and its OPEN frame
// is queued. It does not block.
func (c *conn) newStream() (*stream, error) {
	s := newStream(c, 0)
	c.wmu.Lock()
	err := c.openLocked(s)
	wake := err == nil && c.wakeLocked()
	c.wmu.Unlock()
	if wake {
		c.signalWriter()
	}
	return s, err
}

// openLocked registers s under the next id and queues its OPEN frame;
// called under c.wmu, so ids reach the wire in order.
func (c *conn) openLocked(s *stream) error {
	c.mu.Lock()
	switch {
	case c.goaway:
		c.mu.Unlock()
		return fmt.Errorf("tcp: connection to %s: %w: the server is going away", c.remote, transport.ErrRefused)
	case c.err != nil:
		err := c.streamErrLocked(maxStreamID)
		c.mu.Unlock()
		return err
	case c.nextID > maxStreamID:
		c.mu.Unlock()
		return fmt.Errorf("tcp: connection to %s: %w: stream ids used up", c.remote, transport.ErrRefused)
	}
	id := c.nextID
	c.nextID++
	s.id.Store(id)
	c.streams[id] = s
	c.active++
	c.mu.Unlock()
	if c.wq.err != nil || c.wq.closing { // raced with the end of the connection
		return c.streamErr(s)
	}
	putFrameHeader(c.wq.reserve(frameHeaderLen), 0, frameOpen, id)
	return nil
}

// clientConn is the transport.Conn returned by Transport.Dial.
type clientConn struct{ c *conn }

// NewStream opens a stream: its OPEN frame is queued, so it reaches the
// server before anything is sent on it, with the DATA frame of first (when
// not nil) right behind it, so that both leave in one write. It blocks only
// while the write queue is full or the stream has no credit (for first).
// It fails with ErrClosed after Close, ErrReset when the connection broke,
// and ErrRefused after the server sent GOAWAY (listener closed, or idle).
// A first message too large for the limits, or one that finds the write
// queue full, takes the open-then-Send path (whose errors it returns).
func (cc clientConn) NewStream(ctx context.Context, first *transport.Message) (transport.Socket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := cc.c
	if first != nil {
		plen, size := encodedSize(first)
		n := frameHeaderLen + plen
		if size <= c.sendLimit && n <= largeFrame {
			s := newStream(c, 0)
			s.credit-- // a new stream has the peer's whole window
			c.wmu.Lock()
			if c.wq.err == nil && !c.wq.closing && c.wq.queued+n <= queueLimit {
				if err := c.openLocked(s); err != nil {
					c.wmu.Unlock()
					return nil, err
				}
				c.queueDataLocked(s.id.Load(), first, plen, nil)
				c.pushLocked()
				return s, nil
			}
			c.wmu.Unlock()
		}
	}
	s, err := c.newStream()
	if err != nil || first == nil {
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return s, s.Send(ctx, first)
}

// RemoteAddr returns the dialled address.
func (cc clientConn) RemoteAddr() string { return cc.c.remote }

// Done returns a channel closed once the connection is closed
// or broken (after a GOAWAY, when the server closed it).
func (cc clientConn) Done() <-chan struct{} { return cc.c.done }

// Close closes the connection: its streams fail with ErrClosed. It blocks
// until the connection's goroutines have exited. Idempotent.
func (cc clientConn) Close() error {
	cc.c.close(errLocalClose)
	return nil
}
