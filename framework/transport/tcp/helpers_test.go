package tcp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
)

// wait bounds every wait of these tests for an outcome that must happen.
const wait = 10 * time.Second

// logSink is a slog.Handler that keeps every record and lets a test wait for
// one that matches.
type logSink struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every record
}

func newLogSink() *logSink { return &logSink{changed: make(chan struct{})} }

func (l *logSink) logger() *slog.Logger { return slog.New(l) }

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logSink) WithGroup(string) slog.Handler            { return l }

func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// waitFor blocks until a record contains every one of parts and returns it;
// it fails the test after wait.
func (l *logSink) waitFor(t *testing.T, parts ...string) string {
	t.Helper()
	timeout := time.After(wait)
	for {
		l.mu.Lock()
		for _, line := range l.lines {
			if containsAll(line, parts) {
				l.mu.Unlock()
				return line
			}
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("no log record with %q within %v; got:\n%s", parts, wait, strings.Join(l.lines, "\n"))
		}
	}
}

// count returns how many lines logged so far contain every part.
func (l *logSink) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if containsAll(line, parts) {
			n++
		}
	}
	return n
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// newTransport builds a transport closed at the end of the test.
func newTransport(t testing.TB, opts ...tcp.Option) *tcp.Transport {
	t.Helper()
	tr, err := tcp.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	return tr
}

// echoServer listens on 127.0.0.1 and echoes every message of every stream
// until the client half-closes, then closes the stream. It stops when the
// test ends.
func echoServer(t testing.TB, tr transport.Transport) transport.Listener {
	t.Helper()
	l, err := tr.Listen("127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = l.Serve(func(s transport.Socket) {
			defer s.Close()
			for {
				m, err := s.Recv(ctx)
				if err != nil {
					return
				}
				if err := s.Send(ctx, m); err != nil {
					return
				}
			}
		})
	})
	t.Cleanup(func() {
		cancel()
		l.Close()
		wg.Wait()
	})
	return l
}

// call does one unary round trip on c and checks the echo.
func call(ctx context.Context, c transport.Conn, body []byte) error {
	s, err := c.NewStream(ctx, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	m := &transport.Message{Header: map[string]string{"Len": fmt.Sprint(len(body))}, Body: body}
	if err := s.Send(ctx, m); err != nil {
		return err
	}
	r, err := s.Recv(ctx)
	if err != nil {
		return err
	}
	if !bytes.Equal(r.Body, body) || r.Header["Len"] != m.Header["Len"] {
		return fmt.Errorf("echo mismatch: got %d bytes, header %v", len(r.Body), r.Header)
	}
	return nil
}

// goodClient keeps calling the echo server at addr on its own connection
// until stop is closed; check reports whether it succeeded throughout and
// made at least one call after the moment check was called.
type goodClient struct {
	calls chan struct{} // receives after every successful call
	errc  chan error
	stop  chan struct{}
	done  chan struct{}
}

func startGoodClient(t *testing.T, tr transport.Transport, addr string) *goodClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	c, err := tr.Dial(ctx, addr)
	require.NoError(t, err)
	g := &goodClient{calls: make(chan struct{}, 1), errc: make(chan error, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		defer cancel()
		defer c.Close()
		for i := 0; ; i++ {
			select {
			case <-g.stop:
				return
			default:
			}
			if err := call(ctx, c, []byte(fmt.Sprintf("good %d", i))); err != nil {
				g.errc <- err
				return
			}
			select {
			case g.calls <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(g.close)
	return g
}

// alive asserts the client completes two more calls without an error.
func (g *goodClient) alive(t *testing.T) {
	t.Helper()
	timeout := time.After(wait)
	for range 2 {
		select {
		case <-g.calls:
		case err := <-g.errc:
			t.Fatalf("the good client failed: %v", err)
		case <-timeout:
			t.Fatal("the good client made no progress")
		}
	}
}

func (g *goodClient) close() {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	<-g.done
}

// rawPeer is a hand-driven client connection speaking (or not) the wire
// protocol.
type rawPeer struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, addr string) *rawPeer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wait)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	return &rawPeer{t: t, nc: nc}
}

func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	_, err := p.nc.Write(b)
	require.NoError(p.t, err)
}

// preface is a valid client preface announcing maxMsg and window.
func preface(maxMsg, window uint32) []byte {
	b := []byte("MSIM\x01\x00\x00\x00")
	b = binary.BigEndian.AppendUint32(b, maxMsg)
	return binary.BigEndian.AppendUint32(b, window)
}

// rawFrame encodes a frame header and payload.
func rawFrame(length uint32, typ byte, id uint32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, length)
	b = append(b, typ)
	b = binary.BigEndian.AppendUint32(b, id)
	return append(b, payload...)
}

// Frame types, as in doc.go.
const (
	tOpen      = 0
	tData      = 1
	tCloseSend = 2
	tClose     = 3
	tReset     = 4
	tWindow    = 5
	tPing      = 6
	tGoAway    = 8
)

// dataPayload encodes a message with no headers and the given body.
func dataPayload(body []byte) []byte { return append([]byte{2}, body...) }

// waitClosed reads (and discards) until the server closes the connection;
// it fails the test if that takes longer than wait. It returns what was read.
func (p *rawPeer) waitClosed() []byte {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(wait))
	var got bytes.Buffer
	_, err := io.Copy(&got, p.nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		p.t.Fatalf("the server did not close the connection within %v", wait)
	}
	return got.Bytes()
}
