package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsim/microsim/faults"
	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/codec"
	fwerrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/internal/ctxwake"
	"github.com/microsim/microsim/internal/poison"
	"github.com/microsim/microsim/memory"
	"github.com/microsim/microsim/sim/scenario"
)

// world is one simulated cluster: the memory network, an instance per
// host, the clients, and the metrics they feed.
type world struct {
	sc       *scenario.Scenario
	seed     uint64
	net      *memory.Network
	window   time.Duration
	metrics  *metrics
	capacity map[string]int
	beats    *server.Heartbeater // runs every instance's heartbeat
	codecs   *codec.Table        // the standard codecs: one table for every server and client

	instances []*instance
	services  map[string]*scenario.Service // the scenario's, by name
	byAddr    map[string]int               // instance ids by address; fixed once every instance started
	byName    map[string]*instance
	// sharedEps are the endpoint behaviours of each service's instances
	// without overrides, which they share (read only once built).
	sharedEps map[string][]endpointBehaviour
	clients   map[string]*simClient
	order     []string // client names in scenario order
	hedges    uint64   // counted by the clients, read at the end of the run

	// inj runs the link and registry faults (nil when the scenario has
	// none); injFaults are its faults by fault index.
	inj       *faults.Injector
	injFaults map[int]*faults.Fault

	// impls are the Go implementations of services, by name.
	impls map[string]ServerSetup
	// callerTransport, when set, gives each instance that makes calls the
	// transport its client dials with (TCP); nil: its host's memory
	// transport.
	callerTransport func() (transport.Transport, error)

	mu      sync.Mutex      // guards brokers
	brokers []broker.Broker // publishing brokers under faults, closed at the end

	tasks *taskPool // runs the calls of parallel steps

	sleepers sync.Pool // of idle *ctxwake.Sleeper: the latency waits of synthetic handlers (sleep)
	// synthCalls holds the *synthCall of calls that returned, for the
	// next (newSynthCall): reused, each is in the CPU's cache, where a
	// new one would be memory the call is the first to touch, which in a
	// world of many instances costs more than the rest of the call's
	// state.
	synthCalls sync.Pool
	// args keeps the arguments of the calls of synthetic endpoints that
	// call nothing downstream (server.UnaryWith with a pool), shared by
	// every server of the world.
	args server.ArgPool[[]byte, []byte]

	obs *Observation // nil: the run is not observed
}

// simClient is a calling host with the framework's selector and client.
type simClient struct {
	name string
	zone string
	host *memory.Host
	sel  selector.Selector
	cli  client.Client
	// ejects: the selector detects outliers (only then can it eject a
	// node, and only then are its statistics sampled for ejections).
	ejects bool
}

