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
func rawTCP(b *testing.B, conc int) func(int) error { return rawPingPong(b, conc, rawEcho, false) }

// rawHandoff and rawHandoff2 are rawTCP with goroutine hand-offs: one per
// call on the server (the goroutine that reads a request passes it over a
// channel to another, which writes the reply, as a multiplexing server's
// reader passes a request to its handler), and with rawHandoff2 one more
// on the client (a reader goroutine per connection passes each reply to
// the waiting caller, as a multiplexing client does). net/rpc has exactly
// these two; microsim's TCP transport had four (a writer goroutine on each
// side) and has none for a call alone on its connection. They are not
// peers but measurements of what a hand-off costs (bench/README.md, "Where
// the time goes").
func rawHandoff(b *testing.B, conc int) func(int) error {
	return rawPingPong(b, conc, rawEchoHandoff, false)
}

func rawHandoff2(b *testing.B, conc int) func(int) error {
	return rawPingPong(b, conc, rawEchoHandoff, true)
}

// rawPingPong serves every connection with echo; with clientHandoff, each
// client connection's replies are read by a goroutine of its own and
// handed to the caller.
func rawPingPong(b *testing.B, conc int, echo func(net.Conn), clientHandoff bool) func(int) error {
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
			wg.Go(func() { echo(c) })
		}
	})
	conns := make([]net.Conn, conc)
	bufs := make([][]byte, conc)
	replies := make([]chan error, conc)
	for i := range conns {
		if conns[i], err = net.Dial("tcp", l.Addr().String()); err != nil {
			b.Fatal(err)
		}
		bufs[i] = make([]byte, payloadSize)
		if clientHandoff {
			c, buf, reply := conns[i], make([]byte, payloadSize), make(chan error)
			replies[i] = reply
			wg.Go(func() {
				for {
					_, err := io.ReadFull(c, buf)
					reply <- err
					if err != nil {
						return
					}
				}
			})
		}
	}
	b.Cleanup(func() {
		l.Close()
		for _, c := range conns {
			c.Close()
		}
		for _, r := range replies {
			if r != nil {
				go func() {
					for range r { // the reader's last error, if nobody took it
					}
				}()
			}
		}
		mu.Lock()
		for _, c := range served {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
		for _, r := range replies {
			if r != nil {
				close(r)
			}
		}
	})
	return func(w int) error {
		c, buf := conns[w], bufs[w]
		if _, err := c.Write(buf); err != nil {
			return err
		}
		if clientHandoff {
			return <-replies[w]
		}
		_, err := io.ReadFull(c, buf)
		return err
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

// rawEchoHandoff is rawEcho with the reply written by a second goroutine:
// the reader hands each request over an unbuffered channel (a goroutine
// hand-off, as a multiplexing server's reader to its handler), and takes
// the next read buffer from a buffered channel (no hand-off: nobody waits
// on it while a call is in flight).
func rawEchoHandoff(c net.Conn) {
	work := make(chan []byte)
	free := make(chan []byte, 2)
	free <- make([]byte, payloadSize)
	free <- make([]byte, payloadSize)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(work)
	wg.Go(func() {
		for buf := range work {
			if _, err := c.Write(buf); err != nil {
				c.Close()
			}
			free <- buf
		}
	})
	for {
		buf := <-free
		if _, err := io.ReadFull(c, buf); err != nil {
			if !errors.Is(err, io.EOF) {
				c.Close()
			}
			return
		}
		work <- buf
	}
}
