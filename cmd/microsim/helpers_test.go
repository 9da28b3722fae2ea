package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	fbroker "github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/registry/consul/consultest"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
	"github.com/microsim/microsim/memory"
)

// agent is the Consul agent of the end-to-end tests, started by the first
// test that needs it.
var agent consultest.Agent

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(agent.Wrap(m),
		// freeport (used by Consul's test SDK to pick the agent's ports)
		// runs a goroutine for the life of the process.
		goleak.IgnoreTopFunction("github.com/hashicorp/consul/sdk/freeport.checkFreedPorts"))
}

type HelloRequest struct {
	Name  string `json:"name"`
	Sleep string `json:"sleep,omitempty"`
}

type HelloReply struct {
	Message string `json:"message"`
	User    string `json:"user,omitempty"`
}

type Greeter struct{}

func (Greeter) Hello(ctx context.Context, req *HelloRequest, rsp *HelloReply) error {
	if req.Sleep != "" {
		d, err := time.ParseDuration(req.Sleep)
		if err != nil {
			return errors.NewBadRequest("greeter", "sleep: %v", err)
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if req.Name == "" {
		return errors.NewBadRequest("greeter", "name is required")
	}
	rsp.Message = "Hello, " + req.Name
	rsp.User, _ = metadata.Value(ctx, "X-User")
	return nil
}

// Upper echoes each message of a stream upper-cased.
func (Greeter) Upper(ctx context.Context, st server.Stream) error {
	for {
		var m HelloRequest
		if err := st.Recv(&m); err != nil {
			return nil // the client closed its side
		}
		if err := st.Send(&HelloReply{Message: strings.ToUpper(m.Name)}); err != nil {
			return err
		}
	}
}

// world is a memory network with greeter on node-1 and node-2; the CLI
// runs on host cli.
type world struct {
	net *memory.Network
}

func newWorld(t *testing.T) *world {
	t.Helper()
	net := memory.MustNetwork()
	t.Cleanup(func() { _ = net.Close() })
	for _, h := range []string{"node-1", "node-2"} {
		host := net.Host(h)
		svc, err := service.New("greeter", host.Transport(), host.Registry(), service.WithSignals(),
			service.WithServerOptions(server.WithVersion("1.2"), server.WithMetadata(map[string]string{"zone": "z-" + h})))
		require.NoError(t, err)
		require.NoError(t, svc.Handle(Greeter{}))
		require.NoError(t, svc.Start(t.Context()))
		t.Cleanup(func() { _ = svc.Stop(context.Background()) })
	}
	return &world{net: net}
}

// result is one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

// run runs microsim with args (and stdin) against the world.
func (w *world) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return w.runCtx(t.Context(), t, stdin, nil, args...)
}

func (w *world) runCtx(ctx context.Context, t *testing.T, stdin string, ready func(string), args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	host := w.net.Host("cli")
	a := &app{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }, ready: ready,
		connect: func(context.Context, *globals) (*env, error) {
			return &env{reg: host.Registry(), tr: host.Transport(), newBroker: func(context.Context) (fbroker.Broker, error) {
				return host.Broker(), nil
			}}, nil
		},
	}
	code := execute(ctx, a, args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}
