package peers

import (
	"net"
	"net/rpc"
	"sync"
	"testing"
)

// EchoArgs is net/rpc's request and reply (gob, its default codec).
type EchoArgs struct{ Body []byte }

// NetRPCEcho is net/rpc's echo service.
type NetRPCEcho struct{}

// Echo replies with the request's bytes.
func (NetRPCEcho) Echo(args *EchoArgs, reply *EchoArgs) error {
	reply.Body = args.Body
	return nil
}

// netrpcTCP: net/rpc over TCP on 127.0.0.1 with its own rpc.Server (not
// the global one) and one rpc.Client, which multiplexes calls on one
// connection.
func netrpcTCP(b *testing.B, conc int) func(int) error {
	srv := rpc.NewServer()
	if err := srv.RegisterName("Echo", NetRPCEcho{}); err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	var conns sync.WaitGroup
	go func() { // srv.Accept would log the listener's close
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { srv.ServeConn(conn) })
		}
	}()
	c, err := rpc.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.Close()
		l.Close()
		<-done
		conns.Wait()
	})
	args := make([]EchoArgs, conc)
	replies := make([]EchoArgs, conc)
	for i := range args {
		args[i].Body = make([]byte, payloadSize)
	}
	return func(w int) error {
		replies[w].Body = nil
		if err := c.Call("Echo.Echo", &args[w], &replies[w]); err != nil {
			return err
		}
		return checkEcho(replies[w].Body)
	}
}
