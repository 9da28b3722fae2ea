package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/sim/scenario"
)

// Streams: a stream endpoint answers each message of a bidirectional
// stream after its latency; a stream workload opens streams at its rate
// (or from its workers) and exchanges Messages messages on each, one
// every Interval, each waiting for its answer. A stream is a "call" of the
// workload's series (its latency is the whole stream's, and it succeeds
// when every message was answered and the stream ended cleanly); a stream
// that breaks on the way (a crash, a reset) is interrupted and counted.

// streamHandler is the handler of stream endpoint k: an echo that
// behaves like the endpoint for each message.
func (in *instance) streamHandler(k int) func(ctx context.Context, st server.Stream) error {
	b := &in.eps[k]
	return func(ctx context.Context, st server.Stream) error {
		for {
			var msg []byte
			if err := st.Recv(&msg); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			var seq uint64
			if len(msg) >= 8 {
				seq = binary.LittleEndian.Uint64(msg)
			}
			if err := in.serve(ctx, b, seq, 0); err != nil {
				return err
			}
			if err := st.Send(msg); err != nil {
				return err
			}
		}
	}
}

// stream runs one stream of a stream workload and returns its error (nil
// when it completed) and how many messages were answered.
func (w *world) stream(ctx context.Context, wl *workload, k int, seq uint64) (err error) {
	spec := wl.spec.Stream
	st, err := wl.cli.cli.Stream(ctx, wl.spec.Service, wl.eps[k], wl.opts...)
	if err != nil {
		w.metrics.streamEnded(wl.msgStream, false, err)
		return err
	}
	defer func() { w.metrics.streamEnded(wl.msgStream, true, err) }()
	defer st.Close()
	var body [8]byte
	for i := range spec.Messages {
		binary.LittleEndian.PutUint64(body[:], mix64(seq^uint64(i+1)))
		start := time.Now()
		if err := st.Send(body[:]); err != nil {
			return err
		}
		var rsp []byte
		if err := st.Recv(&rsp); err != nil {
			return err
		}
		w.metrics.message(wl.msgStream, time.Since(start))
		if d := spec.Interval.Std(); d > 0 && i < spec.Messages-1 && !sleepFor(ctx, d) {
			return ctx.Err()
		}
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	var rsp []byte
	if err := st.Recv(&rsp); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("sim: the stream answered more than it was sent")
		}
		return err
	}
	return nil
}

// streamStats are one stream workload's streams and messages.
type streamStats struct {
	workload                       string
	opened, completed, interrupted uint64
	openFailures, messages         uint64
	msgHist                        *hdr.Histogram
}

// addStreams registers a stream workload's stats and returns their id.
func (m *metrics) addStreams(workload string) int {
	m.streams = append(m.streams, &streamStats{workload: workload, msgHist: hdr.New(1, m.highest, histDigits)})
	return len(m.streams) - 1
}

// message records one answered message of stream workload id.
func (m *metrics) message(id int, latency time.Duration) {
	us := m.micros(latency)
	m.mu.Lock()
	s := m.streams[id]
	s.messages++
	_ = s.msgHist.RecordValue(us)
	m.mu.Unlock()
}

// streamEnded records how a stream of workload id ended: opened says it
// was open, err nil that it completed.
func (m *metrics) streamEnded(id int, opened bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[id]
	switch {
	case !opened:
		s.openFailures++
	case err == nil:
		s.opened++
		s.completed++
	default:
		s.opened++
		s.interrupted++
	}
}

// StreamReport is what one stream workload's streams did.
type StreamReport struct {
	Workload string `json:"workload"`
	// Opened streams either Completed or were Interrupted; OpenFailures
	// never opened.
	Opened       uint64 `json:"opened"`
	Completed    uint64 `json:"completed"`
	Interrupted  uint64 `json:"interrupted"`
	OpenFailures uint64 `json:"open_failures"`
	// Messages answered, and their latency (send to answer).
	Messages       uint64    `json:"messages"`
	MessageLatency Latencies `json:"message_latency"`
}

func (w *world) streamReports() []StreamReport {
	out := []StreamReport{}
	for _, s := range w.metrics.streams {
		out = append(out, StreamReport{Workload: s.workload, Opened: s.opened, Completed: s.completed,
			Interrupted: s.interrupted, OpenFailures: s.openFailures, Messages: s.messages, MessageLatency: latencies(s.msgHist)})
	}
	return out
}

// checkStream evaluates a stream assertion over the whole run.
func (w *world) checkStream(c *scenario.StreamCheck) AssertionResult {
	r := AssertionResult{Name: "streams of " + c.Workload}
	var s *streamStats
	for _, x := range w.metrics.streams {
		if x.workload == c.Workload {
			s = x
		}
	}
	total := uint64(0)
	if s != nil {
		total = s.opened + s.openFailures
	}
	if total == 0 {
		r.Observed, r.Detail = "no streams", "workload "+c.Workload+" opened no stream (is it a stream workload?)"
		return r
	}
	b := checks{r: &r}
	if c.MinCompleted != nil {
		got := float64(s.completed) / float64(total)
		b.add(got, "ratio", pct(got)+" completed", ">= "+pct(*c.MinCompleted)+" completed", got >= *c.MinCompleted)
	}
	if c.MaxInterrupted != nil {
		b.add(float64(s.interrupted), "count", fmt.Sprintf("%d interrupted", s.interrupted),
			fmt.Sprintf("<= %d interrupted", *c.MaxInterrupted), int64(s.interrupted) <= *c.MaxInterrupted)
	}
	if c.Percentile != 0 {
		p := percentile(s.msgHist, c.Percentile)
		b.add(msOf(p), "ms", fmt.Sprintf("message p%g %s", c.Percentile, ms(p)),
			fmt.Sprintf("message p%g <= %v", c.Percentile, c.MaxMessageLatency), p <= c.MaxMessageLatency.Std())
	}
	b.done(fmt.Sprintf("%d streams: %d completed, %d interrupted, %d never opened; %d messages",
		total, s.completed, s.interrupted, s.openFailures, s.messages))
	return r
}

// writeStreamText writes the streams for a person (nothing without).
func (r *Report) writeStreamText(b *strings.Builder) {
	if len(r.Streams) == 0 {
		return
	}
	b.WriteString("\nStreams\n")
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  workload\topened\tcompleted\tinterrupted\tnot opened\tmessages\tmsg p50\tmsg p99\t")
	for _, s := range r.Streams {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t%.2fms\t%.2fms\t\n", s.Workload, s.Opened, s.Completed, s.Interrupted,
			s.OpenFailures, s.Messages, s.MessageLatency.P50, s.MessageLatency.P99)
	}
	_ = tw.Flush()
}
