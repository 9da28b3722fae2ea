package metrics

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClientEndpointLabelsAreBounded(t *testing.T) {
	var s endpointSet
	for i := range MaxClientEndpoints {
		assert.Equal(t, "E."+strconv.Itoa(i), s.label("svc", "E."+strconv.Itoa(i)))
	}
	assert.Equal(t, OtherEndpoint, s.label("svc", "E.new"), "past the bound")
	assert.Equal(t, OtherEndpoint, s.label("other-svc", "E.0"), "a pair, not an endpoint, is what counts")
	assert.Equal(t, "E.7", s.label("svc", "E.7"), "a pair seen before keeps its label")
	assert.Len(t, s.m, MaxClientEndpoints)
}
