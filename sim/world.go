package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/microsim/microsim/framework/client"
	"github.com/microsim/microsim/framework/codec"
	fwerrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/selector"
	"github.com/microsim/microsim/memory"
)

// world is one simulated cluster: the memory network, an instance per
// host, the clients, and the metrics they feed.
type world struct {
	sc       *Scenario
	seed     uint64
	net      *memory.Network
	window   time.Duration
	metrics  *metrics
	capacity map[string]int

	instances []*instance
	byAddr    map[string]*instance // fixed once every instance started
	byName    map[string]*instance
	clients   map[string]*simClient
	order     []string // client names in scenario order
	hedges    uint64   // counted by the clients, read at the end of the run
}

// simClient is a calling host with the framework's selector and client.
type simClient struct {
	name string
	zone string
	host *memory.Host
	sel  selector.Selector
	cli  client.Client
}

// build creates the network, starts every instance and every client. It
// runs inside the bubble.
func build(ctx context.Context, sc *Scenario, seed uint64) (*world, error) {
	net, err := memory.NewNetwork()
	if err != nil {
		return nil, err
	}
	w := &world{sc: sc, seed: seed, net: net, capacity: map[string]int{},
		byAddr: map[string]*instance{}, byName: map[string]*instance{}, clients: map[string]*simClient{}}
	w.window = sc.Window.Std()
	if w.window == 0 {
		w.window = defaultWindow
	}
	for _, s := range sc.Topology.Services {
		w.capacity[s.Name] = s.Capacity
		for i := range s.Instances {
			in := w.newInstance(&s, i)
			w.instances = append(w.instances, in)
			w.byName[in.name] = in
		}
	}
	for _, in := range w.instances {
		if err := in.start(ctx); err != nil {
			w.close()
			return nil, err
		}
		w.byAddr[in.addr] = in
	}
	clients := sc.Clients
	if len(clients) == 0 {
		clients = []Client{{Name: defaultClient}}
	}
	for i := range clients {
		c, err := w.newClient(&clients[i])
		if err != nil {
			w.close()
			return nil, err
		}
		w.clients[c.name] = c
		w.order = append(w.order, c.name)
	}
	return w, nil
}

func (w *world) newInstance(s *Service, i int) *instance {
	name := instanceName(s.Name, i)
	zone := ""
	if len(s.Zones) > 0 {
		zone = s.Zones[i%len(s.Zones)]
	}
	var extra map[string]string
	var latency *Latency
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
		seed: mix64(w.seed ^ streamKey("instance/"+name)), w: w,
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
		in.eps = append(in.eps, b)
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

func (w *world) newClient(c *Client) (*simClient, error) {
	host := w.net.Host(clientHost(c.Name))
	prefix := "client/" + c.Name
	sopts := []selector.Option{selector.WithRand(newRand(w.seed, prefix+"/selector"))}
	strategy, err := newStrategy(c.Selector.Strategy, newRand(w.seed, prefix+"/strategy"))
	if err != nil {
		return nil, fmt.Errorf("client %s: %w", c.Name, err)
	}
	sopts = append(sopts, selector.WithStrategy(strategy))
	if o := c.Selector.Outlier; o != nil {
		sopts = append(sopts, selector.WithOutlierDetection(outlierConfig(o)))
	}
	if c.Selector.CacheTTL > 0 {
		sopts = append(sopts, selector.WithCacheTTL(c.Selector.CacheTTL.Std()))
	}
	for _, f := range c.Selector.Filters {
		for _, k := range sortedKeys(f.Labels) {
			sopts = append(sopts, selector.WithFilter(selector.FilterLabel(k, f.Labels[k])))
		}
		if f.Zone != "" {
			sopts = append(sopts, selector.WithFilter(selector.FilterLabel(zoneKey, f.Zone)))
		}
		if f.ZoneAffinity != nil {
			sopts = append(sopts, selector.WithFilter(selector.FilterZone(c.Zone, f.ZoneAffinity.MinHealthy)))
		}
	}
	sel, err := selector.New(host.Registry(), sopts...)
	if err != nil {
		return nil, fmt.Errorf("client %s: %w", c.Name, err)
	}
	copts := []client.Option{
		client.WithContentType(codec.ContentTypeBytes),
		client.WithRand(newRand(w.seed, prefix+"/client")),
		client.WithAttemptWrapper(w.recordAttempt),
	}
	timeout := c.Timeout.Std()
	if timeout == 0 {
		timeout = defaultTimeout
	}
	copts = append(copts, client.WithDefaultTimeout(timeout))
	if c.AttemptTimeout > 0 {
		copts = append(copts, client.WithAttemptTimeout(c.AttemptTimeout.Std()))
	}
	if r := c.Retries; r != nil {
		copts = append(copts, client.WithRetryPolicy(retryPolicy(r, newRand(w.seed, prefix+"/backoff"))))
		if b := r.Budget; b != nil {
			copts = append(copts, client.WithRetryBudget(client.RetryBudget{Ratio: b.Ratio, MinPerSecond: b.MinPerSecond}))
		}
	}
	if h := c.Hedging; h != nil {
		copts = append(copts, client.WithHedging(hedgePolicy(h)))
	}
	cli, err := client.New(sel, host.Transport(), copts...)
	if err != nil {
		_ = sel.Close()
		return nil, fmt.Errorf("client %s: %w", c.Name, err)
	}
	return &simClient{name: c.Name, zone: c.Zone, host: host, sel: sel, cli: cli}, nil
}

func retryPolicy(r *RetryConfig, rng *rand.Rand) client.RetryPolicy {
	attempts := r.MaxAttempts
	if attempts == 0 {
		attempts = client.DefaultMaxAttempts
	}
	if attempts == 1 {
		return client.NoRetry
	}
	base, ceil := r.Backoff.Base.Std(), r.Backoff.Cap.Std()
	if base == 0 {
		base = client.DefaultBackoffBase
	}
	if ceil == 0 {
		ceil = max(client.DefaultBackoffCap, base)
	}
	return client.DefaultPolicy{MaxAttempts: attempts, Backoff: client.ExponentialBackoff(base, ceil, rng)}
}

// callKey carries a call's attempt counter to the attempt wrapper.
type callKey struct{}

type callState struct {
	mu       sync.Mutex
	attempts uint32
}

// recordAttempt is the attempt wrapper of every client: it records which
// instance each attempt went to, when, for how long and whether it failed.
func (w *world) recordAttempt(next client.AttemptFunc) client.AttemptFunc {
	return func(ctx context.Context, addr string, req *client.Request, rsp any) error {
		start := time.Now()
		err := next(ctx, addr, req, rsp)
		if in := w.byAddr[addr]; in != nil {
			w.metrics.attempt(in.id, start, time.Since(start), err != nil)
		}
		if cs, ok := ctx.Value(callKey{}).(*callState); ok {
			cs.mu.Lock()
			cs.attempts++
			cs.mu.Unlock()
		}
		return err
	}
}

// close stops the clients, the instances and the network, waiting for
// every goroutine they started.
func (w *world) close() {
	for _, name := range w.order {
		c := w.clients[name]
		_ = c.cli.Close()
		_ = c.sel.Close()
	}
	var wg sync.WaitGroup
	for _, in := range w.instances {
		wg.Go(func() { in.close(10 * time.Second) })
	}
	wg.Wait()
	_ = w.net.Close()
}
