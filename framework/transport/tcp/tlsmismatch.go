package tcp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// ErrTLSMismatch: one side of a connection uses TLS and the other does
// not. Dial's error wraps it, and the server logs it, each saying which
// side speaks what.
var ErrTLSMismatch = errors.New("tcp: TLS mismatch")

// A TLS record starts with its content type (20 to 23: change cipher
// spec, alert, handshake, application data) and the major version 3.
const (
	tlsRecordAlert     = 0x15
	tlsRecordHandshake = 0x16
	tlsMajor           = 0x03
)

// tlsAlertUnexpected is a TLS record holding a fatal alert
// (unexpected_message), which a TLS server sends a client whose first
// bytes are not TLS; a plaintext microsim client recognises it.
var tlsAlertUnexpected = []byte{tlsRecordAlert, tlsMajor, 0x01, 0x00, 0x02, 0x02, 0x0a}

// looksLikeTLS reports whether b (the first bytes a peer sent) starts a
// TLS record.
func looksLikeTLS(b []byte) bool {
	return len(b) >= 2 && b[0] >= 0x14 && b[0] <= 0x17 && b[1] == tlsMajor
}

// plaintextPeerOnTLS explains a failed server-side TLS handshake whose
// client sent a microsim preface, and answers that client with a TLS
// alert so that it can say what happened too. Other errors are returned
// unchanged.
func plaintextPeerOnTLS(err error) error {
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) || string(rh.RecordHeader[:4]) != prefaceMagic[:4] {
		return err
	}
	if rh.Conn != nil {
		rh.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		rh.Conn.Write(tlsAlertUnexpected)
	}
	return fmt.Errorf("%w: the client speaks plaintext microsim, but this listener requires TLS", ErrTLSMismatch)
}

// tlsPeerOnPlaintext explains a server-side preface that is a TLS
// ClientHello, and answers the client with this side's preface, which
// its TLS stack reports as a record that is not TLS (see
// plaintextServerForTLS).
func tlsPeerOnPlaintext(nc net.Conn, in []byte, out []byte) error {
	if in[0] != tlsRecordHandshake || !looksLikeTLS(in) {
		return nil
	}
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	nc.Write(out)
	// Read the rest of the ClientHello until the client gives up on our
	// answer and closes: closing with unread bytes would reset the
	// connection, and the client might not read the answer.
	nc.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, io.LimitReader(nc, 64<<10))
	return fmt.Errorf("%w: the client speaks TLS, but this listener is plaintext (configure it with WithTLS, or dial it without)", ErrTLSMismatch)
}

// plaintextServerForTLS explains a failed client-side TLS handshake with a
// server that answered with a microsim preface.
func plaintextServerForTLS(err error) error {
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) || string(rh.RecordHeader[:4]) != prefaceMagic[:4] {
		return err
	}
	return fmt.Errorf("%w: the server speaks plaintext microsim, but this client uses TLS (dial it without WithTLS's client config)", ErrTLSMismatch)
}

// tlsServerForPlaintext explains a failed preface read on a plaintext
// client whose server answered with TLS.
func tlsServerForPlaintext(got []byte) error {
	if !looksLikeTLS(got) {
		return nil
	}
	return fmt.Errorf("%w: the server speaks TLS, but this client is plaintext (dial it with WithTLS)", ErrTLSMismatch)
}
