package main

import (
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostileFilesExit2: simctl run and validate refuse every file of the
// hostile corpus, a FIFO and a directory with exit code 2 within a
// second (five under the race detector), printing the file's name and nothing of a run.
func TestHostileFilesExit2(t *testing.T) {
	files, err := filepath.Glob("../../sim/scenario/testdata/hostile/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	dir := t.TempDir()
	files = append(files, dir)
	if runtime.GOOS != "windows" {
		fifo := filepath.Join(dir, "fifo.yaml")
		require.NoError(t, syscall.Mkfifo(fifo, 0o600))
		files = append(files, fifo)
	}
	for _, f := range files {
		for _, cmd := range []string{"run", "validate"} {
			start := time.Now()
			code, out, errb := simctl(t, cmd, f)
			took := time.Since(start)
			assert.Equal(t, 2, code, "%s %s: stdout %s\nstderr %s", cmd, f, out, errb)
			assert.Less(t, took, raceSlowdown*time.Second, "%s %s", cmd, f)
			assert.Contains(t, errb, f+":", "%s %s", cmd, f)
			assert.NotContains(t, out, "PASS")
		}
	}
}
