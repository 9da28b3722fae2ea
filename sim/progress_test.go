package sim_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim"
)

// fakeTerminal is a one-line terminal: it interprets carriage return and
// "erase to end of line" (ESC [ K) as a terminal does and keeps what the
// line shows, and how many times it was written to.
type fakeTerminal struct {
	mu     sync.Mutex
	line   []rune
	col    int
	writes int
	raw    strings.Builder
}

func (f *fakeTerminal) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	f.raw.Write(p)
	s := []rune(string(p))
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\r':
			f.col = 0
		case s[i] == '\n':
			panic("a progress bar never ends its line")
		case s[i] == 0x1b && i+2 < len(s) && s[i+1] == '[' && s[i+2] == 'K':
			f.line = f.line[:f.col]
			i += 2
		default:
			if f.col < len(f.line) {
				f.line[f.col] = s[i]
			} else {
				f.line = append(f.line, s[i])
			}
			f.col++
		}
	}
	return len(p), nil
}

// screen is what the line shows.
func (f *fakeTerminal) screen() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return string(f.line)
}

func (f *fakeTerminal) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

func TestProgressBarRender(t *testing.T) {
	bar := &sim.ProgressBar{Label: "steady-state", Width: 80}
	line := bar.Render(sim.ProgressState{Done: 30 * time.Second, Total: 60 * time.Second, Calls: 1234567, Runs: 1, Started: 1})
	// The bar takes what the figures leave of the line: 20 cells here, 10
	// done, the head, 9 to go.
	cells := func(done, n int) string {
		return "[" + strings.Repeat("=", done) + ">" + strings.Repeat(" ", n-done-1) + "]"
	}
	assert.Equal(t, cells(10, 20)+"  50%  30.0s/60.0s virtual  1,234,567 calls  steady-state", line)
	assert.LessOrEqual(t, len(line), 79, "never wraps")

	// A sweep: runs not started yet count as long as the average.
	s := sim.ProgressState{Done: 15 * time.Second, Total: 20 * time.Second, Calls: 10, Runs: 4, Started: 2, Finished: 1}
	assert.InDelta(t, 15.0/40, s.Fraction(), 1e-9)
	line = (&sim.ProgressBar{Width: 120}).Render(s)
	assert.Equal(t, cells(15, 40)+"  38%  15.0s/20.0s virtual  10 calls  runs 1/4", line)

	// Nothing started: 0%; a narrow terminal still gets a 10-cell bar.
	line = (&sim.ProgressBar{Width: 40}).Render(sim.ProgressState{})
	assert.Equal(t, "[>         ]   0%  0.0s/0.0s virtual  0", line)
	assert.Len(t, line, 39)
}

// TestProgressBarRun: the bar stays silent for the first second, then
// redraws the line in place as the progress moves, and erases it at the
// end. Time is the bubble's, so the test does not wait.
func TestProgressBarRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		term := &fakeTerminal{}
		p := &sim.Progress{}
		bar := &sim.ProgressBar{Out: term, Label: "x", Width: 100}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			bar.Run(ctx, p)
		}()
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		assert.Zero(t, term.count(), "silent during the first second")

		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		assert.True(t, strings.HasPrefix(term.screen(), "[>"), term.screen())
		assert.Contains(t, term.screen(), "  0%  0.0s/0.0s virtual  0 calls  x")
		writes := term.count()

		time.Sleep(300 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, writes, term.count(), "an unchanged line is not redrawn")

		// The bar is redrawn within a tick of a change.
		p.ExpectRuns(1)
		setProgress(t, p, 45*time.Second, 60*time.Second, 4321)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, "["+strings.Repeat("=", 30)+">"+strings.Repeat(" ", 9)+"]  75%  45.0s/60.0s virtual  4,321 calls  x", term.screen())

		cancel()
		<-done
		assert.Empty(t, term.screen(), "the bar is erased at the end")
		assert.True(t, strings.HasSuffix(term.raw.String(), "\r\x1b[K"))
	})
}

// TestProgressBarShortRun: a run that ends within the delay prints
// nothing at all.
func TestProgressBarShortRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		term := &fakeTerminal{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			(&sim.ProgressBar{Out: term}).Run(ctx, &sim.Progress{})
		}()
		time.Sleep(500 * time.Millisecond)
		cancel()
		<-done
		assert.Zero(t, term.count())
	})
}

// setProgress sets p as a run would have published it (the engine is its
// only writer; TestRunPublishesProgress checks what a run publishes).
func setProgress(t *testing.T, p *sim.Progress, done, total time.Duration, calls uint64) {
	t.Helper()
	sim.SetProgressForTest(p, done, total, calls)
}

// TestRunPublishesProgress: a run publishes its virtual time and calls;
// at the end the progress is complete and matches the report.
func TestRunPublishesProgress(t *testing.T) {
	p := &sim.Progress{}
	rep, err := sim.RunWith(sim.TestRunner(t), crashScenario(), sim.WithProgress(p))
	require.NoError(t, err)
	s := p.Snapshot()
	assert.Equal(t, 20*time.Second, s.Total)
	assert.Equal(t, 20*time.Second, s.Done)
	assert.Equal(t, rep.Totals.Calls, s.Calls)
	assert.Equal(t, uint64(2000), s.Calls)
	assert.Equal(t, 1, s.Started)
	assert.Equal(t, 1, s.Finished)
	assert.InDelta(t, 1.0, s.Fraction(), 1e-12)
}
