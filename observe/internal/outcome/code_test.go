package outcome_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/observe/internal/outcome"
)

func TestCode(t *testing.T) {
	assert.Equal(t, "ok", outcome.Code(nil))
	assert.Equal(t, "unavailable", outcome.Code(fmt.Errorf("wrapped: %w", errors.New("x", errors.Unavailable, "down"))))
	assert.Equal(t, "canceled", outcome.Code(context.Canceled), "a context error has its code")
	assert.Equal(t, "unknown", outcome.Code(fmt.Errorf("plain")), "an error that is no *errors.Error")
}
