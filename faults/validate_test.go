package faults_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/faults"
	fwerrors "github.com/microsim/microsim/framework/errors"
)

// failingControl is a NodeControl whose every action fails.
type failingControl struct{}

var errNope = errors.New("nope")

func (failingControl) Crash(context.Context) error   { return errNope }
func (failingControl) Stop(context.Context) error    { return errNope }
func (failingControl) Restart(context.Context) error { return errNope }
func (failingControl) Pause(context.Context) error   { return errNope }
func (failingControl) Resume(context.Context) error  { return errNope }

func validationInjector(t *testing.T) *faults.Injector {
	inj := faults.New(1)
	t.Cleanup(func() { inj.Close() })
	require.NoError(t, inj.AddNode("api-1", faults.NodeInfo{Service: "api", Zone: "a", Labels: map[string]string{"tier": "web"}}))
	require.NoError(t, inj.AddNode("db-1", faults.NodeInfo{Service: "db", Zone: "b", Control: failingControl{}}))
	require.NoError(t, inj.AddNode("db-2", faults.NodeInfo{Service: "db", Zone: "b", Control: failingControl{}}))
	return inj
}

func TestBadSpecsAreRefused(t *testing.T) {
	api, db := faults.Service("api"), faults.Service("db")
	link := func(mod func(*faults.LinkFault)) faults.LinkFault {
		l := faults.LinkFault{From: api, To: db, Latency: faults.Constant(time.Millisecond)}
		mod(&l)
		return l
	}
	tests := []struct {
		spec  faults.Spec
		field string
		msg   string // the whole message, when given
	}{
		{link(func(l *faults.LinkFault) { l.Latency = faults.LogNormal(-5*time.Millisecond, time.Second) }), "latency.median",
			`faults: link "bad": latency.median: must be >= 0, got -5ms`},
		{link(func(l *faults.LinkFault) { l.Latency = faults.LogNormal(0, time.Second) }), "latency.median", ""},
		{link(func(l *faults.LinkFault) { l.Latency = faults.LogNormal(time.Second, time.Millisecond) }), "latency.p99",
			`faults: link "bad": latency.p99: must be >= median (1s), got 1ms`},
		{link(func(l *faults.LinkFault) { l.Latency = faults.Constant(-time.Second) }), "latency.value", ""},
		{link(func(l *faults.LinkFault) { l.Latency = faults.Uniform(2*time.Second, time.Second) }), "latency.max", ""},
		{link(func(l *faults.LinkFault) { l.Latency = faults.Normal(time.Second, -1) }), "latency.stddev", ""},
		{link(func(l *faults.LinkFault) { l.Latency = faults.Pareto(time.Millisecond, 0) }), "latency.alpha", ""},
		{link(func(l *faults.LinkFault) { l.Latency = faults.Exponential(0) }), "latency.mean", ""},
		{link(func(l *faults.LinkFault) { l.Latency = faults.Constant(time.Second).WithJitter(-1) }), "latency.jitter", ""},
		{link(func(l *faults.LinkFault) { l.Latency = faults.Dist{Kind: 42} }), "latency.kind", ""},
		{link(func(l *faults.LinkFault) { l.Loss = 1.5 }), "loss", `faults: link "bad": loss: must be in [0, 1], got 1.5`},
		{link(func(l *faults.LinkFault) { l.Loss = -0.1 }), "loss", ""},
		{link(func(l *faults.LinkFault) { l.Loss, l.LossBurst = 0.1, 0.5 }), "lossBurst", ""},
		{link(func(l *faults.LinkFault) { l.Loss, l.LossBurst = 0.9, 2 }), "lossBurst", ""},
		{link(func(l *faults.LinkFault) { l.Bandwidth = -1 }), "bandwidth", ""},
		{link(func(l *faults.LinkFault) { l.ResetAfterMessages = -1 }), "resetAfterMessages", ""},
		{link(func(l *faults.LinkFault) { l.Direction = 9 }), "direction", ""},
		{link(func(l *faults.LinkFault) { l.Partition = true }), "partition", ""},
		{link(func(l *faults.LinkFault) { l.Latency = faults.Dist{} }), "",
			`faults: link "bad": no effect: set latency, loss, partition, hold, bandwidth or a reset`},
		{link(func(l *faults.LinkFault) { l.From = faults.Service("nope") }), "from.service",
			`faults: link "bad": from.service: unknown service "nope"`},
		{link(func(l *faults.LinkFault) { l.To = faults.Node("db-9") }), "to.nodes[0]", ""},
		{link(func(l *faults.LinkFault) { l.To = faults.Zone("mars") }), "to.zone", ""},
		{link(func(l *faults.LinkFault) { l.To = faults.Target{Labels: map[string]string{"tier": "db"}} }), "to", ""},
		{link(func(l *faults.LinkFault) { l.To = faults.Target{Service: "db", Count: 3} }), "to.count", ""},
		{link(func(l *faults.LinkFault) { l.To = faults.Target{Service: "db", Share: 1.5} }), "to.share", ""},
		{link(func(l *faults.LinkFault) { l.To = faults.Target{Service: "db", Share: 0.5, Count: 1} }), "to.share", ""},

		{faults.RPCFault{Error: fwerrors.Internal, Rate: 2}, "rate", ""},
		{faults.RPCFault{Error: fwerrors.Internal, FirstN: -1}, "firstN", ""},
		{faults.RPCFault{Stall: -time.Second}, "stall", ""},
		{faults.RPCFault{Error: fwerrors.Internal, Abort: true}, "", ""},
		{faults.RPCFault{}, "", `faults: rpc "bad": no effect: set error, abort, lostReply, stall or overload`},
		{faults.RPCFault{Overload: &faults.Overload{}}, "overload.concurrency", ""},
		{faults.RPCFault{Overload: &faults.Overload{Concurrency: 1, Queue: -1}}, "overload.queue", ""},
		{faults.RPCFault{Overload: &faults.Overload{Concurrency: 1}, Stall: time.Second}, "overload", ""},
		{faults.RPCFault{Edge: 5, Abort: true}, "edge", ""},
		{faults.RPCFault{Nodes: faults.Node("nope"), Abort: true}, "nodes.nodes[0]", ""},

		{faults.NodeFault{Nodes: db}, "action", ""},
		{faults.NodeFault{Action: faults.NodeCrash, Nodes: api}, "nodes",
			`faults: node "bad": nodes: node "api-1" has no Control to crash it`},
		{faults.NodeFault{Action: faults.NodeSlowdown, Nodes: db, Factor: 0.5}, "factor", ""},
		{faults.NodeFault{Action: faults.NodeSlowdown, Nodes: db}, "", ""},
		{faults.NodeFault{Action: faults.NodeCrash, Nodes: db, Factor: 2}, "factor", ""},
		{faults.NodeFault{Action: faults.NodePause, Nodes: db, Downtime: time.Second}, "downtime", ""},

		{faults.RegistryFault{Rate: 0.5, Ghosts: time.Second}, "rate", ""},
		{faults.RegistryFault{Unavailable: true, Rate: -1}, "rate", ""},
		{faults.RegistryFault{Ghosts: -time.Second}, "ghosts", ""},
		{faults.RegistryFault{}, "", ""},

		{faults.BrokerFault{Drop: 2}, "drop", ""},
		{faults.BrokerFault{Reorder: 0.1}, "reorderWindow", ""},
		{faults.BrokerFault{Delay: faults.Normal(-time.Second, 0)}, "delay.mean", ""},
		{faults.BrokerFault{}, "", ""},
	}
	for _, tc := range tests {
		inj := validationInjector(t)
		f, err := inj.Add("bad", tc.spec)
		require.Error(t, err, "%+v", tc.spec)
		assert.Nil(t, f)
		assert.ErrorIs(t, err, faults.ErrInvalid)
		var se *faults.SpecError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, tc.field, se.Field, "%v", err)
		assert.Equal(t, "bad", se.Fault)
		if tc.msg != "" {
			assert.EqualError(t, err, tc.msg)
		}
		assert.Empty(t, inj.Faults(), "a refused fault is not added")
	}

	inj := validationInjector(t)
	_, err := inj.Add("", faults.BrokerFault{Drop: 1})
	assert.ErrorIs(t, err, faults.ErrInvalid)
	_, err = inj.Add("x", nil)
	assert.ErrorIs(t, err, faults.ErrInvalid)
	_, err = inj.Add("x", faults.BrokerFault{Drop: 1})
	require.NoError(t, err)
	_, err = inj.Add("x", faults.BrokerFault{Drop: 1})
	assert.ErrorIs(t, err, faults.ErrExists)
	assert.ErrorIs(t, inj.AddNode("db-1", faults.NodeInfo{}), faults.ErrExists)
}

