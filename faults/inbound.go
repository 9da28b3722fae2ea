package faults

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/transport"
)

// inbound holds one stream's replies between their arrival and their due
// time. Its reader goroutine receives from the underlying socket as
// replies arrive, so that each is due its own delay after it arrived (not
// after the one before was handed out), judges them and queues them; Recv
// hands them out in order once due. The reader ends with the stream, at
// Close, or when the injector closes.
type inbound struct {
	s      *clientSocket
	cancel context.CancelFunc // ends the reader

	mu     sync.Mutex
	items  []lineItem
	last   time.Time
	end    error // why the reader stopped; reported once items are out
	notify chan struct{}
	space  chan struct{}
}

// startInbound switches the socket to reading through an inbound whose
// first reply is m, due at (after gates open), and starts its reader.
func (s *clientSocket) startInbound(m *transport.Message, at time.Time, gates []<-chan struct{}) *inbound {
	ctx, cancel := context.WithCancel(s.inj.ctx)
	in := &inbound{
		s:      s,
		cancel: cancel,
		items:  []lineItem{{m: m, at: at, gates: gates}}, // a copy (Recv)
		last:   at,
		notify: make(chan struct{}, 1),
		space:  make(chan struct{}, 1),
	}
	s.mu.Lock()
	s.in = in
	s.mu.Unlock()
	if s.isClosed() || !s.inj.goTracked(func() { in.read(ctx) }) {
		in.finish(fmt.Errorf("faults: %w", ErrClosed))
		cancel()
	}
	return in
}

// stop ends the reader; Close calls it.
func (in *inbound) stop() { in.cancel() }

// read is the reader goroutine.
func (in *inbound) read(ctx context.Context) {
	defer in.cancel()
	s := in.s
	for {
		m, err := s.under.Recv(ctx)
		if err != nil {
			in.finish(err)
			return
		}
		s.readMu.Lock()
		if s.underClosed {
			// closeUnder came between Recv and here: m's lease ended.
			s.readMu.Unlock()
			in.finish(s.errClosed())
			return
		}
		v := s.inj.judgeLink(s.c.remote, s.c.t.node, Replies, m, s.c)
		// The underlying message is lent until the next Recv or Close,
		// which come before this one is handed out: keep a copy.
		if !v.drop && v.reset == nil {
			m = m.Clone()
		}
		s.readMu.Unlock()
		switch {
		case v.reset != nil:
			s.c.reset(v.reset)
			in.finish(v.reset)
			return
		case v.drop:
			continue
		}
		if !in.push(ctx, m, time.Now().Add(v.delay), v.gates) {
			in.finish(ctx.Err())
			return
		}
	}
}

// push queues a reply; it waits while the queue is full and reports false
// if ctx ended first.
func (in *inbound) push(ctx context.Context, m *transport.Message, at time.Time, gates []<-chan struct{}) bool {
	for {
		in.mu.Lock()
		if len(in.items) < streamWindow {
			if at.Before(in.last) {
				at = in.last
			}
			in.last = at
			in.items = append(in.items, lineItem{m: m, at: at, gates: gates})
			in.mu.Unlock()
			signal(in.notify)
			return true
		}
		in.mu.Unlock()
		select {
		case <-in.space:
		case <-ctx.Done():
			return false
		}
	}
}

// finish records why the reader stopped.
func (in *inbound) finish(err error) {
	in.mu.Lock()
	if in.end == nil {
		in.end = err
	}
	in.mu.Unlock()
	signal(in.notify)
}

// recv hands out the next reply once it is due. Recv is never concurrent
// with itself, so the head of the queue only changes here.
func (in *inbound) recv(ctx context.Context) (*transport.Message, error) {
	s := in.s
	for {
		in.mu.Lock()
		if len(in.items) > 0 {
			it := in.items[0]
			in.mu.Unlock()
			if err := in.waitDue(ctx, it); err != nil {
				return nil, err
			}
			in.mu.Lock()
			in.items[0] = lineItem{}
			in.items = in.items[1:]
			in.mu.Unlock()
			signal(in.space)
			return it.m, nil
		}
		end := in.end
		in.mu.Unlock()
		if end != nil {
			if s.isClosed() {
				return nil, s.errClosed()
			}
			if err := s.c.failed(); err != nil {
				return nil, err
			}
			if s.inj.ctx.Err() != nil {
				return nil, fmt.Errorf("faults: stream with %s: injector closed: %w", s.under.RemoteAddr(), transport.ErrClosed)
			}
			return nil, end
		}
		select {
		case <-in.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.done():
			return nil, s.errClosed()
		}
	}
}

// waitDue waits for it's gates and due time, for ctx or for Close.
func (in *inbound) waitDue(ctx context.Context, it lineItem) error {
	s := in.s
	for _, g := range it.gates {
		select {
		case <-g:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done():
			return s.errClosed()
		}
	}
	d := time.Until(it.at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done():
		return s.errClosed()
	}
}

// signal wakes a waiter on a capacity-1 channel without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
