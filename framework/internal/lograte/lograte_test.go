package lograte_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/microsim/microsim/framework/internal/lograte"
)

func TestLimiterLetsOnePerIntervalThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}}))
		l := lograte.New(time.Second)
		ctx := context.Background()
		// 1,000 failures over 2.5 s (one each 2.5 ms): three records get
		// through, at 0 s, 1 s and 2 s; the second and third say how many
		// were held back before them.
		for i := range 1000 {
			l.Log(ctx, log, slog.LevelWarn, "overloaded", "i", i)
			l.Log(ctx, log, slog.LevelWarn, "other key")
			time.Sleep(2500 * time.Microsecond)
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		var overloaded []string
		for _, ln := range lines {
			if strings.Contains(ln, "msg=overloaded") {
				overloaded = append(overloaded, ln)
			}
		}
		assert.Len(t, lines, 6, "three records of each key")
		assert.Equal(t, []string{
			"level=WARN msg=overloaded i=0",
			"level=WARN msg=overloaded i=400 suppressed=399",
			"level=WARN msg=overloaded i=800 suppressed=399",
		}, overloaded)
	})
}

func TestLimiterSkipsDisabledLevels(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError}))
	l := lograte.New(0)
	l.Log(context.Background(), log, slog.LevelWarn, "m")
	ok, n := l.Allow("m")
	assert.True(t, ok, "a disabled level used none of the key's allowance")
	assert.Zero(t, n)
	assert.Empty(t, buf.String())
}
