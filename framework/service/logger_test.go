package service_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/server"
	"github.com/microsim/microsim/framework/service"
)

func TestWithLoggerReachesTheServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNetwork(t)
		var buf bytes.Buffer
		s := newGreeter(t, n.Host("a"), service.WithSignals(), service.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
		require.NoError(t, s.Start(t.Context()))
		require.NoError(t, s.Stop(t.Context()))
		out := buf.String()
		assert.Equal(t, 1, strings.Count(out, `msg="server: started" service=greeter`), out)
		assert.Equal(t, 1, strings.Count(out, `msg="server: stopped" service=greeter`), out)
	})
}

func TestServerLoggerOptionWinsOverTheServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNetwork(t)
		var svcLog, srvLog bytes.Buffer
		s := newGreeter(t, n.Host("a"), service.WithSignals(),
			service.WithLogger(slog.New(slog.NewTextHandler(&svcLog, nil))),
			service.WithServerOptions(server.WithLogger(slog.New(slog.NewTextHandler(&srvLog, nil)))))
		require.NoError(t, s.Start(t.Context()))
		require.NoError(t, s.Stop(t.Context()))
		assert.Empty(t, svcLog.String())
		assert.Contains(t, srvLog.String(), "server: started")
	})
}

func TestDefaultLoggerIsSilentInTests(t *testing.T) {
	l := service.DefaultLogger()
	for _, lv := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		assert.False(t, l.Enabled(context.Background(), lv), "level %v", lv)
	}
}
