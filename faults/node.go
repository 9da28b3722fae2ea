package faults

import (
	"context"
	stderrors "errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// NodeAction is what a NodeFault does to its nodes.
type NodeAction int

// Node actions. Start does the first part, Stop the second.
const (
	// NodeCrash crashes the nodes (NodeControl.Crash): their registry
	// entries stay until their TTL passes. Stop restarts them.
	NodeCrash NodeAction = iota + 1
	// NodeStop stops the nodes gracefully. Stop restarts them.
	NodeStop
	// NodeRestart stops the nodes gracefully and starts them again on the
	// same address, Downtime later; Start blocks meanwhile and Stop does
	// nothing.
	NodeRestart
	// NodePause freezes the nodes: no serving, no heartbeats. Stop resumes them.
	NodePause
	// NodeSlowdown multiplies the handler time of the nodes by Factor and
	// adds a draw of Add (through Injector.ServerWrapper). Stop ends it.
	NodeSlowdown
)

var nodeActionNames = [...]string{"", "crash", "stop", "restart", "pause", "slowdown"}

func (a NodeAction) String() string {
	if a > 0 && int(a) < len(nodeActionNames) {
		return nodeActionNames[a]
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// NodeFault acts on nodes: crash, graceful stop, restart, pause, slowdown.
type NodeFault struct {
	Action NodeAction
	// Nodes are the nodes acted on (zero: every known node). Every node the
	// target can select needs a NodeInfo.Control, except for NodeSlowdown.
	Nodes Target
	// Factor multiplies handler time (NodeSlowdown; 0 means 1, else >= 1).
	Factor float64
	// Add is extra handler time drawn per call (NodeSlowdown).
	Add Dist
	// Downtime is how long a NodeRestart keeps the nodes down.
	Downtime time.Duration
}

func (NodeFault) kind() string { return "node" }

func (n NodeFault) validate(c *check, nodes map[string]NodeInfo) {
	if n.Action < NodeCrash || n.Action > NodeSlowdown {
		c.failf("action", "must be crash, stop, restart, pause or slowdown, got %d", int(n.Action))
		return
	}
	n.Nodes.validate(c, "nodes", nodes)
	if n.Action == NodeSlowdown {
		if n.Factor != 0 && !(n.Factor >= 1) {
			c.failf("factor", "must be >= 1, got %v", n.Factor)
		}
		n.Add.validate(c, "add")
		if n.Factor <= 1 && n.Add.IsZero() {
			c.failf("", "no effect: set factor > 1 or add")
		}
	} else {
		if n.Factor != 0 {
			c.failf("factor", "applies to slowdown only")
		}
		if !n.Add.IsZero() {
			c.failf("add", "applies to slowdown only")
		}
		cands := n.Nodes.candidates(nodes)
		if n.Nodes.any() && len(cands) == 0 {
			c.failf("nodes", "no node is known to %s", n.Action)
		}
		for _, name := range cands {
			if nodes[name].Control == nil {
				c.failf("nodes", "node %q has no Control to %s it", name, n.Action)
				break
			}
		}
	}
	c.nonNeg("downtime", n.Downtime)
	if n.Downtime > 0 && n.Action != NodeRestart {
		c.failf("downtime", "applies to restart only")
	}
}

func (n NodeFault) build(f *Fault) behaviour { return &nodeFault{f: f, spec: n} }

// nodeFault is a NodeFault's behaviour.
type nodeFault struct {
	f        *Fault
	spec     NodeFault
	affected []string // nodes acted on by the current start
	controls map[string]NodeControl
	slow     *slowRun // guarded by f.mu
}

// slowRun is one activation of a slowdown.
type slowRun struct {
	nf    *nodeFault
	nodes nodeSet
}

func (n *nodeFault) start(ctx context.Context, nodes map[string]NodeInfo) ([]string, error) {
	n.f.mu.Lock()
	set := n.spec.Nodes.resolve(nodes, n.f.rng)
	if n.spec.Action == NodeSlowdown {
		n.slow = &slowRun{nf: n, nodes: set}
		n.f.mu.Unlock()
		return set.names(), nil
	}
	n.f.mu.Unlock()
	names := set.names()
	if set.all {
		names = slices.Sorted(maps.Keys(nodes))
	}
	n.affected, n.controls = nil, make(map[string]NodeControl, len(names))
	var errs []error
	for _, name := range names {
		ctl := nodes[name].Control
		if ctl == nil {
			errs = append(errs, fmt.Errorf("node %q: %w", name, ErrNoControl))
			continue
		}
		var err error
		switch n.spec.Action {
		case NodeCrash:
			err = ctl.Crash(ctx)
		case NodeStop:
			err = ctl.Stop(ctx)
		case NodePause:
			err = ctl.Pause(ctx)
		case NodeRestart:
			if err = ctl.Stop(ctx); err == nil {
				if !sleepCtx(ctx, n.spec.Downtime) {
					err = ctx.Err()
				}
				if rerr := ctl.Restart(ctx); err == nil {
					err = rerr
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s node %q: %w", n.spec.Action, name, err))
			continue
		}
		n.affected = append(n.affected, name)
		n.controls[name] = ctl
		n.f.act(Touch{Action: actionPast(n.spec.Action), Node: name})
	}
	return slices.Clone(n.affected), stderrors.Join(errs...)
}

func actionPast(a NodeAction) string {
	switch a {
	case NodeCrash:
		return "crashed"
	case NodeStop:
		return "stopped"
	case NodeRestart:
		return "restarted"
	case NodePause:
		return "paused"
	}
	return a.String()
}

func (n *nodeFault) stop(ctx context.Context) error {
	if n.spec.Action == NodeSlowdown {
		n.release()
		return nil
	}
	var errs []error
	for _, name := range n.affected {
		ctl := n.controls[name]
		var err error
		switch n.spec.Action {
		case NodeCrash, NodeStop:
			err = ctl.Restart(ctx)
		case NodePause:
			err = ctl.Resume(ctx)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("node %q: %w", name, err))
		}
	}
	n.affected = nil
	return stderrors.Join(errs...)
}

func (n *nodeFault) release() {
	n.f.mu.Lock()
	n.slow = nil
	n.f.mu.Unlock()
}

func (n *nodeFault) register(a *activeSet) {
	n.f.mu.Lock()
	defer n.f.mu.Unlock()
	if n.slow != nil {
		a.slows = append(a.slows, n.slow)
	}
}

// decide reports the slowdown of a call on node, drawing Add from the
// node's stream.
func (r *slowRun) decide(node string) (factor float64, add time.Duration, ok bool) {
	if !r.nodes.has(node) {
		return 1, 0, false
	}
	f, s := r.nf.f, &r.nf.spec
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seenLocked()
	factor = max(s.Factor, 1)
	if !s.Add.IsZero() {
		add = s.Add.Sample(f.streamLocked("slow:" + node))
	}
	return factor, add, true
}
