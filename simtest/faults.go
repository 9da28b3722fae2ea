package simtest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/microsim/microsim/faults"
)

// FaultOption configures a fault added by Inject.
type FaultOption func(*faultOptions)

type faultOptions struct{ allowNoEffect bool }

// AllowNoEffect lets the fault act on nothing during the test without
// failing it: for a fault meant to be a no-op (to show that traffic never
// takes a path, say).
func AllowNoEffect() FaultOption { return func(o *faultOptions) { o.allowNoEffect = true } }

// Inject adds the fault spec under name and starts it (see
// faults.Injector.Inject); Fault.Stop ends it. It fails the test when the
// spec is invalid (a *faults.SpecError naming the field), when the fault
// targets a node that lacks the seam it acts through (ErrNoSeam: an RPC
// fault at the server edge of a client, a node fault on a client), or when
// it cannot start. At the end of the test, a fault that acted on nothing —
// no call, message, event or node touched while it was in effect — fails
// the test, naming the fault, unless AllowNoEffect was given: such a
// fault proved nothing. Node faults block while they act (see
// faults.Fault.Start).
func (c *Cluster) Inject(name string, spec faults.Spec, opts ...FaultOption) *faults.Fault {
	c.tb.Helper()
	f, err := c.TryInject(name, spec, opts...)
	if err != nil {
		c.fatalf("%v", err)
	}
	return f
}

// TryInject is Inject returning its error instead of failing the test.
func (c *Cluster) TryInject(name string, spec faults.Spec, opts ...FaultOption) (*faults.Fault, error) {
	var o faultOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if err := c.checkSeams(name, spec); err != nil {
		return nil, err
	}
	f, err := c.inj.Add(name, spec)
	if err != nil {
		return nil, fmt.Errorf("simtest: %w", err)
	}
	if o.allowNoEffect {
		c.mu.Lock()
		c.noEffect[name] = true
		c.mu.Unlock()
	}
	if err := f.Start(c.ctx); err != nil {
		return f, fmt.Errorf("simtest: %w", err)
	}
	return f, nil
}

// Crash crashes an instance: its host goes down abruptly (connections
// reset, listener closed), its registry entry stays until its TTL passes.
// Restart brings it back. It is a node fault named "crash:<instance>",
// listed in the injector's timeline. It fails the test for a name that is
// not an instance or an instance that is down already.
func (c *Cluster) Crash(instance string) {
	c.tb.Helper()
	c.nodeAction("crash:", instance, faults.NodeCrash, "crashed")
}

// Pause freezes an instance (a long GC pause, a stopped VM): it neither
// serves nor heartbeats until Resume. A node fault named
// "pause:<instance>".
func (c *Cluster) Pause(instance string) {
	c.tb.Helper()
	c.nodeAction("pause:", instance, faults.NodePause, "paused")
}

// Restart brings back an instance that Crash took down: a new process, on
// the same address, with a new client and handler. It blocks until the
// instance is registered again.
func (c *Cluster) Restart(instance string) {
	c.tb.Helper()
	c.endNodeAction("crash:", instance, "crashed")
}

// Resume ends a Pause.
func (c *Cluster) Resume(instance string) {
	c.tb.Helper()
	c.endNodeAction("pause:", instance, "paused")
}

func (c *Cluster) nodeAction(prefix, instance string, action faults.NodeAction, state string) {
	c.tb.Helper()
	name := prefix + instance
	if f := c.inj.Fault(name); f != nil {
		if f.Active() {
			c.fatalf("simtest: %s %s: it is %s already", action, instance, state)
		}
		if err := f.Start(c.ctx); err != nil {
			c.fatalf("simtest: %v", err)
		}
		return
	}
	c.Inject(name, faults.NodeFault{Action: action, Nodes: faults.Node(instance)})
}

