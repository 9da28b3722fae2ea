package peers

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// rawTCP is the floor: a 1 KiB ping-pong on a TCP connection, one write
// and one full read per call on each side, no framing, no codec. A
// connection carries one call at a time, so each worker has its own: one
// connection at concurrency 1, conc connections above.
func rawTCP(b *testing.B, conc int) func(int) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var served []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			served = append(served, c)
			mu.Unlock()
			wg.Go(func() { rawEcho(c) })
		}
	})
	conns := make([]net.Conn, conc)
	bufs := make([][]byte, conc)
	for i := range conns {
		if conns[i], err = net.Dial("tcp", l.Addr().String()); err != nil {
			b.Fatal(err)
		}
		bufs[i] = make([]byte, payloadSize)
	}
	b.Cleanup(func() {
		l.Close()
		for _, c := range conns {
			c.Close()
		}
		mu.Lock()
		for _, c := range served {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return func(w int) error {
		c, buf := conns[w], bufs[w]
		if _, err := c.Write(buf); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		return nil
	}
}

// rawEcho echoes 1 KiB messages on c until it closes.
func rawEcho(c net.Conn) {
	buf := make([]byte, payloadSize)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			if !errors.Is(err, io.EOF) {
				c.Close()
			}
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}
