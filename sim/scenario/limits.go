package scenario

import (
	"fmt"
	"math"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Limits on the whole world a scenario asks for. The per-field limits
// (instances of one service, windows, rate, workers of one workload) are
// checked with each field; these bound the sums, so that a file of valid
// fields cannot ask for more than one process can simulate. They are
// documented in scenarios/README.md ("Limits").
const (
	maxTotalInstances = 5_000
	maxClients        = 1_000
	maxWorkloads      = 1_000
	maxFaults         = 1_000
	maxAssertions     = 1_000
	maxTotalWorkers   = 100_000
	// maxParts bounds the endpoints of a service and the entries of a
	// workload's mix or ramp.
	maxParts       = 1_000
	maxOccurrences = 100_000
	maxCalls       = 10_000_000
	// maxMemory bounds the estimated memory of a run's world and metrics.
	maxMemory = 2 << 30
)

// Histogram precision of the engine's metrics: whole-run histograms keep
// HistogramDigits significant digits, per-window ones
// WindowHistogramDigits (1% error, ~20 KiB a window). The engine uses
// these; the memory estimate counts with them.
const (
	HistogramDigits       = 3
	WindowHistogramDigits = 2
)

// Figures of the memory estimate, measured on the engine: what one
// instance (server, registration, connections, goroutines) and one
// closed-loop worker hold besides their metrics, and what one window of
// one series or instance costs without its histogram.
const (
	instanceBytes  = 64 << 10
	workerBytes    = 16 << 10
	seriesWinBytes = 24
	instWinBytes   = 8
	endpointBytes  = 512 // one endpoint of one instance
	// callFloor is the least virtual time a call takes: a closed-loop
	// worker calling endpoints of latency 0 without think makes about
	// two million calls per virtual second.
	callFloor = 500 * time.Nanosecond
)

// worldSize is what a scenario asks for in total.
type worldSize struct {
	instances, workers, occurrences int64
	calls, memory                   float64
	windows                         int64
}

// limitsFirst checks the counts of the world before the sections are
// walked, so that no check loops over a count that is too large. It sets
// v.tooLarge when the world exceeds a limit; the one error that says so
// is added by limitsLast, with every figure.
func (v *validator) limitsFirst() {
	sc := v.sc
	n := int64(0)
	for _, s := range sc.Topology.Services {
		n += int64(min(max(s.Instances, 0), maxInstances+1))
	}
	v.size.instances = n
	if n > maxTotalInstances || len(sc.Clients) > maxClients || len(sc.Workloads) > maxWorkloads ||
		len(sc.Faults) > maxFaults || len(sc.Assertions) > maxAssertions || v.largestPart() > maxParts {
		v.tooLarge = true
	}
}

// largestPart is the most endpoints of a service or entries of a
// workload's mix or ramp.
func (v *validator) largestPart() int {
	most := 0
	for _, s := range v.sc.Topology.Services {
		most = max(most, len(s.Endpoints))
	}
	for _, w := range v.sc.Workloads {
		most = max(most, len(w.Mix), len(w.Ramp))
	}
	return most
}

// endpointIndex is svc's endpoints by name, with their latency, made once
// per service (nil for none).
func (v *validator) endpointIndex(svc *Service) map[string]Latency {
	if svc == nil {
		return nil
	}
	if v.eps == nil {
		v.eps = map[*Service]map[string]Latency{}
	}
	idx, ok := v.eps[svc]
	if !ok {
		idx = make(map[string]Latency, len(svc.Endpoints))
		for _, e := range svc.Endpoints {
			if _, dup := idx[e.Name]; !dup {
				idx[e.Name] = e.Latency
			}
		}
		v.eps[svc] = idx
	}
	return idx
}

// limitsLast estimates the run (calls, fault occurrences, memory) and
// reports every limit the world exceeds in one error.
func (v *validator) limitsLast() {
	sc := v.sc
	z := &v.size
	z.windows = windowCount(sc)
	if v.tooLarge {
		v.reportLimits()
		return
	}
	highest := longestCall(sc).Microseconds()
	hist3 := float64(hdr.New(1, max(highest, 1000), HistogramDigits).ByteSize())
	hist2 := float64(hdr.New(1, max(highest, 1000), WindowHistogramDigits).ByteSize())
	z.memory = float64(z.instances) * (instanceBytes + hist3 + float64(z.windows)*instWinBytes)
	for _, s := range sc.Topology.Services {
		z.memory += float64(min(max(s.Instances, 0), maxInstances)) * float64(len(s.Endpoints)) * endpointBytes
	}
	for i := range sc.Workloads {
		w := &sc.Workloads[i]
		span := workloadSpan(sc, w)
		series := float64(max(len(w.Mix), 1))
		active := math.Min(float64(z.windows), math.Ceil(float64(span)/float64(windowOf(sc)))+1)
		z.memory += series * (hist3 + float64(z.windows)*seriesWinBytes + active*hist2)
		workers := int64(min(max(w.Concurrency, 0), maxWorkers+1))
		z.workers += workers
		z.memory += float64(workers) * workerBytes
		z.calls += v.callsOf(w, span) * v.graphFactor(w)
	}
	for i := range sc.Faults {
		f := &sc.Faults[i]
		z.occurrences += occurrenceCount(f, sc.Duration.Std()) * v.targetBound(f)
	}
	v.reportLimits()
}

// reportLimits reports, in one error, every limit the world exceeds.
func (v *validator) reportLimits() {
	sc, z := v.sc, &v.size
	var over []string
	add := func(what string, got, limit any) {
		over = append(over, fmt.Sprintf("%s %v (at most %v)", what, got, limit))
	}
	if z.instances > maxTotalInstances {
		add("instances in total", z.instances, maxTotalInstances)
	}
	if len(sc.Clients) > maxClients {
		add("clients", len(sc.Clients), maxClients)
	}
	if len(sc.Workloads) > maxWorkloads {
		add("workloads", len(sc.Workloads), maxWorkloads)
	}
	if len(sc.Faults) > maxFaults {
		add("faults", len(sc.Faults), maxFaults)
	}
	if len(sc.Assertions) > maxAssertions {
		add("assertions", len(sc.Assertions), maxAssertions)
	}
	if n := v.largestPart(); n > maxParts {
		add("endpoints of a service, or entries of a mix or a ramp", n, maxParts)
	}
	if z.workers > maxTotalWorkers {
		add("closed-loop workers in total", z.workers, maxTotalWorkers)
	}
	if z.occurrences > maxOccurrences {
		add("fault occurrences (times the instances each applies to)", z.occurrences, maxOccurrences)
	}
	if z.calls > maxCalls {
		add("estimated calls", fmt.Sprintf("%.0f", z.calls), maxCalls)
	}
	if z.memory > maxMemory {
		add("estimated memory", fmt.Sprintf("%.1f GiB", z.memory/(1<<30)), fmt.Sprintf("%d GiB; fewer instances or workloads, or a wider window, lower it", maxMemory>>30))
	}
	if len(over) == 0 {
		return
	}
	v.p.at(v.p.lookup(""), "", "the scenario asks for more than the simulator runs: %s; see the limits in scenarios/README.md",
		strings.Join(over, "; "))
}

// callsOf estimates the calls workload w makes over span.
func (v *validator) callsOf(w *Workload, span time.Duration) float64 {
	secs := span.Seconds()
	if w.Concurrency > 0 {
		per := max(w.Think.Std()+v.fastestLatency(w), callFloor)
		return float64(min(w.Concurrency, maxWorkers+1)) * secs / per.Seconds()
	}
	if len(w.Ramp) == 0 {
		return clampRate(w.Rate) * secs
	}
	peak := 0.0
	for _, r := range w.Ramp {
		peak = math.Max(peak, clampRate(r.Rate))
	}
	return peak * secs
}

// clampRate is a rate within its own limits (a rate beyond them is an
// error of its own, not a reason to report the world as too large).
func clampRate(r float64) float64 { return min(max(r, 0), maxRate) }

// fastestLatency is the smallest typical latency of the endpoints w calls.
func (v *validator) fastestLatency(w *Workload) time.Duration {
	s := v.services[w.Service]
	if s == nil {
		return time.Second // reported elsewhere; do not report twice
	}
	eps := []string{w.Endpoint}
	if len(w.Mix) > 0 {
		eps = eps[:0]
		for _, m := range w.Mix {
			eps = append(eps, m.Endpoint)
		}
	}
	fastest := time.Duration(math.MaxInt64)
	idx := v.endpointIndex(s)
	for _, name := range eps {
		if l, ok := idx[name]; ok {
			fastest = min(fastest, typicalLatency(l))
		}
	}
	if fastest == math.MaxInt64 {
		return time.Second
	}
	return fastest
}

// typicalLatency is a latency distribution's centre (its value, mean,
// median or scale), raised to its min.
func typicalLatency(l Latency) time.Duration {
	var d Duration
	switch l.Dist {
	case "", DistConstant:
		d = l.Value
	case DistUniform:
		d = l.Min/2 + l.Max/2
	case DistNormal, DistExponential:
		d = l.Mean
	case DistLognormal:
		d = l.Median
	case DistPareto:
		d = l.Scale
	}
	return max(d, l.Min, 0).Std()
}

// windowOf is the scenario's window width.
func windowOf(sc *Scenario) time.Duration {
	if sc.Window > 0 {
		return sc.Window.Std()
	}
	return DefaultWindow
}

// windowCount is the number of metric windows of a run, at most
// maxWindows+1 (more is an error of its own).
func windowCount(sc *Scenario) int64 {
	d := sc.Duration.Std()
	if d <= 0 {
		return 1
	}
	w := windowOf(sc)
	return min((int64(d)+int64(w)-1)/int64(w), maxWindows+1)
}

// workloadSpan is how long w issues calls.
func workloadSpan(sc *Scenario, w *Workload) time.Duration {
	end := sc.Duration
	if w.Duration > 0 && w.Start+w.Duration < end {
		end = w.Start + w.Duration
	}
	return max(end-w.Start, 0).Std()
}

// targetBound is the most instances fault f applies to at each
// occurrence: a node fault applies to each instance of its target, the
// others (links, the registry) once.
func (v *validator) targetBound(f *Fault) int64 {
	var t *Target
	switch {
	case f.Crash != nil:
		t = &f.Crash.Target
	case f.Stop != nil:
		t = &f.Stop.Target
	case f.Pause != nil:
		t = &f.Pause.Target
	case f.Slow != nil:
		t = &f.Slow.Target
	case f.Errors != nil:
		t = &f.Errors.Target
	default:
		return 1
	}
	if n := len(t.Instances); n > 0 || t.Instance != nil {
		return int64(max(n, 1))
	}
	if s := v.services[t.Service]; s != nil {
		return int64(min(max(s.Instances, 1), maxInstances))
	}
	return max(v.size.instances, 1)
}

// occurrenceCount is how many times fault f starts in a run of runLen,
// computed without listing them.
func occurrenceCount(f *Fault, runLen time.Duration) int64 {
	if f.At < 0 || f.At.Std() >= runLen {
		return 0
	}
	if f.Every <= 0 {
		return 1
	}
	limit := runLen
	if f.Until > 0 && f.Until.Std() < limit {
		limit = f.Until.Std()
	}
	if f.At.Std() >= limit {
		return 0
	}
	return int64((limit-f.At.Std()-1)/f.Every.Std()) + 1
}

// longestCall bounds any call's latency: the longest client timeout,
// and a second more.
func longestCall(sc *Scenario) time.Duration {
	longest := DefaultTimeout
	for _, c := range sc.Clients {
		longest = max(longest, c.Timeout.Std())
	}
	if longest > maxDuration {
		longest = maxDuration
	}
	return longest + time.Second
}

// graphFactor is the calls one call of w causes, itself included, down
// the call graph of the endpoints it calls (the most of its mix): a
// workload of 100 calls a second to an endpoint that fans out to 1,000
// makes 100,100 calls a second. A stream counts its messages.
func (v *validator) graphFactor(w *Workload) float64 {
	if w.Stream != nil {
		// A stream's messages are its calls.
		return float64(min(max(w.Stream.Messages, 1), maxStreamMessages))
	}
	most := 1
	eps := []string{w.Endpoint}
	for _, m := range w.Mix {
		eps = append(eps, m.Endpoint)
	}
	for _, ep := range eps {
		most = max(most, v.cost[w.Service+"/"+ep])
	}
	return float64(most)
}
