package registry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors.
var (
	// ErrNotFound: no live node of the service is registered.
	ErrNotFound = errors.New("registry: service not found")
	// ErrWatcherStopped: Next was called on a stopped watcher.
	ErrWatcherStopped = errors.New("registry: watcher stopped")
	// ErrUnavailable: the registry cannot be reached.
	ErrUnavailable = errors.New("registry: unavailable")
	// ErrInvalid: the service or node given is malformed.
	ErrInvalid = errors.New("registry: invalid service")
)

// Service is a named, versioned set of nodes. Values returned by a registry
// are copies that the caller owns.
type Service struct {
	Name      string            `json:"name"`
	Version   string            `json:"version"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Endpoints []*Endpoint       `json:"endpoints,omitempty"`
	Nodes     []*Node           `json:"nodes,omitempty"`
}

// Node is one instance of a service.
type Node struct {
	// ID is unique within the service.
	ID string `json:"id"`
	// Address is what a client dials.
	Address  string            `json:"address"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Endpoint describes one method a service serves.
type Endpoint struct {
	Name     string            `json:"name"`
	Request  string            `json:"request,omitempty"`
	Response string            `json:"response,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// RequestShape and ResponseShape describe the JSON form of the request
	// and response; nil when unknown (a stream, or a registrant that does
	// not describe its messages).
	RequestShape  *Shape `json:"request_shape,omitempty"`
	ResponseShape *Shape `json:"response_shape,omitempty"`
}

// EventType says what happened to a node.
type EventType int

// Event types.
const (
	Create EventType = iota + 1
	Update
	Delete
)

func (t EventType) String() string {
	switch t {
	case Create:
		return "create"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("event(%d)", int(t))
}

// Event reports a change to one node. Service holds exactly that node.
type Event struct {
	Type      EventType
	Service   *Service
	Timestamp time.Time
}

// Registry is service discovery. It is safe for concurrent use.
type Registry interface {
	// Register adds or refreshes the nodes of s. Blocks for a round trip.
	Register(ctx context.Context, s *Service, opts ...RegisterOption) error
	// Deregister removes the nodes of s. Removing an unknown node is not an error.
	Deregister(ctx context.Context, s *Service) error
	// GetService returns the live nodes of the named service, one Service per version.
	GetService(ctx context.Context, name string) ([]*Service, error)
	// ListServices returns every service that has a live node (without nodes).
	ListServices(ctx context.Context) ([]*Service, error)
	// Watch returns a watcher of events from now on. It may block for one
	// round trip (bounded by ctx) to take its starting point.
	Watch(ctx context.Context, opts ...WatchOption) (Watcher, error)
}

// Watcher yields registry events. Next and Stop may be called concurrently.
type Watcher interface {
	// Next blocks until an event, Stop (ErrWatcherStopped) or ctx is done.
	Next(ctx context.Context) (*Event, error)
	// Stop ends the watch and releases its resources. Idempotent.
	Stop()
}

// RegisterOptions are the options of Register.
type RegisterOptions struct {
	// TTL after which a node that was not registered again expires; 0 never expires.
	TTL time.Duration
	// Renewal says the registration repeats the caller's last one (see
	// Renewal).
	Renewal bool
}

// RegisterOption sets a RegisterOptions field.
type RegisterOption func(*RegisterOptions)

// WithTTL sets the registration's TTL.
func WithTTL(d time.Duration) RegisterOption { return func(o *RegisterOptions) { o.TTL = d } }

// Renewal marks a registration as a renewal, such as a heartbeat: the
// caller registers again the very *Service it registered last, not
// changed since. A registry may then only move the nodes' expiry, without
// comparing the registration with the one it holds; it registers the
// service in full when it does not hold the nodes from that *Service
// (they expired, or were registered from another value). A caller that
// changes its service registers it without Renewal.
func Renewal() RegisterOption { return func(o *RegisterOptions) { o.Renewal = true } }

// Standing is implemented by a Registry that can keep renewing a node on
// a fixed schedule by itself, so that a heartbeat costs nothing while
// nothing could make it fail: the in-memory registry does, for as long as
// its host runs. A heartbeat (server.Heartbeater) asks for it after a
// renewal succeeded, stops its beats while the registry holds them, and
// beats again from the next tick once the registry breaks them.
type Standing interface {
	// Stand holds the renewals of svc, a one-node service the caller
	// has just registered again (with Renewal) at the tick at with TTL
	// ttl: the registry acts as if the caller renewed it at at+every,
	// at+2*every... each renewal succeeding, until it breaks them or
	// the caller stops them (Stand.Stop). It breaks them at the instant
	// a renewal would start to fail, or when anything else writes the
	// node, and then tells holder, holding no lock of its own, the last
	// tick it held: the node expires ttl after that tick unless renewed.
	// A tick at the very instant of the break is not held. After Stop
	// the node expires ttl after the last tick held, and holder is not
	// told. ok is false when the registry cannot hold svc now (not
	// registered from svc with a TTL, ttl not longer than every, a
	// renewal would fail); the caller then goes on renewing it itself.
	Stand(svc *Service, at time.Time, every, ttl time.Duration, holder StandHolder) (st Stand, ok bool)
}

// Stand is a Standing's hold of a node's renewals.
type Stand interface {
	// Stop ends the hold; the node expires one TTL after the last tick
	// held unless renewed. It does nothing after the hold broke.
	Stop()
	// Break breaks the hold now, as a renewal that would fail does: the
	// holder is told, as Standing says. A decorator whose renewals are
	// about to fail (a fault injected) breaks the holds it passed on. It
	// does nothing after the hold broke or was stopped.
	Break()
}

// StandHolder is told when a Standing no longer holds its renewals.
type StandHolder interface {
	// StandBroken is called once the hold broke, with the last tick it
	// held; the holder renews the node again from the next tick.
	StandBroken(last time.Time)
}

// WatchOptions are the options of Watch.
type WatchOptions struct {
	// Service restricts events to one service; empty means all.
	Service string
}

// WatchOption sets a WatchOptions field.
type WatchOption func(*WatchOptions)

// WatchService restricts a watcher to one service.
func WatchService(name string) WatchOption { return func(o *WatchOptions) { o.Service = name } }

// Validate checks that s can be registered: a name, at least one node, and
// a non-empty, unique ID and an address on every node.
func Validate(s *Service) error {
	if s == nil {
		return fmt.Errorf("%w: nil service", ErrInvalid)
	}
	if s.Name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalid)
	}
	if len(s.Nodes) == 0 {
		return fmt.Errorf("%w: service %q has no nodes", ErrInvalid, s.Name)
	}
	seen := make(map[string]bool, len(s.Nodes))
	for i, n := range s.Nodes {
		switch {
		case n == nil:
			return fmt.Errorf("%w: service %q node %d is nil", ErrInvalid, s.Name, i)
		case n.ID == "":
			return fmt.Errorf("%w: service %q node %d has no ID", ErrInvalid, s.Name, i)
		case n.Address == "":
			return fmt.Errorf("%w: service %q node %q has no address", ErrInvalid, s.Name, n.ID)
		case seen[n.ID]:
			return fmt.Errorf("%w: service %q lists node %q twice", ErrInvalid, s.Name, n.ID)
		}
		seen[n.ID] = true
	}
	return nil
}
