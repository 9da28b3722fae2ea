package service

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDefaultLoggerOutsideTestsLogsInfoAndAbove(t *testing.T) {
	var buf bytes.Buffer
	l := defaultLogger(false, &buf)
	assert.False(t, l.Enabled(context.Background(), slog.LevelDebug))
	assert.True(t, l.Enabled(context.Background(), slog.LevelInfo))
	l.Info("server: started", "service", "greeter")
	l.Debug("hidden")
	assert.Equal(t, 1, strings.Count(buf.String(), "\n"))
	assert.Contains(t, buf.String(), `level=INFO msg="server: started" service=greeter`)

	assert.False(t, defaultLogger(true, &buf).Enabled(context.Background(), slog.LevelError), "silent in a test binary")
}
