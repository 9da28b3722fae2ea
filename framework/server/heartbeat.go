package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/internal/tickq"
)

// Heartbeater runs the heartbeats of servers: it registers each server's
// node again every register interval, on the phase of the server's start.
// A server without WithHeartbeater has its own; servers that share one
// (WithHeartbeater), for example the many servers of a simulated world,
// share one timer, and the beats due at one instant run one after the
// other on one goroutine, whose stack stays grown, instead of each waking
// a goroutine of its own.
//
// A beat is bounded by its server's interval: the server's next tick ends
// a beat still running (a registry call that hangs, for example on a
// paused host) and its next beat starts as soon as the hung one returned.
// A beat that hangs does not hold up the beats due after it: a watchdog
// starts another goroutine for them when the one running beats makes no
// progress. In a testing/synctest bubble it does so as soon as every
// goroutine of the bubble waits (1ns of virtual time after the beat that
// hangs began), in real time after at most ~0.5ms.
//
// A server whose registry can renew its node by itself
// (registry.Standing, as the in-memory registry does while the host runs)
// hands its renewals over after a beat succeeded, and beats no more until
// the registry gives them back: a world of many idle instances then costs
// nothing per interval.
//
// A Heartbeater holds no goroutine while no beat runs; it needs no
// closing. It serves servers of one synctest bubble (or of none).
type Heartbeater struct {
	mu sync.Mutex

	// sched holds the running servers' heartbeats, and removed ones'
	// until they come up, by their next tick (in nanoseconds since epoch),
	// then by their order of adding. The servers of a world start at one
	// instant and share their ticks: a tickq.Queue takes a beat and queues
	// it again in O(1), where a heap of 1,000 beats costs ~20 compares.
	sched tickq.Queue[*beats]

	renewals map[time.Duration][]registry.RegisterOption // a beat's options by TTL (renewal)

	live    int       // running servers' heartbeats in sched
	epoch   time.Time // the first add: the origin of sched's instants
	seq     uint64    // adds, to order the beats of one instant
	tick    *time.Timer
	tickAt  time.Time // when tick fires; zero when it is stopped
	due     []*beats  // beats to run, in order; due[head:] are pending
	head    int
	runners int    // goroutines running due beats
	started uint64 // beats started, the watchdog's measure of progress

	wd      *time.Timer
	wdArmed bool
	wdFirst bool      // the first check since the watchdog was armed
	wdAt    time.Time // when it was armed
	wdSeen  uint64    // started when it was armed
}

// NewHeartbeater returns a Heartbeater for WithHeartbeater.
func NewHeartbeater() *Heartbeater { return &Heartbeater{} }

// The watchdog's checks. The first, wdFirst, comes 1ns after the beats
// queued up behind a running one: a virtual clock (testing/synctest) only
// gets there once every goroutine of the bubble waits, so that the runner
// is blocked; a real clock gets there at once, and the runner is given
// wdReal between checks to start another beat.
const (
	wdFirst = time.Nanosecond
	wdReal  = 200 * time.Microsecond
)

// beats is one running server's heartbeat. Its fields but failing are
// guarded by the Heartbeater's mu. What a beat needs of its server is
// copied here: a beat comes once a second, when the server's data is out
// of the CPU's cache. It is 256 bytes, a size class whose objects start
// on a cache line, so that its first 128 bytes are two lines.
type beats struct {
	beatsState
	_ [256 - unsafe.Sizeof(beatsState{})]byte
}

