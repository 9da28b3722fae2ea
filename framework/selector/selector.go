package selector

import (
	"context"
	"errors"

	"github.com/microsim/microsim/framework/registry"
)

// Sentinel errors.
var (
	// ErrNoneAvailable: the service has no node left to choose (none
	// registered, all filtered out, or all tried by this call's Pick).
	ErrNoneAvailable = errors.New("selector: no node available")
	// ErrReleased: Next was called on a Pick after its Release.
	ErrReleased = errors.New("selector: pick used after release")
	// ErrNotFound: the registry does not know the service.
	ErrNotFound = errors.New("selector: service not found")
	// ErrClosed: the selector was closed.
	ErrClosed = errors.New("selector: closed")
)

// Filter narrows the candidate services (and their nodes). It must not
// modify its argument; it returns a new slice or the same one. A filter
// given to New must depend on its input only: the default Selector caches
// its result until the service's nodes (or the set of ejected ones) change.
type Filter func([]*registry.Service) []*registry.Service

// Strategy turns a call's candidate nodes into a Picker. Implementations
// keep their own state (for example a round-robin position per service) and
// must be safe for concurrent use. They must not modify nodes; the default
// Selector passes the same slice, sorted by node ID, call after call until
// the node set changes, so a strategy may key derived structures on it.
// The slice stays valid and unchanged until the Picker is released.
type Strategy interface {
	// Pick returns the Picker for one call to service over nodes. It must
	// not block. The caller releases the Picker.
	Pick(service string, nodes []*registry.Node) Picker
}

// Selector chooses nodes. It is safe for concurrent use.
type Selector interface {
	// Select returns the Pick for one call to service; the call releases
	// it when done with it (see Pick). It blocks only to fetch a service it
	// has not seen yet from the registry.
	Select(ctx context.Context, service string, opts ...SelectOption) (Pick, error)
	// Mark reports the outcome of an attempt on node: err == nil is success.
	Mark(service string, node *registry.Node, err error)
	// Close stops the selector's watch. Idempotent.
	Close() error
}

// SelectOptions are the per-call options of Select.
type SelectOptions struct {
	Filters  []Filter
	Strategy Strategy
	// HashKey is the request key of a strategy that routes on one (see
	// KeyPicker and ConsistentHash); other strategies ignore it.
	HashKey string
}

// SelectOption sets a SelectOptions field.
type SelectOption func(*SelectOptions)

// WithFilter adds a filter for this call.
func WithFilter(f ...Filter) SelectOption {
	return func(o *SelectOptions) { o.Filters = append(o.Filters, f...) }
}

// WithStrategy overrides the selector's strategy for this call.
func WithStrategy(s Strategy) SelectOption { return func(o *SelectOptions) { o.Strategy = s } }

// WithHashKey routes this call on key: with ConsistentHash (or any strategy
// that implements KeyPicker) calls with the same key go to the same node
// while the node set is unchanged. A client passes it per call with
// client.WithSelectOption(selector.WithHashKey(userID)). It is a per-call
// option only: New rejects it.
func WithHashKey(key string) SelectOption { return func(o *SelectOptions) { o.HashKey = key } }

// Tracker is implemented by selectors that track load per node (requests in
// flight, latency). A client that finds it calls Begin just before an
// attempt is sent and the returned done exactly once when the attempt ends,
// instead of Mark; the selector measures latency itself between the two, so
// it follows whatever clock the process runs on (virtual in a synctest
// bubble). Begin and done must not block.
//
// The default Selector implements it without allocating: done is bound to
// a record that is reused once done has returned, so calling done a second
// time is a bug that may end another attempt.
type Tracker interface {
	Begin(service string, node *registry.Node) (done func(err error))
}
