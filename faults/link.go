package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/transport"
)

// Direction says which messages of a link a fault acts on.
type Direction int

// Directions. A request is a message sent by the side that dialled the
// connection (the client); a reply one sent by the side that accepted it.
const (
	Both Direction = iota
	Requests
	Replies
)

func (d Direction) String() string {
	switch d {
	case Both:
		return "both"
	case Requests:
		return "requests"
	case Replies:
		return "replies"
	}
	return fmt.Sprintf("direction(%d)", int(d))
}

// PartitionMode is how a partition cuts a link.
type PartitionMode int

// Partition modes.
const (
	// BlackHole drops every message silently (the peer waits until its
	// deadline) and makes dials hang until the partition heals or their
	// ctx ends.
	BlackHole PartitionMode = iota
	// Refuse refuses dials (transport.ErrRefused) and resets connections
	// that carry a message across it (transport.ErrReset), as a firewall
	// that answers with RST does.
	Refuse
)

func (m PartitionMode) String() string {
	switch m {
	case BlackHole:
		return "blackhole"
	case Refuse:
		return "refuse"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// LinkFault acts on the messages sent from the nodes of From to the nodes
// of To (with Bidirectional, also from To to From). It is applied by the
// transport that WrapTransport returns, on the side that dialled the
// connection, which sees both directions of its streams and knows the
// address it dialled; see WrapTransport.
//
// Latency, Loss, Hold, Bandwidth and the resets combine; a Partition
// stands alone.
type LinkFault struct {
	From, To Target
	// Bidirectional also applies the fault to messages from To to From.
	Bidirectional bool
	// Direction limits the fault to requests or replies (default both).
	Direction Direction

	// Latency delays each message by a draw; a stream's messages still
	// arrive in the order they were sent.
	Latency Dist
	// Loss drops each message with this probability; the peer waits until
	// its deadline.
	Loss float64
	// LossBurst makes loss bursty: the mean length of a run of lost
	// messages (a Gilbert-Elliott channel whose bad state loses everything
	// and whose good state loses nothing, with the long-run loss rate
	// Loss). 0 or 1: independent losses.
	LossBurst float64
	// Partition drops (BlackHole) or refuses (Refuse) everything.
	Partition bool
	Mode      PartitionMode
	// Hold queues every message until the fault stops, then delivers them
	// in order.
	Hold bool
	// Bandwidth caps the link at this many bytes per second: a message
	// takes Size/Bandwidth to cross, after the messages before it on the
	// same link (from one node to another).
	Bandwidth int64
	// ResetAfterMessages resets a connection when this many messages have
	// crossed it since it was dialled or the fault started (the next one
	// resets it instead of crossing).
	ResetAfterMessages int
	// ResetAfterBytes does the same after this many bytes (message sizes).
	ResetAfterBytes int64
}

func (LinkFault) kind() string { return "link" }

func (l LinkFault) validate(c *check, nodes map[string]NodeInfo) {
	l.From.validate(c, "from", nodes)
	l.To.validate(c, "to", nodes)
	if l.Direction < Both || l.Direction > Replies {
		c.failf("direction", "unknown direction %d", int(l.Direction))
	}
	if l.Mode < BlackHole || l.Mode > Refuse {
		c.failf("mode", "unknown partition mode %d", int(l.Mode))
	}
	l.Latency.validate(c, "latency")
	c.prob("loss", l.Loss)
	switch {
	case l.LossBurst < 0 || (l.LossBurst > 0 && l.LossBurst < 1):
		c.failf("lossBurst", "must be 0 or >= 1 (a mean run length), got %v", l.LossBurst)
	case l.LossBurst > 1 && l.Loss > 0 && l.Loss < 1 && l.LossBurst < l.Loss/(1-l.Loss):
		c.failf("lossBurst", "must be >= loss/(1-loss) = %.3g for loss %v, got %v", l.Loss/(1-l.Loss), l.Loss, l.LossBurst)
	}
	if l.Bandwidth < 0 {
		c.failf("bandwidth", "must be >= 0 bytes/s, got %d", l.Bandwidth)
	}
	if l.ResetAfterMessages < 0 {
		c.failf("resetAfterMessages", "must be >= 0, got %d", l.ResetAfterMessages)
	}
	if l.ResetAfterBytes < 0 {
		c.failf("resetAfterBytes", "must be >= 0, got %d", l.ResetAfterBytes)
	}
	others := !l.Latency.IsZero() || l.Loss > 0 || l.Hold || l.Bandwidth > 0 || l.ResetAfterMessages > 0 || l.ResetAfterBytes > 0
	switch {
	case l.Partition && others:
		c.failf("partition", "a partition cuts everything; it cannot be combined with latency, loss, hold, bandwidth or resets")
	case !l.Partition && !others:
		c.failf("", "no effect: set latency, loss, partition, hold, bandwidth or a reset")
	}
}

func (l LinkFault) build(f *Fault) behaviour {
	return &linkFault{f: f, spec: l, links: make(map[string]*linkStream)}
}

// linkFault is a LinkFault's behaviour: its persistent per-link state and
// its current run.
type linkFault struct {
	f    *Fault
	spec LinkFault
	// links is the state of each link (from>to); guarded by f.mu.
	links map[string]*linkStream
	run   *linkRun // guarded by f.mu; nil when stopped
}

// linkStream is one link's state.
type linkStream struct {
	rng    *rand.Rand
	bad    bool      // Gilbert-Elliott state
	freeAt time.Time // bandwidth: when the link is free again
}

// linkRun is one activation of a link fault.
type linkRun struct {
	lf       *linkFault
	from, to nodeSet
	release  chan struct{} // Hold: closed when the fault stops
	once     sync.Once
}

func (l *linkFault) start(_ context.Context, nodes map[string]NodeInfo) ([]string, error) {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	r := &linkRun{lf: l, release: make(chan struct{})}
	r.from = l.spec.From.resolve(nodes, l.f.rng)
	r.to = l.spec.To.resolve(nodes, l.f.rng)
	l.run = r
	targets := []string{"from=" + joinNames(r.from.names()), "to=" + joinNames(r.to.names())}
	return targets, nil
}

func (l *linkFault) stop(context.Context) error {
	l.release()
	return nil
}

func (l *linkFault) release() {
	l.f.mu.Lock()
	r := l.run
	l.run = nil
	l.f.mu.Unlock()
	if r != nil {
		r.once.Do(func() { close(r.release) })
	}
}

func (l *linkFault) register(a *activeSet) {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	if l.run != nil {
		a.links = append(a.links, l.run)
	}
}

// matches reports whether the run acts on a message from -> to of kind dir.
func (r *linkRun) matches(from, to string, dir Direction) bool {
	s := &r.lf.spec
	if s.Direction != Both && s.Direction != dir {
		return false
	}
	return (r.from.has(from) && r.to.has(to)) || (s.Bidirectional && r.from.has(to) && r.to.has(from))
}

// decision is what one fault decided for one message.
type decision struct {
	action string // "" when it did nothing
	delay  time.Duration
	reset  error
	gate   <-chan struct{}
}

// decide draws the fault's decision for a message of size bytes from ->
// to on connection c (nil when there is none yet).
func (r *linkRun) decide(now time.Time, from, to string, size int, c *clientConn) decision {
	f, s := r.lf.f, &r.lf.spec
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seenLocked()
	var d decision
	if s.Partition {
		if s.Mode == Refuse {
			d.action, d.reset = "reset", fmt.Errorf("faults: link fault %q (partition) reset the connection: %w", f.name, transport.ErrReset)
		} else {
			d.action = "dropped"
		}
		f.actedLocked(d.action)
		return d
	}
	key := from + ">" + to
	ls := r.lf.links[key]
	if ls == nil {
		ls = &linkStream{rng: f.streamLocked("link:" + key)}
		r.lf.links[key] = ls
	}
	dropped := false
	if s.Loss > 0 {
		if s.LossBurst > 1 && s.Loss < 1 {
			// Gilbert-Elliott: leave the bad state with probability 1/burst,
			// enter it with the probability that keeps the loss rate.
			leave := 1 / s.LossBurst
			enter := s.Loss * leave / (1 - s.Loss)
			u := ls.rng.Float64()
			if ls.bad {
				ls.bad = u >= leave
			} else {
				ls.bad = u < enter
			}
			dropped = ls.bad
		} else {
			dropped = ls.rng.Float64() < s.Loss
		}
	}
	if !s.Latency.IsZero() {
		d.delay += s.Latency.Sample(ls.rng)
	}
	if s.Bandwidth > 0 {
		start := ls.freeAt
		if start.Before(now) {
			start = now
		}
		ls.freeAt = start.Add(time.Duration(float64(size) * float64(time.Second) / float64(s.Bandwidth)))
		d.delay += ls.freeAt.Sub(now)
	}
	if c != nil && (s.ResetAfterMessages > 0 || s.ResetAfterBytes > 0) {
		d.reset = c.countForReset(r, size)
	}
	if s.Hold {
		d.gate = r.release
	}
	switch {
	case d.reset != nil:
		d.action = "reset"
	case dropped:
		d.action = "dropped"
	case d.gate != nil:
		d.action = "held"
	case d.delay > 0:
		d.action = "delayed"
	}
	if d.action != "" {
		f.actedLocked(d.action)
	}
	return d
}

// verdict is the combined decision of every fault for one message.
type verdict struct {
	drop  bool
	reset error
	delay time.Duration
	gates []<-chan struct{}
}

// pass reports whether the message goes through untouched.
func (v verdict) pass() bool { return !v.drop && v.reset == nil && v.delay == 0 && len(v.gates) == 0 }

// judgeLink asks every link fault in effect about a message m from -> to
// of kind dir on connection c. Every matching fault draws its decision,
// whatever the others decide, so that no fault changes another's draws.
func (inj *Injector) judgeLink(from, to string, dir Direction, m *transport.Message, c *clientConn) verdict {
	var v verdict
	a := inj.active.Load()
	if len(a.links) == 0 {
		return v
	}
	now := time.Now()
	size := m.Size()
	for _, r := range a.links {
		if !r.matches(from, to, dir) {
			continue
		}
		d := r.decide(now, from, to, size, c)
		switch d.action {
		case "":
			continue
		case "reset":
			if v.reset == nil {
				v.reset = d.reset
			}
		case "dropped":
			v.drop = true
		}
		v.delay += d.delay
		if d.gate != nil {
			v.gates = append(v.gates, d.gate)
		}
		r.lf.f.report(Touch{Action: d.action, At: now, From: from, To: to, Delay: d.delay, Message: m})
	}
	return v
}

// judgeDial asks the partitions in effect about a dial from -> to: the
// handshake needs both the request path and the reply path. It returns the
// refusing fault's error, or whether a black hole swallows the dial; count
// says whether to count a black hole (once per dial, not per re-check).
func (inj *Injector) judgeDial(from, to string, count bool) (refused error, blackHole bool) {
	for _, r := range inj.active.Load().links {
		s := &r.lf.spec
		if !s.Partition || !(r.matches(from, to, Requests) || r.matches(to, from, Replies)) {
			continue
		}
		if s.Mode == Refuse {
			r.lf.f.act(Touch{Action: "refused", From: from, To: to})
			if refused == nil {
				refused = fmt.Errorf("faults: link fault %q (partition) refused the connection from %s to %s: %w", r.lf.f.name, from, to, transport.ErrRefused)
			}
			continue
		}
		if count {
			r.lf.f.act(Touch{Action: "dropped", From: from, To: to})
		}
		blackHole = true
	}
	return refused, blackHole
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ","
		}
		out += n
	}
	return out
}
