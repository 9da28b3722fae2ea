package tracing

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSpanNamesAreBounded(t *testing.T) {
	var s spanNames
	assert.Equal(t, "echo/Echo.Say", s.of("echo", "Echo.Say"))
	assert.Equal(t, "echo/Echo.Say", s.of("echo", "Echo.Say"))
	for i := range 2 * maxSpanNames {
		assert.Equal(t, "svc/E."+strconv.Itoa(i), s.of("svc", "E."+strconv.Itoa(i)))
	}
	assert.Len(t, s.m, maxSpanNames, "names past the bound are built, not kept")
	allocs := testing.AllocsPerRun(100, func() { s.of("echo", "Echo.Say") })
	assert.Zero(t, allocs, "a kept name costs no allocation")
}