func TestTimelineAndStats(t *testing.T) {
	syncTest(t, func(t *testing.T) {
		ctx := testCtx(t)
		inj := validationInjector(t)
		start := time.Now()
		f, err := inj.Add("slow-db", faults.LinkFault{To: faults.Service("db"), Latency: faults.Constant(time.Millisecond)})
		require.NoError(t, err)
		assert.False(t, f.Active())
		time.Sleep(time.Second)
		require.NoError(t, f.Start(ctx))
		require.NoError(t, f.Start(ctx), "Start of an active fault does nothing")
		time.Sleep(2 * time.Second)
		require.NoError(t, f.Stop(ctx))
		require.NoError(t, f.Stop(ctx), "Stop of a stopped fault does nothing")
		time.Sleep(2 * time.Second)
		require.NoError(t, f.Start(ctx))

		crash, err := inj.Add("crash-db", faults.NodeFault{Action: faults.NodeCrash, Nodes: faults.Target{Service: "db", Count: 1}})
		require.NoError(t, err)
		err = crash.Start(ctx)
		assert.ErrorIs(t, err, errNope, "the control's error is returned")
		assert.False(t, crash.Active(), "a fault that could act on none of its nodes is not in effect")

		st := f.Stats()
		assert.True(t, st.Active)
		assert.Equal(t, 2, st.Starts)
		assert.Equal(t, start.Add(5*time.Second), st.Started)
		assert.Equal(t, start.Add(3*time.Second), st.Stopped)
		assert.Equal(t, []string{"from=*", "to=db-1,db-2"}, st.Targets)

		tl := inj.Timeline()
		require.Len(t, tl, 4)
		want := []struct {
			at    time.Duration
			fault string
			typ   faults.EventType
		}{
			{time.Second, "slow-db", faults.Started},
			{3 * time.Second, "slow-db", faults.Stopped},
			{5 * time.Second, "slow-db", faults.Started},
			{5 * time.Second, "crash-db", faults.Failed},
		}
		for i, w := range want {
			assert.Equal(t, start.Add(w.at), tl[i].At, "event %d", i)
			assert.Equal(t, w.fault, tl[i].Fault)
			assert.Equal(t, w.typ, tl[i].Type)
		}
		assert.ErrorIs(t, tl[3].Err, errNope)
		assert.Equal(t, "link", tl[0].Kind)

		require.NoError(t, inj.Close())
		assert.False(t, f.Active(), "Close takes every fault out of effect")
		_, err = inj.Add("late", faults.BrokerFault{Drop: 1})
		assert.ErrorIs(t, err, faults.ErrClosed)
		assert.ErrorIs(t, f.Start(ctx), faults.ErrClosed)
	})
}
