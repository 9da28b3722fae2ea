package tcp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/transport"
	"github.com/microsim/microsim/framework/transport/tcp"
	"github.com/microsim/microsim/framework/transport/transporttest"
)

// testCA is a self-signed certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf issues a certificate for 127.0.0.1, usable by servers and clients.
func (ca *testCA) leaf(t testing.TB, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// mtlsConfigs returns a server config requiring client certificates from ca
// and a client config trusting ca and presenting clientCert.
func mtlsConfigs(t testing.TB, ca *testCA, clientCert tls.Certificate) (client, server *tls.Config) {
	server = &tls.Config{
		Certificates: []tls.Certificate{ca.leaf(t, "server")},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool,
		MinVersion:   tls.VersionTLS13,
	}
	client = &tls.Config{
		RootCAs:      ca.pool,
		Certificates: []tls.Certificate{clientCert},
		MinVersion:   tls.VersionTLS13,
	}
	return client, server
}

func TestTLSRoundTrip(t *testing.T) {
	ca := newCA(t, "test ca")
	server := &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, "server")}}
	client := &tls.Config{RootCAs: ca.pool}
	tr := newTransport(t, tcp.WithTLS(client, server))
	l := echoServer(t, tr)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := tr.Dial(ctx, l.Addr())
	require.NoError(t, err)
	defer c.Close()
	for i := range 20 {
		require.NoError(t, call(ctx, c, make([]byte, i*1000)))
	}
	// A large message crosses several TLS records.
	require.NoError(t, call(ctx, c, make([]byte, 1<<20)))
}

func TestTLSUntrustedServer(t *testing.T) {
	ca, other := newCA(t, "server ca"), newCA(t, "other ca")
	l := echoServer(t, newTransport(t, tcp.WithTLS(nil, &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, "server")}})))
	tr := newTransport(t, tcp.WithTLS(&tls.Config{RootCAs: other.pool}, nil))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := tr.Dial(ctx, l.Addr())
	require.ErrorContains(t, err, "tls handshake")
	require.ErrorContains(t, err, "certificate signed by unknown authority")
}

func TestMutualTLS(t *testing.T) {
	ca, other := newCA(t, "test ca"), newCA(t, "other ca")
	logs := newLogSink()
	client, server := mtlsConfigs(t, ca, ca.leaf(t, "good client"))
	tr := newTransport(t, tcp.WithTLS(client, server), tcp.WithLogger(logs.logger()))
	l := echoServer(t, tr)
	good := startGoodClient(t, tr, l.Addr())
	good.alive(t)

	// A client whose certificate comes from another CA is refused. (Go's
	// client would not even send a certificate the server's list of CAs
	// rules out; GetClientCertificate makes it.)
	badCert := other.leaf(t, "bad client")
	badClient := &tls.Config{
		RootCAs:              ca.pool,
		MinVersion:           tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &badCert, nil },
	}
	bad := newTransport(t, tcp.WithTLS(badClient, nil))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := bad.Dial(ctx, l.Addr())
	if err == nil {
		c.Close()
	}
	require.Error(t, err, "a client certificate from another CA")
	require.ErrorContains(t, err, "certificate")
	logs.waitFor(t, "WARN tcp: connection closed", "handshake: tls handshake", "certificate signed by unknown authority")

	// So is a client with no certificate at all.
	noCert := newTransport(t, tcp.WithTLS(&tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS13}, nil))
	c, err = noCert.Dial(ctx, l.Addr())
	if err == nil {
		c.Close()
	}
	require.ErrorContains(t, err, "certificate required")
	good.alive(t)
}

// TestConformanceTLS runs the conformance suite over mutual TLS.
func TestConformanceTLS(t *testing.T) {
	ca := newCA(t, "test ca")
	client, server := mtlsConfigs(t, ca, ca.leaf(t, "client"))
	transporttest.Suite{
		New: func(t *testing.T) (transport.Transport, transport.Transport, string) {
			tr := newTransport(t, tcp.WithTLS(client, server))
			return tr, tr, "127.0.0.1:0"
		},
		MaxMessageSize: transport.DefaultMaxMessageSize,
	}.Run(t)
}

// TestTLSMismatch: a plaintext client dialling a TLS listener, and a TLS
// client dialling a plaintext one, each get an error saying so, and the
// server logs it.
func TestTLSMismatch(t *testing.T) {
	ca := newCA(t, "test ca")
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, "server")}}
	clientTLS := &tls.Config{RootCAs: ca.pool}
	cases := []struct {
		name               string
		server, client     []tcp.Option
		clientErr, srvLogs string
	}{
		{"plaintext client, TLS server", []tcp.Option{tcp.WithTLS(nil, serverTLS)}, nil,
			"the server speaks TLS, but this client is plaintext", "the client speaks plaintext microsim, but this listener requires TLS"},
		{"TLS client, plaintext server", nil, []tcp.Option{tcp.WithTLS(clientTLS, nil)},
			"the server speaks plaintext microsim, but this client uses TLS", "the client speaks TLS, but this listener is plaintext"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogSink()
			srv := newTransport(t, append(tc.server, tcp.WithLogger(logs.logger()))...)
			l := echoServer(t, srv)
			cli := newTransport(t, tc.client...)
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			start := time.Now()
			_, err := cli.Dial(ctx, l.Addr())
			require.ErrorIs(t, err, tcp.ErrTLSMismatch)
			require.ErrorContains(t, err, tc.clientErr)
			require.Less(t, time.Since(start), 2*time.Second)
			logs.waitFor(t, "WARN tcp: connection closed", "handshake", tc.srvLogs)
			require.Equal(t, uint64(1), srv.Stats().HandshakeFailures)
		})
	}
}
