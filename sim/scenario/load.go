package scenario

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Load reads, decodes and validates the scenario file at path. Every
// problem is returned at once as an ErrorList of "file:line:col: message"
// errors; a file that cannot be read gives a plain *Error naming the file. Load reads only a regular file of at most MaxFileSize
// bytes (a directory, a FIFO or a device is refused at once, without
// reading) holding UTF-8 text.
func Load(path string) (*Scenario, error) {
	data, err := readScenarioFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	return Parse(path, data)
}

// Parse decodes and validates a scenario held in memory; file names it in
// errors. Unknown fields, wrong types and semantic problems (a workload
// calling a service that does not exist, a negative duration, ...) are
// all reported, each with its position, up to maxErrors of them. The
// text must be UTF-8 (a leading byte-order mark is skipped) and at most
// MaxFileSize bytes. It never panics, and its time and memory are bounded
// by the size of data and the limits of the world (see Limits).
func Parse(file string, data []byte) (*Scenario, error) {
	data, err := checkText(file, data)
	if err != nil {
		return nil, err
	}
	sc, pos, errs := decodeFile(file, data)
	if sc == nil {
		return nil, capErrors(errs).Err()
	}
	p := newProblems(file, pos)
	p.list = errs
	for _, e := range errs {
		p.bad[e.Path] = true
	}
	validate(sc, p)
	if err := capErrors(p.list.sort()).Err(); err != nil {
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
