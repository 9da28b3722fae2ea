package client

import (
	"context"
	stderrors "errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/microsim/microsim/framework/errors"
)

// TestRecvErrorNoReply: a stream that ends before the reply says so, and
// that the server may have stopped, rather than only "unexpected EOF".
func TestRecvErrorNoReply(t *testing.T) {
	err := recvError(context.Background(), &Request{Service: "greeter", Endpoint: "Greeter.Hello"}, "10.0.0.1:80", io.EOF)
	var e *errors.Error
	assert.True(t, stderrors.As(err, &e))
	assert.Equal(t, errors.Interrupted, e.Code)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Contains(t, err.Error(), "awaiting reply from 10.0.0.1:80: unexpected EOF: the server ended the call without a reply (it may have stopped)")
}