// beatsState is the state of a beats.
type beatsState struct {
	// What every beat reads and writes comes first, in two cache lines
	// (TestBeatsHotFields): the schedule, the registration, and the
	// fields of the beat's ctx that a beat touches (own, the ctx of the
	// beats as long as none was cancelled).
	next     time.Time // the next tick
	interval time.Duration
	stopped  bool
	queued   bool // in h.due
	running  bool // a beat is in Register
	late     bool // a tick came while a beat ran: another beat follows it at once
	failing  bool // the last beat failed; touched by the beat running only
	standing bool // the registry makes the renewals (stand, past the hot lines); no beat runs
	canStand bool // reg is a registry.Standing and the TTL longer than the interval
	insched  bool // in h.sched
	reg      registry.Registry
	svc      *registry.Service
	ttl      []registry.RegisterOption // the TTL and Renewal, shared by the Heartbeater's servers of a TTL
	idle     chan struct{}             // set by stop while a beat runs; closed when it returns
	own      beatCtx                   // the beats' ctx until it is cancelled

	later *beatCtx // once own was cancelled, the ctx of the beats (current); reused until it is cancelled
	h     *Heartbeater
	s     *server
	r     *running

	seq   uint64         // the order of the beats among those of one instant
	stand registry.Stand // the registry's hold of the renewals, while standing
}

// startHeartbeat schedules r's heartbeat: the node is registered again
// every register interval until Stop (stopHeartbeat), on the server's
// Heartbeater or one of its own. Failures are logged and the next beat
// tries again. No goroutine waits for the server's end: Stop removes the
// heartbeat, and so does serveLoop when the listener failed on its own
// (listenerFailed).
func (s *server) startHeartbeat(r *running) {
	h := s.opts.heartbeater
	if h == nil {
		h = NewHeartbeater()
	}
	r.beats = h.add(s, r)
}

// stopHeartbeat removes r's heartbeat; once it returns no beat runs and
// none will.
func (s *server) stopHeartbeat(r *running) {
	r.beats.h.remove(r.beats)
}

// listenerFailed ends the heartbeat of a server whose listener failed on
// its own (not by Stop): the node can no longer serve, so it is
// deregistered once, within an interval (or until Stop). It closes
// r.hbDone, for Stop to wait for it.
func (s *server) listenerFailed(r *running) {
	defer close(r.hbDone)
	s.stopHeartbeat(r)
	dctx, dcancel := context.WithTimeout(r.hbCtx, s.opts.interval)
	err := s.reg.Deregister(dctx, r.svc)
	dcancel()
	s.opts.log.Warn("server: listener failed; node deregistered", "service", s.name, "node", r.svc.Nodes[0].ID, "err", err)
}

// add schedules the heartbeat of a started server: its first beat one
// interval from now.
func (h *Heartbeater) add(s *server, r *running) *beats {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	b := &beats{beatsState: beatsState{h: h, s: s, r: r, reg: s.reg, svc: r.svc, interval: s.opts.interval,
		ttl: h.renewal(s.opts.ttl), next: time.Now().Add(s.opts.interval), own: beatCtx{Context: r.hbCtx},
		seq: h.seq, insched: true}}
	_, standing := s.reg.(registry.Standing)
	b.canStand = standing && s.opts.ttl > s.opts.interval
	if h.epoch.IsZero() {
		h.epoch = b.next
	}
	h.live++
	h.sched.Push(h.at(b.next), b.seq, b)
	h.armTick()
	return b
}

// renewal returns the options of a beat of TTL ttl: the servers of a TTL
// share them, so that a beat reads no options of its own server's. Called
// under h.mu.
func (h *Heartbeater) renewal(ttl time.Duration) []registry.RegisterOption {
	opts, ok := h.renewals[ttl]
	if !ok {
		if h.renewals == nil {
			h.renewals = make(map[time.Duration][]registry.RegisterOption)
		}
		opts = []registry.RegisterOption{registry.WithTTL(ttl), registry.Renewal()}
		h.renewals[ttl] = opts
	}
	return opts
}

// at is t on the scale of sched's instants: nanoseconds since epoch.
func (h *Heartbeater) at(t time.Time) int64 { return int64(t.Sub(h.epoch)) }

