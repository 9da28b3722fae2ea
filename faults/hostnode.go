package faults

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/microsim/microsim/framework/server"
)

// Machine is what a HostNode needs of the machine its server runs on;
// *memory.Host implements it.
type Machine interface {
	// Crash stops the machine abruptly; Restart brings it back empty.
	Crash()
	Restart()
	// Pause freezes its I/O until Resume.
	Pause()
	Resume()
}

// HostNode is a NodeControl for one server on one Machine (a memory.Host):
// Crash crashes the machine, Stop stops the server gracefully, Restart
// brings the machine back and starts a new server on the same address,
// Pause and Resume pause the machine. It is safe for concurrent use.
type HostNode struct {
	host  Machine
	build func(addr string) (server.Server, error)

	// life serialises the node's lifecycle; a channel, not a mutex, so a
	// waiting call can give up with its ctx.
	life chan struct{}

	mu   sync.Mutex
	srv  server.Server // nil while the node is down
	addr string        // the address of the first start, kept for restarts
}

// NewHostNode returns a HostNode for host whose server build makes (not
// starts): with addr "" the first time, then with the address the first
// server listened on, which the new server must listen on
// (server.WithAddress(addr)) so the node restarts on the same address.
// Add Injector.ServerWrapper(node) to the server's handler wrappers for
// RPC faults and slowdowns. It does not block and starts nothing.
func NewHostNode(host Machine, build func(addr string) (server.Server, error)) *HostNode {
	return &HostNode{host: host, build: build, life: make(chan struct{}, 1)}
}

func (n *HostNode) lock(ctx context.Context) error {
	select {
	case n.life <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (n *HostNode) unlock() { <-n.life }

// Start builds and starts the server. It blocks for the server's Start.
func (n *HostNode) Start(ctx context.Context) error {
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.unlock()
	return n.startLocked(ctx)
}

func (n *HostNode) startLocked(ctx context.Context) error {
	n.mu.Lock()
	running, addr := n.srv != nil, n.addr
	n.mu.Unlock()
	if running {
		return errors.New("faults: host node: already running")
	}
	srv, err := n.build(addr)
	if err != nil {
		return fmt.Errorf("faults: host node: build server: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	n.mu.Lock()
	n.srv = srv
	if n.addr == "" {
		n.addr = srv.Addr()
	}
	n.mu.Unlock()
	return nil
}

// Server returns the running server, or nil while the node is down.
func (n *HostNode) Server() server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// Addr is the node's address ("" before the first Start).
func (n *HostNode) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr
}

// take removes the running server from the node.
func (n *HostNode) take() server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	srv := n.srv
	n.srv = nil
	return srv
}

// Crash crashes the machine, then reaps the dead server's goroutines
// without deregistering it (the registry entry stays until its TTL).
func (n *HostNode) Crash(ctx context.Context) error {
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.unlock()
	n.host.Crash()
	if srv := n.take(); srv != nil {
		dead, cancel := context.WithCancel(ctx)
		cancel() // the process is gone: nothing waits, nothing deregisters
		_ = srv.Stop(dead)
	}
	return nil
}

// Stop stops the server gracefully (deregister, drain), bounded by ctx.
func (n *HostNode) Stop(ctx context.Context) error {
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.unlock()
	if srv := n.take(); srv != nil {
		return srv.Stop(ctx)
	}
	return nil
}

// Restart brings the machine back up and starts a new server on the same
// address. A node still running is stopped gracefully first.
func (n *HostNode) Restart(ctx context.Context) error {
	if err := n.lock(ctx); err != nil {
		return err
	}
	defer n.unlock()
	if srv := n.take(); srv != nil {
		if err := srv.Stop(ctx); err != nil {
			return err
		}
	}
	n.host.Restart()
	return n.startLocked(ctx)
}

// Pause pauses the machine.
func (n *HostNode) Pause(context.Context) error { n.host.Pause(); return nil }

// Resume resumes the machine.
func (n *HostNode) Resume(context.Context) error { n.host.Resume(); return nil }

// Close stops the server gracefully, if it runs. Idempotent.
func (n *HostNode) Close(ctx context.Context) error { return n.Stop(ctx) }
