package scenario_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/sim/scenario"
)

// hostileBudget is how long Load may take on a hostile file (0.12s is
// typical for the slowest, alias-bomb.yaml, without the race detector;
// without the loader's bounds it would take hours).
const hostileBudget = raceSlowdown * time.Second

// TestHostileCorpus: every file of testdata/hostile is refused within a
// second with the error its first line ("# want: ...") names, placed at
// file:line:col when the want says where.
func TestHostileCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/hostile/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 20)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			first, _, _ := bytes.Cut(bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")), []byte("\n"))
			want, ok := strings.CutPrefix(string(first), "# want: ")
			require.True(t, ok, "the file's first line says what error it gives")

			start := time.Now()
			sc, err := scenario.Load(file)
			took := time.Since(start)
			assert.Nil(t, sc)
			require.Error(t, err)
			assert.Less(t, took, hostileBudget)
			assert.Contains(t, err.Error(), file+":"+want)
			var list scenario.ErrorList
			require.True(t, errors.As(err, &list), "an ErrorList, got %T", err)
			assert.LessOrEqual(t, len(list), 101)
		})
	}
}

// TestLoadRefusesWhatIsNotARegularFile: a directory and a FIFO (which
// would block a plain open until a writer comes) are refused at once.
func TestLoadRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{dir: "it is a directory, not a file"}
	if runtime.GOOS != "windows" {
		fifo := filepath.Join(dir, "fifo.yaml")
		require.NoError(t, syscall.Mkfifo(fifo, 0o600))
		cases[fifo] = "it is a named pipe (FIFO); give a regular file"
	}
	for path, want := range cases {
		done := make(chan error, 1)
		go func() {
			_, err := scenario.Load(path)
			done <- err
		}()
		select {
		case err := <-done:
			require.Error(t, err)
			assert.Equal(t, path+": cannot read the scenario: "+want, err.Error())
		case <-time.After(5 * time.Second):
			t.Fatalf("Load(%s) blocked", path)
		}
	}
}

// TestLoadSizeLimit: a file over MaxFileSize is refused without being
// parsed; one just under the limit is read.
func TestLoadSizeLimit(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	data := append([]byte(base), bytes.Repeat([]byte("# padding\n"), 50<<20/10)...)
	require.NoError(t, os.WriteFile(big, data, 0o644))
	start := time.Now()
	_, err := scenario.Load(big)
	require.Error(t, err)
	assert.Less(t, time.Since(start), hostileBudget)
	assert.Equal(t, fmt.Sprintf("%s: the file is too large: %d bytes; a scenario file is at most 1048576 bytes (1 MiB)", big, len(data)), err.Error())

	_, err = scenario.Parse("p.yaml", data)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "p.yaml: the file is too large")

	fits := append([]byte(base), bytes.Repeat([]byte("# padding\n"), (scenario.MaxFileSize-len(base))/10)...)
	require.LessOrEqual(t, len(fits), scenario.MaxFileSize)
	ok := filepath.Join(dir, "ok.yaml")
	require.NoError(t, os.WriteFile(ok, fits, 0o644))
	_, err = scenario.Load(ok)
	assert.NoError(t, err)
}

// TestParseByteOrderMark: a UTF-8 BOM at the start is skipped, and
// positions are those an editor shows.
func TestParseByteOrderMark(t *testing.T) {
	sc, err := scenario.Parse("b.yaml", append([]byte("\xef\xbb\xbf"), base...))
	require.NoError(t, err)
	assert.Equal(t, "t", sc.Name)

	_, err = scenario.Parse("b.yaml", append([]byte("\xef\xbb\xbf"), strings.Replace(base, "name: t", "nom: t", 1)...))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `b.yaml:1:1: nom: unknown field "nom" (did you mean "name"?)`)
}

// TestParseExponentNumbers: 1e3 is a number wherever a number goes, and
// stays a string where a string goes.
func TestParseExponentNumbers(t *testing.T) {
	y := strings.Replace(base, "rate: 10", "rate: 1e2", 1)
	y = strings.Replace(y, "instances: 2", "instances: 2e0", 1)
	y = strings.Replace(y, "name: t", "name: 1e5\nseed: 3E+2", 1)
	sc, err := scenario.Parse("e.yaml", []byte(y))
	require.NoError(t, err)
	assert.Equal(t, 100.0, sc.Workloads[0].Rate)
	assert.Equal(t, 2, sc.Topology.Services[0].Instances)
	assert.Equal(t, uint64(300), sc.Seed)
	assert.Equal(t, "1e5", sc.Name)

	_, err = scenario.Parse("e.yaml", []byte(strings.Replace(base, "instances: 2", "instances: 1.5e0", 1)))
	require.Error(t, err)
	assert.Equal(t, `e.yaml:6:18: topology.services[0].instances: expected an integer, got the number 1.5e0`, err.Error())

	_, err = scenario.Parse("e.yaml", []byte(strings.Replace(base, "rate: 10", `rate: "1e2"`, 1)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `e.yaml:14:11: workloads[0].rate: expected a number, got the string "1e2"`)
}

// TestParseCapsErrors: a file with thousands of problems reports the
// first hundred and counts the rest.
func TestParseCapsErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(base)
	for i := range 900 {
		b.WriteString("x")
		b.WriteString(strings.Repeat("y", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(strings.Repeat("z", i/26))
		b.WriteString(": 1\n")
	}
	_, err := scenario.Parse("c.yaml", []byte(b.String()))
	var list scenario.ErrorList
	require.True(t, errors.As(err, &list))
	require.Len(t, list, 101)
	assert.Equal(t, "c.yaml: 800 more problems not shown", list[100].Error())
}

// TestPrescanAcceptsOrdinaryYAML: the shapes prescan refuses are told
// apart from ordinary text that looks like them: quoted and block text,
// comments, plain scalars with '?', multi-line flow collections, negative
// numbers, anchors and a document marker.
func TestPrescanAcceptsOrdinaryYAML(t *testing.T) {
	const y = `--- # a scenario
name: t
description: |
  Does it hold? ,, [,] {,} ? yes
  a: b
# a comment? with ,, in it
seed: 7 # ? ,,
duration: 10s
topology:
  services:
    - name: api
      instances: 2
      labels: &l {
        k1: "a,,b?",
        k2: 'c, ? d', k3: e?f, # x,,
        k4: g }
      endpoints: [{name: Api.Get, latency: 5ms}]
workloads:
  - service: api
    endpoint: Api.Get
    rate: 10
    keys: -1
`
	_, err := scenario.Parse("ok.yaml", []byte(y))
	require.Error(t, err)
	assert.Equal(t, "ok.yaml:22:11: workloads[0].keys: must not be negative, got -1", err.Error(),
		"the only problem is the negative keys, found by the validator")
	sc, err := scenario.Parse("ok.yaml", []byte(strings.Replace(y, "keys: -1", "keys: 1", 1)))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"k1": "a,,b?", "k2": "c, ? d", "k3": "e?f", "k4": "g"}, sc.Topology.Services[0].Labels)
	assert.Equal(t, "Does it hold? ,, [,] {,} ? yes\na: b\n", sc.Description)
}
