package transport_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/microsim/microsim/framework/transport"
)

func TestMessageSizeCountsHeadersAndBody(t *testing.T) {
	m := &transport.Message{Header: map[string]string{"ab": "cde", "f": ""}, Body: make([]byte, 10)}
	assert.Equal(t, 10+2+3+1, m.Size())
	assert.Equal(t, 0, (&transport.Message{}).Size())
}

func TestMessageCloneIsDeep(t *testing.T) {
	m := &transport.Message{Header: map[string]string{"k": "v"}, Body: []byte("body")}
	c := m.Clone()
	assert.Equal(t, m, c)
	c.Header["k"] = "x"
	c.Body[0] = 'B'
	assert.Equal(t, "v", m.Header["k"])
	assert.Equal(t, "body", string(m.Body))
	assert.Nil(t, (&transport.Message{}).Clone().Body, "a nil body stays nil")
}