// build creates the network, starts every instance and every client. It
// runs inside the bubble.
func build(ctx context.Context, sc *scenario.Scenario, seed uint64, impls map[string]ServerSetup, obs *Observation) (*world, error) {
	w, err := newWorld(sc, seed)
	if err != nil {
		return nil, err
	}
	w.impls, w.obs = impls, obs
	err = w.startAll(ctx, func(in *instance) error { return in.start(ctx) },
		func(c *scenario.Client) (*simClient, error) {
			return w.newClient(c, w.net.Host(clientHost(c.Name)).Transport())
		})
	if err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// startAll starts every instance, then builds every client, then adds
// the injector's faults (every node is known by then).
func (w *world) startAll(ctx context.Context, start func(*instance) error, newClient func(*scenario.Client) (*simClient, error)) error {
	for _, in := range w.instances {
		if err := w.newCaller(in); err != nil {
			return err
		}
		if err := start(in); err != nil {
			return err
		}
		w.byAddr[in.addr] = in.id
		if err := w.addInjectorNode(in.name, faults.NodeInfo{Service: in.service, Zone: in.zone, Labels: in.meta, Addrs: []string{in.addr}}); err != nil {
			return err
		}
	}
	clients := w.sc.Clients
	if len(clients) == 0 {
		clients = []scenario.Client{{Name: scenario.DefaultClient}}
	}
	for i := range clients {
		c := &clients[i]
		if err := w.addInjectorNode(clientHost(c.Name), faults.NodeInfo{Zone: c.Zone}); err != nil {
			return err
		}
		sc, err := newClient(c)
		if err != nil {
			return err
		}
		w.clients[sc.name] = sc
		w.order = append(w.order, sc.name)
	}
	return w.addInjectorFaults()
}

// newWorld creates the network, the injector (when a fault needs one)
// and the instances, started by the backend.
func newWorld(sc *scenario.Scenario, seed uint64) (*world, error) {
	net, err := memory.NewNetwork()
	if err != nil {
		return nil, err
	}
	w := &world{sc: sc, seed: seed, net: net, capacity: map[string]int{}, tasks: newTaskPool(), beats: server.NewHeartbeater(), codecs: codec.Standard(),
		byAddr: map[string]int{}, byName: map[string]*instance{}, clients: map[string]*simClient{}}
	w.window = sc.Window.Std()
	if w.window == 0 {
		w.window = scenario.DefaultWindow
	}
	w.newInjector()
	w.services = make(map[string]*scenario.Service, len(sc.Topology.Services))
	for k := range sc.Topology.Services {
		w.services[sc.Topology.Services[k].Name] = &sc.Topology.Services[k]
	}
	for k := range sc.Topology.Services {
		s := &sc.Topology.Services[k]
		w.capacity[s.Name] = s.Capacity
		for i := range s.Instances {
			in := w.newInstance(s, i)
			w.instances = append(w.instances, in)
			w.byName[in.name] = in
		}
	}
	return w, nil
}

func (w *world) newInstance(s *scenario.Service, i int) *instance {
	name := scenario.InstanceName(s.Name, i)
	zone := ""
	if len(s.Zones) > 0 {
		zone = s.Zones[i%len(s.Zones)]
	}
	var extra map[string]string
	var latency *scenario.Latency
	factor := 1.0
	var errRate *float64
	for _, o := range s.Overrides {
		if !slices.Contains(o.Instances, i) {
			continue
		}
		if o.Zone != "" {
			zone = o.Zone
		}
		if len(o.Labels) > 0 {
			if extra == nil {
				extra = map[string]string{}
			}
			for k, v := range o.Labels {
				extra[k] = v
			}
		}
		if o.Latency != nil {
			latency = o.Latency
		}
		if o.LatencyFactor > 0 {
			factor *= o.LatencyFactor
		}
		if o.ErrorRate != nil {
			errRate = o.ErrorRate
		}
	}
	in := &instance{
		id: len(w.instances), name: name, service: s.Name, index: i, zone: zone,
		meta: metadata(s.Labels, extra, zone), host: w.net.Host(name),
		seed: mix64(w.seed ^ streamKey("instance/"+name)), w: w, svc: s, propagate: s.Propagates(),
	}
	if s.IsGo() {
		// A Go service's endpoint latency is virtual time spent before its
		// handler runs (the handler's own work takes none).
		for _, e := range s.Endpoints {
			l := e.Latency
			if latency != nil {
				l = *latency
			}
			if l != (scenario.Latency{}) || factor != 1 {
				if in.goLatency == nil {
					in.goLatency = map[string]endpointBehaviour{}
				}
				in.goLatency[e.Name] = endpointBehaviour{name: e.Name, latency: newSampler(l), factor: factor}
			}
		}
		return in
	}
	in.subs = newSubscribers(s, factor)
	plain := latency == nil && factor == 1 && errRate == nil
	if eps, ok := w.sharedEps[s.Name]; ok && plain {
		in.eps = eps
		return in
	}
	for _, e := range s.Endpoints {
		b := endpointBehaviour{name: e.Name, latency: newSampler(e.Latency), factor: factor, errRate: e.ErrorRate, errCode: fwerrors.Internal}
		if latency != nil {
			b.latency = newSampler(*latency)
		}
		if errRate != nil {
			b.errRate = *errRate
		}
		if e.ErrorCode != "" {
			b.errCode, _ = fwerrors.ParseCode(e.ErrorCode)
		}
		b.steps = w.planSteps(s.Name, e.Name, e.Calls)
		b.stream = e.Stream
		in.eps = append(in.eps, b)
	}
	if plain {
		if w.sharedEps == nil {
			w.sharedEps = map[string][]endpointBehaviour{}
		}
		w.sharedEps[s.Name] = in.eps
	}
	return in
}

// hostName is the host of a client.
func clientHost(name string) string {
	if strings.HasPrefix(name, "client") {
		return name
	}
	return "client-" + name
}

// newClient builds a client host: the framework's selector over the
// host's registry and the framework's client dialling with tr (the
// host's memory transport, or a TCP transport), both under the
// injector's faults.
func (w *world) newClient(c *scenario.Client, tr transport.Transport) (*simClient, error) {
	var extra []client.Option
	if w.clientPublishes(c.Name) {
		name := clientHost(c.Name)
		extra = append(extra, client.WithBroker(w.publisher(name, w.net.Host(name))))
	}
	sc, err := w.buildClient(clientHost(c.Name), c, c.Zone, "client/"+c.Name, tr, codec.ContentTypeBytes, extra...)
	if err != nil {
		return nil, fmt.Errorf("client %s: %w", c.Name, err)
	}
	sc.name = c.Name
	return sc, nil
}

// buildClient builds the selector and client of host name from c's
// settings (c's name and zone aside: zone is the client's), drawing its
// random streams under prefix; ct is its default content type.
func (w *world) buildClient(name string, c *scenario.Client, zone, prefix string, tr transport.Transport, ct string, extra ...client.Option) (*simClient, error) {
	host := w.net.Host(name)
	sopts := []selector.Option{selector.WithRand(newRand(w.seed, prefix+"/selector"))}
	strategy, err := newStrategy(c.Selector.Strategy, newRand(w.seed, prefix+"/strategy"))
	if err != nil {
		return nil, err
	}
	sopts = append(sopts, selector.WithStrategy(strategy))
	if o := c.Selector.Outlier; o != nil {
		sopts = append(sopts, selector.WithOutlierDetection(outlierConfig(o)))
	}
	if c.Selector.CacheTTL > 0 {
		sopts = append(sopts, selector.WithCacheTTL(c.Selector.CacheTTL.Std()))
	}
	for _, f := range c.Selector.Filters {
		for _, k := range slices.Sorted(maps.Keys(f.Labels)) {
			sopts = append(sopts, selector.WithFilter(selector.FilterLabel(k, f.Labels[k])))
		}
		if f.Zone != "" {
			sopts = append(sopts, selector.WithFilter(selector.FilterLabel(scenario.ZoneKey, f.Zone)))
		}
		if f.ZoneAffinity != nil {
			sopts = append(sopts, selector.WithFilter(selector.FilterZone(zone, f.ZoneAffinity.MinHealthy)))
		}
	}
	sel, err := selector.New(w.registry(name, host), sopts...)
	if err != nil {
		return nil, err
	}
	copts := []client.Option{
		client.WithContentType(ct),
		client.WithRand(newRand(w.seed, prefix+"/client")),
		client.WithAttemptWrapper(w.recordAttempt),
		client.WithCodecs(w.codecs),
		// Its wrappers (recordAttempt, the observability ones) keep
		// nothing of a call once it returned.
		client.WithCallReuse(),
	}
	timeout := c.Timeout.Std()
	if timeout == 0 {
		timeout = scenario.DefaultTimeout
	}
	copts = append(copts, client.WithDefaultTimeout(timeout))
	if c.AttemptTimeout > 0 {
		copts = append(copts, client.WithAttemptTimeout(c.AttemptTimeout.Std()))
	}
	if r := c.Retries; r != nil {
		copts = append(copts, client.WithRetryPolicy(retryPolicy(r, mix64(w.seed^streamKey(prefix+"/backoff")))))
		if b := r.Budget; b != nil {
			copts = append(copts, client.WithRetryBudget(client.RetryBudget{Ratio: b.Ratio, MinPerSecond: b.MinPerSecond}))
		}
	}
	if h := c.Hedging; h != nil {
		copts = append(copts, client.WithHedging(hedgePolicy(h)))
	}
	copts = append(copts, w.obs.clientOptions()...)
	cli, err := client.New(sel, w.dialer(name, tr), append(copts, extra...)...)
	if err != nil {
		_ = sel.Close()
		return nil, err
	}
	return &simClient{name: name, zone: zone, host: host, sel: sel, cli: cli, ejects: c.Selector.Outlier != nil}, nil
}

// retryPolicy is the client's retry policy: client.DefaultPolicy with
// full-jitter exponential backoff whose jitter is drawn per call, from
// the client's backoff seed and the call's sequence number (see
// callDraws), not from one stream shared by the client's calls: calls
// that fail at the same instant wait the same in every run of a seed,
// whatever order they are scheduled in.
func retryPolicy(r *scenario.RetryConfig, seed uint64) client.RetryPolicy {
	attempts := r.MaxAttempts
	if attempts == 0 {
		attempts = client.DefaultMaxAttempts
	}
	if attempts == 1 {
		return client.NoRetry{}
	}
	base, ceil := r.Backoff.Base.Std(), r.Backoff.Cap.Std()
	if base == 0 {
		base = client.DefaultBackoffBase
	}
	if ceil == 0 {
		ceil = max(client.DefaultBackoffCap, base)
	}
	return callRetry{attempts: attempts, base: base, ceil: ceil, seed: seed}
}

// callRetry is retryPolicy's policy.
type callRetry struct {
	attempts   int
	base, ceil time.Duration
	seed       uint64
}

// Retry implements client.RetryPolicy: client.DefaultPolicy's decision,
// with the wait after attempt n uniform in [0, min(ceil, base*2^(n-1)))
// and drawn from the call's own variates.
func (p callRetry) Retry(ctx context.Context, req *client.Request, attempt int, err error) (time.Duration, bool) {
	var seq uint64
	if cs, ok := ctx.Value(callKey{}).(*callState); ok {
		seq = cs.seq
	}
	limit := p.base
	for i := 1; i < attempt && limit < p.ceil; i++ {
		limit *= 2
	}
	limit = min(limit, p.ceil)
	draws := newCallDraws(p.seed, seq)
	u := draws.next()
	for i := 1; i < attempt; i++ {
		u = draws.next()
	}
	wait := time.Duration(u * float64(limit))
	return client.DefaultPolicy{MaxAttempts: p.attempts, Backoff: func(int) time.Duration { return wait }}.Retry(ctx, req, attempt, err)
}

// callKey carries a call's attempt counter to the attempt wrapper.
type callKey struct{}

// callState is a call's ctx: its parent with the call's sequence number
// and attempt counter under callKey (one allocation where
// context.WithValue and a separate state would take two).
type callState struct {
	context.Context
	seq      uint64 // the call's sequence number, set before the call
	attempts atomic.Uint32
}

// sleep waits for d, or until ctx ends (then it returns ctx's error), on
// a Sleeper from w's pool: a synthetic handler's latency costs no timer of
// its own, and a server's handler ctx is not built for it (the Sleeper
// is woken by its cancellation and minds its deadline itself).
func (w *world) sleep(ctx context.Context, d time.Duration) error {
	s, _ := w.sleepers.Get().(*ctxwake.Sleeper)
	if s == nil {
		s = new(ctxwake.Sleeper)
	}
	err := s.Sleep(ctx, d)
	w.sleepers.Put(s)
	return err
}

// synthCall is the state of one call of a synthetic endpoint, in one
// allocation: the callState (the call's ctx), the request body (the call's
// sequence number, then the depth in the call graph) and the reply. The
// request and reply go to the client as *[]byte (which the bytes codec
// takes as it takes a []byte), so that neither is boxed into an interface
// of its own. Once the client's Call returned, nothing holds it (the
// client's attempts, hedges included, have ended, and the server side has
// a ctx of its own), and freeSynthCall keeps it for the next call.
type synthCall struct {
	callState
	body     [9]byte
	req, rsp []byte
}

// newSynthCall returns the state of a call with sequence number seq under
// ctx; depth is its depth in the call graph, sent when withDepth. The
// reply buffer of a reused one keeps its capacity.
func (w *world) newSynthCall(ctx context.Context, seq uint64, depth int, withDepth bool) *synthCall {
	sc, _ := w.synthCalls.Get().(*synthCall)
	if sc == nil {
		sc = new(synthCall)
	}
	*sc = synthCall{callState: callState{Context: ctx, seq: seq}, rsp: sc.rsp[:0]}
	binary.LittleEndian.PutUint64(sc.body[:], seq)
	sc.req = sc.body[:8]
	if withDepth {
		sc.body[8] = byte(min(depth, 255))
		sc.req = sc.body[:]
	}
	return sc
}

// freeSynthCall keeps sc, whose Call returned, for newSynthCall. Built
// with microsim_poison, it is left to the GC instead, its reply
// overwritten: whatever read it after the call reads garbage.
func (w *world) freeSynthCall(sc *synthCall) {
	if poison.On {
		poison.Bytes(sc.rsp)
		return
	}
	if cap(sc.rsp) > maxKeptReply {
		sc.rsp = nil
	}
	sc.Context = nil
	w.synthCalls.Put(sc)
}

// maxKeptReply bounds the reply buffer a free synthCall keeps.
const maxKeptReply = 4 << 10

// Value implements context.Context.
func (cs *callState) Value(key any) any {
	if key == (callKey{}) {
		return cs
	}
	return cs.Context.Value(key)
}

// recordAttempt is the attempt wrapper of every client: it records which
// instance each attempt went to, when, for how long and whether it failed.
func (w *world) recordAttempt(next client.AttemptFunc) client.AttemptFunc {
	return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
		start := time.Now()
		err := next(ctx, addr, req, rsp)
		if id, ok := w.byAddr[addr]; ok {
			w.metrics.attempt(id, start, time.Since(start), err != nil)
		}
		if cs, ok := ctx.Value(callKey{}).(*callState); ok {
			cs.attempts.Add(1)
		}
		return err
	}
}

