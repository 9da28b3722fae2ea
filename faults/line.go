package faults

import (
	"context"
	stderrors "errors"
	"fmt"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/transport"
)

// streamWindow bounds the messages a delivery line or a reader holds for
// one stream; beyond it Send (or the reader) waits.
const streamWindow = 256

// What a line does to the underlying stream once it is empty.
const (
	closeNone = iota
	closeSendAfter
	closeAfter
)

// line is the delivery line of one stream's requests: messages with the
// time they are due (never before the one queued ahead) and, for held
// messages, the gates that must open first. Its pump goroutine runs while
// the line is not empty and delivers them in order.
type line struct {
	s *clientSocket

	mu         sync.Mutex
	items      []lineItem
	last       time.Time // due time of the last message queued
	running    bool      // the pump runs
	closeAfter int       // what to do to the stream once empty
	err        error     // the first failed delivery; later Sends fail with it
	space      chan struct{}
}

type lineItem struct {
	m     *transport.Message
	at    time.Time
	gates []<-chan struct{}
}

func newLine(s *clientSocket) *line { return &line{s: s, space: make(chan struct{}, 1)} }

// idle reports whether nothing is queued or being delivered, so that a
// message may be sent directly without overtaking one.
func (l *line) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.running && l.err == nil
}

// push queues m, due at, behind what is queued. It blocks while the line
// is full, until ctx ends or the socket is closed.
func (l *line) push(ctx context.Context, m *transport.Message, at time.Time, gates []<-chan struct{}) error {
	for {
		l.mu.Lock()
		if err := l.err; err != nil {
			l.mu.Unlock()
			return err
		}
		if len(l.items) < streamWindow {
			if at.Before(l.last) {
				at = l.last
			}
			l.last = at
			l.items = append(l.items, lineItem{m: m, at: at, gates: gates})
			start := !l.running
			l.running = true
			l.mu.Unlock()
			if start && !l.s.inj.goTracked(l.pump) {
				err := fmt.Errorf("faults: message not sent: %w", ErrClosed)
				l.fail(err)
				return err
			}
			return nil
		}
		l.mu.Unlock()
		select {
		case <-l.space:
		case <-ctx.Done():
			return ctx.Err()
		case <-l.s.done():
			return l.s.errClosed()
		}
	}
}

// deferClose asks the pump to apply what (closeSendAfter or closeAfter)
// once the line is empty; it reports false when the pump is not running,
// and the caller must apply it itself.
func (l *line) deferClose(what int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running {
		return false
	}
	l.closeAfter = max(l.closeAfter, what)
	return true
}

// fail drops everything queued and makes later Sends fail with err.
func (l *line) fail(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.items = nil
	l.running = false
	l.mu.Unlock()
}

// pump delivers the line in order and returns when it is empty, applying
// a deferred close. It stops early when the injector closes.
func (l *line) pump() {
	ctx := l.s.inj.ctx
	for {
		l.mu.Lock()
		if len(l.items) == 0 {
			l.running = false
			what := l.closeAfter
			l.mu.Unlock()
			switch what {
			case closeSendAfter:
				_ = l.s.under.CloseSend()
			case closeAfter:
				_ = l.s.closeUnder()
			}
			return
		}
		it := l.items[0]
		l.mu.Unlock()

		if !waitDue(ctx, it.at, it.gates) {
			l.fail(fmt.Errorf("faults: message not delivered: %w", ErrClosed))
			_ = l.s.closeUnder()
			return
		}
		err := l.s.under.Send(ctx, it.m)
		l.mu.Lock()
		l.items[0] = lineItem{}
		l.items = l.items[1:]
		switch {
		case err == nil:
		case stderrors.Is(err, transport.ErrMessageTooLarge):
			// Send returned long ago; the message is lost, the stream is fine.
		case l.err == nil:
			l.err = err
			l.items = nil
		}
		l.mu.Unlock()
		select {
		case l.space <- struct{}{}:
		default:
		}
	}
}

// waitDue waits until every gate is open and at has come; it reports false
// if ctx ended first.
func waitDue(ctx context.Context, at time.Time, gates []<-chan struct{}) bool {
	for _, g := range gates {
		select {
		case <-g:
		case <-ctx.Done():
			return false
		}
	}
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	return sleepCtx(ctx, d)
}
