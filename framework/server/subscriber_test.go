package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/microsim/microsim/framework/broker"
	"github.com/microsim/microsim/framework/codec"
	"github.com/microsim/microsim/framework/internal/wire"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/memory"
)

// inbox records the events a subscriber handled.
type inbox struct {
	mu     sync.Mutex
	names  []string
	traces []string
}

func (in *inbox) handle(ctx context.Context, msg *HelloRequest) error {
	trace, _ := metadata.Value(ctx, "X-Trace")
	in.mu.Lock()
	defer in.mu.Unlock()
	in.names = append(in.names, msg.Name)
	in.traces = append(in.traces, trace)
	return nil
}

func (in *inbox) got() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.names...)
}

// subServer starts a greeter server with a broker on host h, subscribed
// to "greetings" by in.handle with opts.
func (w *world) subServer(t *testing.T, h *memory.Host, in *inbox, opts []server.SubscribeOption, srvOpts ...server.Option) server.Server {
	t.Helper()
	b := h.Broker()
	t.Cleanup(func() { b.Close() })
	s := w.serverOn(t, h, nil, append([]server.Option{server.WithBroker(b)}, srvOpts...)...)
	if in != nil {
		require.NoError(t, s.Subscribe("greetings", in.handle, opts...))
	}
	return s
}

// publish publishes n JSON greetings named prefix+i from the client host.
func (w *world) publish(t *testing.T, topic, prefix string, n int) {
	t.Helper()
	b := w.cliHost.Broker()
	defer b.Close()
	for i := range n {
		body, err := json.Marshal(&HelloRequest{Name: fmt.Sprintf("%s%d", prefix, i)})
		require.NoError(t, err)
		require.NoError(t, b.Publish(t.Context(), topic, &broker.Message{
			Header: map[string]string{wire.ContentType: codec.ContentTypeJSON, "X-Trace": fmt.Sprintf("t%d", i)},
			Body:   body,
		}))
	}
}

func TestSubscribeQueueGroupAndBroadcast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var group [2]inbox // default queue group "greeter"
		var custom inbox   // SubscribeQueue("audit"): a group of its own
		var bcast [2]inbox // plain subscriptions
		hosts := []*memory.Host{w.net.Host("a"), w.net.Host("b")}
		for i, h := range hosts {
			s := w.subServer(t, h, &group[i], nil)
			require.NoError(t, s.Subscribe("greetings", bcast[i].handle, server.SubscribeBroadcast()))
			if i == 0 {
				require.NoError(t, s.Subscribe("greetings", custom.handle, server.SubscribeQueue("audit")))
			}
			require.NoError(t, s.Start(t.Context()))
		}

		w.publish(t, "greetings", "n", 10)
		synctest.Wait()

		all := append(group[0].got(), group[1].got()...)
		assert.ElementsMatch(t, []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"}, all,
			"the queue group handles each event exactly once")
		assert.NotEmpty(t, group[0].got())
		assert.NotEmpty(t, group[1].got())
		assert.Len(t, custom.got(), 10)
		assert.Len(t, bcast[0].got(), 10)
		assert.Len(t, bcast[1].got(), 10)
		assert.Equal(t, []string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"}, bcast[0].traces,
			"non-reserved headers reach the ctx metadata")
	})
}

func TestSubscriptionsCloseAtStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var in inbox
		s := w.subServer(t, w.srvHost, &in, nil)
		w.publish(t, "greetings", "early", 1) // before Start: nobody subscribed
		require.NoError(t, s.Start(t.Context()))
		w.publish(t, "greetings", "on", 2)
		synctest.Wait()
		require.NoError(t, s.Stop(t.Context()))
		w.publish(t, "greetings", "late", 2)
		synctest.Wait()
		assert.Equal(t, []string{"on0", "on1"}, in.got())
	})
}

func TestSubscriberDecodingAndWrappers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var mu sync.Mutex
		var seen []string
		wrap := func(next server.SubscriberFunc) server.SubscriberFunc {
			return func(ctx context.Context, msg *server.Message) error {
				mu.Lock()
				seen = append(seen, fmt.Sprintf("%s %s %T %s", msg.Topic, msg.ContentType, msg.Payload, msg.Header["X-Trace"]))
				mu.Unlock()
				return next(ctx, msg)
			}
		}
		logs := &logRecorder{}
		s := w.subServer(t, w.srvHost, nil, nil, server.WithSubscriberWrapper(wrap), server.WithLogger(slog.New(logs)))
		var got []string
		require.NoError(t, s.Subscribe("words", func(ctx context.Context, v *wrapperspb.StringValue) error {
			if v.GetValue() == "panic" {
				panic("subscriber boom")
			}
			mu.Lock()
			got = append(got, v.GetValue())
			mu.Unlock()
			return nil
		}))
		require.NoError(t, s.Start(t.Context()))

		b := w.cliHost.Broker()
		defer b.Close()
		pub := func(ct, value string) {
			body, err := proto.Marshal(wrapperspb.String(value))
			require.NoError(t, err)
			h := map[string]string{"X-Trace": value}
			if ct != "" {
				h[wire.ContentType] = ct
			}
			require.NoError(t, b.Publish(t.Context(), "words", &broker.Message{Header: h, Body: body}))
		}
		pub(codec.ContentTypeProto, "one")
		pub("", "no-content-type")
		pub("application/x-nope", "unknown-type")
		pub(codec.ContentTypeProto, "panic")
		pub(codec.ContentTypeProto, "two")
		synctest.Wait()

		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{"one", "two"}, got, "bad events are dropped, a panic does not stop delivery")
		assert.Equal(t, []string{
			"words application/protobuf *wrapperspb.StringValue one",
			"words application/protobuf *wrapperspb.StringValue panic",
			"words application/protobuf *wrapperspb.StringValue two",
		}, seen)
		assert.Equal(t, 1, logs.count("subscriber panicked"))
		// Three failures at one instant: the log is rate-limited to one
		// record per message per second.
		assert.Equal(t, 1, logs.count("subscriber failed"))
	})
}
