package memory

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/microsim/microsim/framework/transport"
)

// TestServePoolShared: the listeners of a network are served by one pool
// of goroutines. A stream goes to a goroutine that waits: after 100
// streams opened one after another on two listeners, one goroutine
// served them all; after a burst of 100 concurrent ones, at most
// maxIdleServers wait; once every listener closed and its Serve
// returned, none is left (synctest.Test fails on a goroutine left
// blocked).
func TestServePoolShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		n := MustNetwork()
		defer n.Close()
		srv, cli := n.Host("srv").Transport(), n.Host("cli").Transport()
		release := make(chan struct{})
		var served sync.WaitGroup
		var ls []transport.Listener
		var conns []transport.Conn
		var serves sync.WaitGroup
		for range 2 {
			l, err := srv.Listen("")
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, l)
			serves.Go(func() {
				_ = l.Serve(func(s transport.Socket) {
					if m, err := s.Recv(ctx); err == nil && m.Header["block"] != "" {
						<-release
					}
					_ = s.Close()
					served.Done()
				})
			})
			c, err := cli.Dial(ctx, l.Addr())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		pool := &n.tr.serve
		idle := func() int {
			pool.mu.Lock()
			defer pool.mu.Unlock()
			return len(pool.idle)
		}
		open := func(c transport.Conn, h map[string]string) {
			s, err := c.NewStream(ctx, &transport.Message{Header: h})
			if err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
		}
		for i := range 100 {
			served.Add(1)
			open(conns[i%2], nil)
			served.Wait()
			synctest.Wait() // the goroutine that served it is back among the idle
		}
		if got := idle(); got != 1 {
			t.Errorf("after 100 streams one at a time on two listeners, %d goroutines wait, want 1", got)
		}
		served.Add(100)
		for i := range 100 {
			open(conns[i%2], map[string]string{"block": "1"})
		}
		synctest.Wait()
		close(release)
		served.Wait()
		synctest.Wait()
		if got := idle(); got != maxIdleServers {
			t.Errorf("after a burst of 100 streams, %d goroutines wait, want %d", got, maxIdleServers)
		}
		for _, l := range ls {
			_ = l.Close()
		}
		serves.Wait()
		if got := idle(); got != 0 {
			t.Errorf("once no listener serves, %d goroutines wait, want 0", got)
		}
	})
}

// Serve on a listener that closes returns an error that wraps
// transport.ErrClosed and names the listener's address.
func TestServeReturnsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := MustNetwork()
		defer n.Close()
		l, err := n.Host("srv").Transport().Listen("")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- l.Serve(func(s transport.Socket) { _ = s.Close() }) }()
		synctest.Wait()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		err = <-served
		if !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("Serve returned %v, want one that wraps transport.ErrClosed", err)
		}
		if want := "memory: accept on " + l.Addr() + ": " + transport.ErrClosed.Error(); err.Error() != want {
			t.Fatalf("Serve returned %q, want %q", err, want)
		}
	})
}
