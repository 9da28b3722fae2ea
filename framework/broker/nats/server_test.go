package nats_test

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
)

// natsServer is an embedded NATS server on loopback that a test can stop and
// start again on the same port.
type natsServer struct {
	t    *testing.T
	port int
	addr string
	srv  *server.Server
}

// startServer starts an embedded server on a random loopback port; it is
// shut down at cleanup.
func startServer(t *testing.T) *natsServer {
	t.Helper()
	s := &natsServer{t: t, port: server.RANDOM_PORT}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *natsServer) start() {
	s.t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host:   "127.0.0.1",
		Port:   s.port,
		NoLog:  true,
		NoSigs: true,
	})
	require.NoError(s.t, err)
	go srv.Start()
	require.True(s.t, srv.ReadyForConnections(10*time.Second), "nats server did not start")
	s.srv = srv
	s.port = srv.Addr().(*net.TCPAddr).Port
	s.addr = srv.ClientURL()
}

// stop shuts the server down and waits for it. Idempotent.
func (s *natsServer) stop() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

func (s *natsServer) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

func (s *natsServer) url() string { return s.addr }
