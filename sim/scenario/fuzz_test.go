package scenario_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microsim/microsim/sim/scenario"
)

// FuzzParseScenario: the parser and validator never panic, and every
// error they return is an ErrorList whose errors name the file and say
// what is wrong. The seed corpus is every shipped scenario, the files in
// testdata, testdata/hostile (the small files) and
// testdata/fuzz/FuzzParseScenario.
func FuzzParseScenario(f *testing.F) {
	const maxSeed = 4 << 10
	for _, dir := range []string{"../../scenarios", "testdata", "testdata/hostile"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			if len(data) > maxSeed {
				continue // large seeds slow every mutation down
			}
			f.Add(data)
		}
	}
	f.Add([]byte(base))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("name: x\nduration: 1s\n<<: {seed: 1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			sc   *scenario.Scenario
			err  error
			done = make(chan struct{})
		)
		go func() {
			defer close(done)
			sc, err = scenario.Parse("f.yaml", data)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Parse did not return within 10s on %q", data)
		}
		if err == nil {
			if sc == nil {
				t.Fatal("no scenario and no error")
			}
			// A valid scenario also validates as a Go value.
			if err := sc.Validate(); err != nil {
				t.Fatalf("parsed scenario fails Validate: %v", err)
			}
			return
		}
		var list scenario.ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
		}
		for _, e := range list {
			if e.File != "f.yaml" || e.Msg == "" {
				t.Fatalf("error without file or message: %#v", e)
			}
			if strings.Contains(e.Msg, "goroutine ") || strings.Contains(e.Msg, "panic") && !strings.Contains(e.Msg, "parser failure") {
				t.Fatalf("stack trace or panic in an error: %v", e)
			}
		}
	})
}
