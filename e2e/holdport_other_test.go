//go:build !unix

package e2e_test

import "testing"

// holdPort does nothing where there are no Unix sockets calls (see
// holdport_unix_test.go).
func holdPort(t *testing.T, addr string) {}
