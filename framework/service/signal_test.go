package service_test

import (
	"context"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/microsim/microsim/framework/registry"
	"github.com/microsim/microsim/framework/service"
)

// runUntilSignal runs a service in real time (a signal cannot reach a
// synctest bubble), waits until it is registered, sends sig to the process
// and checks that Run returns nil and the node is gone.
func runUntilSignal(t *testing.T, sig syscall.Signal, opts ...service.Option) {
	n := newNetwork(t)
	h := n.Host("a")
	s := newGreeter(t, h, opts...)
	watch := watchGreeter(t, h.Registry())
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	waitRegistered(t, watch)
	require.NoError(t, syscall.Kill(syscall.Getpid(), sig))
	require.NoError(t, <-done)
	ev, err := watch.Next(t.Context())
	require.NoError(t, err)
	assert.Equal(t, registry.Delete, ev.Type)
}

func TestRunStopsOnConfiguredSignal(t *testing.T) {
	runUntilSignal(t, syscall.SIGUSR1, service.WithSignals(syscall.SIGUSR1))
}

func TestRunStopsOnSIGTERMByDefault(t *testing.T) {
	runUntilSignal(t, syscall.SIGTERM)
}