func (c *Cluster) endNodeAction(prefix, instance, state string) {
	c.tb.Helper()
	f := c.inj.Fault(prefix + instance)
	if f == nil || !f.Active() {
		c.fatalf("simtest: %s was not %s by the cluster", instance, state)
		return
	}
	if err := f.Stop(c.ctx); err != nil {
		c.fatalf("simtest: %v", err)
	}
}

// checkSeams fails a spec that targets a node lacking the seam its kind
// acts through.
func (c *Cluster) checkSeams(name string, spec faults.Spec) error {
	var target faults.Target
	var need, what string
	switch s := deref(spec).(type) {
	case faults.RPCFault:
		target = s.Nodes
		need, what = "server", "an RPC fault at the server edge acts in the handler chain of a serving instance"
		if s.Edge == faults.ClientEdge {
			need, what = "client", "an RPC fault at the client edge acts in the attempt chain of a calling node"
		}
	case faults.NodeFault:
		target = s.Nodes
		need, what = "control", "a node fault crashes, stops, restarts or pauses an instance"
		if s.Action == faults.NodeSlowdown {
			need, what = "server", "a slowdown acts in the handler chain of a serving instance"
		}
	default:
		return nil // link, registry and broker seams are on every node
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var matched, lacking []string
	for _, n := range c.nodes {
		if !targets(target, n) {
			continue
		}
		matched = append(matched, n.name)
		if !n.has(need) {
			lacking = append(lacking, n.name)
		}
	}
	slices.Sort(lacking)
	switch {
	case len(matched) == 0:
		return nil // the injector names the target that matches nothing
	case len(lacking) == len(matched) || (!isZero(target) && len(lacking) > 0):
		return fmt.Errorf("%w: fault %q: %s, but it targets %s, which %s none (target %s)",
			ErrNoSeam, name, what, strings.Join(lacking, ", "), pluralHave(len(lacking)), target)
	}
	return nil
}

func pluralHave(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}

// deref turns a *Spec into its value.
func deref(spec faults.Spec) faults.Spec {
	switch s := spec.(type) {
	case *faults.RPCFault:
		if s != nil {
			return *s
		}
	case *faults.NodeFault:
		if s != nil {
			return *s
		}
	}
	return spec
}

func isZero(t faults.Target) bool { return t.String() == "any" }

// targets reports whether t selects n (Count and Share aside: every node
// they may draw is checked).
func targets(t faults.Target, n *node) bool {
	if len(t.Nodes) > 0 && !slices.Contains(t.Nodes, n.name) {
		return false
	}
	if t.Service != "" && t.Service != n.info.Service {
		return false
	}
	if t.Zone != "" && t.Zone != n.info.Zone {
		return false
	}
	for k, v := range t.Labels {
		if got, ok := n.info.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// has reports whether the node has the seam need.
func (n *node) has(need string) bool {
	switch need {
	case "server":
		return n.seams.server
	case "client":
		return n.seams.client
	case "control":
		return n.seams.control
	}
	return true
}

// checkFaults fails the test for every fault that acted on nothing,
// unless allowed to, or unless the test failed already (a test that
// stopped early leaves its faults idle, and its own failure says why).
func (c *Cluster) checkFaults() {
	c.tb.Helper()
	if c.tb.Failed() {
		return
	}
	c.mu.Lock()
	allowed := c.noEffect
	c.mu.Unlock()
	for _, f := range c.inj.Faults() {
		if allowed[f.Name()] {
			continue
		}
		st := f.Stats()
		if st.Touched > 0 {
			continue
		}
		var why string
		switch {
		case st.Starts == 0:
			why = "it was never started"
		case st.Matched == 0:
			why = fmt.Sprintf("nothing it targets (%s) passed its seam while it was in effect", strings.Join(st.Targets, ", "))
		default:
			why = fmt.Sprintf("it matched %d but acted on none of them", st.Matched)
		}
		c.tb.Errorf("simtest: %s fault %q acted on nothing during the test: %s; the test proved nothing about it "+
			"(pass simtest.AllowNoEffect() to Inject if that is intended)", st.Kind, st.Name, why)
	}
}
