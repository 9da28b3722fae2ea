package sim

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// Progress is the live state of one or more runs: virtual time done over
// virtual time to do, calls so far, runs finished. The engine updates it
// from inside the bubble once per metrics window; anything outside the
// bubble may read it at any time (a terminal progress bar). Several runs
// may share one Progress (a seed sweep): each adds its own share.
// The zero Progress is ready to use; its methods do not block.
type Progress struct {
	total    atomic.Int64 // virtual ns to do, over every run started
	done     atomic.Int64 // virtual ns done
	calls    atomic.Uint64
	runs     atomic.Int64 // runs expected (0: as many as started)
	started  atomic.Int64
	finished atomic.Int64
}

// ProgressState is a snapshot of a Progress.
type ProgressState struct {
	// Done and Total are virtual time, over every run started so far.
	Done, Total time.Duration
	// Calls is the number of calls finished so far.
	Calls uint64
	// Runs is the number of runs expected (at least Started); Finished
	// how many have ended.
	Runs, Started, Finished int
}

// ExpectRuns tells p how many runs will share it (a seed sweep), so that
// its fraction counts the runs not started yet.
func (p *Progress) ExpectRuns(n int) { p.runs.Store(int64(n)) }

// Snapshot reads p.
func (p *Progress) Snapshot() ProgressState {
	s := ProgressState{
		Done: time.Duration(p.done.Load()), Total: time.Duration(p.total.Load()), Calls: p.calls.Load(),
		Started: int(p.started.Load()), Finished: int(p.finished.Load()), Runs: int(p.runs.Load()),
	}
	s.Runs = max(s.Runs, s.Started)
	return s
}

// Fraction is the share of the work done, in [0, 1]: runs not started yet
// count as long as the average run started.
func (s ProgressState) Fraction() float64 {
	if s.Total <= 0 || s.Started == 0 {
		return 0
	}
	total := float64(s.Total) * float64(s.Runs) / float64(s.Started)
	return min(max(float64(s.Done)/total, 0), 1)
}

// WithProgress makes the run publish its progress into p.
func WithProgress(p *Progress) RunOption { return func(c *runConfig) { c.progress = p } }

// windowSampler wakes once per metrics window, just before the window ends, to
// read the clients' hedge counters (hedges per window, by when they were
// sent) and to publish progress. It only reads, so it does not change the
// run; it wakes 1ns before each window boundary, off the grids on which
// arrivals and timers commonly fall, so that what it reads does not
// depend on the order of goroutines woken at the same instant.
type windowSampler struct {
	w        *world
	t0       time.Time
	runLen   time.Duration
	progress *Progress
	cum      []uint64 // cumulative hedges at the end of each window
	done     time.Duration
	calls    uint64
}

func newWindowSampler(w *world, t0 time.Time, runLen time.Duration, p *Progress) *windowSampler {
	s := &windowSampler{w: w, t0: t0, runLen: runLen, progress: p}
	if p != nil {
		p.total.Add(int64(runLen))
		p.started.Add(1)
	}
	return s
}

// run samples until ctx ends (the end of the run).
func (s *windowSampler) run(ctx context.Context) {
	m := s.w.metrics
	for k := 1; k < m.nwin; k++ {
		if !sleepUntil(ctx, s.t0.Add(time.Duration(k)*m.window-time.Nanosecond)) {
			break
		}
		s.cum = append(s.cum, s.w.clientHedges())
		s.publish(min(time.Since(s.t0), s.runLen))
	}
	<-ctx.Done()
}

// publish adds what changed since the last call to the shared Progress.
func (s *windowSampler) publish(done time.Duration) {
	if s.progress == nil {
		return
	}
	calls := s.w.metrics.callsSoFar()
	s.progress.done.Add(int64(done - s.done))
	s.progress.calls.Add(calls - s.calls)
	s.done, s.calls = done, calls
}

// finish publishes the end of the run and fills in per-window hedges;
// total is the clients' final hedge count.
func (s *windowSampler) finish(r *Report, total uint64) {
	s.publish(s.runLen)
	if s.progress != nil {
		s.progress.finished.Add(1)
	}
	prev := uint64(0)
	for k := range r.Windows {
		cum := total
		if k < len(s.cum) && k < len(r.Windows)-1 {
			cum = min(s.cum[k], total)
		}
		wr := &r.Windows[k]
		wr.Hedges = cum - min(prev, cum)
		wr.Retries = retries(wr.Attempts, wr.Calls, wr.Hedges)
		prev = max(prev, cum)
	}
}

// callsSoFar is the number of calls recorded so far. It does not block.
func (m *metrics) callsSoFar() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n uint64
	for _, s := range m.series {
		n += s.calls
	}
	return n
}

// ProgressBar draws a Progress as one line on a terminal, redrawn in
// place: "[=====>      ]  42%  25.2s/60.0s virtual  12,345 calls".
type ProgressBar struct {
	// Out is the terminal (stderr).
	Out io.Writer
	// Label is shown after the figures (the scenario's name).
	Label string
	// Width is the terminal width in columns (default 80).
	Width int
	// Delay is how long a run goes before the bar appears (0: 1s), so
	// that short runs print nothing; negative draws at once. Every is the
	// redraw period (default 100ms).
	Delay, Every time.Duration
}

// Run draws p from Delay after it is called until ctx ends, then erases
// the bar (if it drew one) so that what follows starts on a clean line.
// It blocks until ctx ends.
func (b *ProgressBar) Run(ctx context.Context, p *Progress) {
	delay, every := b.Delay, b.Every
	if delay == 0 {
		delay = time.Second
	}
	if every <= 0 {
		every = 100 * time.Millisecond
	}
	if delay > 0 {
		wait := time.NewTimer(delay)
		defer wait.Stop()
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
		}
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	last := ""
	for {
		line := b.Render(p.Snapshot())
		if line != last {
			fmt.Fprintf(b.Out, "\r%s\x1b[K", line)
			last = line
		}
		select {
		case <-ctx.Done():
			fmt.Fprint(b.Out, "\r\x1b[K")
			return
		case <-tick.C:
		}
	}
}

// Render formats one state as the bar's line, at most Width-1 columns.
func (b *ProgressBar) Render(s ProgressState) string {
	width := b.Width
	if width <= 0 {
		width = 80
	}
	f := s.Fraction()
	figures := fmt.Sprintf(" %3.0f%%  %s/%s virtual  %s calls", 100*f, fmtSeconds(s.Done), fmtSeconds(s.Total), groupDigits(s.Calls))
	if s.Runs > 1 {
		figures += fmt.Sprintf("  runs %d/%d", s.Finished, s.Runs)
	}
	if b.Label != "" {
		figures += "  " + b.Label
	}
	barLen := min(max(width-1-len(figures)-2, 10), 40)
	filled := int(f * float64(barLen))
	bar := strings.Repeat("=", filled)
	if filled < barLen {
		bar += ">" + strings.Repeat(" ", barLen-filled-1)
	}
	line := "[" + bar + "]" + figures
	if len(line) > width-1 {
		line = line[:width-1]
	}
	return line
}

func fmtSeconds(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// groupDigits formats n with thousands separators: 1234567 -> "1,234,567".
func groupDigits(n uint64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
