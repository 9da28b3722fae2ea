package main

import (
	"bytes"
	"errors"
	"os/exec"
	"testing"
)

type result struct {
	code           int
	stdout, stderr string
}

// runProgram runs a program and returns its exit code and output.
func runProgram(t *testing.T, dir, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", name, err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}