// remove stops b's heartbeat: it cancels the beat running, if any, and
// waits for it. From its return no beat of b runs. Its entry in h.sched is
// dropped when it comes up (within an interval), or at once when no
// heartbeat is left, which stops the timer.
func (h *Heartbeater) remove(b *beats) {
	h.mu.Lock()
	b.stopped = true
	stand := b.stand // nil unless standing
	b.standing, b.stand = false, nil
	if h.live--; h.live == 0 {
		h.sched.Clear()
		h.armTick()
	}
	var idle chan struct{}
	if b.running {
		b.current().cancel(context.Canceled)
		idle = make(chan struct{})
		b.idle = idle
	}
	h.mu.Unlock()
	if stand != nil {
		stand.Stop() // the node expires a TTL after the last tick held
	}
	if idle != nil {
		<-idle
	}
}

// armTick sets the timer to the earliest tick, or stops it when no
// heartbeat is scheduled. Called under h.mu.
func (h *Heartbeater) armTick() {
	first, ok := h.sched.First()
	if !ok {
		if h.tick != nil && !h.tickAt.IsZero() {
			h.tick.Stop()
			h.tickAt = time.Time{}
		}
		return
	}
	at := first.V.next
	if at.Equal(h.tickAt) {
		return
	}
	h.tickAt = at
	d := time.Until(at)
	if h.tick == nil {
		h.tick = time.AfterFunc(d, h.onTick)
	} else {
		h.tick.Reset(d)
	}
}

// onTick is the timer's function: it queues the beats now due, ends the
// beats still running from the tick before, and runs the queue.
func (h *Heartbeater) onTick() {
	h.mu.Lock()
	now := time.Now()
	for {
		first, ok := h.sched.First()
		if !ok || first.V.next.After(now) {
			break
		}
		h.sched.Pop()
		b := first.V
		if b.stopped {
			continue
		}
		if b.standing {
			b.insched = false // the registry renews it; back when that breaks
			continue
		}
		// Like a Ticker, the phase is kept and ticks missed are dropped.
		for !b.next.After(now) {
			b.next = b.next.Add(b.interval)
		}
		h.sched.Push(h.at(b.next), first.Seq, b)
		switch {
		case b.running:
			// Its beat's bound (this tick) has come.
			b.current().cancel(context.DeadlineExceeded)
			b.late = true
		case !b.queued:
			b.queued = true
			h.due = append(h.due, b)
		}
	}
	h.tickAt = time.Time{}
	h.armTick()
	if h.head == len(h.due) {
		h.mu.Unlock()
		return
	}
	// The timer's goroutine runs the queue, even if another goroutine
	// does: that one may be blocked.
	h.runners++
	h.runLocked()
}

// runLocked runs the queued beats until none is left; it is called under
// h.mu, with h.runners counting the caller, and unlocks it.
func (h *Heartbeater) runLocked() {
	for h.head < len(h.due) {
		b := h.due[h.head]
		h.due[h.head] = nil
		h.head++
		b.queued = false
		if b.stopped {
			continue
		}
		if h.head < len(h.due) {
			h.armWatchdog()
		}
		b.running = true
		var ok bool
		for {
			h.started++
			c := b.beatCtx()
			h.mu.Unlock()
			ok = b.beat(c)
			h.mu.Lock()
			if !b.late || b.stopped {
				break
			}
			b.late = false
		}
		b.running = false
		if b.idle != nil {
			close(b.idle)
			b.idle = nil
		}
		if ok && b.canStand && !b.stopped {
			h.standLocked(b)
		}
	}
	h.due, h.head = h.due[:0], 0
	h.runners--
	if h.wdArmed {
		h.wd.Stop()
		h.wdArmed = false
	}
	h.mu.Unlock()
}

// armWatchdog makes sure that the beats queued run even if the goroutines
// running beats are blocked. Called under h.mu.
func (h *Heartbeater) armWatchdog() {
	if h.wdArmed {
		return
	}
	h.wdArmed, h.wdFirst = true, true
	h.wdAt, h.wdSeen = time.Now(), h.started
	if h.wd == nil {
		h.wd = time.AfterFunc(wdFirst, h.onWatchdog)
	} else {
		h.wd.Reset(wdFirst)
	}
}

