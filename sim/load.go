package sim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Defaults and fixed names of the engine.
const (
	defaultTTL      = 3 * time.Second
	defaultWindow   = time.Second
	defaultTimeout  = 5 * time.Second
	defaultClient   = "client"
	defaultSeed     = 1
	warmup          = 123457 * time.Microsecond
	zoneKey         = "zone"
	arrivalsPoisson = "poisson"
	arrivalsUniform = "uniform"
)

// instanceName is the host name and node ID of instance i of a service.
func instanceName(service string, i int) string { return fmt.Sprintf("%s-%d", service, i) }

// Load reads, decodes and validates the scenario file at path. Every
// problem is returned at once as an ErrorList of "file:line:col: message"
// errors; a file that cannot be read gives a plain error.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read the scenario: %v", errors.Unwrap(err))}
	}
	return Parse(path, data)
}

// Parse decodes and validates a scenario held in memory; file names it in
// errors. Unknown fields, wrong types and semantic problems (a workload
// calling a service that does not exist, a negative duration, ...) are
// all reported, each with its position. It never panics.
func Parse(file string, data []byte) (*Scenario, error) {
	sc, pos, errs := decodeFile(file, data)
	if sc == nil {
		return nil, errs.Err()
	}
	p := newProblems(file, pos)
	p.list = errs
	for _, e := range errs {
		p.bad[e.Path] = true
	}
	validate(sc, p)
	if err := p.list.sort().Err(); err != nil {
		return nil, err
	}
	return sc, nil
}

// ScenarioFiles lists the scenario files (*.yaml, *.yml) in dir, sorted.
func ScenarioFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list scenarios: %w", err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			out = append(out, filepath.Join(dir, name))
		}
	}
	return out, nil
}