// close stops the clients, the instances and the network, waiting for
// every goroutine they started.
func (w *world) close() {
	w.stopAll()
	w.closeNetwork()
}

// closeNetwork closes the injector and the in-memory network, once
// nothing runs on them any more (stopAll, and the backend's transports).
func (w *world) closeNetwork() {
	_ = w.closeInjector()
	_ = w.net.Close()
}

// stopWorkers are the goroutines that stop a world's quiet instances.
const stopWorkers = 16

// stopAll stops the clients, the instances (their servers drained for at
// most 10s), the goroutines of parallel steps, the instances' own clients
// and the publishing brokers: everything but the transports, the
// injector and the network.
func (w *world) stopAll() {
	for _, name := range w.order {
		c := w.clients[name]
		_ = c.cli.Close()
		_ = c.sel.Close()
	}
	// One drain deadline for all: a timer, not one per instance.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	// Every stop begins at this virtual instant. A quiet instance (no
	// request in flight, no subscription) stops without waiting for
	// virtual time, so a few workers stop them all before the clock can
	// move, with stacks grown once; one that may wait for virtual time
	// (a handler still running, a subscriber) stops on a goroutine of its
	// own, so that it holds up no other.
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(len(w.instances), stopWorkers) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(w.instances); i = int(next.Add(1)) - 1 {
				if in := w.instances[i]; in.quiet() {
					in.close(ctx)
				} else {
					wg.Go(func() { in.close(ctx) })
				}
			}
		})
	}
	wg.Wait()
	cancel()
	w.tasks.close() // every handler has returned: no step runs any more
	for _, in := range w.instances {
		if c := in.caller; c != nil {
			_ = c.cli.Close()
			_ = c.sel.Close()
		}
	}
	w.closeBrokers()
}
