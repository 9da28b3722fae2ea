package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestTimeoutValue: an attempt's Micro-Timeout value is its time left in
// nanoseconds whatever the client kept; a value of whole milliseconds (an
// attempt that starts at once in virtual time) is kept and given again,
// one of nanoseconds (real time) is not, and a value given out stays as
// it was when the client keeps another.
func TestTimeoutValue(t *testing.T) {
	c := &rpcClient{}
	reused := func() *Request {
		r := &Request{}
		r.timeoutClaimed.Store(true) // a reused call frame's
		return r
	}
	two := c.timeoutValue(reused(), 2*time.Second)
	assert.Equal(t, "2000000000", two)
	assert.Equal(t, "2000000000", c.timeoutValue(reused(), 2*time.Second))
	kept := c.timeout.Load()
	if assert.NotNil(t, kept) {
		assert.Equal(t, 2*time.Second, kept.d)
	}

	ragged := 1500*time.Millisecond + 7
	assert.Equal(t, "1500000007", c.timeoutValue(reused(), ragged))
	assert.Equal(t, "1500000007", c.timeoutValue(&Request{}, ragged), "formatted into a fresh Request's own buffer")
	assert.Same(t, kept, c.timeout.Load(), "a value of nanoseconds is not kept")

	assert.Equal(t, "3000000000", c.timeoutValue(reused(), 3*time.Second))
	assert.Equal(t, 3*time.Second, c.timeout.Load().d, "the last value of whole milliseconds is kept")
	assert.Equal(t, "2000000000", two, "a value given out is left as it was")
	assert.Equal(t, "2000000000", c.timeoutValue(reused(), 2*time.Second))
}
