package memory

import (
	"sync"

	"github.com/microsim/microsim/framework/transport"
)

// maxIdleServers is how many of a network's serving goroutines may wait
// for a stream at once; one that finishes while as many wait exits.
const maxIdleServers = 64

// servePool is the goroutines that run the listeners' Serve functions, one
// pool for every listener of the network. An opened stream goes to the
// goroutine that began to wait last, whose stack and state were in use a
// moment ago, or to a new goroutine when none waits, so a stream never
// waits for a busy one. A pool per listener would keep a goroutine parked
// on every listener, and in a world of many instances each called now and
// then a stream would wake one that had long been idle (its stack out of
// the CPU's caches, and shrunk by the collector, to grow again). The
// goroutines exit once no listener of the network serves. (A network used
// in a testing/synctest bubble is used in it only: a waiting goroutine's
// channel is made where it started.)
type servePool struct {
	mu      sync.Mutex
	idle    []*serveWorker // waiting, the last to wait on top
	serving int            // listeners in Serve
}

// serveWorker is one waiting goroutine: its channel receives the next
// stream to serve, or a zero job to exit. Whoever takes it off idle sends
// it exactly one job, so a send never blocks.
type serveWorker struct{ ch chan serveJob }

type serveJob struct {
	l *listener
	s *stream
}

// begin counts a listener in Serve.
func (p *servePool) begin() {
	p.mu.Lock()
	p.serving++
	p.mu.Unlock()
}

// end counts a listener out of Serve once its handle calls returned; when
// it was the last, the waiting goroutines exit.
func (p *servePool) end() {
	p.mu.Lock()
	p.serving--
	var idle []*serveWorker
	if p.serving == 0 {
		idle, p.idle = p.idle, nil
	}
	p.mu.Unlock()
	for _, w := range idle {
		w.ch <- serveJob{}
	}
}

// dispatch has s, a stream of l counted in l.inFlight, served by a waiting
// goroutine or a new one.
func (p *servePool) dispatch(l *listener, s *stream) {
	j := serveJob{l: l, s: s}
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.ch <- j
		return
	}
	p.mu.Unlock()
	go p.work(j)
}

// work serves j, then whatever it is handed, until it is told to exit or
// finds maxIdleServers waiting.
func (p *servePool) work(j serveJob) {
	var w *serveWorker
	for {
		j.run()
		p.mu.Lock()
		if p.serving == 0 || len(p.idle) >= maxIdleServers {
			p.mu.Unlock()
			return
		}
		if w == nil {
			w = &serveWorker{ch: make(chan serveJob, 1)}
		}
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		if j = <-w.ch; j.l == nil {
			return
		}
	}
}

// run calls the listener's handle with the stream, unless its connection
// ended while it waited (nobody is left to talk to).
func (j serveJob) run() {
	defer j.l.inFlight.Done()
	if j.s.conn.broken.Load() {
		return
	}
	j.l.handle(transport.Socket(&j.s.socks.server))
}