// onWatchdog is the watchdog timer's function: while beats are queued, it
// starts a goroutine to run them when the runners are blocked.
func (h *Heartbeater) onWatchdog() {
	h.mu.Lock()
	if !h.wdArmed || h.head == len(h.due) {
		h.mu.Unlock()
		return
	}
	first := h.wdFirst
	// A virtual clock reaches exactly wdFirst only once the bubble's
	// goroutines all wait.
	virtual := first && time.Since(h.wdAt) == wdFirst
	if !virtual && (first || h.started != h.wdSeen) {
		// Real time: the runners are given wdReal to make progress.
		h.wdFirst, h.wdSeen = false, h.started
		h.wd.Reset(wdReal)
		h.mu.Unlock()
		return
	}
	h.wdArmed = false
	h.runners++
	h.runLocked()
}

// beatCtx returns the ctx of b's next beat, ending at the next tick: the
// previous beat's unless it was cancelled. Called under h.mu.
func (b *beats) beatCtx() *beatCtx {
	c := b.current()
	if c.Err() != nil {
		c = &beatCtx{Context: b.r.hbCtx}
		b.later = c
	}
	c.deadline = b.next
	return c
}

// current returns the ctx of b's beats: own until it was cancelled, then
// the latest made. Called under h.mu.
func (b *beats) current() *beatCtx {
	if b.own.ended.Load() && b.later != nil {
		return b.later
	}
	return &b.own
}

// standLocked asks b's registry to hold its renewals from the tick of
// the beat that just succeeded, unless the next tick has come. Called
// under h.mu, with no beat of b running.
func (h *Heartbeater) standLocked(b *beats) {
	if !time.Now().Before(b.next) {
		return
	}
	if st, ok := b.reg.(registry.Standing).Stand(b.svc, b.next.Add(-b.interval), b.interval, b.s.opts.ttl, b); ok {
		b.standing, b.stand = true, st
	}
}

// StandBroken is called by b's registry when it no longer holds b's
// renewals (registry.StandHolder): b beats again from the tick after
// last, the last tick held. A hold breaks once, and b asks for another
// only after a beat, which only this call brings back.
func (b *beats) StandBroken(last time.Time) {
	h := b.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if b.stopped || !b.standing {
		return
	}
	b.standing, b.stand = false, nil
	if b.insched {
		return // its next tick, the one after last, has not come
	}
	b.next = last.Add(b.interval)
	b.insched = true
	h.sched.Push(h.at(b.next), b.seq, b)
	h.armTick()
}

// beat registers the node again, logs a failure, and the recovery after
// one, and reports whether it succeeded.
func (b *beats) beat(c *beatCtx) bool {
	err := b.reg.Register(c, b.svc, b.ttl...)
	if err == nil && !b.failing {
		return true // the server's fields, past the beats' first two lines, stay unread
	}
	s, r := b.s, b.r
	switch {
	case err != nil && r.hbCtx.Err() == nil:
		b.failing = true
		s.opts.log.Warn("server: heartbeat failed", "service", s.name, "node", r.svc.Nodes[0].ID, "err", err)
	case err == nil && b.failing:
		b.failing = false
		s.opts.log.Info("server: heartbeat recovered", "service", s.name, "node", r.svc.Nodes[0].ID)
	}
	return err == nil
}

// beatCtx is a beat's ctx: the heartbeat's values, the beat's deadline
// (the server's next tick), and done when the heartbeat cancels it (at
// that tick, or when the server stops). Unlike a context.WithTimeout per
// beat it needs no timer of its own and, as long as no beat overran, no
// allocation.
type beatCtx struct {
	// What every beat touches comes first.
	ended    atomic.Bool // err is set: Err, read on every beat, takes no lock until then
	deadline time.Time   // written under Heartbeater.mu between beats

	context.Context // the heartbeat's ctx, for its values

	mu   sync.Mutex
	done chan struct{} // made on demand
	err  error
}

func (c *beatCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *beatCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

func (c *beatCtx) Err() error {
	if !c.ended.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// cancel ends the ctx with err unless it has ended.
func (c *beatCtx) cancel(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	c.ended.Store(true)
	if c.done != nil {
		close(c.done)
	}
}
