package tcp

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Who reads a connection.
//
// A goroutine woken by another (a channel send, a mutex handed over) makes
// the Go scheduler wake an idle processor's thread, which then sleeps in
// the network poller, so that from then on every write on the loopback
// wakes a thread: a call that passes from one goroutine to another even
// once costs about half again the time of one that stays on its
// goroutine (bench/README.md, "Where the time goes"). So the goroutine
// that reads a connection is not fixed:
//
//   - On a client, a Recv with nothing to return on a connection that
//     carries its stream alone, while nobody reads, reads the connection
//     itself (it "leads") until its stream has news, its ctx is done or the
//     connection ends; frames for other streams are dispatched as usual.
//     Otherwise the connection's reader goroutine reads, and it parks once
//     it has delivered something and no stream is left open. A connection
//     nobody read for a watchdog tick is given back to the reader
//     goroutine, which notices a peer's GOAWAY or close and keeps the
//     timeouts.
//   - On a server, the reading goroutine serves a stream inline (calls the
//     function of the listener's Serve itself) when the stream opened
//     alone on its connection with its first message and nothing else is
//     buffered. When the inline call waits on the connection, or
//     is still running at the next watchdog tick but one, a new goroutine
//     takes reading over and the inline one exits when its call is done.
//
// The watchdog is one goroutine per transport, ticking every watchTick
// while some connection needs it: it interrupts (with a past read
// deadline) a leading Recv whose ctx is done, hands idle connections to
// their reader goroutine and takes reading over from long inline calls.
// It exits when no connection needs it.

// watchTick is the watchdog's period; a Transport takes it when it is
// made (a variable for tests).
const watchTick = time.Millisecond

// Reading roles of a client connection (conn.role, guarded by conn.rmu).
const (
	roleFree   = iota // nobody reads
	roleReader        // the connection's reader goroutine
	roleLeader        // a Recv (conn.leadS) reads for itself
)

var (
	// errYield stops a goroutine's reading: it hands the role on.
	errYield = errors.New("tcp: reading role handed on")
	// errTakenOver stops an inline goroutine's reading: another reads.
	errTakenOver = errors.New("tcp: reading taken over")
)

// watchdog holds the connections the watchdog goroutine looks after.
type watchdog struct {
	mu      sync.Mutex
	conns   map[*conn]struct{}
	running bool
}

// watch makes sure the watchdog looks at c at its next tick; c decides
// then (checkWatchLocked) whether it still needs to be watched. It is
// called after changing the state the watchdog checks, not under c.rmu.
func (c *conn) watch() {
	w := &c.t.watch
	w.mu.Lock()
	if c.inWatch {
		w.mu.Unlock()
		return
	}
	if w.conns == nil {
		w.conns = make(map[*conn]struct{})
	}
	w.conns[c] = struct{}{}
	c.inWatch = true
	if !w.running {
		w.running = true
		c.t.wg.Add(1) // c's goroutines hold the count above 0
		go c.t.watchLoop()
	}
	w.mu.Unlock()
}

// watchLoop is the watchdog goroutine.
func (t *Transport) watchLoop() {
	defer t.wg.Done()
	tk := time.NewTicker(t.watchTick)
	defer tk.Stop()
	w := &t.watch
	for {
		select {
		case <-tk.C:
		case <-t.closing:
			w.mu.Lock()
			w.running = false
			w.mu.Unlock()
			return
		}
		w.mu.Lock()
		for c := range w.conns {
			c.rmu.Lock()
			keep := c.checkWatchLocked()
			c.rmu.Unlock()
			if !keep {
				delete(w.conns, c)
				c.inWatch = false
			}
		}
		if len(w.conns) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
	}
}

// checkWatchLocked is the watchdog's look at c, under c.rmu; it reports
// whether c needs to be looked at again.
func (c *conn) checkWatchLocked() bool {
	if c.isDone() {
		return false
	}
	if c.server {
		if !c.inlineOn {
			return false
		}
		if c.inlineSeq == c.seenInlineSeq {
			c.takeOverLocked() // the same inline call as a tick ago
			return false
		}
		c.seenInlineSeq = c.inlineSeq
		return true
	}
	switch c.role {
	case roleLeader:
		if !c.interrupted && c.leadCtx.Err() != nil {
			c.interrupted = true
			c.raw.SetReadDeadline(time.Unix(1, 0)) // its onTimeout yields
		}
		return true
	case roleFree:
		if c.freeSeq == c.seenFreeSeq { // nobody read for a whole tick
			c.grantReaderLocked()
			return false
		}
		c.seenFreeSeq = c.freeSeq
		return true
	}
	return false
}

// grantReaderLocked hands the free reading role to the reader goroutine.
// Called under c.rmu.
func (c *conn) grantReaderLocked() {
	c.role = roleReader
	select {
	case c.rgrant <- struct{}{}:
	default:
	}
}

// ensureReader makes sure somebody reads a client connection: a goroutine
// is about to wait for what only reading brings (a message, credit, a
// NotifyRecv event). It does not block.
func (c *conn) ensureReader() {
	c.rmu.Lock()
	if c.role == roleFree {
		c.grantReaderLocked()
	}
	c.rmu.Unlock()
}

// clientReadLoop is a client connection's reader goroutine: it reads while
// it holds the reading role and waits for it to come back otherwise, until
// the connection ends.
func (c *conn) clientReadLoop() error {
	for {
		c.rDelivered = false
		if err := c.readFrames(); err != errYield {
			return err
		}
		c.watch()
		select {
		case <-c.rgrant:
		case <-c.done:
			return nil
		}
	}
}

// readerParks decides, for the reader goroutine before a read, whether it
// gives the reading role up: when it has delivered something since it got
// the role and no stream is open, the next Recv may read for itself.
func (c *conn) readerParks() bool {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.role != roleReader || c.streamsOpen() > 0 {
		return false
	}
	c.role = roleFree
	c.freeSeq++
	return true
}

// streamsOpen is how many streams are open on c (c.active).
func (c *conn) streamsOpen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active
}

// tryLead gives s's Recv the reading role when nobody reads and s is the
// connection's only stream. Called under s.mu.
func (c *conn) tryLead(ctx context.Context, s *stream) bool {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.role != roleFree || c.streamsOpen() > 1 {
		return false
	}
	c.role = roleLeader
	c.leadS, c.leadCtx, c.interrupted = s, ctx, false
	return true
}

// lead reads the connection for the Recv that tryLead let lead, until its
// stream has news, its ctx is done or the connection ends; then the role
// goes to the reader goroutine if a stream is still open, or is left free.
func (c *conn) lead() {
	c.watch()
	c.asLeader = true
	c.leads++
	err := c.readFrames()
	c.asLeader = false
	if err != errYield {
		c.fail(err)
	}
	c.rmu.Lock()
	c.leadS, c.leadCtx = nil, nil
	if c.streamsOpen() == 0 {
		c.role = roleFree
		c.freeSeq++
	} else {
		c.grantReaderLocked()
	}
	c.rmu.Unlock()
}

// leadDone reports, for a leading Recv before a read, whether it stops
// reading: its stream has news or its ctx is done.
func (c *conn) leadDone() bool {
	if c.leadCtx.Err() != nil {
		return true
	}
	s := c.leadS
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.qhead < len(s.q) || s.recvErr != nil || s.closed
}

// runInline serves s on this, the reading goroutine (Listener.Serve).
// It returns errTakenOver when another goroutine read the connection
// meanwhile: this one then stops reading.
func (c *conn) runInline(s *stream) error {
	c.rmu.Lock()
	c.inlineOn = true
	c.inlineSeq++
	gen := c.readerGen
	c.rmu.Unlock()
	c.watch()
	c.l.serveInline(s)
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.readerGen != gen {
		return errTakenOver
	}
	c.inlineOn = false
	return nil
}

// takeOverInline starts a goroutine that reads the connection in place of
// the one serving a stream inline, if one is: a goroutine is about to wait
// on the connection, which the inline one cannot read.
func (c *conn) takeOverInline() {
	c.rmu.Lock()
	if c.inlineOn {
		c.takeOverLocked()
	}
	c.rmu.Unlock()
}

// takeOverLocked starts a new reading goroutine for a server connection
// whose reading goroutine serves a stream inline. Called under c.rmu.
func (c *conn) takeOverLocked() {
	c.readerGen++
	c.inlineOn = false
	c.wg.Add(1)
	c.t.wg.Add(1) // the inline goroutine holds both counts above 0
	go c.readOn()
}

// hasMessage reports whether a message waits for s's Recv.
func (s *stream) hasMessage() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.qhead < len(s.q)
}
